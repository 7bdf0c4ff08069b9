#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# smtpguard-nfq when the kernel cannot hand it packets: with a small socket
# buffer (--rcvbuf 65536), the program is stopped (SIGSTOP) for two seconds
# in the middle of a bulk message, so the socket overruns (ENOBUFS: the
# kernel drops what it cannot deliver).  The bulk flow alone is ACK-clocked
# and may have only a few segments in flight at the stop, so 400 SYNs with
# 1400 bytes of payload (new flows, queued too, never ACK-clocked) are sent
# while it is stopped: more than the buffer holds.  It must
# count the loss (enobufs, and queue_loss from the kernel's user_dropped),
# say so on stderr, go on after SIGCONT, and the message must still arrive
# intact (TCP resends what was lost): loss is reported and recovered, never
# a hang.
. "$(dirname "$0")/lib_smtp.sh"

st_require ip nft smtp-sink python3
st_need_vm

NFQ=$TOPDIR/userspace/smtpguard-nfq
[ -x "$NFQ" ] || st_skip_all "no $NFQ (make -C userspace)"
SIZE=${NFQ_OVERRUN_SIZE:-6000000}

st_plan 6
t0=$(now)
st_topo || { st_fail "topology"; st_finish; }
sink_start || { st_fail "smtp-sink starts"; st_finish; }

st_queue_smtp nfq_overrun 6
ip netns exec "$NS_G" "$NFQ" -q 6 -f esmtp -j --rcvbuf 65536 --maxlen 1024 \
	>"$ST_TMP/nfq.out" 2>"$ST_TMP/nfq.err" &
NFQ_PID=$!; ST_PIDS="$ST_PIDS $NFQ_PID"
busywait 10000 grep -q "queue 6, policy esmtp" "$ST_TMP/nfq.err"
st_check "smtpguard-nfq on queue 6 with --rcvbuf 65536 --maxlen 1024" [ $? = 0 ]
st_diag "$(head -n 1 "$ST_TMP/nfq.err")"

json_dumps() { grep -c '^{' "$ST_TMP/nfq.err"; }
stats() {	# KEY: from a fresh SIGUSR1 JSON dump
	local n
	n=$(json_dumps)
	kill -USR1 "$NFQ_PID"
	busywait 5000 eval '[ "$(json_dumps)" -gt "$n" ]' || return 1
	grep '^{' "$ST_TMP/nfq.err" | tail -n 1 |
		python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

msg_gen "$ST_TMP/big.eml" "$SIZE" overrun
printf '%s\n' 'expect 220' 'cmd EHLO client.test 250' 'cmd MAIL FROM:<a@client.test> 250' \
	'cmd RCPT TO:<b@server.test> 250' 'cmd DATA 354' "data $ST_TMP/big.eml" \
	'expect 250' 'cmd QUIT 221' |
	in_c timeout 600 $SMTP_CLIENT -t 300 "$S4" 25 > "$ST_TMP/client.log" 2>&1 &
client=$!

# stop the program once the message is flowing, long enough to overrun
busywait 30000 eval '[ "$(in_g awk '\''$1 == 6 { print $8 }'\'' /proc/net/netfilter/nfnetlink_queue)" -gt 100 ]'
kill -STOP "$NFQ_PID"
in_c python3 "$ST_DIR/syn_payload.py" $C4 $S4 25 400 "$(printf 'x%.0s' $(seq 1400))"
sleep 2
st_diag "while stopped: $(in_g awk '$1 == 6' /proc/net/netfilter/nfnetlink_queue)"
kill -CONT "$NFQ_PID"

wait $client; rc=$?
[ $rc = 0 ] || st_diag "client: $(tail -n 4 "$ST_TMP/client.log" | tr '\n' '|')"
st_check "the message arrives intact after the overrun" \
	msg_arrived_intact overrun "$ST_TMP/big.eml"

enobufs=$(stats enobufs); loss=$(stats queue_loss)
st_diag "enobufs ${enobufs:-?} queue_loss ${loss:-?}; /proc: $(in_g awk '$1 == 6' /proc/net/netfilter/nfnetlink_queue)"
st_check "the socket overrun was counted (enobufs > 0)" [ "${enobufs:-0}" -gt 0 ]
st_check "the kernel's loss shows as queue_loss > 0" [ "${loss:-0}" -gt 0 ]
st_check "stderr says packets were lost" grep -q "socket overrun, packets lost" "$ST_TMP/nfq.err"
kill -0 "$NFQ_PID" 2>/dev/null
st_check "smtpguard-nfq still runs" [ $? = 0 ]

st_diag "done in $(elapsed "$t0")s"
st_finish
