#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The reset action where the helper runs on unrouted skbs: a bridge with
# nf_conntrack_bridge (nft bridge family "ct helper set"), as OVS and tc
# act_ct also call helpers. nf_send_reset() dereferences the skb's route,
# which a bridged skb does not have: the helper must not send the sender's
# RST there (an oops otherwise, which the VM runner reports), only turn the
# offending segment into an RST for the receiver. The sender is not reset
# there: its retransmissions become RSTs too, so it stalls until its own
# timeout, as with drop. Control: helper detached, the verb reaches the
# server.
. "$(dirname "$0")/lib_smtp.sh"

st_require ip nft smtp-sink python3
st_need_vm

BC=10.0.9.1; BS=10.0.9.2

st_plan 6
ST_TMP=$(lib_tmpdir) || { st_fail "scratch directory"; st_finish; }
topo() {
	setup_ns NS_BC NS_BB NS_BS || return 1
	ip -batch - <<-EOF || return 1
	link add c0 netns $NS_BC type veth peer name b-c netns $NS_BB
	link add s0 netns $NS_BS type veth peer name b-s netns $NS_BB
	EOF
	ip -n $NS_BB -batch - <<-EOF || return 1
	link add br0 type bridge
	link set b-c master br0
	link set b-s master br0
	link set b-c up
	link set b-s up
	link set br0 up
	EOF
	ip -n $NS_BC addr add $BC/24 dev c0 && ip -n $NS_BC link set c0 up &&
	ip -n $NS_BS addr add $BS/24 dev s0 && ip -n $NS_BS link set s0 up &&
	busywait 10000 lib_ping $NS_BC $BS
}
st_check "topology: client <-> bridge <-> server, one subnet" topo
modprobe -q nf_conntrack_bridge
st_check "module loaded" load_module
attach_bridge() {
	ip netns exec $NS_BB nft -f - <<-EOF
	table bridge sgbr {
		ct helper smtp { type "smtp" protocol tcp; }
		chain pre {
			type filter hook prerouting priority 0; policy accept;
			tcp dport 25 ct helper set "smtp"
		}
	}
	EOF
}
printf 'action verb reset\n' | cat "$TOPDIR/policy/esmtp.conf" - > "$ST_TMP/reset.conf"
st_check "bridge: ct helper attached, policy esmtp with action verb reset" \
	eval 'attach_bridge && ip netns exec $NS_BB "$SMTPGUARD_CLI" load "$ST_TMP/reset.conf"'

ip netns exec $NS_BS smtp-sink -v -u nobody $BS:25 64 > "$ST_TMP/sink.log" 2>&1 &
bg_track $!
busywait 10000 eval '[ -n "$(ip netns exec $NS_BS ss -Hltn "sport = :25")" ]'

vrfy() {	# MARKER: a session sending VRFY MARKER; output in $ST_TMP/MARKER
	printf 'expect 220\ncmd EHLO c.test 250\nline VRFY %s\nexpect_close\n' "$1" |
		ip netns exec $NS_BC $SMTP_CLIENT -t 8 $BS 25 > "$ST_TMP/$1" 2>&1
	sleep 0.5
}
vrfy probe-bridged
st_check "reset on the bridge, no oops: VRFY never reached the server" \
	eval '! grep -q probe-bridged "$ST_TMP/sink.log"'
st_check "the helper counted the reset" \
	eval '[ "$(ip netns exec $NS_BB "$SMTPGUARD_CLI" stats | awk '"'"'$1 == "resets" { print $2 }'"'"')" -ge 1 ]'

ip netns exec $NS_BB nft delete table bridge sgbr
vrfy probe-control
st_check "control, helper detached: VRFY reaches the server" grep -q probe-control "$ST_TMP/sink.log"
st_finish
