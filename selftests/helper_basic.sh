#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Basic life cycle of the "smtp" conntrack helper on a forwarding gateway:
# real SMTP sessions (swaks -> smtp-sink, IPv4 and IPv6) through a gateway
# namespace that runs the helper; conntrack shows helper=smtp on open flows;
# mail arrives intact; rmmod with connections open is clean, the open
# connections still finish, new sessions work without the module and again
# after reloading it.  Run in the VM: selftests/vm/run KVER selftests/helper_basic.sh
. "$(dirname "$0")/lib.sh"

checktool ip nft conntrack smtp-sink swaks python3 ss modinfo perl:IO::Socket::INET6
require_vm

module_loaded || [ -r "$SMTPGUARD_KO" ] ||
	ktap_skip_all "no module for $(uname -r) at $SMTPGUARD_KO (make module KDIR=/usr/src/linux-headers-$(uname -r), or set SMTPGUARD_KO)"

ktap_header
ktap_plan 17

TMP=$(lib_tmpdir) || exit 1
RUN=$$-$RANDOM

# session FAM NAME: swaks session with a fresh marker; passes if swaks exits 0
# and the sink dumped a message with the marker.  Sets MARKER.
session() {
	local fam=$1 name=$2 out rc f
	MARKER=sg-$name-$RUN
	out=$(swaks_send "$fam" "$MARKER" 2>&1); rc=$?
	if [ $rc != 0 ]; then
		ktap_msg "swaks -$fam failed ($rc):"; ktap_msg "$out"
		return 1
	fi
	busywait 5000 sink_dump_with "$TMP" "X-Marker: $MARKER" >/dev/null || {
		ktap_msg "no dump file with marker $MARKER"; return 1
	}
	f=$(sink_dump_with "$TMP" "X-Marker: $MARKER" | head -n1)
	grep -qF "Subject: smtpguard selftest $MARKER" "$f" &&
		grep -qF "Hello through the gateway. Marker: $MARKER" "$f" || {
		ktap_msg "dump $f lacks subject/body:"; ktap_msg "$(cat "$f")"; return 1
	}
	return 0
}

# hold_start FAM DIR: background connection held open after EHLO
hold_start() {
	mkdir -p "$2" && rm -f "$2/ready" "$2/go"
	smtp_hold "$2" "$1" >"$2/out" 2>&1 &
	HOLD_PID=$!
	bg_track $HOLD_PID
	busywait 30000 test -e "$2/ready" || { ktap_msg "hold -$1: not ready:"; ktap_msg "$(cat "$2/out")"; return 1; }
}

# hold_finish DIR PID: let the held connection send NOOP + QUIT
hold_finish() {
	touch "$1/go"
	if ! wait "$2"; then
		ktap_msg "held connection failed:"; ktap_msg "$(cat "$1/out")"
		return 1
	fi
}

# flow_has_helper SRC: conntrack entry from SRC to port 25 with helper=smtp
flow_has_helper() { ct_helper_flows "$NS_GW" | grep -q "src=$1 "; }

# helped_ids: sorted conntrack ids of port-25 flows that name any helper
helped_ids() {
	ip netns exec "$NS_GW" conntrack -L -p tcp --dport 25 -o id 2>/dev/null |
		sed -n '/helper=/s/.* id=\([0-9]*\).*/\1/p' | sort
}

# 1, 2
ktap_topo_module

# 3
attach_helper "$NS_GW"; ktap_result $? "nft: ct helper smtp attached in the gateway (inet)"

# 4
start_sink "$TMP"; ktap_result $? "smtp-sink listening on $SERVER4:25 and [$SERVER6]:25"

# 5, 6
session 4 v4; ktap_result $? "IPv4 swaks session through the gateway, mail dumped with marker"
session 6 v6; ktap_result $? "IPv6 swaks session through the gateway, mail dumped with marker"

# 7, 8: open connections carry the helper
hold_start 4 "$TMP/hold4"; H4=$HOLD_PID
hold_start 6 "$TMP/hold6"; H6=$HOLD_PID
busywait 5000 flow_has_helper $CLIENT4; rc=$?
ktap_result $rc "conntrack -L (gw): open IPv4 flow has helper=smtp"
busywait 5000 flow_has_helper $CLIENT6; rc6=$?
ktap_result $rc6 "conntrack -L (gw): open IPv6 flow has helper=smtp"
[ $rc = 0 ] && [ $rc6 = 0 ] || ktap_msg "$(ip netns exec "$NS_GW" conntrack -L 2>&1)"

# 9: the nft ct helper object pins the module; drop it, then rmmod with
# both connections still open.
detach_helper "$NS_GW"
PRE_IDS=$(helped_ids)
out=$(rmmod $SMTPGUARD_MOD 2>&1); rc=$?
[ $rc = 0 ] && module_loaded && rc=1
[ $rc = 0 ] || ktap_msg "rmmod: $out"
ktap_result $rc "rmmod $SMTPGUARD_MOD with IPv4 and IPv6 connections open"

# 10, 11
hold_finish "$TMP/hold4" $H4; ktap_result $? "held IPv4 connection completes NOOP + QUIT after rmmod"
hold_finish "$TMP/hold6" $H6; ktap_result $? "held IPv6 connection completes NOOP + QUIT after rmmod"

# 12: plain forwarding still works
session 4 after-rmmod; ktap_result $? "new IPv4 session after rmmod"

# 13: no helper (of any name) left on any flow. Where the core registers
# copies of helpers (7.x), flows from before the rmmod keep the inert copy
# and its name until they end (compat.h); no other flow may name one.
POST_IDS=$(helped_ids)
if kmod_has NF_CT_HELPERS_REGISTER_COPY; then
	stray=$(comm -13 <(echo "$PRE_IDS") <(echo "$POST_IDS"))
else
	stray=$POST_IDS
fi
[ -z "$stray" ] || ktap_msg "flows with a helper after rmmod: $(echo $stray)"
[ -z "$stray" ]
ktap_result $? "no conntrack entry carries a helper after rmmod"

# 14-17: load again, re-attach, sessions use the helper again
load_module && attach_helper "$NS_GW"; ktap_result $? "module reloaded and helper re-attached"
session 4 reload4; ktap_result $? "IPv4 session after reload"
session 6 reload6; ktap_result $? "IPv6 session after reload"
hold_start 4 "$TMP/hold4b"; H4=$HOLD_PID
busywait 5000 flow_has_helper $CLIENT4; rc=$?
hold_finish "$TMP/hold4b" $H4 || rc=1
ktap_result $rc "after reload: open IPv4 flow has helper=smtp and completes"

# leave the module unloaded for the next test
detach_helper "$NS_GW"
unload_module || ktap_msg "final rmmod failed"

ktap_finished
