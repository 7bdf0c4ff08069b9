#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""SMTP capture server for the interop matrix (selftests/interop.sh).

    interop_server.py --dir DIR [--profile exchange|plain] [--cert C --key K]
                      ADDR:PORT...

Profile "exchange" answers EHLO with the reply of an Exchange 2019 hub
transport (Default receive connector), 22 keywords, most of them Exchange
private ones; "plain" is a minimal modern server (the sink behind the
OpenSMTPD server).  Both implement what the matrix uses: STARTTLS (real
TLS with the test's certificate), AUTH PLAIN/LOGIN/XOAUTH2 (any
credentials; the XOAUTH2 token's digest is recorded), PIPELINING, SIZE,
8BITMIME, SMTPUTF8, DSN, CHUNKING/BDAT.

Each accepted message is stored as DIR/NNNN.eml (the bytes as received,
dot-unstuffed) with DIR/NNNN.json: envelope, parameters and what the
session used (tls, auth, bdat, pipelined, smtputf8).  DIR/log holds every
command and reply line.
"""
import argparse
import hashlib
import json
import os
import re
import socket
import ssl
import threading

EXCHANGE_EHLO = [
    "SIZE 37748736", "PIPELINING", "DSN", "ENHANCEDSTATUSCODES", "STARTTLS",
    "X-ANONYMOUSTLS", "AUTH NTLM LOGIN PLAIN XOAUTH2", "X-EXPS GSSAPI NTLM",
    "8BITMIME", "BINARYMIME", "CHUNKING", "XEXCH50", "XRDST",
    "XSHADOWREQUEST", "XPROXY", "XPROXYFROM", "XPROXYTO", "XSESSIONPARAMS",
    "XRSETPROXYTO", "XSYSPROBE", "XLOOPDETECT", "SMTPUTF8",
]
PLAIN_EHLO = [
    "SIZE 52428800", "PIPELINING", "DSN", "ENHANCEDSTATUSCODES", "STARTTLS",
    "AUTH PLAIN LOGIN XOAUTH2", "8BITMIME", "CHUNKING", "SMTPUTF8",
]
MAX_LINE = 65536
DATA_END = re.compile(rb"\n\.\r*\n")      # a line "." (trailing CRs stripped)
CR_LF = re.compile(rb"\r*\n")


class Session:
    def __init__(self, srv, sock, peer):
        self.srv, self.sock, self.peer = srv, sock, peer
        self.buf = b""
        self.tls = None
        self.auth = None
        self.xoauth2_sha = None
        self.pipelined = False
        self.reset()

    def reset(self):
        self.mail = None
        self.mail_params = []
        self.rcpts = []
        self.bdat = False
        self.chunks = []

    def log(self, what):
        self.srv.log("%s %s" % (self.peer, what))

    def recv(self):
        d = self.sock.recv(65536)
        if not d:
            raise EOFError
        self.buf += d

    def line(self):
        while b"\n" not in self.buf:
            if len(self.buf) > MAX_LINE:
                raise EOFError
            self.recv()
        ln, self.buf = self.buf.split(b"\n", 1)
        return ln.rstrip(b"\r")

    def exact(self, n):
        while len(self.buf) < n:
            self.recv()
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def reply(self, text):
        # a command already waiting while we answer the previous one
        if self.buf:
            self.pipelined = True
        for ln in text.split("\n"):
            self.log("S: " + ln)
        self.sock.sendall(text.replace("\n", "\r\n").encode() + b"\r\n")

    def ehlo(self, arg):
        kws = EXCHANGE_EHLO if self.srv.profile == "exchange" else PLAIN_EHLO
        if self.tls:
            kws = [k for k in kws if k not in ("STARTTLS", "X-ANONYMOUSTLS")]
        if self.srv.profile == "exchange":
            first = "%s Hello [%s]" % (self.srv.hostname, self.peer.split(":")[0])
        else:
            first = self.srv.hostname
        lines = [first] + kws
        self.reply("\n".join("250%s%s" % ("-" if i < len(lines) - 1 else " ", l)
                             for i, l in enumerate(lines)))

    def data(self):
        """The message up to the line ".", each line ending in CRLF and
        dot-unstuffed.  One search a received block, not a copy of the
        buffer a line: under TCG that took 12-20 s for a 20 MB body."""
        buf = bytearray(b"\n")     # the body starts at a line start
        buf += self.buf
        scan = 0
        while True:
            m = DATA_END.search(buf, scan)
            if m:
                break
            # an end not complete yet starts at the last LF
            scan = max(0, buf.rfind(b"\n"))
            if len(buf) - 1 - scan > MAX_LINE:
                raise EOFError
            d = self.sock.recv(1 << 20)
            if not d:
                raise EOFError
            buf += d
        self.buf = bytes(buf[m.end():])
        body = CR_LF.sub(b"\r\n", bytes(buf[:m.start() + 1]))
        return body.replace(b"\r\n.", b"\r\n")[2:]

    def store(self, body):
        meta = {
            "helo": self.helo, "mail": self.mail, "mail_params": self.mail_params,
            "rcpts": self.rcpts, "tls": self.tls, "auth": self.auth,
            "xoauth2_sha256": self.xoauth2_sha, "bdat": self.bdat,
            "pipelined": self.pipelined, "peer": self.peer,
            "smtputf8": any(p.upper() == "SMTPUTF8" for p in self.mail_params),
        }
        path = self.srv.next_path()
        with open(path + ".eml.tmp", "wb") as f:
            f.write(body)
        with open(path + ".json", "w") as f:
            json.dump(meta, f)
        os.rename(path + ".eml.tmp", path + ".eml")
        self.log("stored %s.eml (%d bytes, %d rcpts)" % (path, len(body), len(self.rcpts)))

    def auth_cmd(self, args):
        mech = args[0].upper() if args else ""
        if mech not in ("PLAIN", "LOGIN", "XOAUTH2"):
            return self.reply("504 5.7.4 Unrecognized authentication type")
        if mech == "LOGIN":
            self.reply("334 VXNlcm5hbWU6")
            self.log("C: " + self.line().decode(errors="replace"))
            self.reply("334 UGFzc3dvcmQ6")
            self.log("C: <password>")
            self.line()
        elif len(args) < 2:
            self.reply("334 ")
            resp = self.line()
            self.log("C: <%d bytes>" % len(resp))
            if mech == "XOAUTH2":
                self.xoauth2_sha = hashlib.sha256(resp).hexdigest()
        elif mech == "XOAUTH2":
            self.xoauth2_sha = hashlib.sha256(args[1].encode()).hexdigest()
        self.auth = mech
        self.reply("235 2.7.0 Authentication successful")

    def run(self):
        self.helo = None
        banner = "220 %s Microsoft ESMTP MAIL Service ready" % self.srv.hostname \
            if self.srv.profile == "exchange" else "220 %s ESMTP capture" % self.srv.hostname
        self.reply(banner)
        while True:
            raw = self.line()
            text = raw.decode("utf-8", errors="replace")
            self.log("C: " + (text if len(text) < 300 else text[:300] + "...(%d)" % len(text)))
            verb, _, rest = text.partition(" ")
            verb = verb.upper()
            args = rest.split()
            if verb in ("EHLO", "HELO"):
                self.helo = rest
                self.reset()
                if verb == "EHLO":
                    self.ehlo(rest)
                else:
                    self.reply("250 %s" % self.srv.hostname)
            elif verb == "STARTTLS" and self.srv.ctx and not self.tls:
                if self.buf:
                    self.log("STARTTLS injection: %d bytes discarded" % len(self.buf))
                    self.buf = b""
                self.reply("220 2.0.0 SMTP server ready")
                self.sock = self.srv.ctx.wrap_socket(self.sock, server_side=True)
                self.tls = "%s %s" % (self.sock.version(), self.sock.cipher()[0])
                self.log("TLS established: " + self.tls)
                self.helo = None
                self.reset()
            elif verb == "AUTH":
                self.auth_cmd(args)
            elif verb == "MAIL":
                addr, _, params = rest[5:].strip().partition(" ") if rest.upper().startswith("FROM:") else ("", "", "")
                self.reset()
                self.mail = addr.strip("<>")
                self.mail_params = params.split()
                self.reply("250 2.1.0 Sender OK")
            elif verb == "RCPT":
                addr, _, params = rest[3:].strip().partition(" ")
                if self.mail is None:
                    self.reply("503 5.5.1 Need MAIL")
                else:
                    self.rcpts.append({"addr": addr.strip("<>"), "params": params.split()})
                    self.reply("250 2.1.5 Recipient OK")
            elif verb == "DATA":
                if not self.rcpts:
                    self.reply("503 5.5.1 Need RCPT")
                    continue
                self.reply("354 Start mail input; end with <CRLF>.<CRLF>")
                self.store(self.data())
                self.reply("250 2.6.0 Queued mail for delivery")
                self.reset()
            elif verb == "BDAT":
                n = int(args[0])
                self.chunks.append(self.exact(n))
                self.bdat = True
                if len(args) > 1 and args[1].upper() == "LAST":
                    self.store(b"".join(self.chunks))
                    self.reply("250 2.6.0 Queued mail for delivery")
                    self.reset()
                else:
                    self.reply("250 2.0.0 BDAT %d octets received" % n)
            elif verb == "RSET":
                self.reset()
                self.reply("250 2.0.0 Resetting")
            elif verb == "NOOP":
                self.reply("250 2.0.0 OK")
            elif verb == "QUIT":
                self.reply("221 2.0.0 Service closing transmission channel")
                return
            else:
                self.reply("500 5.3.3 Unrecognized command '%s'" % verb)


class Server:
    def __init__(self, args):
        self.dir, self.profile, self.hostname = args.dir, args.profile, args.hostname
        self.lock = threading.Lock()
        self.n = 0
        self.logf = open(os.path.join(self.dir, "log"), "a", buffering=1)
        self.ctx = None
        if args.cert:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(args.cert, args.key)

    def log(self, s):
        with self.lock:
            self.logf.write(s + "\n")

    def next_path(self):
        with self.lock:
            self.n += 1
            return os.path.join(self.dir, "%05d" % self.n)

    def serve(self, addr):
        host, port = addr.rsplit(":", 1)
        ls = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((host.strip("[]"), int(port)))
        ls.listen(64)
        return ls

    def handle(self, sock, peer):
        s = Session(self, sock, "%s:%d" % peer[:2])
        try:
            s.run()
        except (EOFError, ConnectionError, ssl.SSLError, OSError, ValueError) as e:
            s.log("session ended: %r" % e)
        finally:
            try:
                s.sock.close()
            except OSError:
                pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("listen", nargs="+")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--profile", choices=("exchange", "plain"), default="plain")
    ap.add_argument("--hostname", default="server.test")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    args = ap.parse_args()
    srv = Server(args)
    socks = [srv.serve(a) for a in args.listen]
    for ls in socks[1:]:
        threading.Thread(target=accept_loop, args=(srv, ls), daemon=True).start()
    srv.log("listening on %s (%s)" % (" ".join(args.listen), args.profile))
    accept_loop(srv, socks[0])


def accept_loop(srv, ls):
    while True:
        c, peer = ls.accept()
        threading.Thread(target=srv.handle, args=(c, peer), daemon=True).start()


if __name__ == "__main__":
    main()
