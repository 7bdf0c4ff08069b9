#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Evasion through smtpguard-nfq (issue 9): the cases of evasion_helper.sh
# that reach an NFQUEUE engine (an ICMP error is not queued: the ruleset
# queues TCP port 25 only), against a real Postfix, each with a control
# run without the queue.
. "$(dirname "$0")/lib_smtp.sh"

NFQ=$TOPDIR/userspace/smtpguard-nfq
[ -x "$NFQ" ] || st_skip_all "no $NFQ (make -C userspace)"
CASES=(urg syn paws frag ttl)
evasion_begin $(( 2 * ${#CASES[@]} + 2 ))
st_helper_detach

in_g "$NFQ" -q 9 -f esmtp -v > "$ST_TMP/nfq.out" 2> "$ST_TMP/nfq.err" &
ST_PIDS="$ST_PIDS $!"
busywait 5000 grep -q "queue 9" "$ST_TMP/nfq.err"
st_check "smtpguard-nfq bound queue 9 with the esmtp preset" \
	grep -q "queue 9" "$ST_TMP/nfq.err"

for c in "${CASES[@]}"; do
	in_g nft delete table inet smtpguard_nfq 2>/dev/null
	st_check "$c, control without the queue: VRFY root reaches Postfix" \
		evasion_run "$c" through
	attach_nfq 9
	st_check "$c through smtpguard-nfq: VRFY root never reaches Postfix" \
		evasion_run "$c" blocked
	[ "$c" != ttl ] || st_check "ttl: smtpguard-nfq raised the TTL, so the first copy reached Postfix" \
		evasion_ttl_delivered
done
st_diag "runtime $(elapsed "$t0")s"
st_finish
