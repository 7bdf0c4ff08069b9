#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Crafted-packet SMTP client for the evasion selftests (issue 9).

Speaks TCP itself with scapy-built segments over raw sockets, so it can
send what a normal stack never would: urgent data, a SYN or an ICMP error
carrying stream bytes, a stale TCP timestamp, a segment in tiny IP
fragments, a TTL that expires just past the gateway. Run it in the client
namespace with the kernel's own RSTs for the port suppressed (the caller's
nft rule), against a real server.

    evasion_raw.py CASE SERVER_IP

CASE is one of: urg syn paws icmp frag ttl. Each case opens a session, sends EHLO,
plays its attack around "VRFY root", and prints every server line as
"S: ..." and finally "RESULT: ...". The caller decides from what the
server logged and answered whether the attack got through.
"""
import os
import random
import select
import socket
import struct
import sys
import time

from scapy.layers.inet import IP, TCP, fragment
from scapy.utils import checksum

DPORT = 25
TIMEOUT = float(os.environ.get("EVASION_TIMEOUT", "8"))
CONNECT_TIMEOUT = max(TIMEOUT, 45.0)


class Session:
    def __init__(self, server):
        self.dst = server
        self.sport = random.randint(20000, 60000)
        self.rx = socket.socket(socket.AF_INET, socket.SOCK_RAW,
                                socket.IPPROTO_TCP)
        self.tx = socket.socket(socket.AF_INET, socket.SOCK_RAW,
                                socket.IPPROTO_RAW)
        self.src = None
        self.snd_nxt = random.randint(1, 1 << 30)
        self.rcv_nxt = 0
        self.tsval = 100000
        self.ts_ecr = 0
        self.buf = b""
        self.closed = False

    # ---- sending
    def ts(self, tsval=None):
        if tsval is None:
            self.tsval += 3
            tsval = self.tsval
        return [("NOP", None), ("NOP", None), ("Timestamp", (tsval, self.ts_ecr))]

    def raw(self, pkt):
        self.tx.sendto(bytes(pkt), (self.dst, 0))

    def seg(self, data=b"", flags="PA", seq=None, tsval=None, urgptr=0,
            advance=True, fragsize=0, ttl=64):
        if seq is None:
            seq = self.snd_nxt
        tcp = TCP(sport=self.sport, dport=DPORT, seq=seq, ack=self.rcv_nxt,
                  flags=flags, window=65535, urgptr=urgptr,
                  options=self.ts(tsval))
        pkt = IP(src=self.src, dst=self.dst, id=random.randint(1, 0xffff),
                 ttl=ttl) / tcp / data
        # fragsize: IP fragments of that many bytes, sent last one first
        for p in reversed(fragment(pkt, fragsize)) if fragsize else [pkt]:
            self.raw(p)
        if advance and seq == self.snd_nxt:
            self.snd_nxt = (seq + len(data)) & 0xffffffff

    # ---- receiving: in-order server bytes, each data segment acked
    def pump(self, until, timeout=TIMEOUT):
        end = time.time() + timeout
        while time.time() < end and not self.closed:
            if until(self.buf):
                return True
            r, _, _ = select.select([self.rx], [], [], 0.2)
            if not r:
                continue
            pkt = IP(self.rx.recv(70000))
            if TCP not in pkt or pkt.src != self.dst:
                continue
            t = pkt[TCP]
            if t.sport != DPORT or t.dport != self.sport:
                continue
            for o in t.options:
                if o[0] == "Timestamp":
                    self.ts_ecr = o[1][0]
            fl = int(t.flags)
            if fl & 0x04:
                self.closed = True
                print("RESULT: reset by peer")
                return until(self.buf)
            data = bytes(t.payload)
            if fl & 0x02:		# SYN-ACK
                self.rcv_nxt = (t.seq + 1) & 0xffffffff
                self.seg(flags="A")
                self.connected = True
                continue
            if data and t.seq == self.rcv_nxt:
                self.buf += data
                self.rcv_nxt = (self.rcv_nxt + len(data)) & 0xffffffff
            if data or fl & 0x01:
                if fl & 0x01:
                    self.rcv_nxt = (self.rcv_nxt + 1) & 0xffffffff
                self.seg(flags="A")
        return until(self.buf)

    def lines(self):
        out = []
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            out.append(line.rstrip(b"\r").decode("latin-1"))
            print("S: " + out[-1], flush=True)
        return out

    def reply(self, timeout=TIMEOUT):
        """One whole (multi-line) reply; its code, or None."""
        def whole(b):
            for ln in b.split(b"\n")[:-1]:
                if len(ln) >= 4 and ln[3:4] == b" ":
                    return True
            return False
        if not self.pump(whole, timeout):
            self.lines()
            return None
        code = None
        for ln in self.lines():
            if len(ln) >= 4 and ln[3] == " ":
                code = ln[:3]
                break
        return code

    def connect(self):
        self.src = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.src.connect((self.dst, DPORT))
        self.src = self.src.getsockname()[0]
        self.connected = False
        self.seg(flags="S", advance=False)
        self.snd_nxt = (self.snd_nxt + 1) & 0xffffffff
        # the first session may wait for Postfix to spawn smtpd, slowly
        # on a debug kernel under TCG: more time than for a reply
        if not self.pump(lambda b: self.connected, CONNECT_TIMEOUT):
            raise SystemExit("RESULT: no SYN-ACK")
        if self.reply(CONNECT_TIMEOUT) != "220":
            raise SystemExit("RESULT: no greeting")

    def cmd(self, line, code=None):
        self.seg(line.encode() + b"\r\n")
        got = self.reply()
        if code and got != code:
            print(f"# {line!r}: got {got}, want {code}")
        return got


def case_urg(s):
    """In DATA, hide an end of data behind an urgent byte: 'hello\\r\\n.',
    then 'Z' with URG, then '\\r\\nVRFY root'. A receiver without
    SO_OOBINLINE drops Z and reads '\\r\\n.\\r\\n'."""
    s.cmd("MAIL FROM:<urg@client.test>", "250")
    s.cmd("RCPT TO:<rcpt@server.test>", "250")
    s.cmd("DATA", "354")
    s.seg(b"Subject: evasion-urg\r\n\r\nhello\r\n.")
    time.sleep(0.3)
    s.seg(b"Z", flags="PAU", urgptr=1)
    time.sleep(0.3)
    s.seg(b"\r\nVRFY root\r\n")
    s.reply(4)
    s.reply(2)
    # if the server is still in DATA, end it for real
    s.seg(b"\r\n.\r\n")
    s.reply(4)


def case_syn(s):
    """A SYN in the established connection carrying 'NOOP x': the server
    discards it (challenge ACK); then 'VRFY root' at the same sequence."""
    s.seg(b"NOOP xxxxx\r\n", flags="S", seq=(s.snd_nxt - 1) & 0xffffffff,
          advance=False)
    time.sleep(0.5)
    s.pump(lambda b: False, 0.5)
    s.cmd("VRFY root")


def case_paws(s):
    """'NOOP xxxxx' with a stale timestamp (PAWS drops it at the server),
    then 'VRFY root' at the same sequence with a fresh one."""
    s.seg(b"NOOP xxxxx\r\n", tsval=5, advance=False)
    time.sleep(0.5)
    s.pump(lambda b: False, 0.5)
    s.cmd("VRFY root")


def case_icmp(s):
    """An ICMP error quoting a segment of the connection, whose bytes read
    as TCP would be a segment at the client's next sequence number; then
    'VRFY root' at that sequence."""
    inner = IP(src=s.dst, dst=s.src, id=0x5018) / TCP(
        sport=DPORT, dport=s.sport, seq=s.rcv_nxt, ack=s.snd_nxt,
        flags="PA") / b"NOOP xxxxxxxxxxxxxxxxxxxxxxxx\r\n"
    body = struct.pack("!I", s.snd_nxt) + bytes(inner)
    icmp = struct.pack("!BBH", 3, 3, 0) + body
    icmp = icmp[:2] + struct.pack("!H", checksum(icmp)) + icmp[4:]
    s.raw(IP(src=s.src, dst=s.dst, proto=1) / icmp)
    time.sleep(0.5)
    s.pump(lambda b: False, 0.5)
    s.cmd("VRFY root")


def case_frag(s):
    """'VRFY root' in one segment sent as 8-byte IP fragments, last first,
    so even the TCP header is split (RFC 1858's tiny fragments): the
    gateway must inspect the segment the server reassembles."""
    s.seg(b"VRFY root\r\n", fragsize=8)
    s.reply()


def case_ttl(s):
    """'NOOP xxxx' with TTL 2: the gateway forwards it with TTL 1, and the
    next hop drops it (the caller's rule at the server plays that hop);
    then 'VRFY root' at the same sequence with a normal TTL. The two have
    the same length, so the stream goes on aligned whichever one the
    server took."""
    s.seg(b"NOOP xxxx\r\n", ttl=2, advance=False)
    time.sleep(0.5)
    s.pump(lambda b: False, 0.5)
    s.cmd("VRFY root")


def main():
    case, server = sys.argv[1], sys.argv[2]
    s = Session(server)
    s.connect()
    s.cmd("EHLO evasion.test", "250")
    {"urg": case_urg, "syn": case_syn, "paws": case_paws,
     "icmp": case_icmp, "frag": case_frag, "ttl": case_ttl}[case](s)
    code = None if s.closed else s.cmd("QUIT")
    print("RESULT: " + ("closed" if s.closed else f"quit {code}"))


if __name__ == "__main__":
    main()
