#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# "smtpguard monitor" (text and -j) reports what the helper does on real
# sessions: a masked verb with its token, class, action, direction and the
# connection's IPv4/IPv6 tuple, a masked banner, masked EHLO keywords; and
# monitor in one namespace sees nothing of another's traffic.
. "$(dirname "$0")/lib_smtp.sh"

policy_test_begin 8

MON_PID=
mon_start() {	# NS FILE [-j]
	ip netns exec "$1" "$CLI" ${3:-} monitor > "$2" 2>&1 &
	MON_PID=$!
	ST_PIDS="$ST_PIDS $MON_PID"
	sleep 1	# joined the group by then (TCG is slow)
}
mon_stop() { sleep 0.5; kill "$MON_PID" 2>/dev/null; wait "$MON_PID" 2>/dev/null; MON_PID=; }

session() {	# HOST STEP...
	local host=$1; shift
	printf '%s\n' "$@" | timeout 120 ip netns exec "$NS_C" $SMTP_CLIENT -k -t 20 "$host" 25 \
		> "$ST_TMP/session.out" 2>&1
}

has() {	# FILE STRING...: one line of FILE contains every STRING
	local f=$1 l s ok; shift
	while IFS= read -r l; do
		ok=1
		for s in "$@"; do [[ "$l" == *"$s"* ]] || { ok=0; break; }; done
		[ $ok = 1 ] && return 0
	done < "$f"
	echo "# no event with: $*"; sed 's/^/#   /' "$f"
	return 1
}

in_g "$CLI" load esmtp
M=$ST_TMP/mon-json
mon_start "$NS_G" "$M" -j
session $S4 "expect 220" "cmd HELO client.test 250" "cmd VRFY probe 5" "cmd QUIT 221"
session $S6 "expect 220" "cmd HELO client.test 250" "cmd EXPN probe6 5" "cmd QUIT 221"
mon_stop
st_check "monitor -j: masked VRFY over IPv4 with its tuple" has "$M" \
	'"kind":"violation"' '"class":"verb"' '"action":"mask"' '"dir":"client"' \
	'"token":"VRFY"' '"family":"ipv4"' "\"src\":\"$C4\"" "\"dst\":\"$S4\"" '"dport":25' '"ct_id":'
st_check "monitor -j: masked EXPN over IPv6 with its tuple" has "$M" \
	'"token":"EXPN"' '"family":"ipv6"' "\"src\":\"$C6\"" "\"dst\":\"$S6\"" '"dport":25'
st_check "monitor -j: every line is a JSON object" \
	python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$M"
ct_id_check() {
	local id
	id=$(grep -o '"ct_id":[0-9]*' "$M" | head -n1 | cut -d: -f2)
	in_g conntrack -L -p tcp --dport 25 -o id > "$ST_TMP/ct.out" 2>&1
	grep -q "id=$id\b" "$ST_TMP/ct.out" && return 0
	echo "# ct_id $id not in:"; sed 's/^/#   /' "$ST_TMP/ct.out"
	return 1
}
st_check "monitor -j: conntrack id matches conntrack -L" ct_id_check

in_g "$CLI" load strict
M=$ST_TMP/mon-text
mon_start "$NS_G" "$M"
session $S4 "expect 220" "cmd EHLO client.test 250" "cmd QUIT 221"
mon_stop
st_check "monitor: banner masked (text)" has "$M" "banner-masked" "dir server" "$C4:"
st_check "monitor: EHLO keyword masked (text) names the keyword" has "$M" "keyword-masked" "token XCLIENT"

# the server namespace has no policy traffic of its own: its monitor stays quiet
M=$ST_TMP/mon-other
mon_start "$NS_S" "$M" -j
session $S4 "expect 220" "cmd HELO client.test 250" "cmd VRFY quiet 5" "cmd QUIT 221"
mon_stop
st_check "monitor in another namespace sees none of the gateway's events" test ! -s "$M"
st_check "stats: no events dropped by the rate limit" sh -c \
	"ip netns exec $NS_G $CLI stats | awk '\$1 == \"events_dropped\" { exit \$2 != 0 }'"
st_finish
