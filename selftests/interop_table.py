#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The interop matrix as Markdown tables, from the cell records of one or
more runs of selftests/interop.sh (make interop runs a kernel's servers in
lanes, one VM each, and merges their records here).

    interop_table.py [--presets P...] [--servers S...] [--clients C...]
                     [--features F...] [--kernel KVER] CELLS.tsv...

A record is a line of tab-separated fields: preset, client id, client
name, server id, server name, feature, result (ok, xpass, xfail, FAIL,
n/a), and the reason or note (may be empty).  The lists give the order of
tables, rows and columns (and the cells expected: one with no record
prints "not run"); what they do not list follows in the order first seen.
Footnotes are numbered in table order.  Exit status 1 when a cell failed
or did not run.
"""
import argparse
import datetime
import sys


def ordered(given, seen):
    out = list(given)
    out += [x for x in seen if x not in out]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for k in ("presets", "servers", "clients", "features"):
        ap.add_argument("--" + k, default="", help="space-separated order")
    ap.add_argument("--kernel", default="")
    ap.add_argument("cells", nargs="+")
    a = ap.parse_args()

    res, name = {}, {}
    seen = {"p": [], "s": [], "c": [], "f": []}
    for path in a.cells:
        with open(path, encoding="utf-8") as f:
            for ln in f:
                t = ln.rstrip("\n").split("\t")
                if len(t) != 8:
                    sys.exit("%s: not a cell record: %r" % (path, ln[:80]))
                p, c, cname, s, sname, feat, result, note = t
                name["c", c], name["s", s] = cname, sname
                for k, v in (("p", p), ("s", s), ("c", c), ("f", feat)):
                    if v not in seen[k]:
                        seen[k].append(v)
                res[p, c, s, feat] = (result, note)
    presets = ordered(a.presets.split(), seen["p"])
    servers = ordered(a.servers.split(), seen["s"])
    clients = ordered(a.clients.split(), seen["c"])
    features = ordered(a.features.split(), seen["f"])

    notes, bad, lines = [], 0, []

    def note_no(text):
        if text not in notes:
            notes.append(text)
        return notes.index(text) + 1

    lines.append("Interop matrix, %s%s: client -> gateway -> server."
                 % (a.kernel + ", " if a.kernel else "",
                    datetime.date.today().isoformat()))
    lines.append("ok: delivered byte-identical, feature used, no violation; xfail: the")
    lines.append("preset's documented consequence; n/a: one end lacks the feature.")
    for p in presets:
        lines += ["", "#### " + p, ""]
        lines.append("| client -> server |" + "".join(" %s |" % f for f in features))
        lines.append("|---|" + "---|" * len(features))
        for s in servers:
            for c in clients:
                row = "| %s -> %s |" % (name.get(("c", c), c), name.get(("s", s), s))
                for f in features:
                    result, note = res.get((p, c, s, f), ("not run", ""))
                    if result in ("FAIL", "not run"):
                        bad += 1
                    if result == "xpass":
                        result = "ok (xpass)"
                    cell = "%s[%d]" % (result, note_no(note)) if note else result
                    row += " %s |" % cell
                lines.append(row)
    lines.append("")
    lines += ["[%d] %s" % (i + 1, n) for i, n in enumerate(notes)]
    print("\n".join(lines))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
