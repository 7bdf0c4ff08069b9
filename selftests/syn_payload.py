#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Send TCP SYNs that carry payload (as TFO or a spoofing attacker would).

    syn_payload.py SRC DST DPORT COUNT PAYLOAD

IPv4, a raw socket (the kernel adds the IP header); each SYN from a fresh
source port, so each one makes a new conntrack entry on the way. PAYLOAD
takes Python string escapes (\\r \\n \\x1b). Exit 0 once all are sent.
"""
import codecs
import random
import socket
import struct
import sys


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def syn(src, dst, sport, dport, seq, payload):
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, 0x02, 65535, 0, 0)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + \
        struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(hdr) + len(payload))
    c = csum(pseudo + hdr + payload)
    return hdr[:16] + struct.pack("!H", c) + hdr[18:] + payload


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    src, dst, dport, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    payload = codecs.decode(sys.argv[5], "unicode_escape").encode("latin-1")
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
    ports = random.sample(range(20000, 60000), count)
    for sport in ports:
        s.sendto(syn(src, dst, sport, dport, random.getrandbits(32), payload), (dst, 0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
