#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# When a session turns opaque (STARTTLS accepted), ctnetlink listeners such
# as conntrackd get an event carrying CTA_HELP_INFO with the opaque flag at
# once, not at the next unrelated event (often the FIN): a failover in
# between would otherwise take the TLS session as plaintext. The session is
# held open, silent, after STARTTLS and the start of the TLS handshake; the
# event must arrive meanwhile.
# Control: with the helper detached no event carries the flag.
. "$(dirname "$0")/lib_smtp.sh"

st_require ip nft conntrack python3
st_need_vm

st_begin 4 none
# ctnetlink sends the events; joining its groups does not load it
modprobe -q nf_conntrack_netlink

# a server that accepts STARTTLS, then says nothing (no TLS needed here)
in_s python3 - "$S4" <<-'PY' > "$ST_TMP/server.out" 2>&1 &
import socket, sys, threading
ls = socket.create_server((sys.argv[1], 25), reuse_port=True)
print('listening', flush=True)
def serve(c):
    f = c.makefile('rb')
    c.sendall(b'220 tls.test ESMTP\r\n')
    for l in f:
        v = l.strip().upper()
        if v.startswith(b'EHLO'):
            c.sendall(b'250-tls.test\r\n250 STARTTLS\r\n')
        elif v == b'STARTTLS':
            c.sendall(b'220 2.0.0 Ready to start TLS\r\n')
        else:
            c.sendall(b'250 ok\r\n')
while True:
    threading.Thread(target=serve, args=(ls.accept()[0],), daemon=True).start()
PY
bg_track $!
busywait 10000 grep -q listening "$ST_TMP/server.out" ||
	{ st_fail "STARTTLS server listens"; st_finish; }

# watch in the gateway, then STARTTLS, the first bytes of a ClientHello (the
# engine hands off when the client starts TLS), and silence for 25 s (slow
# debug kernels: python alone may take seconds to start)
watch_tls() {	# OUT: exit status of ct_events.py while the session is open
	local w c rc
	in_g python3 "$ST_DIR/ct_events.py" 25 20 > "$1" 2>&1 &
	w=$!
	busywait 30000 grep -q ready "$1" || return 1
	printf 'expect 220\ncmd EHLO c.test 250\ncmd STARTTLS 220\nsend \\x16\\x03\\x01\\x00\\x05\nsleep 25\n' |
		in_c $SMTP_CLIENT -t 30 $S4 25 > "$1.client" 2>&1 &
	c=$!
	wait $w; rc=$?
	kill -0 $c 2>/dev/null || { echo "# session ended before the verdict"; rc=2; }
	wait $c
	return $rc
}

st_check "policy: esmtp (starttls allow)" st_policy esmtp
watch_tls "$ST_TMP/ev.out"; rc=$?
[ $rc = 0 ] || sed 's/^/#   /' "$ST_TMP/ev.out" "$ST_TMP/ev.out.client"
st_check "ctnetlink event with the opaque flag while the TLS session is idle" test $rc = 0

st_helper_detach
watch_tls "$ST_TMP/ctl.out"; rc=$?
st_check "control, helper detached: no event carries the flag (ct_events rc $rc)" test $rc = 1
st_check "control: the session itself worked" grep -q '^S: 220 2.0.0' "$ST_TMP/ctl.out.client"
st_finish
