#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# smtpguard demo, run inside the VM (host: make demo, or
#   selftests/vm/run KVER selftests/demo.sh):
# client, gateway and server namespaces; the gateway loads nf_conntrack_smtp
# and attaches the "smtp" conntrack helper with nftables; smtp-sink serves
# SMTP on the server; swaks sends a real mail from the client through the
# gateway.  Prints the transcript the client saw, what the server received,
# and the gateway's conntrack table with helper=smtp.
. "$(dirname "$0")/lib.sh"

checktool ip nft conntrack smtp-sink swaks python3 ss modinfo
require_vm

step() { printf '\n=== %s\n' "$*"; }
fail() { echo "demo: FAILED: $*" >&2; exit 1; }

TMP=$(lib_tmpdir) || exit 1
MARKER=demo-$(date +%s)-$RANDOM

step "topology: client ($CLIENT4, $CLIENT6) <-> gateway <-> server ($SERVER4, $SERVER6)"
setup_topo || fail "topology"
for ns in "$NS_CLIENT" "$NS_GW" "$NS_SERVER"; do
	echo "--- $ns"; ip -n "$ns" -br addr show | grep -v '^lo '
done

step "gateway: load $(basename "$SMTPGUARD_KO") ($(uname -r)) and attach the helper"
load_module; rc=$?
[ $rc = $ksft_skip ] && { echo "demo: SKIP: no module for $(uname -r) at $SMTPGUARD_KO"; exit $ksft_skip; }
[ $rc = 0 ] || fail "module load"
grep -E "^$SMTPGUARD_MOD " /proc/modules
attach_helper "$NS_GW" || fail "nft"
ip netns exec "$NS_GW" nft list table inet smtpguard

step "server: smtp-sink on $SERVER4:25 and [$SERVER6]:25"
start_sink "$TMP" || fail "smtp-sink"
ip netns exec "$NS_SERVER" ss -ltn 'sport = :25'

step "client: an SMTP session held open after EHLO"
mkdir -p "$TMP/hold"
smtp_hold "$TMP/hold" 4 >"$TMP/hold/out" 2>&1 &
HOLD=$!; bg_track $HOLD
busywait 30000 test -e "$TMP/hold/ready" || { cat "$TMP/hold/out"; fail "held session"; }
cat "$TMP/hold/out"

step "gateway: conntrack -L while that session is open"
ip netns exec "$NS_GW" conntrack -L 2>&1
busywait 5000 ct_helper_flows "$NS_GW" >/dev/null || fail "no conntrack entry with helper=smtp"

step "client: swaks -> $SERVER4:25 through the gateway (transcript as the client saw it)"
swaks_send 4 "$MARKER" || fail "swaks session"

step "server: what smtp-sink received"
busywait 5000 sink_dump_with "$TMP" "X-Marker: $MARKER" >/dev/null || fail "mail did not arrive"
f=$(sink_dump_with "$TMP" "X-Marker: $MARKER" | head -n1)
echo "--- $f"; cat "$f"

step "client: the held session finishes"
touch "$TMP/hold/go"
wait $HOLD || { cat "$TMP/hold/out"; fail "held session"; }
sed -n '/hold: C: NOOP/,$p' "$TMP/hold/out"

step "gateway: conntrack -L -p tcp --dport 25 (helper=smtp)"
ip netns exec "$NS_GW" conntrack -L -p tcp --dport 25 2>&1
n=$(ct_helper_flows "$NS_GW" | wc -l)
[ "$n" -ge 2 ] || fail "expected >= 2 flows with helper=smtp, found $n"

step "kernel log"
dmesg | grep -iE 'smtp' | tail -n 20

echo
echo "demo: OK: mail delivered through the gateway, $n flows tracked by helper=smtp"
