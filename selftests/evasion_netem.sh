#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Legitimate traffic never trips the stream model (issue 9): 50 real
# sessions through the helper under netem loss, duplication and
# reordering on both links, half with GRO/GSO/TSO on the veths and half
# with them off, pipelined commands, a masked VRFY and 40 KB messages.
# Every message must arrive byte-identical, with no desync violation and
# no reset (smtpguard stats).
. "$(dirname "$0")/lib_smtp.sh"

st_require ip nft conntrack smtp-sink python3 tc ethtool
st_need_vm
st_have_cli || st_skip_all "no $SMTPGUARD_CLI (make -C userspace)"

SESSIONS=${EVASION_NETEM_SESSIONS:-25}	# per offload setting
PAR=5					# sessions in flight
modprobe sch_netem 2>/dev/null
st_begin 4 sink
in_g "$SMTPGUARD_CLI" stats reset >/dev/null
# every event, to name the desync kind should one happen
ip netns exec "$NS_G" "$SMTPGUARD_CLI" -j monitor > "$ST_TMP/events" 2>&1 &
bg_track $!

NE=(loss 3% duplicate 3% delay 3ms reorder 25% 50%)
netem_all() {
	in_c tc qdisc replace dev $IF_C root netem "${NE[@]}" &&
	in_g tc qdisc replace dev $IF_GC root netem "${NE[@]}" &&
	in_g tc qdisc replace dev $IF_GS root netem "${NE[@]}" &&
	in_s tc qdisc replace dev $IF_S root netem "${NE[@]}"
}

# session TAG: two pipelined transactions of 40 KB each, one masked VRFY
session() {
	local tag=$1 i f script=$ST_TMP/$1.script
	{
		echo "expect 220"
		echo "cmd EHLO client.test 250"
		for i in 1 2; do
			f=$ST_TMP/$tag-$i.txt
			msg_gen "$f" 40000 "netem-$tag-$i" || return 1
			echo "send MAIL FROM:<$tag@client.test>\r\nRCPT TO:<a@server.test>\r\nRCPT TO:<b@server.test>\r\n"
			echo "expect 250"; echo "expect 250"; echo "expect 250"
			[ $i = 1 ] && echo "cmd VRFY probe-$tag 5"
			echo "cmd DATA 354"
			echo "data $f"
			echo "expect 250"
		done
		echo "cmd QUIT 221"
	} > "$script"
	timeout 300 ip netns exec "$NS_C" $SMTP_CLIENT -t 60 -f "$script" $S4 25 \
		> "$ST_TMP/$tag.out" 2>&1
}

# batch MODE: SESSIONS sessions, PAR at a time; all messages intact
batch() {
	local mode=$1 i j rc=0 pids
	for ((i = 1; i <= SESSIONS; i += PAR)); do
		pids=
		for ((j = i; j < i + PAR && j <= SESSIONS; j++)); do
			session "$mode-$j" & pids="$pids $!"
		done
		for p in $pids; do wait "$p" || rc=1; done
	done
	sleep 1
	for ((i = 1; i <= SESSIONS; i++)); do
		for j in 1 2; do
			msg_arrived_intact "netem-$mode-$i-$j" "$ST_TMP/$mode-$i-$j.txt" || rc=1
		done
	done
	[ $rc = 0 ] || for f in "$ST_TMP"/$mode-*.out; do
		grep -q 'RESULT: ok' "$f" || { echo "# $f:"; tail -n 5 "$f" | sed 's/^/#   /'; }
	done
	return $rc
}

if netem_all; then
	st_offload on gro gso tso
	st_check "GRO/GSO/TSO on: $SESSIONS sessions under loss+dup+reorder, messages intact" batch on
	st_offload off gro gso tso
	st_check "GRO/GSO/TSO off: $SESSIONS sessions under loss+dup+reorder, messages intact" batch off
else
	st_fail "netem on both links"
	st_fail "netem: (not run)"
fi

no_desync() {
	local s
	s=$(in_g "$SMTPGUARD_CLI" stats) || return 1
	echo "$s" | grep -E '^(sessions|violations\.desync|violations\.smuggling|resets|holds|drops) ' | sed 's/^/# /'
	grep -E "desync|smuggl|reset" "$ST_TMP/events" | head -n 20 | sed 's/^/# event: /'
	echo "$s" | grep -qE '^violations\.desync +0$' &&
		echo "$s" | grep -qE '^resets +0$'
}
st_check "no desync violation and no reset over $((2 * SESSIONS)) sessions" no_desync
inspected() {
	local n
	n=$(in_g "$SMTPGUARD_CLI" stats | awk '$1 == "sessions" { print $2 }')
	[ "${n:-0}" -ge $((2 * SESSIONS)) ] || { echo "# helper sessions: ${n:-none}"; return 1; }
}
st_check "the helper inspected all $((2 * SESSIONS)) sessions" inspected
st_diag "runtime $(elapsed "$t0")s"
st_finish
