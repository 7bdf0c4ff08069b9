#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Raw ctnetlink client for the smtpguard pickup selftest (no libraries).

Does what conntrackd does on a backup gateway taking over: re-creates a TCP
conntrack entry through ctnetlink (IPCTNL_MSG_CT_NEW, NLM_F_CREATE) with its
tuples, status, timeout, TCP state and the helper named in CTA_HELP, which
makes the kernel call the helper's from_nlattr().

    ct_inject.py get  SRC SPORT DST DPORT
        print the entry (original tuple SRC:SPORT -> DST:DPORT) as JSON,
        including CTA_HELP name and the CTA_HELP_INFO nest (raw and parsed)
    ct_inject.py move SRC SPORT DST DPORT [--helper NAME] [--info FLAGS]
                      [--info-format nested|plain] [--timeout S]
        get the entry, delete it, create it again from the dumped values
        (tuples, TCP window scale and flags; status SEEN_REPLY|ASSURED|CONFIRMED,
        state ESTABLISHED) with CTA_HELP { NAME, [INFO { 1: u32 FLAGS }] },
        print the old entry on stderr and the new one as JSON
    ct_inject.py create SRC SPORT DST DPORT [options as for move]
        create from scratch (ESTABLISHED, no window scale information)

--info-format: "nested" marks CTA_HELP_INFO with NLA_F_NESTED (as the
kernel's own dump does); "plain" omits the flag, which is how
libnetfilter_conntrack re-emits CTA_HELP_INFO (mnl_attr_put of the saved
payload).

Exit: 0 done; 1 a netlink error (printed as "error: OP: errno NAME");
2 usage; 3 no such entry.
"""
import argparse
import errno
import ipaddress
import json
import os
import socket
import struct
import sys

NETLINK_NETFILTER = 12
NFNL_SUBSYS_CTNETLINK = 1
IPCTNL_MSG_CT_NEW, IPCTNL_MSG_CT_GET, IPCTNL_MSG_CT_DELETE = 0, 1, 2
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLA_F_NESTED = 0x8000
NLA_TYPE_MASK = 0x3fff

CTA_TUPLE_ORIG, CTA_TUPLE_REPLY, CTA_STATUS, CTA_PROTOINFO, CTA_HELP = 1, 2, 3, 4, 5
CTA_TIMEOUT, CTA_MARK, CTA_ID = 7, 8, 12
CTA_TUPLE_IP, CTA_TUPLE_PROTO = 1, 2
CTA_IP_V4_SRC, CTA_IP_V4_DST, CTA_IP_V6_SRC, CTA_IP_V6_DST = 1, 2, 3, 4
CTA_PROTO_NUM, CTA_PROTO_SRC_PORT, CTA_PROTO_DST_PORT = 1, 2, 3
CTA_PROTOINFO_TCP = 1
(CTA_PROTOINFO_TCP_STATE, CTA_PROTOINFO_TCP_WSCALE_ORIGINAL,
 CTA_PROTOINFO_TCP_WSCALE_REPLY, CTA_PROTOINFO_TCP_FLAGS_ORIGINAL,
 CTA_PROTOINFO_TCP_FLAGS_REPLY) = 1, 2, 3, 4, 5
CTA_HELP_NAME, CTA_HELP_INFO = 1, 2
SMTP_HELP_INFO_FLAGS = 1

IPS_SEEN_REPLY, IPS_ASSURED, IPS_CONFIRMED = 1 << 1, 1 << 2, 1 << 3
TCP_CONNTRACK_ESTABLISHED = 3
TCP_STATES = ["NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT",
              "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2"]


class NlError(Exception):
    def __init__(self, op, err):
        super().__init__("%s: errno %d %s" % (op, err, errno.errorcode.get(err, "?")))
        self.err = err


def attr(t, payload):
    a = struct.pack("=HH", 4 + len(payload), t) + payload
    return a + b"\0" * ((4 - len(a) % 4) % 4)


def nest(t, *attrs, flag=True):
    return attr(t | (NLA_F_NESTED if flag else 0), b"".join(attrs))


def parse_attrs(data):
    out = {}
    i = 0
    while i + 4 <= len(data):
        ln, t = struct.unpack_from("=HH", data, i)
        if ln < 4:
            break
        out[t & NLA_TYPE_MASK] = (t, data[i + 4:i + ln])
        i += (ln + 3) & ~3
    return out


class Ctnl:
    def __init__(self):
        self.s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        self.s.bind((0, 0))
        self.seq = 1

    def talk(self, msg, flags, family, payload, op):
        self.seq += 1
        body = struct.pack("=BBH", family, 0, 0) + payload
        hdr = struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_CTNETLINK << 8) | msg,
                          NLM_F_REQUEST | NLM_F_ACK | flags, self.seq, 0)
        self.s.send(hdr + body)
        msgs = []
        while True:
            data = self.s.recv(65536)
            i = 0
            while i + 16 <= len(data):
                ln, typ, _fl, seq, _pid = struct.unpack_from("=IHHII", data, i)
                m = data[i + 16:i + ln]
                i += (ln + 3) & ~3
                if seq != self.seq:
                    continue
                if typ == NLMSG_ERROR:
                    err = -struct.unpack_from("=i", m)[0]
                    if err:
                        raise NlError(op, err)
                    return msgs
                if typ == NLMSG_DONE:
                    return msgs
                msgs.append(m[4:])      # skip nfgenmsg


def tuple_attrs(fam, src, dst, sport, dport):
    if fam == socket.AF_INET:
        ip = nest(CTA_TUPLE_IP, attr(CTA_IP_V4_SRC, src.packed), attr(CTA_IP_V4_DST, dst.packed))
    else:
        ip = nest(CTA_TUPLE_IP, attr(CTA_IP_V6_SRC, src.packed), attr(CTA_IP_V6_DST, dst.packed))
    proto = nest(CTA_TUPLE_PROTO, attr(CTA_PROTO_NUM, struct.pack("B", socket.IPPROTO_TCP)),
                 attr(CTA_PROTO_SRC_PORT, struct.pack("!H", sport)),
                 attr(CTA_PROTO_DST_PORT, struct.pack("!H", dport)))
    return ip + proto


def decode_tuple(payload):
    a = parse_attrs(payload)
    ip = parse_attrs(a[CTA_TUPLE_IP][1]) if CTA_TUPLE_IP in a else {}
    pr = parse_attrs(a[CTA_TUPLE_PROTO][1]) if CTA_TUPLE_PROTO in a else {}
    d = {}
    for k, name in ((CTA_IP_V4_SRC, "src"), (CTA_IP_V4_DST, "dst"),
                    (CTA_IP_V6_SRC, "src"), (CTA_IP_V6_DST, "dst")):
        if k in ip:
            d[name] = str(ipaddress.ip_address(ip[k][1]))
    if CTA_PROTO_NUM in pr:
        d["proto"] = pr[CTA_PROTO_NUM][1][0]
    if CTA_PROTO_SRC_PORT in pr:
        d["sport"] = struct.unpack("!H", pr[CTA_PROTO_SRC_PORT][1][:2])[0]
    if CTA_PROTO_DST_PORT in pr:
        d["dport"] = struct.unpack("!H", pr[CTA_PROTO_DST_PORT][1][:2])[0]
    return d


def decode(m):
    a = parse_attrs(m)
    d = {}
    if CTA_TUPLE_ORIG in a:
        d["orig"] = decode_tuple(a[CTA_TUPLE_ORIG][1])
    if CTA_TUPLE_REPLY in a:
        d["reply"] = decode_tuple(a[CTA_TUPLE_REPLY][1])
    if CTA_STATUS in a:
        d["status"] = struct.unpack("!I", a[CTA_STATUS][1][:4])[0]
    if CTA_TIMEOUT in a:
        d["timeout"] = struct.unpack("!I", a[CTA_TIMEOUT][1][:4])[0]
    if CTA_MARK in a:
        d["mark"] = struct.unpack("!I", a[CTA_MARK][1][:4])[0]
    if CTA_ID in a:
        d["id"] = struct.unpack("!I", a[CTA_ID][1][:4])[0]
    if CTA_PROTOINFO in a:
        pi = parse_attrs(a[CTA_PROTOINFO][1])
        if CTA_PROTOINFO_TCP in pi:
            t = parse_attrs(pi[CTA_PROTOINFO_TCP][1])
            tcp = {}
            if CTA_PROTOINFO_TCP_STATE in t:
                s = t[CTA_PROTOINFO_TCP_STATE][1][0]
                tcp["state"] = s
                tcp["state_name"] = TCP_STATES[s] if s < len(TCP_STATES) else "?"
            for k, name in ((CTA_PROTOINFO_TCP_WSCALE_ORIGINAL, "wscale_orig"),
                            (CTA_PROTOINFO_TCP_WSCALE_REPLY, "wscale_reply")):
                if k in t:
                    tcp[name] = t[k][1][0]
            for k, name in ((CTA_PROTOINFO_TCP_FLAGS_ORIGINAL, "flags_orig"),
                            (CTA_PROTOINFO_TCP_FLAGS_REPLY, "flags_reply")):
                if k in t:
                    tcp[name] = t[k][1][0]
            d["tcp"] = tcp
    if CTA_HELP in a:
        h = parse_attrs(a[CTA_HELP][1])
        help_ = {}
        if CTA_HELP_NAME in h:
            help_["name"] = h[CTA_HELP_NAME][1].split(b"\0")[0].decode()
        if CTA_HELP_INFO in h:
            t, p = h[CTA_HELP_INFO]
            info = {"raw": p.hex(), "nested_flag": bool(t & NLA_F_NESTED)}
            ia = parse_attrs(p)
            if SMTP_HELP_INFO_FLAGS in ia and len(ia[SMTP_HELP_INFO_FLAGS][1]) >= 4:
                info["flags"] = struct.unpack("=I", ia[SMTP_HELP_INFO_FLAGS][1][:4])[0]
            help_["info"] = info
        d["help"] = help_
    return d


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("op", choices=["get", "move", "create"])
    ap.add_argument("src")
    ap.add_argument("sport", type=int)
    ap.add_argument("dst")
    ap.add_argument("dport", type=int)
    ap.add_argument("--helper", default="smtp", help='helper name ("" for none)')
    ap.add_argument("--info", type=lambda x: int(x, 0), default=None,
                    help="send CTA_HELP_INFO { 1: u32 FLAGS }")
    ap.add_argument("--info-format", choices=["nested", "plain"], default="nested")
    ap.add_argument("--timeout", type=int, default=None,
                    help="CTA_TIMEOUT (default: the dumped value, or 3600)")
    args = ap.parse_args()

    src, dst = ipaddress.ip_address(args.src), ipaddress.ip_address(args.dst)
    if src.version != dst.version:
        ap.error("mixed address families")
    fam = socket.AF_INET if src.version == 4 else socket.AF_INET6
    orig = tuple_attrs(fam, src, dst, args.sport, args.dport)
    reply = tuple_attrs(fam, dst, src, args.dport, args.sport)
    nl = Ctnl()

    def get():
        try:
            msgs = nl.talk(IPCTNL_MSG_CT_GET, 0, fam, nest(CTA_TUPLE_ORIG, orig), "get")
        except NlError as e:
            if e.err == errno.ENOENT:
                return None
            raise
        return msgs[0] if msgs else None

    try:
        old = get()
        if args.op == "get":
            if old is None:
                print(json.dumps({"error": "ENOENT"}))
                return 3
            print(json.dumps(decode(old)))
            return 0
        tcp = [attr(CTA_PROTOINFO_TCP_STATE, bytes([TCP_CONNTRACK_ESTABLISHED]))]
        timeout = args.timeout if args.timeout is not None else 3600
        # ctnetlink marks a new entry CONFIRMED before applying CTA_STATUS
        # and refuses (EBUSY) a status that would clear it
        status = IPS_SEEN_REPLY | IPS_ASSURED | IPS_CONFIRMED
        if args.op == "move":
            if old is None:
                print("error: no entry %s:%d -> %s:%d" % (src, args.sport, dst, args.dport))
                return 3
            od = decode(old)
            t = od.get("tcp", {})
            # conntrackd syncs state, window scale and the TCP flags
            if "wscale_orig" in t and "wscale_reply" in t:
                tcp.append(attr(CTA_PROTOINFO_TCP_WSCALE_ORIGINAL, bytes([t["wscale_orig"]])))
                tcp.append(attr(CTA_PROTOINFO_TCP_WSCALE_REPLY, bytes([t["wscale_reply"]])))
            if "flags_orig" in t and "flags_reply" in t:
                tcp.append(attr(CTA_PROTOINFO_TCP_FLAGS_ORIGINAL, bytes([t["flags_orig"], 0xff])))
                tcp.append(attr(CTA_PROTOINFO_TCP_FLAGS_REPLY, bytes([t["flags_reply"], 0xff])))
            status |= od.get("status", 0) & (IPS_SEEN_REPLY | IPS_ASSURED)
            if args.timeout is None and od.get("timeout"):
                timeout = od["timeout"]
            print("old: " + json.dumps(od), file=sys.stderr)
            nl.talk(IPCTNL_MSG_CT_DELETE, 0, fam, nest(CTA_TUPLE_ORIG, orig), "delete")
        payload = (nest(CTA_TUPLE_ORIG, orig) + nest(CTA_TUPLE_REPLY, reply) +
                   attr(CTA_STATUS, struct.pack("!I", status)) +
                   attr(CTA_TIMEOUT, struct.pack("!I", timeout)) +
                   nest(CTA_PROTOINFO, nest(CTA_PROTOINFO_TCP, *tcp)))
        if args.helper:
            h = [attr(CTA_HELP_NAME, args.helper.encode() + b"\0")]
            if args.info is not None:
                h.append(nest(CTA_HELP_INFO,
                              attr(SMTP_HELP_INFO_FLAGS, struct.pack("=I", args.info)),
                              flag=args.info_format == "nested"))
            payload += nest(CTA_HELP, *h)
        nl.talk(IPCTNL_MSG_CT_NEW, NLM_F_CREATE | NLM_F_EXCL, fam, payload, "create")
        new = get()
        if new is None:
            print("error: created entry not found")
            return 3
        print(json.dumps(decode(new)))
        return 0
    except NlError as e:
        print("error: %s" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main())
