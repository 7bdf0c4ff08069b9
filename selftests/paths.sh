#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Other paths through the gateway: an IPv6 session (masked and delivered),
# SNAT on the gateway (nft masquerade: masking still works, mail arrives,
# the server sees the gateway's address), and mail the gateway originates
# itself (output hook, helper attached in the output chain).
. "$(dirname "$0")/lib_smtp.sh"

st_require ip nft conntrack smtp-sink swaks python3
st_need_vm

st_begin 7 sink

deliver() {	# NS SERVER SUBJECT [swaks options]
	local ns=$1 srv=$2 subj=$3; shift 3
	local f=$ST_TMP/$subj.txt
	msg_gen "$f" 100000 "$subj" || return 1
	swaks_send "$ns" "$srv" "$subj" "$f" "$@" > "$ST_TMP/$subj.swaks" 2>&1 || {
		echo "# swaks to $srv failed:"; tail -n 5 "$ST_TMP/$subj.swaks" | sed 's/^/#   /'; return 1; }
	sleep 0.3
	msg_arrived_intact "$subj" "$f"
}

# -- IPv6
st_check "ipv6: disallowed verbs masked, client gets 500" \
	st_verbs_masked "$NS_C" $S6 ipv6 "VRFY probe-v6" "X-LINK2STATE probe-v6-xl"
st_check "ipv6: message delivered byte-identical" deliver "$NS_C" $S6 paths-ipv6 -6
st_check "ipv6: flow has the helper" eval 'in_g conntrack -L -f ipv6 -p tcp --dport 25 2>/dev/null | grep -q "helper="'

# -- SNAT on the gateway
snat_on() {
	in_g nft -f - <<-EOF2
	table inet sgnat {
		chain postrouting {
			type nat hook postrouting priority srcnat; policy accept;
			oifname "$IF_GS" masquerade
		}
	}
	EOF2
}
if snat_on; then
	st_check "snat: disallowed verbs masked, client gets 500" \
		st_verbs_masked "$NS_C" $S4 snat "VRFY probe-snat" "EXPN probe-snat-x"
	snat_deliver() {
		deliver "$NS_C" $S4 paths-snat || return 1
		grep -qx "X-Client-Addr: $G4S" "$(sink_dump_of paths-snat)" || {
			echo "# server saw client $(sed -n 's/^X-Client-Addr: //p' "$(sink_dump_of paths-snat)"), not the gateway $G4S: no SNAT?"
			return 1; }
	}
	st_check "snat: message delivered byte-identical, server sees the gateway address" snat_deliver
	in_g nft delete table inet sgnat
else
	st_fail "snat: nft masquerade"
	st_fail "snat: (not run)"
fi

# -- locally originated: client runs in the gateway namespace itself
st_check "local output: disallowed verbs from the gateway itself masked" \
	st_verbs_masked "$NS_G" $S4 local-out "VRFY probe-local" "ETRN probe-local-etrn"
st_check "local output: message from the gateway delivered byte-identical" \
	deliver "$NS_G" $S4 paths-local
st_diag "runtime $(elapsed "$t0")s"
st_finish
