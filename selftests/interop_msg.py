#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Messages for the interop matrix (selftests/interop.sh).

    interop_msg.py gen --cell ID --kind std|big|hdr998 --from A --to A OUT
    interop_msg.py digest FILE...       one digest a line
    interop_msg.py check --cell ID --digest D --want N --store maildir|cap DIR
                  [--pf-log LOG | --exim-log LOG] [--log-from OFFSET]
    interop_msg.py remove --cell ID --store maildir|cap DIR
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
deliveries of the messages its "<=" lines name) the recipients are counted from the log, so
one delivered copy is enough.  Prints what is missing; exit 0 when all is.

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


def cell_files(store, d, cell):
    import os
    want = b"x-interop-cell: " + cell.encode()
    out = []
    if not os.path.isdir(d):        # a maildir appears with its first mail
        return out
    for fn in sorted(os.listdir(d)):
        if store == "cap" and not fn.endswith(".eml"):
            continue
        path = os.path.join(d, fn)
        with open(path, "rb") as f:
            head = f.read(8192).replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
        if any(ln.strip().lower() == want for ln in head.split(b"\n")):
            out.append(path)
    return out


def log_rcpts(a):
    import re
    with open(a.pf_log or a.exim_log, "rb") as f:
        f.seek(a.log_from)
        log = f.read().decode("utf-8", "replace")
    mid = "<%s@interop.test>" % a.cell
    if a.pf_log:
        qids = set(re.findall(r"\b([0-9A-F]{6,}): message-id=" + re.escape(mid), log))
        return sum(int(n) for q, n in re.findall(r"\b([0-9A-F]{6,}): from=<[^>]*>, size=\d+, nrcpt=(\d+)", log)
                   if q in qids)
    # Exim: the deliveries ("=>", "->") of the messages whose "<=" line
    # names the cell, not that line's "for" list: Exim cuts a log line at
    # its 8 KB buffer (LOG_BUFFER_SIZE), about 200 recipients
    ids, n = set(), 0
    lines = [ln.split() for ln in log.splitlines()]
    for t in lines:
        if "<=" in t and "id=%s@interop.test" % a.cell in t:
            ids.add(t[t.index("<=") - 1])
    for t in lines:
        # date time [pid] msgid => addr ...
        i = 3 if len(t) > 3 and t[2].startswith("[") else 2
        if len(t) > i + 1 and t[i + 1] in ("=>", "->") and t[i] in ids:
            n += 1
    return n


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
    return 0


def remove(a):
    import os
    for fn in cell_files(a.store, a.dir, a.cell):
        os.unlink(fn)
        if a.store == "cap" and os.path.exists(fn[:-4] + ".json"):
            os.unlink(fn[:-4] + ".json")
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
    s.ehlo()
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
    r = sub.add_parser("remove")
    r.add_argument("--cell", required=True)
    r.add_argument("--store", nargs=2, metavar=("KIND", "DIR"), required=True)
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
