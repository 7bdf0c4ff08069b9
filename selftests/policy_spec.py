#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Check that the YNL spec and the C UAPI header agree value for value.

Generates a C program from kmod/uapi/smtpguard.yaml that prints every
constant the spec defines, using the header's names (YNL naming rules),
compiles it against kmod/uapi/smtpguard.h and compares. Runs on the host.
"""
import os
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True	# no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from policy_ynl import Spec  # noqa: E402


def cname(s):
    return s.upper().replace('-', '_')


def main():
    top = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
    spec_path = os.path.join(top, 'kmod/uapi/smtpguard.yaml')
    hdr = os.path.abspath(os.path.join(top, 'kmod/uapi/smtpguard.h'))
    spec = Spec(spec_path)
    y = spec.y
    want = {}
    for d in y.get('definitions', []):
        if d['type'] == 'const':
            want[cname(f"{spec.name}-{d['name']}")] = d['value']
        elif d['type'] == 'enum':
            prefix = d.get('name-prefix', f"{spec.name}-{d['name']}-")
            for e, v in spec.enums[d['name']].items():
                want[cname(prefix + e)] = v
    for s in y['attribute-sets']:
        prefix = s.get('name-prefix', f"{spec.name}-a-{s['name']}-")
        for a in spec.sets[s['name']].values():
            want[cname(prefix + a['name'])] = a['value']
    oprefix = y['operations'].get('name-prefix', f"{spec.name}-cmd-")
    for o in spec.ops.values():
        want[cname(oprefix + o['name'])] = o['value']

    prog = ['#include <stdio.h>', f'#include "{hdr}"', 'int main(void) {']
    for k in sorted(want):
        prog.append(f'\tprintf("%s %lld\\n", "{k}", (long long){k});')
    prog.append(f'\tprintf("NAME %s\\n", {cname(y["c-family-name"])});')
    prog.append(f'\tprintf("VERSION %d\\n", {cname(y["c-version-name"])});')
    for g in y['mcast-groups']['list']:
        prog.append(f'\tprintf("MCGRP %s\\n", {cname(spec.name + "-mcgrp-" + g["name"])});')
    prog.append('\treturn 0;\n}')
    with tempfile.TemporaryDirectory() as td:
        src, exe = os.path.join(td, 't.c'), os.path.join(td, 't')
        with open(src, 'w', encoding='utf-8') as f:
            f.write('\n'.join(prog) + '\n')
        r = subprocess.run(['cc', '-Wall', '-Werror', '-o', exe, src],
                           capture_output=True, text=True, check=False)
        if r.returncode:
            print('not ok 1 spec names compile against the header\n# ' +
                  r.stderr.replace('\n', '\n# '))
            return 1
        out = subprocess.run([exe], capture_output=True, text=True, check=True).stdout
    got = dict(line.split(' ', 1) for line in out.splitlines())
    bad = [k for k, v in want.items() if int(got[k]) != v]
    bad += [f'NAME {got["NAME"]}'] if got['NAME'] != spec.name else []
    bad += [f'VERSION {got["VERSION"]}'] if int(got['VERSION']) != spec.version else []
    for k in bad:
        print(f'# mismatch: {k}: spec {want.get(k)} header {got.get(k)}')
    print(f'{"not ok" if bad else "ok"} 1 spec and header agree on {len(want)} values')
    return 1 if bad else 0


if __name__ == '__main__':
    print('TAP version 13\n1..1')
    sys.exit(main())
