#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Verb, EHLO keyword and banner masking, asserted on what a real server
# (smtp-sink) received and what the client saw; allowed mail must arrive
# byte-identical.  Runs twice: with the veth defaults (CHECKSUM_PARTIAL) and
# with checksum offload off on every veth (CHECKSUM_NONE paths).
. "$(dirname "$0")/lib_smtp.sh"

st_require ip nft conntrack ethtool smtp-sink swaks python3
st_need_vm

DISALLOWED=("VRFY probe-vrfy" "EXPN probe-expn" "X-LINK2STATE FIRST CHUNK=probe-xl2s"
	"XEXCH50 10 probe-xexch" "ETRN probe-etrn" "TURN probe-turn" "FOOBAR probe-unknown")

st_begin 11 sink

# EHLO reply keyword check: smtp-sink advertises XCLIENT and XFORWARD, which
# the esmtp preset does not allow; the rest must pass untouched.
ehlo_check() {	# LABEL
	local out rc=0 l
	out=$(printf 'expect 220\ncmd EHLO client.test 250\ncmd QUIT 221\n' |
		timeout 60 ip netns exec "$NS_C" $SMTP_CLIENT -t 20 $S4 25 2>&1) || rc=1
	for l in "250-XXXXXXX NAME HELO" "250-XXXXXXXX NAME ADDR PROTO HELO" \
		 "250-PIPELINING" "250-8BITMIME" "250-AUTH PLAIN LOGIN" \
		 "250-ENHANCEDSTATUSCODES" "250-DSN"; do
		echo "$out" | grep -qx "S: $l" || { echo "# $1: EHLO reply lacks '$l'"; rc=1; }
	done
	echo "$out" | grep -qE '^S: 250-X(CLIENT|FORWARD)' && { echo "# $1: XCLIENT/XFORWARD not masked"; rc=1; }
	[ $rc = 0 ] || echo "$out" | sed 's/^/#   /'
	return $rc
}

deliver_check() {	# LABEL SUBJECT
	local f=$ST_TMP/$2.txt
	msg_gen "$f" 200000 "$2" || return 1
	swaks_send "$NS_C" $S4 "$2" "$f" > "$ST_TMP/$2.swaks" 2>&1 || {
		echo "# $1: swaks failed:"; tail -n 5 "$ST_TMP/$2.swaks" | sed 's/^/#   /'; return 1; }
	sleep 0.3
	msg_arrived_intact "$2" "$f"
}

for mode in partial none; do
	if [ $mode = none ]; then
		st_offload off tx rx tso gso gro
		st_diag "checksum offload off on all veths (CHECKSUM_NONE)"
	else
		st_diag "veth defaults (CHECKSUM_PARTIAL)"
	fi
	st_check "csum-$mode: disallowed verbs reach the server masked, client gets 500" \
		st_verbs_masked "$NS_C" $S4 "csum-$mode" "${DISALLOWED[@]}"
	if [ $mode = partial ]; then
		st_check "helper attached to the SMTP flow (conntrack shows a helper)" st_helper_seen
		st_check "conntrack -L names the helper: helper=smtp" st_helper_named
	fi
	st_check "csum-$mode: EHLO keywords not allowed are masked, others intact" ehlo_check "csum-$mode"
	st_check "csum-$mode: allowed session delivers a byte-identical message" \
		deliver_check "csum-$mode" "mask-verbs-$mode"
	# lower case and leading white space are the same verb
	st_check "csum-$mode: lower-case verb masked too" \
		st_verbs_masked "$NS_C" $S4 "csum-$mode-lc" "vrfy probe-lc-$mode"
done
st_offload on tx rx tso gso

# Banner masking needs another policy: the strict preset masks it.
banner_check() {
	local out line rc=0
	st_policy strict > "$ST_TMP/policy.out" 2>&1 || {
		echo "# smtpguard load strict failed:"; sed 's/^/#   /' "$ST_TMP/policy.out"; return 1; }
	out=$(printf 'expect 220\ncmd EHLO client.test 250\ncmd QUIT 221\n' |
		timeout 60 ip netns exec "$NS_C" $SMTP_CLIENT -t 20 $S4 25 2>&1) || rc=1
	line=$(echo "$out" | sed -n 's/^S: \(220.*\)/\1/p' | head -n1)
	# "220 server.test ESMTP": every byte after the code becomes '*'
	if ! [[ "$line" =~ ^220[\ -]?\*+$ ]] || [ ${#line} != ${#SINK_BANNER} ]; then
		echo "# banner seen as '$line', want 220 and $(( ${#SINK_BANNER} - 3 )) masked bytes"
		rc=1
	else
		echo "# banner: '$line'"
	fi
	# strict also drops AUTH from the keywords
	echo "$out" | grep -qx 'S: 250-XXXX PLAIN LOGIN' || {
		echo "# strict: AUTH keyword not masked:"; echo "$out" | grep '^S: 250' | sed 's/^/#   /'; rc=1; }
	st_policy esmtp >/dev/null 2>&1 || { echo "# cannot restore esmtp"; rc=1; }
	return $rc
}
SINK_BANNER="220 server.test ESMTP"
if st_have_cli; then
	st_check "strict policy: banner masked, AUTH keyword masked" banner_check
else
	st_skip "strict policy: banner masked, AUTH keyword masked" "userspace/smtpguard not built"
fi

st_diag "runtime $(elapsed "$t0")s"
st_finish
