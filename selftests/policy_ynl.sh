#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The YNL spec kmod/uapi/smtpguard.yaml drives the family on its own:
# policy_ynl.py (a minimal YNL that takes every attribute number and type
# from the spec) does policy-get, stats-get, policy-set, stats-reset and
# listens to events, decoding replies strictly (an attribute the spec does
# not describe, or a wrong size, is an error). Results must agree with
# smtpguard(8). Also checks the spec against the C UAPI header.
. "$(dirname "$0")/lib_smtp.sh"

st_require ip nft conntrack smtp-sink python3
st_need_vm
st_have_cli || st_skip_all "no $SMTPGUARD_CLI (make -C userspace)"
CLI=$SMTPGUARD_CLI
SPEC=$TOPDIR/kmod/uapi/smtpguard.yaml
YNL="python3 $ST_DIR/policy_ynl.py --spec $SPEC"
modprobe -a $(modinfo -F depends "$SMTPGUARD_KO" 2>/dev/null | tr , ' ') 2>/dev/null

st_begin 8 sink

if command -v cc >/dev/null; then
	st_check "spec and UAPI header agree value for value" \
		sh -c "python3 $ST_DIR/policy_spec.py > $ST_TMP/spec.out 2>&1 || { sed 's/^/#   /' $ST_TMP/spec.out; false; }"
else
	st_skip "spec and UAPI header agree value for value" "no C compiler"
fi

in_g "$CLI" load rfc821
# JSON from the two tools, compared in python: the policy's verbs, banner,
# limits and actions must be the same
cmp_policy() {
	python3 - "$1" "$2" <<-'PY'
	import json, sys
	y = json.load(open(sys.argv[1])); c = json.load(open(sys.argv[2]))
	bad = []
	if y['verbs'].get('word', []) != c['verbs']: bad.append('verbs')
	if y.get('keywords', {}).get('word', []) != c['keywords']: bad.append('keywords')
	if y['banner'] != c['banner']: bad.append('banner')
	if y['limits'] != c['limits']: bad.append('limits')
	if y['actions'] != c['actions']: bad.append('actions')
	if chr(y['mask-char']) != c['mask_char']: bad.append('mask-char')
	for b in bad: print(f"# differs: {b}: ynl {y.get(b)} cli {c.get(b)}")
	sys.exit(1 if bad else 0)
	PY
}
st_check "ynl policy-get decodes strictly and equals smtpguard -j show (rfc821)" sh -c \
	"ip netns exec $NS_G $YNL --do policy-get > $ST_TMP/y.json && ip netns exec $NS_G $CLI -j show > $ST_TMP/c.json"
st_check "... same verbs, keywords, banner, limits, actions" cmp_policy "$ST_TMP/y.json" "$ST_TMP/c.json"

st_check "ynl policy-set (verbs, banner, a limit, an action) then smtpguard show agrees" sh -c "
	ip netns exec $NS_G $YNL --do policy-set --json '{\"verbs\": {\"word\": [\"HELO\", \"MAIL\", \"RCPT\", \"DATA\", \"QUIT\"]}, \"banner\": \"mask\", \"limits\": {\"recipients\": 7}, \"actions\": {\"recipients\": \"reset\"}}' &&
	ip netns exec $NS_G $CLI show > $ST_TMP/show &&
	grep -qx 'verbs HELO MAIL RCPT DATA QUIT' $ST_TMP/show &&
	grep -qx 'banner mask' $ST_TMP/show &&
	grep -qx 'limit recipients 7' $ST_TMP/show &&
	grep -qx 'action recipients reset' $ST_TMP/show || { sed 's/^/#   /' $ST_TMP/show; false; }"

# The compiler's own message needs NL_SET_ERR_MSG_FMT (6.2+); older kernels
# get a fixed one, since extack->_msg is never assigned behind the API.
if kmod_has NL_SET_ERR_MSG_FMT; then
	EXTACK_WANT='error: EINVAL: .*verb'
else
	EXTACK_WANT='error: EINVAL: policy rejected by the compiler'
fi
st_check "ynl policy-set with an invalid verb fails with its extack" sh -c "
	! ip netns exec $NS_G $YNL --do policy-set --json '{\"verbs\": {\"word\": [\"BAD VERB\"]}}' 2> $ST_TMP/err &&
	grep -q '$EXTACK_WANT' $ST_TMP/err || { sed 's/^/#   /' $ST_TMP/err; false; }"

in_g "$CLI" load esmtp
in_g "$CLI" stats reset
ip netns exec "$NS_G" $YNL --listen events --count 1 --timeout 60 \
	--ready-file "$ST_TMP/ev.ready" > "$ST_TMP/ev.json" 2>&1 &
lp=$!
for i in $(seq 300); do [ -e "$ST_TMP/ev.ready" ] && break; sleep 0.1; done
printf '%s\n' "expect 220" "cmd HELO client.test 250" "cmd VRFY ynl 5" "cmd QUIT 221" |
	timeout 60 ip netns exec "$NS_C" $SMTP_CLIENT -t 20 $S4 25 > /dev/null 2>&1
wait $lp
st_check "ynl event listener decodes the masked VRFY event" sh -c "
	grep -q '\"op\": \"event\"' $ST_TMP/ev.json && grep -q '\"token\": \"VRFY\"' $ST_TMP/ev.json &&
	grep -q '\"kind\": \"violation\"' $ST_TMP/ev.json && grep -q '\"class\": \"verb\"' $ST_TMP/ev.json ||
	{ sed 's/^/#   /' $ST_TMP/ev.json; false; }"

st_check "ynl stats-get decodes strictly: 1 session, violations.verb 1, verbs-masked.probe 1" sh -c "
	ip netns exec $NS_G $YNL --do stats-get > $ST_TMP/s.json &&
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d[\"sessions\"] == 1 and d[\"violations\"][\"verb\"] == 1 and d[\"verbs-masked\"][\"probe\"] == 1 else 1)' $ST_TMP/s.json ||
	{ sed 's/^/#   /' $ST_TMP/s.json; false; }"
st_check "ynl stats-reset zeroes the counters" sh -c "
	ip netns exec $NS_G $YNL --do stats-reset &&
	ip netns exec $NS_G $CLI stats | awk '\$1 == \"sessions\" { exit \$2 != 0 }'"
st_finish
