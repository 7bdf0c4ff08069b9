#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Segmentation: a disallowed verb typed one byte per TCP segment (TCP_NODELAY,
# tiny writes with pauses), or split at an arbitrary point, never reaches the
# server whole; pipelined commands in one segment are judged one by one; a
# whole session sent one byte per segment, end-of-data included, delivers its
# message exactly once and intact.
. "$(dirname "$0")/lib_smtp.sh"

st_require ip nft conntrack smtp-sink python3
st_need_vm

st_begin 6 sink

ST_VERB_PRE=$'bytewise on\npace 0.05' \
st_check "VRFY one byte per segment arrives masked, client gets 500" \
	st_verbs_masked "$NS_C" $S4 bytewise "VRFY probe-bytewise" "EXPN probe-bytewise-expn"

split_check() {
	local out rc=0
	sink_mark
	out=$(timeout 60 ip netns exec "$NS_C" $SMTP_CLIENT -t 20 $S4 25 2>&1 <<-'S'
	expect 220
	cmd EHLO client.test 250
	send VR
	sleep 0.4
	send FY probe-split\r\n
	expect 5
	send X-LIN
	sleep 0.4
	send K2STATE probe-split2\r\n
	expect 5
	cmd QUIT 221
	S
	) || rc=1
	sleep 0.3
	sink_cmds | grep -qiE '^(VRFY|X-LINK2STATE)' && { echo "# a split verb arrived whole"; rc=1; }
	sink_cmds | grep -qE '^XXXX probe-split$' || { echo "# VRFY not seen as XXXX"; rc=1; }
	sink_cmds | grep -qE '^X{12} probe-split2$' || { echo "# X-LINK2STATE not seen as X's"; rc=1; }
	[ $rc = 0 ] || { echo "$out" | sed 's/^/#   C /'; sink_cmds | sed 's/^/#   S /'; }
	return $rc
}
st_check "verb split across two segments arrives masked" split_check

pipe_check() {
	local out rc=0
	sink_mark
	out=$(timeout 60 ip netns exec "$NS_C" $SMTP_CLIENT -t 20 $S4 25 2>&1 <<-'S'
	expect 220
	cmd EHLO client.test 250
	send MAIL FROM:<pipe@client.test>\r\nVRFY probe-pipe\r\nRCPT TO:<rcpt@server.test>\r\nEXPN probe-pipe2\r\nNOOP\r\n
	expect 250
	expect 5
	expect 250
	expect 5
	expect 250
	cmd RSET 250
	cmd QUIT 221
	S
	) || rc=1
	sleep 0.3
	sink_cmds | grep -qiE '^(VRFY|EXPN) ' && { echo "# a pipelined verb arrived whole"; rc=1; }
	sink_cmds | grep -qE '^XXXX probe-pipe$' || { echo "# VRFY not seen as XXXX"; rc=1; }
	sink_cmds | grep -qE '^E?XXXX? probe-pipe2$' || { echo "# EXPN not seen masked"; rc=1; }
	sink_cmds | grep -qE '^RCPT TO:<rcpt@server.test>$' || { echo "# RCPT after a masked verb lost"; rc=1; }
	[ $rc = 0 ] || { echo "$out" | sed 's/^/#   C /'; sink_cmds | sed 's/^/#   S /'; }
	return $rc
}
st_check "pipelined commands in one segment: each disallowed verb masked, others intact" pipe_check

# A whole session one byte per segment, the message included.
bytewise_session() {
	local f=$ST_TMP/bytewise.txt out rc=0
	msg_gen "$f" 700 seg-bytewise || return 1
	sink_mark
	out=$(timeout 300 ip netns exec "$NS_C" $SMTP_CLIENT -t 30 $S4 25 2>&1 <<-S
	expect 220
	bytewise on
	pace 0.005
	cmd EHLO client.test 250
	cmd MAIL FROM:<bytes@client.test> 250
	cmd RCPT TO:<rcpt@server.test> 250
	cmd DATA 354
	data $f
	expect 250
	cmd QUIT 221
	S
	) || rc=1
	sleep 0.3
	[ $rc = 0 ] || echo "$out" | tail -n 5 | sed 's/^/#   /'
	msg_arrived_intact seg-bytewise "$f" || rc=1
	return $rc
}
st_check "whole session one byte per segment: message delivered once, intact" bytewise_session

# End of data split between segments at each position of CRLF.CRLF
eod_split() {
	local f=$ST_TMP/eod.txt rc=0 cut out subj
	for cut in 1 2 3 4; do
		subj=seg-eod-$cut
		msg_gen "$f.$cut" 3000 $subj || return 1
		# the body without its final CRLF, then the end marker cut at $cut
		python3 - "$f.$cut" "$f.$cut.raw" <<-'P'
		import sys
		b = open(sys.argv[1], "rb").read().rstrip(b"\n").replace(b"\n", b"\r\n")
		b = b"\r\n".join((b"." + l if l.startswith(b".") else l) for l in b.split(b"\r\n"))
		open(sys.argv[2], "wb").write(b)
		P
		local eod=$'\r\n.\r\n'
		local a=${eod:0:cut} b=${eod:cut}
		a=${a//$'\r'/\\r}; a=${a//$'\n'/\\n}; b=${b//$'\r'/\\r}; b=${b//$'\n'/\\n}
		out=$(timeout 60 ip netns exec "$NS_C" $SMTP_CLIENT -t 20 $S4 25 2>&1 <<-S
		expect 220
		cmd EHLO client.test 250
		cmd MAIL FROM:<eod@client.test> 250
		cmd RCPT TO:<rcpt@server.test> 250
		cmd DATA 354
		raw $f.$cut.raw
		send $a
		sleep 0.3
		send $b
		expect 250
		cmd VRFY probe-after-eod-$cut 5
		cmd QUIT 221
		S
		) || { rc=1; echo "# cut $cut:"; echo "$out" | tail -n 4 | sed 's/^/#   /'; }
		sleep 0.2
		msg_arrived_intact $subj "$f.$cut" || rc=1
	done
	return $rc
}
st_check "end-of-data split at every position: one delivery, commands inspected after" eod_split

st_check "helper attached to the SMTP flow (conntrack helper=smtp)" st_helper_seen
st_diag "runtime $(elapsed "$t0")s"
st_finish
