#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Wait for a ctnetlink event that carries the smtp helper's opaque flag.

    ct_events.py DPORT TIMEOUT

Subscribes to the conntrack NEW and UPDATE groups (as conntrackd does) in
the current network namespace, prints "ready" once subscribed, then every
event for TCP destination port DPORT as JSON. Exit 0 at the first event
whose CTA_HELP_INFO flags have SMTP_HF_OPAQUE (0x2); 1 after TIMEOUT
seconds without one.
"""
import json
import os
import select
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ct_inject import NETLINK_NETFILTER, decode  # noqa: E402

NFNLGRP_CONNTRACK_NEW, NFNLGRP_CONNTRACK_UPDATE = 1, 2
SOL_NETLINK, NETLINK_ADD_MEMBERSHIP = 270, 1
SMTP_HF_OPAQUE = 0x2


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    dport, timeout = int(sys.argv[1]), float(sys.argv[2])
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.bind((0, 0))
    for g in (NFNLGRP_CONNTRACK_NEW, NFNLGRP_CONNTRACK_UPDATE):
        s.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, g)
    print("ready", flush=True)
    end = time.monotonic() + timeout
    while True:
        left = end - time.monotonic()
        if left <= 0 or not select.select([s], [], [], left)[0]:
            print("timeout: no event with the opaque flag", flush=True)
            return 1
        data = s.recv(1 << 16)
        i = 0
        while i + 16 <= len(data):
            ln = struct.unpack_from("=I", data, i)[0]
            if ln < 16:
                break
            d = decode(data[i + 20:i + ln])     # nlmsghdr, nfgenmsg
            i += (ln + 3) & ~3
            if d.get("orig", {}).get("dport") != dport:
                continue
            print(json.dumps(d), flush=True)
            if d.get("help", {}).get("info", {}).get("flags", 0) & SMTP_HF_OPAQUE:
                return 0


if __name__ == "__main__":
    sys.exit(main())
