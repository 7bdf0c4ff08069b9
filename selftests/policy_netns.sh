#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Two network namespaces hold different policies at once, each applied to
# its own traffic: gateway A (rfc821) masks EHLO, gateway B (esmtp) passes
# it, over two parallel client/server pairs. A new netns starts with the
# built-in defaults (= esmtp). "-n NETNS" selects the namespace.
. "$(dirname "$0")/lib_smtp.sh"

policy_test_begin 8
st_pass "setup: topology A (client, gateway, smtp-sink)"

# topology B: a second gateway namespace between the client and a second
# server namespace: client c1 10.0.3.2 <-> gwB 10.0.3.1 | 10.0.4.1 <-> s1 10.0.4.2
setup_ns NS_GB NS_SB &&
ip link add c1 netns "$NS_C" type veth peer name gc1 netns $NS_GB &&
ip link add s1 netns $NS_SB type veth peer name gs1 netns $NS_GB &&
ip -n "$NS_C" addr add 10.0.3.2/24 dev c1 && ip -n "$NS_C" link set c1 up &&
ip -n $NS_GB addr add 10.0.3.1/24 dev gc1 && ip -n $NS_GB link set gc1 up &&
ip -n $NS_GB addr add 10.0.4.1/24 dev gs1 && ip -n $NS_GB link set gs1 up &&
ip -n $NS_SB addr add 10.0.4.2/24 dev s1 && ip -n $NS_SB link set s1 up &&
ip -n "$NS_C" route add 10.0.4.0/24 via 10.0.3.1 &&
ip -n $NS_SB route add default via 10.0.4.1 &&
ip netns exec $NS_GB sysctl -qw net.ipv4.ip_forward=1 &&
st_helper_attach $NS_GB
rc=$?
ip netns exec $NS_SB smtp-sink -u nobody -h serverb.test :25 64 >/dev/null 2>&1 &
bg_track $!
st_wait_listen $NS_SB 25
st_check "setup: topology B (second gateway, second smtp-sink)" test $rc = 0

st_check "a new netns starts with the defaults (= esmtp)" sh -c \
	"'$CLI' -n $NS_GB show > $ST_TMP/b0 && ip netns exec $NS_G '$CLI' load esmtp && ip netns exec $NS_G '$CLI' show > $ST_TMP/esmtp && cmp -s $ST_TMP/b0 $ST_TMP/esmtp"
st_check "load rfc821 in A (-n), esmtp in B" sh -c \
	"'$CLI' -n $NS_G load rfc821 && '$CLI' -n $NS_GB load esmtp"
"$CLI" -n "$NS_G" show > "$ST_TMP/a"
"$CLI" -n "$NS_GB" show > "$ST_TMP/b"
st_check "show differs between A and B, B is esmtp" sh -c \
	"! cmp -s $ST_TMP/a $ST_TMP/b && cmp -s $ST_TMP/b $ST_TMP/esmtp"

ehlo() {	# SERVER WANT_CODE
	printf '%s\n' "expect 220" "cmd EHLO client.test $2" "cmd QUIT 221" |
		timeout 60 ip netns exec "$NS_C" $SMTP_CLIENT -t 20 "$1" 25 > "$ST_TMP/ehlo.out" 2>&1 ||
		{ sed 's/^/#   /' "$ST_TMP/ehlo.out"; return 1; }
}
# both sessions at the same time
ehlo $S4 5 & pa=$!
ehlo 10.0.4.2 250 & pb=$!
wait $pa; ra=$?; wait $pb; rb=$?
st_check "A masks EHLO (500) while B passes it (250), concurrently" test $ra = 0 -a $rb = 0
st_check "B's counters saw 1 session, A's none of B's" sh -c \
	"'$CLI' -n $NS_GB stats | awk '\$1 == \"sessions\" { exit \$2 != 1 }'"
ip netns del $NS_GB
st_check "deleting a netns with a policy leaves A intact" sh -c \
	"'$CLI' -n $NS_G show | cmp -s - $ST_TMP/a"
st_finish
