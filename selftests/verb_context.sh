#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A verb is judged by where it stands in the SMTP dialogue, not by a
# pattern over the byte stream (the cases where an IPS with a VRFY/EXPN
# drop rule gets it wrong; see README "smtpguard and Suricata"), through
# the kernel helper and through smtpguard-nfq:
#  - VRFY as the first command, before EHLO/HELO: masked (500);
#  - a message whose body has lines starting with VRFY and EXPN: delivered
#    intact (they are text after the server's 354, not commands);
#  - VRFY after a message of more than 1 MB: still masked (no depth limit),
#    also when sent one byte per segment.
# Control runs with neither attached: the VRFYs reach the server whole.
. "$(dirname "$0")/lib_smtp.sh"

st_require ip nft conntrack smtp-sink python3
st_need_vm

NFQ=$TOPDIR/userspace/smtpguard-nfq
[ -x "$NFQ" ] || st_skip_all "no $NFQ (make -C userspace)"
BIG=${VERB_CONTEXT_BIG:-1100000}
QNUM=3

st_begin 12 sink

ip netns exec "$NS_G" "$NFQ" -q $QNUM -f esmtp >"$ST_TMP/nfq.out" 2>"$ST_TMP/nfq.err" &
ST_PIDS="$ST_PIDS $!"
busywait 10000 grep -q "queue $QNUM, policy esmtp" "$ST_TMP/nfq.err"
st_check "smtpguard-nfq bound queue $QNUM" [ $? = 0 ]

guard() {	# none|helper|nfq: what inspects port 25 in the gateway
	st_helper_detach
	in_g nft delete table inet verb_context 2>/dev/null
	case $1 in
	helper) st_helper_attach ;;
	nfq)
		in_g nft -f - <<-EOF
		table inet verb_context {
			chain forward {
				type filter hook forward priority filter; policy accept;
				tcp dport 25 ct state invalid drop
				tcp sport 25 ct state invalid drop
				tcp dport 25 queue num $QNUM
				tcp sport 25 queue num $QNUM
			}
		}
		EOF
		;;
	esac
}

session() {	# TAG STEP...: one client session; transcript in $ST_TMP/TAG.log
	local tag=$1; shift
	printf '%s\n' 'expect 220' "$@" 'cmd QUIT 221' |
		in_c timeout 300 $SMTP_CLIENT -k -t 60 "$S4" 25 > "$ST_TMP/$tag.log" 2>&1
}

# arrived WORD ARG: the server received "WORD ARG" as a command line
arrived() { sink_cmds | grep -q "^$1 $2\$"; }
masked() { arrived XXXX "$1" && ! sink_cmds | grep -qi "^VRFY $1\$"; }
whole() { arrived VRFY "$1"; }
show() { st_diag "client: $(tail -n 4 "$ST_TMP/$1.log" | tr '\n' '|')"; st_diag "server: $(sink_cmds | tail -n 6 | tr '\n' '|')"; }

before_helo() {	# MODE: VRFY is the first command
	sink_mark
	session "early-$1" "line VRFY early-$1" read 'cmd EHLO client.test 250'
	sleep 0.3
}

after_big() {	# TAG [STEP...]: a >1 MB message, then (after STEPs) VRFY TAG
	local tag=$1; shift
	sink_mark
	session "$tag" 'cmd EHLO client.test 250' 'cmd MAIL FROM:<a@client.test> 250' \
		'cmd RCPT TO:<b@server.test> 250' 'cmd DATA 354' "datagen $BIG $tag" \
		'expect 250' "$@" "line VRFY $tag" 'bytewise off' read
	sleep 0.3
}
BYTEWISE=('bytewise on' 'pace 0.05')

body_lines() {	# MODE: a message with VRFY/EXPN lines arrives intact
	local f=$ST_TMP/body-$1.eml
	printf '%s\n' "Subject: body-$1" '' 'Lines that look like commands:' \
		"VRFY postmaster-$1" "EXPN staff-$1" "vrfy lower-$1" 'VRFY' 'end' > "$f"
	session "body-$1" 'cmd EHLO client.test 250' 'cmd MAIL FROM:<a@client.test> 250' \
		'cmd RCPT TO:<b@server.test> 250' 'cmd DATA 354' "data $f" 'expect 250'
	busywait 5000 eval "[ -n \"\$(sink_dump_of body-$1)\" ]"
	msg_arrived_intact "body-$1" "$f"
}

# controls: nothing inspects, both probes reach the server as sent
guard none
before_helo none
whole early-none || show early-none
st_check "control, nothing attached: VRFY before EHLO reaches the server whole" whole early-none
after_big late-none
whole late-none || show late-none
st_check "control, nothing attached: VRFY after a $BIG-byte message reaches the server whole" whole late-none
after_big split-none "${BYTEWISE[@]}"
whole split-none || show split-none
st_check "control, nothing attached: the same, VRFY a byte per segment, reaches the server whole" whole split-none

for m in helper nfq; do
	name=$([ $m = helper ] && echo "helper" || echo "smtpguard-nfq")
	guard $m
	before_helo $m
	masked early-$m || show early-$m
	st_check "$name: VRFY before EHLO/HELO masked" masked early-$m
	st_check "$name: a message with VRFY/EXPN body lines arrives intact" body_lines $m
	after_big late-$m
	masked late-$m || show late-$m
	st_check "$name: VRFY after a $BIG-byte message masked" masked late-$m
	after_big split-$m "${BYTEWISE[@]}"
	masked split-$m || show split-$m
	st_check "$name: the same, VRFY a byte per segment, masked" masked split-$m
done
guard none

st_diag "done in $(elapsed "$t0")s"
st_finish
