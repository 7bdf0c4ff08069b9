#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Messages for the interop matrix (selftests/interop.sh).

    interop_msg.py gen --cell ID --kind std|big|hdr998 --from A --to A OUT
    interop_msg.py digest FILE...       one digest a line
    interop_msg.py check --cell ID --digest D --want N --store maildir|cap DIR
                  [--pf-log LOG | --exim-log LOG] [--log-from OFFSET]
                  [--server-log LOG] [--expect log|json WHAT REGEX]...
                  [--client-log LOG --client-from OFFSET --client-fail REGEX]
    interop_msg.py remove --cell ID --store maildir|cap DIR [--also FILE]
    interop_msg.py sizes FILE...        their sizes (0 if absent), one line
    interop_msg.py gateway --events FILE --from OFFSET [--stats JSON]
    interop_msg.py send HOST PORT --from A (--to A,B | --rcpts N) FILE
                  [--starttls] [--auth PLAIN|LOGIN|XOAUTH2] [--dsn ID]
                  [--smtputf8] [--8bit] [--xoauth2-bytes N]
    interop_msg.py serve                any of the above, one a line (see serve())

gen writes a message whose body has 8-bit UTF-8 text, lines starting with
a dot and lines of 998 octets; "big" is about 20 MB, "hdr998" adds header
lines of exactly 998 octets.

digest: sha256 over the headers the transport must not touch (Subject,
Message-ID, From, Date, MIME-Version, Content-Type,
Content-Transfer-Encoding, X-Interop-*) and the body, in LF form with
trailing newlines removed, so a message stored by any MTA (maildir LF,
spool CRLF, extra Received/Return-Path lines) has the digest of the
message that was sent if and only if those bytes arrived unchanged.

check: did cell ID arrive at the server, N recipients, every copy with
digest D?  A maildir holds one file a recipient, a capture directory one
.eml a transaction (recipients in its .json).  With a server log (Postfix:
qmgr nrcpt= of the queue ids whose message-id is the cell's; Exim: the
"data: N recipients" lines lib_exim.sh logs) the recipients the server
accepted are counted from the log, so one delivered copy is enough.
Prints what is missing; exit 0 when all is, 2 while copies are missing,
4 when the relaying client's log (from --client-from) shows --client-fail
(its line printed), 1 when a copy differs or the server shows no sign of
the feature: each --expect REGEX must match the server's log (from
--log-from) or the cell's capture records (json).

gateway: what the gateway reported (smtpguard -j monitor, in FILE) from
OFFSET on.  Prints "bad: CLASS:N..." for violations it dropped or reset
and "note: CLASS:N..." for those it masked or logged; exit 1 when there is
a bad one or the monitor lost events.  With --stats (smtpguard -j stats,
zeroed at OFFSET) it checks instead that the events were complete: the
counters equal the events received, class by class, the kernel dropped
none, the monitor lost none, and counted drops or resets have their events.

remove: delete cell ID's copies (and capture records), so that every later
check reads a small store, not every earlier cell's 500 recipients.

send: Python's smtplib as a client (submission to a client MTA, or the
"smtplib" row of the matrix).  Exit 0 when every recipient was accepted.
"""
import argparse
import base64
import hashlib
import sys

KEEP = (b"subject", b"message-id", b"from", b"date", b"mime-version",
        b"content-type", b"content-transfer-encoding")


def body_lines(seed, nbytes):
    # 8-bit UTF-8, a dot-started line (dot-stuffing), a 998-octet line
    text = ("Grüße aus Köln, naïve café, ½ € — %s" % seed).encode()
    out, n, i = [], 0, 0
    while n < nbytes:
        if i % 50 == 7:
            ln = b"." + text
        elif i % 200 == 11:
            ln = (b"%s-%d " % (seed.encode(), i) + b"x" * 998)[:998]
        else:
            ln = b"%06d %s %s" % (i, text, hashlib.sha256(b"%d" % i).hexdigest().encode())
        out.append(ln + b"\n")
        n += len(ln) + 1
        i += 1
    return out


BIG_BODY = []


def body(cell, kind):
    # the 20 MB body is the same in every cell (the headers name the
    # cell): built once per process, which is once a run under serve
    if kind != "big":
        return b"".join(body_lines(cell, 16 * 1024))
    if not BIG_BODY:
        BIG_BODY.append(b"".join(body_lines("big", 20 * 1024 * 1024)))
    return BIG_BODY[0]


def gen(a):
    hdr = [
        b"From: <%s>" % a.sender.encode(),
        b"To: %s" % (b"<%s>" % a.to.encode() if a.to else b"undisclosed-recipients:;"),
        b"Subject: interop %s" % a.cell.encode(),
        b"Message-ID: <%s@interop.test>" % a.cell.encode(),
        b"Date: Tue, 01 Dec 2026 12:00:00 +0000",
        b"MIME-Version: 1.0",
        b"Content-Type: text/plain; charset=utf-8",
        b"Content-Transfer-Encoding: 8bit",
        b"X-Interop-Cell: %s" % a.cell.encode(),
    ]
    if a.kind == "hdr998":
        for k in range(3):
            name = b"X-Interop-Long-%d: " % k
            hdr.append(name + (b"%d" % k) * (998 - len(name)))
    data = b"\n".join(hdr) + b"\n\n" + body(a.cell, a.kind)
    with open(a.out, "wb") as f:
        f.write(data)
    print(digest(data))


def digest(data):
    data = data.replace(b"\r\n", b"\n")
    head, _, body = data.partition(b"\n\n")
    keep, cur = [], False
    for ln in head.split(b"\n"):
        if ln[:1] in (b" ", b"\t"):
            if cur:
                keep.append(ln)
            continue
        name = ln.split(b":", 1)[0].strip().lower()
        cur = name in KEEP or name.startswith(b"x-interop-")
        if cur:
            keep.append(ln)
    h = hashlib.sha256(b"\n".join(keep) + b"\n\n" + body.rstrip(b"\n"))
    return h.hexdigest()


# What earlier polls learnt, so that a poll reads only what is new: the
# cell of each stored file (a stored file does not change) and, per log
# and cell, how far the log was read and what it said.
FILE_CELL = {}
LOG_SCAN = {}


def cell_of(path):
    """The file's X-Interop-Cell (lower case), "" if it has none, None
    while its header is incomplete (a capture server still writing)."""
    with open(path, "rb") as f:
        head = f.read(8192).replace(b"\r\n", b"\n")
    if b"\n\n" not in head:
        return None
    for ln in head.split(b"\n\n", 1)[0].split(b"\n"):
        if ln.lower().startswith(b"x-interop-cell:"):
            return ln.split(b":", 1)[1].strip().lower().decode("utf-8", "replace")
    return ""


def cell_files(store, d, cell):
    import os
    if not os.path.isdir(d):        # a maildir appears with its first mail
        return []
    known = FILE_CELL.setdefault(d, {})
    names = sorted(os.listdir(d))
    for fn in names:
        if fn not in known and (store != "cap" or fn.endswith(".eml")):
            c = cell_of(os.path.join(d, fn))
            if c is not None:
                known[fn] = c
    return [os.path.join(d, fn) for fn in names if known.get(fn) == cell.lower()]


def log_rcpts(a):
    """Recipients the server's log shows for the cell, read on from where
    the last poll stopped."""
    import re
    path = a.pf_log or a.exim_log
    key = (path, a.log_from, a.cell)
    if key not in LOG_SCAN:
        LOG_SCAN.clear()
        LOG_SCAN[key] = [a.log_from, set(), 0]
    st = LOG_SCAN[key]
    with open(path, "rb") as f:
        f.seek(st[0])
        data = f.read()
    end = data.rfind(b"\n") + 1       # whole lines only
    st[0] += end
    ids = st[1]
    for ln in data[:end].decode("utf-8", "replace").splitlines():
        if a.pf_log:
            # cleanup: "QID: message-id=<cell@interop.test>", then qmgr:
            # "QID: from=<...>, size=N, nrcpt=N"
            m = re.search(r"\b([0-9A-F]{6,}): (?:message-id=<([^>]*)>|from=<[^>]*>, size=\d+, nrcpt=(\d+))", ln)
            if not m:
                continue
            if m.group(2) is not None:
                if m.group(2) == "%s@interop.test" % a.cell:
                    ids.add(m.group(1))
            elif m.group(1) in ids:
                st[2] += int(m.group(3))
            continue
        # Exim: lib_exim.sh's DATA ACL logs "data: N recipients,
        # message-id <id>" for each message (its "<=" line's recipient
        # list is cut at Exim's 8 KB log buffer, about 200 recipients)
        m = re.search(r"data: (\d+) recipients, message-id <([^>]*)>", ln)
        if m and m.group(2) == "%s@interop.test" % a.cell:
            st[2] += int(m.group(1))
    return st[2]


def check(a):
    import json
    files = cell_files(a.store, a.dir, a.cell)
    if a.store == "cap":
        got = sum(len(json.load(open(f[:-4] + ".json"))["rcpts"]) for f in files)
    elif a.pf_log or a.exim_log:
        got = log_rcpts(a) if files else 0
    else:
        got = len(files)
    if got < a.want:
        fail = client_failure(a)
        if fail:
            print(fail)
            return 4
        print("%d of %d recipients got it" % (got, a.want))
        return 2
    bad = 0
    for fn in files:
        with open(fn, "rb") as f:
            if digest(f.read()) != a.digest:
                bad += 1
    if bad:
        print("%d of %d copies differ (digest)" % (bad, len(files)))
        return 1
    return expectations(a, files)


def read_from(path, offset):
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def client_failure(a):
    """The relaying client's first failure line since --client-from."""
    import re
    if not a.client_log:
        return ""
    for ln in read_from(a.client_log, a.client_from).splitlines():
        if re.search(a.client_fail, ln):
            return ln
    return ""


def expectations(a, files):
    """Each --expect: the feature shows in the server's log or in the
    cell's capture records."""
    import re
    log = json = None
    for src, what, rx in a.expect or ():
        if src == "log":
            if log is None:
                log = read_from(a.server_log, a.log_from)
            text = log
        else:
            if json is None:
                json = "".join(read_from(f[:-4] + ".json", 0) for f in files)
            text = json
        if not re.search(rx, text):
            print("the server shows no %s" % what)
            return 1
    return 0


def sizes(a):
    import os
    print(" ".join(str(os.path.getsize(f)) if os.path.exists(f) else "0"
                   for f in a.files))
    return 0


def gateway(a):
    import json
    bad, note, actions = {}, {}, set()
    lost = []
    # whole lines only: the monitor may be writing the last one
    text = read_from(a.events, a.from_)
    for ln in text[:text.rfind("\n") + 1].splitlines():
        if not ln.startswith("{"):
            lost.append(ln)         # the monitor's own error, e.g. events lost
            continue
        e = json.loads(ln)
        if e.get("kind") != "violation":
            continue
        k = e.get("class", "unknown")
        actions.add(e.get("action"))
        d = bad if e.get("action") in ("drop", "reset") else note
        d[k] = d.get(k, 0) + 1
    if a.stats:
        # completeness only (the cells judged what the events say): the
        # counters count the events the engine raised, so with none
        # dropped on the way they equal, class by class, those received
        st = json.loads(a.stats)
        got = {}
        for d in (bad, note):
            for k, n in d.items():
                got[k] = got.get(k, 0) + n
        counted = {k: n for k, n in st.get("violations", {}).items() if n}
        why = ["%s: %d counted, %d reported" % (k, counted.get(k, 0), got.get(k, 0))
               for k in sorted(set(counted) | set(got)) if counted.get(k, 0) != got.get(k, 0)]
        if st.get("events_dropped"):
            why.append("events dropped (rate limit): %d" % st["events_dropped"])
        why += ["%s: %d counted, none reported" % (k, st[k])
                for k, act in (("drops", "drop"), ("resets", "reset"))
                if st.get(k) and act not in actions]
        for w in why + ["monitor: " + ln[:160] for ln in lost]:
            print(w)
        return 1 if why or lost else 0
    if lost:
        bad["monitor"] = len(lost)
        print("monitor: %s" % lost[0][:160])
    for name, d in (("bad", bad), ("note", note)):
        if d:
            print("%s: %s" % (name, " ".join("%s:%d" % kv for kv in sorted(d.items()))))
    return 1 if bad else 0


REMOVED = set()


def remove(a):
    """The cell's copies, and those of cells removed before that arrived
    since (the servers count accepted recipients, so a check may pass
    while the rest of a 500-recipient delivery is still being written)."""
    import os
    for fn in a.also or ():
        if os.path.exists(fn):
            os.unlink(fn)
    REMOVED.add(a.cell.lower())
    cell_files(a.store, a.dir, a.cell)     # learn the new files' cells
    known = FILE_CELL.get(a.dir, {})
    for name, cell in list(known.items()):
        if cell not in REMOVED:
            continue
        fn = os.path.join(a.dir, name)
        if os.path.exists(fn):
            os.unlink(fn)
        if a.store == "cap" and os.path.exists(fn[:-4] + ".json"):
            os.unlink(fn[:-4] + ".json")
        del known[name]
    return 0


def send(a):
    # imported here: gen, check and remove run several times a cell, and
    # under TCG every import costs
    import smtplib
    import ssl
    with open(a.file, "rb") as f:
        msg = f.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    rcpts = a.to.split(",") if a.to else \
        ["%s-r%03d@server.test" % (a.rcpt_prefix, i) for i in range(1, a.rcpts + 1)]
    mopts, ropts = [], []
    if a.eightbit:
        mopts.append("BODY=8BITMIME")
    if a.smtputf8:
        mopts.append("SMTPUTF8")
    if a.dsn:
        mopts += ["RET=HDRS", "ENVID=%s" % a.dsn]
        # no SUCCESS: the success notice would be one more message at the server
        ropts.append("NOTIFY=FAILURE,DELAY")
    s = smtplib.SMTP(a.host, a.port, local_hostname="client.test", timeout=a.timeout)
    s.set_debuglevel(1 if a.verbose else 0)
    # EHLO, and HELO if EHLO is refused (RFC 5321 3.2), as a client
    # should (smtplib's own fallback is skipped once ehlo() was called)
    s.ehlo_or_helo_if_needed()
    if a.starttls:
        s.starttls(context=ssl._create_unverified_context())
        s.ehlo()
    if a.auth == "XOAUTH2":
        tok = "user=%s\x01auth=Bearer %s\x01\x01" % (
            "user@client.test", "A" * max(a.xoauth2_bytes - 40, 1))
        code, resp = s.docmd("AUTH", "XOAUTH2 " + base64.b64encode(tok.encode()).decode())
        print("AUTH XOAUTH2 (%d-byte line): %d %s" % (
            len("AUTH XOAUTH2 ") + 4 * ((len(tok) + 2) // 3), code, resp.decode(errors="replace")))
        if code != 235 and not a.auth_optional:
            return 1
    elif a.auth:
        s.user, s.password = "user@client.test", "secret"
        auth = {"PLAIN": s.auth_plain, "LOGIN": s.auth_login}[a.auth]
        code, resp = s.auth(a.auth, auth, initial_response_ok=True)
        print("AUTH %s: %d" % (a.auth, code))
    # smtplib adds SIZE= itself when the server offers SIZE
    rcpt_opts = ropts
    refused = {}
    try:
        if a.dsn:
            # ORCPT differs per recipient: drive MAIL/RCPT/DATA by hand
            code, resp = s.mail(a.sender, mopts)
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, resp, a.sender)
            for r in rcpts:
                code, resp = s.rcpt(r, rcpt_opts + ["ORCPT=rfc822;%s" % r])
                if code not in (250, 251):
                    refused[r] = (code, resp)
            code, resp = s.data(msg)
            if code != 250:
                raise smtplib.SMTPDataError(code, resp)
        else:
            refused = s.sendmail(a.sender, rcpts, msg, mopts, rcpt_opts)
    except smtplib.SMTPException as e:
        print("send failed: %r" % (e,))
        return 1
    try:
        s.quit()
    except smtplib.SMTPException:
        pass
    if refused:
        print("refused: %r" % (refused,))
        return 1
    print("sent to %d recipients" % len(rcpts))
    return 0


def parser():
    ap = argparse.ArgumentParser(prog="interop_msg.py", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="op", required=True)
    g = sub.add_parser("gen")
    g.add_argument("--cell", required=True)
    g.add_argument("--kind", choices=("std", "big", "hdr998"), default="std")
    g.add_argument("--from", dest="sender", required=True)
    g.add_argument("--to", default="")
    g.add_argument("out")
    c = sub.add_parser("check")
    c.add_argument("--cell", required=True)
    c.add_argument("--digest", required=True)
    c.add_argument("--want", type=int, default=1)
    c.add_argument("--store", nargs=2, metavar=("KIND", "DIR"), required=True)
    c.add_argument("--pf-log")
    c.add_argument("--exim-log")
    c.add_argument("--log-from", type=int, default=0)
    c.add_argument("--server-log")
    c.add_argument("--expect", action="append", nargs=3, metavar=("SRC", "WHAT", "REGEX"))
    c.add_argument("--client-log")
    c.add_argument("--client-from", type=int, default=0)
    c.add_argument("--client-fail")
    r = sub.add_parser("remove")
    r.add_argument("--cell", required=True)
    r.add_argument("--store", nargs=2, metavar=("KIND", "DIR"), required=True)
    r.add_argument("--also", action="append")
    z = sub.add_parser("sizes")
    z.add_argument("files", nargs="+")
    w = sub.add_parser("gateway")
    w.add_argument("--events", required=True)
    w.add_argument("--from", dest="from_", type=int, default=0)
    w.add_argument("--stats")
    d = sub.add_parser("digest")
    d.add_argument("files", nargs="+")
    s = sub.add_parser("send")
    s.add_argument("host")
    s.add_argument("port", type=int)
    s.add_argument("--from", dest="sender", required=True)
    s.add_argument("--to", default="")
    s.add_argument("--rcpts", type=int, default=0)
    s.add_argument("--rcpt-prefix", default="r")
    s.add_argument("--starttls", action="store_true")
    s.add_argument("--auth", choices=("PLAIN", "LOGIN", "XOAUTH2"))
    s.add_argument("--auth-optional", action="store_true",
                   help="go on with the mail when the server refuses AUTH")
    s.add_argument("--xoauth2-bytes", type=int, default=1530)
    s.add_argument("--dsn", metavar="ENVID")
    s.add_argument("--smtputf8", action="store_true")
    s.add_argument("--8bit", dest="eightbit", action="store_true")
    s.add_argument("--timeout", type=float, default=120)
    s.add_argument("-v", "--verbose", action="store_true")
    s.add_argument("file")
    sub.add_parser("serve")
    return ap


def run(a):
    """One operation; its exit status."""
    if a.op == "gen":
        gen(a)
        return 0
    if a.op in ("check", "remove"):
        a.store, a.dir = a.store
        return check(a) if a.op == "check" else remove(a)
    if a.op == "sizes":
        return sizes(a)
    if a.op == "gateway":
        return gateway(a)
    if a.op == "digest":
        for fn in a.files:
            with open(fn, "rb") as f:
                print(digest(f.read()))
        return 0
    return send(a)


def serve(ap):
    """Operations from stdin, one a line, arguments separated by 0x1f;
    each answer is the operation's output, then 0x1e and its status on a
    line of its own.  One process for the whole matrix: under TCG every
    interpreter start costs about half a second, and a cell ran four."""
    import contextlib
    import io
    for raw in sys.stdin.buffer:
        args = [x.decode("utf-8", "surrogateescape")
                for x in raw.rstrip(b"\n").split(b"\x1f")]
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            try:
                a = ap.parse_args(args)
                rc = 1 if a.op == "serve" else run(a)
            except SystemExit:      # argparse has printed why
                rc = 1
            except Exception as e:  # noqa: BLE001 - reported, the next line goes on
                print("interop_msg.py %s: %r" % (args[0], e))
                rc = 1
        sys.stdout.buffer.write(out.getvalue().encode("utf-8", "surrogateescape"))
        sys.stdout.buffer.write(b"\x1e%d\n" % rc)
        sys.stdout.buffer.flush()


def main():
    ap = parser()
    a = ap.parse_args()
    if a.op == "serve":
        serve(ap)
        return
    sys.exit(run(a))


if __name__ == "__main__":
    main()
