#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# smtpguard-nfq on a queue range: the gateway spreads port 25 over queues
# 4-5 (nft "queue num 4-5": a hash of the address pair, the same for both
# directions), smtpguard-nfq -q 4-5 serves each queue with its own thread
# and connection table.  Sessions from 16 client addresses land on both
# queues; in every one the VRFY command reaches the server masked while a
# body line starting with VRFY arrives as sent (the thread saw its flow's
# 354); a bulk message arrives intact; and no queue lost a packet (kernel
# queue_dropped and user_dropped, ENOBUFS: all 0).
. "$(dirname "$0")/lib_smtp.sh"

st_require ip nft smtp-sink python3 ss
st_need_vm

NFQ=$TOPDIR/userspace/smtpguard-nfq
[ -x "$NFQ" ] || st_skip_all "no $NFQ (make -C userspace)"
N=16
BULK=${NFQ_BULK:-8000000}

st_plan 7
t0=$(now)
st_topo || { st_fail "topology"; st_finish; }
sink_start || { st_fail "smtp-sink starts"; st_finish; }

st_queue_smtp nfq_mq 4-5
st_check "nft: port 25 spread over queues 4-5" [ $? = 0 ]

ip netns exec "$NS_G" "$NFQ" -q 4-5 -f esmtp -j >"$ST_TMP/nfq.out" 2>"$ST_TMP/nfq.err" &
NFQ_PID=$!; ST_PIDS="$ST_PIDS $NFQ_PID"
busywait 10000 grep -q "queue 4-5, policy esmtp" "$ST_TMP/nfq.err"
st_check "smtpguard-nfq serves queues 4 and 5, a thread each" [ $? = 0 ]

# stats KEY [QUEUE]: a counter from a fresh SIGUSR1 JSON dump (the total,
# or one queue's)
json_dumps() { grep -c '^{' "$ST_TMP/nfq.err"; }
stats() {
	local n
	n=$(json_dumps)
	kill -USR1 "$NFQ_PID"
	busywait 5000 eval '[ "$(json_dumps)" -gt "$n" ]' || return 1
	grep '^{' "$ST_TMP/nfq.err" | tail -n 1 | python3 -c '
import json, sys
s = json.load(sys.stdin)
if len(sys.argv) > 2:
    s = [q for q in s["queues"] if q["queue"] == int(sys.argv[2])][0]
print(s[sys.argv[1]])' "$@"
}

for i in $(seq 3 $((N + 2))); do
	in_c ip addr add 10.0.1.$i/24 dev $IF_C || break
done

session() {	# I: from 10.0.1.I, VRFY probe-I, then a message with VRFY lines
	printf 'Subject: mq-%s\n\nVRFY in-body-%s\nEXPN in-body-%s\nend\n' \
		"$1" "$1" "$1" > "$ST_TMP/body.$1"
	printf '%s\n' 'expect 220' 'cmd EHLO client.test 250' "cmd VRFY probe-$1 5" \
		'cmd MAIL FROM:<a@client.test> 250' 'cmd RCPT TO:<b@server.test> 250' \
		'cmd DATA 354' "data $ST_TMP/body.$1" 'expect 250' 'cmd QUIT 221' |
		in_c timeout 120 $SMTP_CLIENT --bind 10.0.1.$1 -t 30 "$S4" 25 \
			> "$ST_TMP/session.$1" 2>&1
}
sink_mark
pids=
for i in $(seq 3 $((N + 2))); do session $i & pids="$pids $!"; done
rc=0
for p in $pids; do wait $p || rc=1; done
sleep 0.5
cmds=$(sink_cmds)
for i in $(seq 3 $((N + 2))); do
	if echo "$cmds" | grep -qi "^VRFY probe-$i\$" ||
	   ! echo "$cmds" | grep -q "^XXXX probe-$i\$"; then
		st_diag "session $i: VRFY probe-$i not masked at the server"; rc=1
	fi
	d=$(sink_dump_of "mq-$i")
	if [ -z "$d" ] || ! grep -q "^VRFY in-body-$i" "$d" ||
	   ! grep -q "^EXPN in-body-$i" "$d"; then
		st_diag "session $i: the body's VRFY/EXPN lines did not arrive as sent"; rc=1
	fi
done
[ $rc = 0 ] || st_diag "$(tail -n 3 "$ST_TMP"/session.* | head -n 40)"
st_check "$N sessions: VRFY command masked, VRFY/EXPN body lines intact" [ $rc = 0 ]

q4=$(stats sessions 4); q5=$(stats sessions 5)
st_diag "sessions per queue: 4: $q4, 5: $q5"
st_check "both queues carried sessions" \
	eval '[ "${q4:-0}" -gt 0 ] && [ "${q5:-0}" -gt 0 ]'
# a flow whose directions went to different queues would enter both tables
st_check "each of the $N flows entered one connection table once" \
	[ $((${q4:-0} + ${q5:-0})) = $N ]

# bulk: one big message from one address, as fast as the VM goes
msg_gen "$ST_TMP/bulk.eml" "$BULK" mq-bulk
printf '%s\n' 'expect 220' 'cmd EHLO client.test 250' 'cmd MAIL FROM:<a@client.test> 250' \
	'cmd RCPT TO:<b@server.test> 250' 'cmd DATA 354' "data $ST_TMP/bulk.eml" \
	'expect 250' 'cmd QUIT 221' |
	in_c timeout 300 $SMTP_CLIENT -t 120 "$S4" 25 > "$ST_TMP/bulk.log" 2>&1
st_check "bulk message ($BULK bytes) arrives intact" \
	msg_arrived_intact mq-bulk "$ST_TMP/bulk.eml"

loss=$(stats queue_loss); enobufs=$(stats enobufs)
st_diag "queue_loss ${loss:-?} enobufs ${enobufs:-?}; /proc: $(in_g awk '$1 == 4 || $1 == 5' /proc/net/netfilter/nfnetlink_queue | tr '\n' ';')"
st_check "no queue lost a packet (queue_dropped + user_dropped 0, no ENOBUFS)" \
	eval '[ "$loss" = 0 ] && [ "$enobufs" = 0 ]'

st_diag "done in $(elapsed "$t0")s"
st_finish
