#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Mini YNL: drive a generic netlink family from its YNL YAML spec alone.

Knows the subset of genetlink-legacy that kmod/uapi/smtpguard.yaml uses:
scalar u8/u16/u32/u64, string, binary, pad, nest, multi-attr, enums,
per-op attribute sets, do requests/replies, events on multicast groups,
and extended ACKs. Nothing about smtpguard is hard-coded here: every
attribute number and type comes from the spec.

    policy_ynl.py --spec smtpguard.yaml --do policy-get
    policy_ynl.py --spec smtpguard.yaml --do policy-set --json '{"banner": "mask"}'
    policy_ynl.py --spec smtpguard.yaml --listen events --count 1

Exit 0 on success; 1 with "error: ERRNO: extack message" on a NACK.
"""
import argparse
import errno
import json
import os
import socket
import struct
import sys

import yaml

NETLINK_GENERIC = 16
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_CAPPED, NLM_F_ACK_TLVS = 0x100, 0x200
NLMSGERR_ATTR_MSG, NLMSGERR_ATTR_OFFS = 1, 2
SOL_NETLINK = 270
NETLINK_ADD_MEMBERSHIP, NETLINK_EXT_ACK, NETLINK_CAP_ACK = 1, 11, 10
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID, CTRL_ATTR_FAMILY_NAME, CTRL_ATTR_MCAST_GROUPS = 1, 2, 7
CTRL_ATTR_MCAST_GRP_NAME, CTRL_ATTR_MCAST_GRP_ID = 1, 2
NLA_F_NESTED = 0x8000
NLA_TYPE_MASK = 0x3fff

SCALARS = {'u8': 'B', 'u16': 'H', 'u32': 'I', 'u64': 'Q',
           's8': 'b', 's16': 'h', 's32': 'i', 's64': 'q'}


class NlError(Exception):
    def __init__(self, err, msg=None, offs=None):
        self.errno = err
        self.extack = msg
        self.offs = offs
        super().__init__(f"{errno.errorcode.get(err, err)}: {msg or os.strerror(err)}")


def nla(atype, payload):
    hdr = struct.pack('HH', 4 + len(payload), atype)
    return hdr + payload + b'\0' * ((4 - len(payload) % 4) % 4)


def parse_attrs(data):
    """Yield (type, payload) of each attribute in @data."""
    off = 0
    while off + 4 <= len(data):
        ln, at = struct.unpack_from('HH', data, off)
        if ln < 4 or off + ln > len(data):
            raise ValueError(f"malformed attribute at {off}")
        yield at & NLA_TYPE_MASK, data[off + 4:off + ln]
        off += (ln + 3) & ~3


class Socket:
    """A bound NETLINK_GENERIC socket with extended ACKs on."""

    def __init__(self):
        self.sk = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
        self.sk.bind((0, 0))
        self.portid = self.sk.getsockname()[0]
        self.sk.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
        self.sk.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
        self.seq = 1000

    def send_raw(self, msg_type, flags, payload):
        """Send one netlink message; return its sequence number."""
        self.seq += 1
        hdr = struct.pack('IHHII', 16 + len(payload), msg_type, flags,
                          self.seq, 0)
        self.sk.send(hdr + payload)
        return self.seq

    def genl(self, family, cmd, attrs=b'', version=1, flags=NLM_F_REQUEST | NLM_F_ACK,
             reserved=0):
        return self.send_raw(family, flags,
                             struct.pack('BBH', cmd, version, reserved) + attrs)

    def recv_msgs(self):
        data = self.sk.recv(1 << 17)
        off = 0
        while off + 16 <= len(data):
            ln, mtype, mflags, seq, pid = struct.unpack_from('IHHII', data, off)
            if ln < 16:
                break
            yield mtype, mflags, seq, data[off + 16:off + ln]
            off += (ln + 3) & ~3

    def transact(self, seq):
        """Collect reply payloads for @seq until the ACK; raise NlError on NACK."""
        replies = []
        while True:
            for mtype, mflags, mseq, payload in self.recv_msgs():
                if mseq != seq:
                    continue
                if mtype == NLMSG_ERROR:
                    err = -struct.unpack_from('i', payload)[0]
                    if err == 0:
                        return replies
                    msg, offs = None, None
                    if mflags & NLM_F_ACK_TLVS:
                        skip = 20 if mflags & NLM_F_CAPPED else \
                            4 + struct.unpack_from('I', payload, 4)[0]
                        for at, val in parse_attrs(payload[skip:]):
                            if at == NLMSGERR_ATTR_MSG:
                                msg = val.rstrip(b'\0').decode(errors='replace')
                            elif at == NLMSGERR_ATTR_OFFS:
                                offs = struct.unpack('I', val)[0]
                    raise NlError(err, msg, offs)
                if mtype == NLMSG_DONE:
                    return replies
                replies.append(payload)

    def resolve(self, name):
        """Return (family id, {group name: id}) of genl family @name."""
        seq = self.genl(GENL_ID_CTRL, CTRL_CMD_GETFAMILY,
                        nla(CTRL_ATTR_FAMILY_NAME, name.encode() + b'\0'))
        fam, groups = None, {}
        for payload in self.transact(seq):
            for at, val in parse_attrs(payload[4:]):
                if at == CTRL_ATTR_FAMILY_ID:
                    fam = struct.unpack('H', val[:2])[0]
                elif at == CTRL_ATTR_MCAST_GROUPS:
                    for _, grp in parse_attrs(val):
                        g = dict(parse_attrs(grp))
                        gname = g[CTRL_ATTR_MCAST_GRP_NAME].rstrip(b'\0').decode()
                        groups[gname] = struct.unpack('I', g[CTRL_ATTR_MCAST_GRP_ID])[0]
        return fam, groups


class Spec:
    """Attribute sets, enums and operations of a YNL spec."""

    def __init__(self, path):
        with open(path, encoding='utf-8') as f:
            self.y = yaml.safe_load(f)
        self.name = self.y['name']
        self.version = self.y.get('version', 1)
        self.consts = {}
        self.enums = {}
        for d in self.y.get('definitions', []):
            if d['type'] == 'const':
                self.consts[d['name']] = d['value']
            elif d['type'] == 'enum':
                vals, v = {}, d.get('value-start', 0)
                for e in d['entries']:
                    if isinstance(e, dict):
                        v = e.get('value', v)
                        e = e['name']
                    vals[e] = v
                    v += 1
                self.enums[d['name']] = vals
        self.sets = {}
        for s in self.y['attribute-sets']:
            attrs, v = {}, 1
            for a in s['attributes']:
                v = a.get('value', v)
                a = dict(a)
                a['value'] = v
                attrs[a['name']] = a
                v += 1
            self.sets[s['name']] = attrs
        self.ops, v = {}, 1
        for o in self.y['operations']['list']:
            v = o.get('value', v)
            o = dict(o)
            o['value'] = v
            self.ops[o['name']] = o
            v += 1

    def _by_value(self, setname):
        return {a['value']: a for a in self.sets[setname].values()}

    def _int(self, a, val):
        if 'enum' in a and isinstance(val, str):
            return self.enums[a['enum']][val]
        return int(val)

    def encode(self, setname, obj):
        out = b''
        for name, val in obj.items():
            a = self.sets[setname][name]
            vals = val if a.get('multi-attr') else [val]
            for v in vals:
                t = a['type']
                if t in SCALARS:
                    out += nla(a['value'], struct.pack(SCALARS[t], self._int(a, v)))
                elif t == 'string':
                    out += nla(a['value'], v.encode() + b'\0')
                elif t == 'binary':
                    out += nla(a['value'], bytes.fromhex(v) if isinstance(v, str) else v)
                elif t == 'flag':
                    out += nla(a['value'], b'')
                elif t == 'nest':
                    out += nla(a['value'] | NLA_F_NESTED,
                               self.encode(a['nested-attributes'], v))
                else:
                    raise ValueError(f"cannot encode {name}: type {t}")
        return out

    def decode(self, setname, data, strict=True):
        """Decode attributes; with @strict, unknown ones and bad sizes raise."""
        byval = self._by_value(setname)
        obj = {}
        for at, val in parse_attrs(data):
            a = byval.get(at)
            if a is None:
                if strict:
                    raise ValueError(f"set {setname}: unknown attribute {at}")
                continue
            t = a['type']
            if t in ('pad', 'unused'):
                continue
            if t in SCALARS:
                if len(val) != struct.calcsize(SCALARS[t]):
                    raise ValueError(f"{setname}.{a['name']}: {len(val)} bytes for {t}")
                v = struct.unpack(SCALARS[t], val)[0]
                if 'enum' in a:
                    names = {n: k for k, n in self.enums[a['enum']].items()}
                    v = names.get(v, v)
            elif t == 'string':
                if not val.endswith(b'\0'):
                    raise ValueError(f"{setname}.{a['name']}: string without NUL")
                v = val[:-1].decode()
            elif t == 'binary':
                v = val.hex()
            elif t == 'flag':
                v = True
            elif t == 'nest':
                v = self.decode(a['nested-attributes'], val, strict)
            else:
                raise ValueError(f"cannot decode type {t}")
            if a.get('multi-attr'):
                obj.setdefault(a['name'], []).append(v)
            else:
                obj[a['name']] = v
        return obj


class Family:
    def __init__(self, spec):
        self.spec = spec
        self.sk = Socket()
        self.id, self.groups = self.sk.resolve(spec.name)

    def do(self, opname, req=None):
        op = self.spec.ops[opname]
        setname = op['attribute-set']
        seq = self.sk.genl(self.id, op['value'],
                           self.spec.encode(setname, req or {}), self.spec.version)
        replies = self.sk.transact(seq)
        if not replies:
            return None
        return self.spec.decode(setname, replies[0][4:])

    def listen(self, group, count, timeout, ready=None):
        gid = self.groups[group]
        self.sk.sk.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, gid)
        self.sk.sk.settimeout(timeout)
        if ready:
            with open(ready, 'w', encoding='utf-8'):
                pass
        byval = {o['value']: o for o in self.spec.ops.values() if 'event' in o}
        got = 0
        while got < count:
            for mtype, _, _, payload in self.sk.recv_msgs():
                if mtype != self.id:
                    continue
                op = byval.get(payload[0])
                if not op:
                    continue
                yield op['name'], self.spec.decode(op['attribute-set'], payload[4:])
                got += 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--spec', required=True)
    ap.add_argument('--do')
    ap.add_argument('--json', help='request attributes as JSON')
    ap.add_argument('--listen', metavar='GROUP')
    ap.add_argument('--count', type=int, default=1)
    ap.add_argument('--timeout', type=float, default=10)
    ap.add_argument('--ready-file', help='created once the group is joined')
    args = ap.parse_args()

    spec = Spec(args.spec)
    try:
        fam = Family(spec)
    except NlError as e:
        print(f"error: family {spec.name}: {e}", file=sys.stderr)
        return 1
    try:
        if args.do:
            reply = fam.do(args.do, json.loads(args.json) if args.json else None)
            if reply is not None:
                print(json.dumps(reply, sort_keys=True))
        elif args.listen:
            for name, ev in fam.listen(args.listen, args.count, args.timeout,
                                        args.ready_file):
                print(json.dumps({'op': name, 'msg': ev}, sort_keys=True), flush=True)
    except NlError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except socket.timeout:
        print("error: timeout", file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
