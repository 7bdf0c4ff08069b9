#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Small raw SMTP client for the smtpguard selftests.

Used where swaks cannot do it: exact bytes on the wire, one byte per TCP
segment, pipelining several commands in one write, bare CR/LF.

    smtp_client.py [options] HOST PORT < SCRIPT
    smtp_client.py [options] -f SCRIPT HOST PORT
    smtp_client.py --gen BYTES --seed S --subject TEXT FILE   (test message)
    smtp_client.py --sha FILE | --sha-dump FILE   (body digest, see below)

Every reply line is printed as "S: <line>", every command sent as
"C: <line>" (bytes escaped), and events as "EV: <what>".

SCRIPT, one step a line ('#' lines and blank lines are skipped).  TEXT takes
Python string escapes (\\r \\n \\x00 \\\\):
    read                 read one (multi-line) reply
    expect CODE          read one reply; fail unless its code starts with CODE
    send TEXT            write TEXT as is (one write, or one byte per write)
    line TEXT            write TEXT + CRLF
    cmd TEXT CODE        line TEXT, then expect CODE
    data FILE            send FILE as a DATA body: LF -> CRLF, dot-stuffed,
                         then ".\\r\\n" (the DATA command itself is separate)
    raw FILE             send FILE's bytes unchanged
    bytewise on|off      one byte per write() from now on
    pace SECONDS         sleep between the bytes of a bytewise write
    sleep SECONDS
    expect_close         read until the peer closes or resets (fail on timeout)
    drain SECONDS        print whatever arrives for SECONDS, or until EOF
    datagen BYTES [SEED] send a generated message of about BYTES as a DATA
                         body (like --gen, streamed), then ".\r\n"; prints
                         "EV: datagen sha256=<digest of the message>"
    shutdown             half-close (SHUT_WR)
    tls                  TLS handshake on the connection (after the 220 to
                         STARTTLS; no certificate check): every later step
                         runs inside TLS

Body digest (--sha, --sha-dump, datagen): sha256 of the message in LF form
with trailing newlines removed.  --sha-dump first strips the headers that
smtp-sink's -d dump adds (everything up to its 3-line Received header), so
the digest of what the server got equals the digest of what was sent.

Exit: 0 all expectations met; 1 an expectation failed or timed out;
2 usage; 3 the connection was reset by the peer (or refused) where a reply
was expected.  The last output line is "RESULT: ok|fail|reset|closed".
"""
import argparse
import codecs
import socket
import sys
import time


def log(prefix, data):
    if isinstance(data, bytes):
        data = data.decode("latin-1")
    sys.stdout.write("%s: %s\n" % (prefix, data.encode("unicode_escape").decode("ascii")
                                   if any(ord(c) < 32 or ord(c) > 126 for c in data) else data))
    sys.stdout.flush()


def unescape(text):
    return codecs.decode(text.encode("latin-1"), "unicode_escape").encode("latin-1")


class Reset(Exception):
    pass


class Closed(Exception):
    pass


class Client:
    def __init__(self, host, port, timeout, family, bind=None):
        self.buf = b""
        self.bytewise = False
        self.pace = 0.0
        self.timeout = timeout
        last = None
        for fam, stype, proto, _, sa in socket.getaddrinfo(host, port, family, socket.SOCK_STREAM):
            try:
                s = socket.socket(fam, stype, proto)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if bind:
                    s.bind((bind, 0))
                # SYNs may be lost (netem): give the handshake its own,
                # longer budget than a reply
                s.settimeout(max(timeout, 60.0))
                s.connect(sa)
                s.settimeout(timeout)
                self.s = s
                return
            except OSError as e:
                last = e
        raise last

    def _recv(self):
        try:
            d = self.s.recv(65536)
        except ConnectionResetError:
            raise Reset()
        except socket.timeout:
            raise TimeoutError()
        if not d:
            raise Closed()
        return d

    def readline(self):
        while b"\n" not in self.buf:
            self.buf += self._recv()
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r")

    def reply(self):
        lines = []
        while True:
            ln = self.readline()
            log("S", ln)
            lines.append(ln)
            if len(ln) < 4 or ln[3:4] != b"-":
                return lines

    def send(self, data):
        try:
            if self.bytewise and len(data) > 1:
                for i in range(len(data)):
                    self.s.sendall(data[i:i + 1])
                    if self.pace:
                        time.sleep(self.pace)
            else:
                self.s.sendall(data)
        except (ConnectionResetError, BrokenPipeError):
            raise Reset()


def dot_stuff(body):
    body = body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if body and not body.endswith(b"\r\n"):
        body += b"\r\n"
    out = []
    for ln in body.split(b"\r\n")[:-1]:
        out.append(b"." + ln if ln.startswith(b".") else ln)
    return b"\r\n".join(out) + b"\r\n.\r\n"


def gen_lines(nbytes, seed, subject):
    """Yield LF-terminated lines of a deterministic test message."""
    import base64
    import random
    rnd = random.Random(seed)
    head = ("Subject: %s\nMessage-Id: <%s@smtpguard.test>\n"
            "MIME-Version: 1.0\nContent-Type: text/plain\n\n" % (subject, seed)).encode()
    yield head
    left = nbytes - len(head)
    specials = [b".", b"..", b".leading dot", b"", b"VRFY not a command", b"\tTAB",
                b"DATA", b"QUIT", b"250 not a reply", b"=2E=0D=0A"]
    while left > 0:
        chunk = base64.b64encode(rnd.randbytes(48 * 1024))
        pos = 0
        out = []
        while pos < len(chunk) and left > 0:
            r = rnd.random()
            if r < 0.02:
                ln = rnd.choice(specials)
            else:
                n = rnd.randrange(1, 999) if r < 0.1 else rnd.randrange(40, 78)
                ln = chunk[pos:pos + n]
                pos += n
            out.append(ln + b"\n")
            left -= len(ln) + 1
        yield b"".join(out)
    yield b"end of message %s\n" % seed.encode()


def body_digest(data):
    import hashlib
    data = data.replace(b"\r\n", b"\n").rstrip(b"\n")
    return hashlib.sha256(data).hexdigest()


def strip_sink_headers(data):
    i = data.find(b"\nReceived: ")
    if i < 0 and not data.startswith(b"Received: "):
        return data
    i = 0 if i < 0 else i + 1
    lines = data[i:].split(b"\n")
    j = 1
    while j < len(lines) and lines[j][:1] in (b"\t", b" "):
        j += 1
    return b"\n".join(lines[j:])


def run_script(c, steps, keep_going=False):
    ok = True
    for lineno, raw in steps:
        st = raw.strip("\r\n")
        if not st.strip() or st.lstrip().startswith("#"):
            continue
        op, _, arg = st.lstrip().partition(" ")
        if op == "read":
            c.reply()
        elif op in ("expect", "cmd"):
            code = arg.strip()
            if op == "cmd":
                text, _, code = arg.rpartition(" ")
                data = unescape(text) + b"\r\n"
                log("C", data.rstrip(b"\r\n"))
                c.send(data)
            r = c.reply()
            if not r[-1].startswith(code.encode()):
                log("EV", "line %d: expected %s, got %r" % (lineno, code, r[-1]))
                ok = False
                if not keep_going:
                    return False
        elif op in ("send", "line"):
            data = unescape(arg) + (b"\r\n" if op == "line" else b"")
            log("C", data[:-2] if op == "line" else data)
            c.send(data)
        elif op in ("data", "raw"):
            with open(arg.strip(), "rb") as f:
                body = f.read()
            if op == "data":
                body = dot_stuff(body)
            log("C", "<%d bytes from %s>" % (len(body), arg.strip()))
            for i in range(0, len(body), 65536):
                c.send(body[i:i + 65536])
        elif op == "datagen":
            import hashlib
            a = arg.split()
            nbytes, seed = int(a[0]), a[1] if len(a) > 1 else "datagen"
            h = hashlib.sha256()
            tail = b""
            sent = 0
            for block in gen_lines(nbytes, seed, "datagen " + seed):
                h.update(tail)
                tail = block[-1:]          # keep the last LF out of the digest
                h.update(block[:-1])
                if block.startswith(b"."):
                    block = b"." + block
                out = block.replace(b"\n", b"\r\n").replace(b"\r\n.", b"\r\n..")
                c.send(out)
                sent += len(out)
            c.send(b".\r\n")
            log("EV", "datagen bytes=%d sha256=%s" % (sent, h.hexdigest()))
        elif op == "bytewise":
            c.bytewise = arg.strip() == "on"
        elif op == "pace":
            c.pace = float(arg)
        elif op == "sleep":
            time.sleep(float(arg))
        elif op == "shutdown":
            c.s.shutdown(socket.SHUT_WR)
        elif op == "tls":
            import ssl
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            try:
                c.s = ctx.wrap_socket(c.s)
            except (ssl.SSLError, OSError) as e:
                log("EV", "line %d: TLS handshake failed: %s" % (lineno, e))
                return False
            log("EV", "TLS %s" % c.s.version())
        elif op == "drain":
            end = time.time() + float(arg)
            c.s.settimeout(0.2)
            try:
                while time.time() < end:
                    try:
                        c.buf += c._recv()
                    except TimeoutError:
                        continue
                    while b"\n" in c.buf:
                        ln, c.buf = c.buf.split(b"\n", 1)
                        log("S", ln.rstrip(b"\r"))
            finally:
                c.s.settimeout(c.timeout)
        elif op == "expect_close":
            try:
                while True:
                    c.buf += c._recv()
                    while b"\n" in c.buf:
                        ln, c.buf = c.buf.split(b"\n", 1)
                        log("S", ln.rstrip(b"\r"))
            except TimeoutError:
                log("EV", "line %d: still open after %ss" % (lineno, c.timeout))
                return False
        else:
            log("EV", "line %d: unknown step %r" % (lineno, op))
            raise SystemExit(2)
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("host", nargs="?")
    ap.add_argument("port", type=int, nargs="?")
    ap.add_argument("--gen", type=int, help="write a test message of ~N bytes to HOST(=file)")
    ap.add_argument("--seed", default="1")
    ap.add_argument("--subject", default="smtpguard test")
    ap.add_argument("--sha", help="body digest of a sent message file")
    ap.add_argument("--sha-dump", help="body digest of an smtp-sink dump file")
    ap.add_argument("-f", "--file", help="script (default: stdin)")
    ap.add_argument("-4", dest="v4", action="store_true")
    ap.add_argument("-6", dest="v6", action="store_true")
    ap.add_argument("-k", "--keep-going", action="store_true",
                    help="an unexpected reply code fails the run but does not stop it")
    ap.add_argument("-t", "--timeout", type=float, default=15.0)
    ap.add_argument("--bind", help="local address to connect from")
    args = ap.parse_args()
    family = socket.AF_INET6 if args.v6 else socket.AF_INET if args.v4 else 0

    if args.gen:
        with open(args.host, "wb") as f:
            for block in gen_lines(args.gen, args.seed, args.subject):
                f.write(block)
        return 0
    if args.sha or args.sha_dump:
        with open(args.sha or args.sha_dump, "rb") as f:
            data = f.read()
        print(body_digest(strip_sink_headers(data) if args.sha_dump else data))
        return 0
    if args.host is None or args.port is None:
        ap.error("HOST and PORT are required")

    f = open(args.file) if args.file else sys.stdin
    steps = list(enumerate(f.readlines(), 1))
    try:
        c = Client(args.host, args.port, args.timeout, family, args.bind)
    except ConnectionRefusedError:
        print("EV: connection refused\nRESULT: reset", flush=True)
        return 3
    try:
        ok = run_script(c, steps, args.keep_going)
    except Reset:
        print("EV: connection reset by peer\nRESULT: reset", flush=True)
        return 3
    except Closed:
        # expect_close ends here on a clean close; anything else is early
        last = steps[-1][1].strip() if steps else ""
        if last.startswith("expect_close") or last.startswith("drain"):
            print("EV: connection closed\nRESULT: closed", flush=True)
            return 0
        print("EV: connection closed by peer\nRESULT: closed", flush=True)
        return 1
    except TimeoutError:
        print("EV: timeout waiting for the server\nRESULT: fail", flush=True)
        return 1
    print("RESULT: %s" % ("ok" if ok else "fail"), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
