#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Policy changes under live traffic lose no mail: while a client sends
# mails back to back through the gateway (some of them slowly, one byte per
# segment, so that sessions span several policy swaps), the gateway's
# policy is switched between esmtp, strict and a custom file every few
# hundred milliseconds, and a rejected load is attempted in between. Every
# mail must arrive exactly once and byte-identical; the client must see no
# failure; stats must show no drops or resets.
. "$(dirname "$0")/lib_smtp.sh"

st_require ip nft conntrack smtp-sink swaks python3
st_need_vm
st_have_cli || st_skip_all "no $SMTPGUARD_CLI (make -C userspace)"
CLI=$SMTPGUARD_CLI
modprobe -a $(modinfo -F depends "$SMTPGUARD_KO" 2>/dev/null | tr , ' ') 2>/dev/null
N=${POLICY_LIVE_MAILS:-12}

st_begin 6 sink

# a third policy: esmtp with other limits and actions, from a file
"$CLI" preset show esmtp | sed -e 's/^limit recipients .*/limit recipients 50/' \
	-e 's/^banner pass/banner mask/' > "$ST_TMP/custom.conf"
printf 'verbs HELO MAIL\nlimit recipients 0\n' > "$ST_TMP/bad.conf"
in_g "$CLI" load esmtp && in_g "$CLI" stats reset

# slow sessions (every 4th) carry a small message, one byte per segment
for i in $(seq "$N"); do
	size=$((20000 + i * 3000)); [ $((i % 4)) = 0 ] && size=1500
	msg_gen "$ST_TMP/m$i.txt" $size "live-$i" || exit 1
done

# the sender: swaks for most, a slow byte-per-segment raw session every 4th
(
	for i in $(seq "$N"); do
		if [ $((i % 4)) = 0 ]; then
			printf '%s\n' "expect 220" "cmd EHLO client.test 250" \
				"cmd MAIL FROM:<s@client.test> 250" "cmd RCPT TO:<r@server.test> 250" \
				"cmd DATA 354" "bytewise on" "data $ST_TMP/m$i.txt" "bytewise off" \
				"expect 250" "cmd QUIT 221" |
				ip netns exec "$NS_C" $SMTP_CLIENT -t 60 $S4 25 > "$ST_TMP/c$i.out" 2>&1 ||
				echo "client $i failed" >> "$ST_TMP/failures"
		else
			swaks_send "$NS_C" $S4 "live-$i" "$ST_TMP/m$i.txt" > "$ST_TMP/c$i.out" 2>&1 ||
				echo "swaks $i failed" >> "$ST_TMP/failures"
		fi
	done
	touch "$ST_TMP/sender.done"
) &
sender=$!

swaps=0 refused=0 badok=0
while [ ! -e "$ST_TMP/sender.done" ]; do
	for p in strict "$ST_TMP/custom.conf" esmtp; do
		in_g "$CLI" load "$p" >/dev/null 2>&1 && swaps=$((swaps + 1))
		sleep 0.2
	done
	# a load that the parser rejects must change nothing
	if in_g "$CLI" load "$ST_TMP/bad.conf" >/dev/null 2>&1; then badok=$((badok + 1)); else refused=$((refused + 1)); fi
done
wait $sender
st_diag "$swaps policy swaps, $refused rejected loads during $N mails"
st_check "the policy was swapped at least $N times during the run" test "$swaps" -ge "$N"
st_check "every rejected load was refused" test "$badok" = 0
st_check "no client failed" sh -c "! test -s $ST_TMP/failures || { sed 's/^/#   /' $ST_TMP/failures; false; }"
sleep 1
lost=0
for i in $(seq "$N"); do
	msg_arrived_intact "live-$i" "$ST_TMP/m$i.txt" || lost=$((lost + 1))
done
st_check "all $N mails arrived exactly once, byte-identical" test $lost = 0
in_g "$CLI" stats > "$ST_TMP/stats"
st_check "stats: $N sessions" awk -v n="$N" '$1 == "sessions" { exit $2 != n }' "$ST_TMP/stats"
st_check "stats: no drops, no resets" awk '($1 == "drops" || $1 == "resets") && $2 != 0 { bad = 1 } END { exit bad }' "$ST_TMP/stats"
st_finish
