#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Remove the helper from live conntrack entries through ctnetlink.

    ct_unhelp.py DPORT

Dumps the IPv4 TCP entries with destination port DPORT that have a helper
and updates each with CTA_HELP { CTA_HELP_NAME "" }, which is how
ctnetlink detaches a helper from an existing entry (the helper's .destroy
is not called). Prints "removed N"; exit 0 if N > 0.
"""
import ipaddress
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ct_inject import (CTA_HELP, CTA_HELP_NAME, CTA_TUPLE_ORIG,  # noqa: E402
                       IPCTNL_MSG_CT_GET, IPCTNL_MSG_CT_NEW, Ctnl, attr,
                       decode, nest, tuple_attrs)

NLM_F_DUMP = 0x300


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    dport = int(sys.argv[1])
    nl = Ctnl()
    n = 0
    for m in nl.talk(IPCTNL_MSG_CT_GET, NLM_F_DUMP, socket.AF_INET, b"", "dump"):
        d = decode(m)
        o = d.get("orig", {})
        if o.get("dport") != dport or not d.get("help", {}).get("name"):
            continue
        t = tuple_attrs(socket.AF_INET, ipaddress.ip_address(o["src"]),
                        ipaddress.ip_address(o["dst"]), o["sport"], o["dport"])
        nl.talk(IPCTNL_MSG_CT_NEW, 0, socket.AF_INET,
                nest(CTA_TUPLE_ORIG, t) + nest(CTA_HELP, attr(CTA_HELP_NAME, b"\0")),
                "update")
        n += 1
    print("removed %d" % n)
    return 0 if n else 1


if __name__ == "__main__":
    sys.exit(main())
