#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Malformed and hostile requests to the smtpguard genl family, raw.

Each request must get an error (not a crash, not a silent success), with
an extack message where the kernel can name the problem; none of them may
change the active policy. KTAP output. Run as root with the module loaded.
"""
import errno
import os
import struct
import sys

sys.dont_write_bytecode = True	# no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from policy_ynl import (NLM_F_ACK, NLM_F_REQUEST, NLA_F_NESTED,  # noqa: E402
                        Family, NlError, Spec, nla)

SPEC = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                    '..', 'kmod', 'uapi', 'smtpguard.yaml')

n = 0
failed = 0


def result(ok, name, diag=''):
    global n, failed
    n += 1
    if not ok:
        failed += 1
    for line in diag.splitlines():
        print(f"# {line}")
    print(f"{'ok' if ok else 'not ok'} {n} {name}")


def main():
    spec = Spec(SPEC)
    fam = Family(spec)
    sk = fam.sk
    P = spec.sets['policy']
    W = spec.sets['word-list']['word']['value']
    ops = spec.ops

    def a(name):
        return P[name]['value']

    def words(*ws):
        return b''.join(nla(W, w.encode() + b'\0') for w in ws)

    def send(cmd, payload=b'', **kw):
        seq = sk.genl(fam.id, cmd, payload, **kw)
        return sk.transact(seq)

    before = fam.do('policy-get')

    cases = [
        # (name, cmd, attrs, genl kwargs, expected errnos, extack wanted)
        ("unknown command 99", 99, b'', {}, {errno.EOPNOTSUPP}, False),
        ("command 0", 0, b'', {}, {errno.EOPNOTSUPP}, False),
        ("event command sent to the kernel", ops['event']['value'], b'', {},
         {errno.EOPNOTSUPP}, False),
        ("banner as u32 instead of u8", ops['policy-set']['value'],
         nla(a('banner'), struct.pack('I', 1)), {}, {errno.EINVAL, errno.ERANGE}, True),
        ("banner mode 7", ops['policy-set']['value'],
         nla(a('banner'), struct.pack('B', 7)), {}, {errno.EINVAL, errno.ERANGE}, True),
        ("starttls 2", ops['policy-set']['value'],
         nla(a('starttls'), struct.pack('B', 2)), {}, {errno.EINVAL, errno.ERANGE}, True),
        ("mask-char newline", ops['policy-set']['value'],
         nla(a('mask-char'), b'\n'), {}, {errno.EINVAL, errno.ERANGE}, True),
        ("verb of 40 characters", ops['policy-set']['value'],
         nla(a('verbs') | NLA_F_NESTED, words('A' * 40)), {}, {errno.EINVAL, errno.ERANGE}, True),
        ("verb without NUL", ops['policy-set']['value'],
         nla(a('verbs') | NLA_F_NESTED, nla(W, b'HELO')), {}, {errno.EINVAL}, True),
        ("empty verb", ops['policy-set']['value'],
         nla(a('verbs') | NLA_F_NESTED, words('')), {}, {errno.EINVAL}, True),
        ("verb with a space", ops['policy-set']['value'],
         nla(a('verbs') | NLA_F_NESTED, words('HE LO')), {}, {errno.EINVAL}, True),
        ("33 verbs", ops['policy-set']['value'],
         nla(a('verbs') | NLA_F_NESTED, words(*[f"V{i}" for i in range(33)])), {},
         {errno.E2BIG, errno.EINVAL}, True),
        ("STARTTLS in the verb list", ops['policy-set']['value'],
         nla(a('verbs') | NLA_F_NESTED, words('HELO', 'STARTTLS')), {}, {errno.EINVAL}, True),
        ("verbs as a u8, not a nest", ops['policy-set']['value'],
         nla(a('verbs'), b'\1'), {}, {errno.EINVAL}, True),
        ("limit as u16", ops['policy-set']['value'],
         nla(a('limits') | NLA_F_NESTED, nla(1, struct.pack('H', 5))), {}, {errno.EINVAL}, True),
        ("limit 0", ops['policy-set']['value'],
         nla(a('limits') | NLA_F_NESTED, nla(1, struct.pack('I', 0))), {}, {errno.EINVAL, errno.ERANGE}, True),
        ("limit 2^32-1 for command-line", ops['policy-set']['value'],
         nla(a('limits') | NLA_F_NESTED, nla(1, struct.pack('I', 0xffffffff))), {},
         {errno.EINVAL, errno.ERANGE}, True),
        ("unknown limit attribute 40", ops['policy-set']['value'],
         nla(a('limits') | NLA_F_NESTED, nla(40, struct.pack('I', 5))), {}, {errno.EINVAL}, True),
        ("action 9", ops['policy-set']['value'],
         nla(a('actions') | NLA_F_NESTED, nla(2, b'\x09')), {}, {errno.EINVAL, errno.ERANGE}, True),
        ("action mask for a class that cannot mask (pickup)", ops['policy-set']['value'],
         nla(a('actions') | NLA_F_NESTED,
             nla(spec.sets['actions']['pickup']['value'], b'\x01')), {}, {errno.EINVAL}, True),
        ("pad attribute in actions", ops['policy-set']['value'],
         nla(a('actions') | NLA_F_NESTED, nla(1, b'\0')), {}, {errno.EINVAL}, True),
        ("unknown top-level attribute 50", ops['policy-set']['value'],
         nla(50, b'\0\0\0\0'), {}, {errno.EINVAL}, True),
        ("attribute type 0", ops['policy-set']['value'],
         nla(0, b'\0\0\0\0'), {}, {errno.EINVAL}, True),
        ("truncated attribute (length beyond the message)", ops['policy-set']['value'],
         struct.pack('HH', 64, a('banner')) + b'\0\0\0\0', {}, {errno.EINVAL}, False),
        ("attribute length 2 (< header)", ops['policy-set']['value'],
         struct.pack('HH', 2, a('banner')) + b'\0\0', {}, {errno.EINVAL}, False),
        ("policy-get with an attribute", ops['policy-get']['value'],
         nla(a('banner'), b'\0'), {}, {errno.EINVAL}, True),
        ("stats-get with an attribute", ops['stats-get']['value'],
         nla(1, b'\0'), {}, {errno.EINVAL}, True),
        ("genl header reserved field set", ops['policy-get']['value'], b'',
         {'reserved': 1}, {errno.EINVAL}, True),
        ("stats-get as a dump (no dump handler)", ops['stats-get']['value'], b'',
         {'flags': NLM_F_REQUEST | NLM_F_ACK | 0x300}, {errno.EOPNOTSUPP}, False),
        ("policy-set with NLM_F_REPLACE (reserved flag)", ops['policy-set']['value'], b'',
         {'flags': NLM_F_REQUEST | NLM_F_ACK | 0x100}, {errno.EINVAL}, True),
    ]
    for name, cmd, attrs, kw, want, want_msg in cases:
        try:
            send(cmd, attrs, **kw)
            result(False, name, "accepted")
        except NlError as e:
            ok = e.errno in want and (e.extack or not want_msg)
            result(ok, name, f"{errno.errorcode.get(e.errno)}: {e.extack}")

    # too short for a genl header: 2 bytes of payload
    try:
        seq = sk.send_raw(fam.id, NLM_F_REQUEST | NLM_F_ACK, b'\x02\x01')
        sk.transact(seq)
        result(False, "message shorter than the genl header", "accepted")
    except NlError as e:
        result(e.errno == errno.EINVAL, "message shorter than the genl header",
               errno.errorcode.get(e.errno, str(e.errno)))

    after = fam.do('policy-get')
    result(after == before, "no rejected request changed the policy")

    # absent attributes mean defaults: an empty policy-set is the esmtp preset
    try:
        fam.do('policy-set', {'banner': 'mask'})
        got = fam.do('policy-get')
        fam.do('policy-set', {})
        dflt = fam.do('policy-get')
        result(got['banner'] == 'mask' and dflt['banner'] == 'pass',
               "absent attributes take the defaults, not the active values",
               f"after banner=mask: {got['banner']}; after empty set: {dflt['banner']}")
    except NlError as e:
        result(False, "absent attributes take the defaults", str(e))

    # a present but empty verb list is an empty list
    try:
        fam.do('policy-set', {'verbs': {}})
        got = fam.do('policy-get')
        result('word' not in got.get('verbs', {}), "an empty verbs nest is an empty verb list",
               str(got.get('verbs')))
    except NlError as e:
        result(False, "an empty verbs nest is an empty verb list", str(e))

    # leave the defaults active and check the family still answers
    fam.do('policy-set', {})
    result(fam.do('stats-get') is not None, "family still answers after all that")


if __name__ == '__main__':
    print("TAP version 13")
    print("1..35")
    main()
    print(f"# {n - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
