#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The kernel log gets drops and resets only, one line per connection at
# most, within net_ratelimit (net.core.message_burst 10 per message_cost 5 s),
# with attacker bytes escaped. Violations with action log or mask go to the
# netlink events only. nf_log is bound in the gateway (nf_log_syslog,
# nf_log_all_netns) so that logging through nf_ct_helper_log would show.
. "$(dirname "$0")/lib_smtp.sh"

st_require ip nft conntrack smtp-sink python3
st_need_vm

st_begin 7 sink

# the raw kernel log (syslog(2)): neither dmesg nor /dev/kmsg escape for us
klog() {
	python3 -c 'import ctypes, sys
n = 1 << 22; b = ctypes.create_string_buffer(n)
r = ctypes.CDLL(None, use_errno=True).klogctl(3, b, n)
sys.stdout.buffer.write(b.raw[:max(r, 0)])'
}
MARK=0
log_mark() { MARK=$((MARK + 1)); echo "smtpguard-log-mark-$MARK" > /dev/kmsg; }
log_since_mark() { klog | sed -n "/smtpguard-log-mark-$MARK\$/,\$p" | grep -a 'violation ('; }
log_count() { log_since_mark | wc -l; }

old_all=$(sysctl -n net.netfilter.nf_log_all_netns)
old_cost=$(sysctl -n net.core.message_cost); old_burst=$(sysctl -n net.core.message_burst)
defer sysctl -qw net.netfilter.nf_log_all_netns=$old_all net.core.message_cost=$old_cost \
	net.core.message_burst=$old_burst
sysctl -qw net.netfilter.nf_log_all_netns=1 net.core.message_cost=5 net.core.message_burst=10
modprobe -q nf_log_syslog
ns_sysctl "$NS_G" net.netfilter.nf_log.2=nf_log_syslog net.netfilter.nf_log.10=nf_log_syslog 2>/dev/null

# 1. action log: a DATA body of 1001-byte lines (limit text-line 1000)
st_check "policy: esmtp (text-line log)" st_policy esmtp
LINES=200
python3 -c "import sys; sys.stdout.write(('y' * 1001 + '\n') * $LINES)" > "$ST_TMP/long.txt"
v0=$(st_stat violations.text-line)
log_mark
printf 'expect 220\ncmd EHLO c.test 250\ncmd MAIL FROM:<a@c.test> 250\ncmd RCPT TO:<b@s.test> 250\ncmd DATA 354\ndata %s\nexpect 250\ncmd QUIT 221\n' \
	"$ST_TMP/long.txt" | in_c $SMTP_CLIENT -t 30 $S4 25 > "$ST_TMP/long.out" 2>&1
v=$(( $(st_stat violations.text-line) - v0 ))
# (at most 8 events per segment are reported: GRO segments hold many lines)
st_check "$LINES over-long lines are text-line violations (+$v)" test $v -ge 16
st_check "action log: no kernel log line ($(log_count) seen)" test "$(log_count)" = 0

# 2. action drop, one connection retransmitting the dropped segment
printf 'action verb drop\n' | cat "$TOPDIR/policy/esmtp.conf" - > "$ST_TMP/drop.conf"
st_check "policy: esmtp with action verb drop" st_policy "$ST_TMP/drop.conf"
d0=$(st_stat drops)
log_mark
printf 'expect 220\ncmd EHLO c.test 250\nline VRFY root\nsleep 6\n' |
	in_c $SMTP_CLIENT -t 10 $S4 25 > "$ST_TMP/drop.out" 2>&1
d=$(( $(st_stat drops) - d0 ))
n=$(log_count)
st_diag "one connection: $d drops (retransmissions), $n log lines"
st_check "one connection, $d drops: exactly one log line" test $d -ge 3 -a $n = 1

# verb_drops N PAYLOAD: N concurrent sessions that each send EHLO, then
# PAYLOAD (Python escapes) as a command line the drop policy drops, then
# reset after a moment (the dropped line is retransmitted meanwhile)
verb_drops() {
	in_c python3 - "$S4" "$1" "$2" <<-'PY'
	import codecs, socket, struct, sys, threading, time
	server, n = sys.argv[1], int(sys.argv[2])
	line = codecs.escape_decode(sys.argv[3].encode())[0]
	def one():
	    try:
	        s = socket.create_connection((server, 25), timeout=20)
	        s.recv(512)
	        s.sendall(b"EHLO c.test\r\n")
	        s.recv(4096)
	        s.sendall(line)
	        time.sleep(1.5)
	        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
	        s.close()
	    except OSError as e:
	        print("session:", e, file=sys.stderr)
	ts = [threading.Thread(target=one) for _ in range(n)]
	for t in ts:
	    t.start()
	for t in ts:
	    t.join()
	PY
}

# 3. escaping: ESC and 0xff in the verb reach the log as text
sleep 5	# a fresh net_ratelimit window
log_mark
verb_drops 1 '\x1b[2J\xffVRFY x\r\n'
line=$(log_since_mark)
st_diag "log line: $(printf '%s' "$line" | od -An -c | tr -s ' ' | head -c 300)"
escaped() { [ -n "$line" ] && ! printf '%s' "$line" | LC_ALL=C grep -q "$(printf '[\033\377]')"; }
st_check "the line is there, escaped: no raw ESC or 0xff byte" escaped

# 4. a flood of dropped connections: net_ratelimit bounds the lines (one
# 60 s window, so the sessions' spread in time does not open a second)
sysctl -qw net.core.message_cost=60
sleep 1
log_mark
verb_drops 100 'VRFY root\r\n'
n=$(log_count)
st_check "100 dropped connections in one window: $n lines (1..10)" test $n -ge 1 -a $n -le 10
st_finish
