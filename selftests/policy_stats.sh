#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Counters move by exactly the expected amounts: after "smtpguard stats
# reset", one scripted session through the gateway, then "smtpguard stats".
# sessions, verbs masked per class, violations per class, banners and EHLO
# keywords masked, and bytes (= every payload byte of the session, both
# directions, counted from the client's own transcript).
. "$(dirname "$0")/lib_smtp.sh"

policy_test_begin 9

stat_of() { awk -v k="$1" '$1 == k { print $2 }' "$ST_TMP/stats"; }

# expect NAME=VALUE...: every listed counter has that value, all others
# that are not listed (except bytes) are 0
expect_stats() {
	local kv k v got rc=0 listed=" bytes "
	in_g "$CLI" stats > "$ST_TMP/stats" || { echo "# smtpguard stats failed"; return 1; }
	for kv in "$@"; do
		k=${kv%%=*}; v=${kv#*=}; listed="$listed$k "
		got=$(stat_of "$k")
		[ "$got" = "$v" ] || { echo "# $k = ${got:-missing}, want $v"; rc=1; }
	done
	while read -r k v; do
		case "$listed" in *" $k "*) continue ;; esac
		[ "$v" = 0 ] || { echo "# $k = $v, want 0"; rc=1; }
	done < "$ST_TMP/stats"
	[ $rc = 0 ] || sed 's/^/#   /' "$ST_TMP/stats"
	return $rc
}

# payload bytes of a transcript: each C:/S: line plus CRLF
transcript_bytes() {
	sed -n 's/^[CS]: //p' "$1" | awk '{ n += length($0) + 2 } END { print n + 0 }'
}

session() {	# NAME STEP...
	local name=$1; shift
	printf '%s\n' "$@" | timeout 120 ip netns exec "$NS_C" $SMTP_CLIENT -k -t 20 $S4 25 \
		> "$ST_TMP/$name.out" 2>&1
	grep -q "RESULT: ok" "$ST_TMP/$name.out" || {
		echo "# session $name:"; sed 's/^/#   /' "$ST_TMP/$name.out"; return 1; }
	sleep 0.3	# the last ACKs/FIN through the gateway
}

st_check "load esmtp, stats reset" sh -c "ip netns exec $NS_G $CLI load esmtp && ip netns exec $NS_G $CLI stats reset"
st_check "after reset every counter is 0" expect_stats

# esmtp: VRFY and EXPN are probe verbs, XEXCH50 a vendor verb, FOOBAR unknown
st_check "esmtp session with VRFY, EXPN, XEXCH50, FOOBAR" session s1 \
	"expect 220" "cmd HELO client.test 250" "cmd VRFY a 5" "cmd EXPN b 5" \
	"cmd XEXCH50 1 2 5" "cmd FOOBAR 5" "cmd NOOP 250" "cmd QUIT 221"
st_check "counters: 1 session, 2 probe + 1 vendor + 1 unknown masked, 4 verb violations" \
	expect_stats sessions=1 verbs_masked.probe=2 verbs_masked.vendor=1 \
	verbs_masked.unknown=1 violations.verb=4
want=$(transcript_bytes "$ST_TMP/s1.out")
st_check "bytes = $want, every payload byte of the session once" \
	test "$(stat_of bytes)" = "$want"

# strict: banner masked, EHLO keywords outside its list masked, AUTH masked
st_check "load strict, stats reset" sh -c "ip netns exec $NS_G $CLI load strict && ip netns exec $NS_G $CLI stats reset"
st_check "strict session with EHLO and AUTH" session s2 \
	"expect 220" "cmd EHLO client.test 250" "cmd AUTH PLAIN 5" "cmd QUIT 221"
# keywords the client saw masked: a reply line whose first word is all X
kw=$(sed -n '/^C: EHLO/,/^S: 250 /p' "$ST_TMP/s2.out" | grep -cE '^S: 250[- ]X+( |$)')
st_diag "EHLO reply: $kw keywords masked"
st_check "counters: 1 session, 1 banner, $kw keywords, 1 esmtp verb masked" \
	expect_stats sessions=1 banners_masked=1 keywords_masked="$kw" \
	verbs_masked.esmtp=1 violations.verb=1
st_check "stats -j is valid JSON with the same values" sh -c \
	"ip netns exec $NS_G $CLI -j stats | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d[\"sessions\"] == 1 and d[\"banners_masked\"] == 1 and d[\"violations\"][\"verb\"] == 1 else 1)'"
st_finish
