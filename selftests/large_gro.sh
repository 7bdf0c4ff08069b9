#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A large message (50 MB by default) through the helper with GRO on the
# gateway's veths, so the helper sees big nonlinear GRO/GSO skbs: it must
# arrive intact (digest of smtp-sink's dump = digest of what was sent), and
# inspection must still be in step afterwards (a VRFY after it is masked).
. "$(dirname "$0")/lib_smtp.sh"

st_require ip nft conntrack ethtool smtp-sink python3
st_need_vm

SIZE=${LARGE_SIZE:-50000000}
st_begin 4 sink

gro_on() {
	in_g ethtool -K $IF_GC gro on >/dev/null 2>&1 || return 1
	in_g ethtool -K $IF_GS gro on >/dev/null 2>&1 || return 1
	in_c ethtool -K $IF_C tso on gso on >/dev/null 2>&1
	in_s ethtool -K $IF_S tso on gso on >/dev/null 2>&1
	in_g ethtool -k $IF_GC | grep -q '^generic-receive-offload: on'
}
st_check "GRO on on the gateway veths" gro_on

# count packets larger than one MTU seen by the gateway's forward path
in_g nft -f - <<-'EOF2'
table inet sgcount {
	chain forward_count {
		type filter hook forward priority filter; policy accept;
		tcp dport 25 meta length > 1500 counter
	}
}
EOF2

big() {
	local out rc=0 sent got d t1 secs big
	sink_mark
	t1=$(now)
	out=$(timeout 900 ip netns exec "$NS_C" $SMTP_CLIENT -t 120 $S4 25 2>&1 <<-S
	expect 220
	cmd EHLO client.test 250
	cmd MAIL FROM:<big@client.test> 250
	cmd RCPT TO:<rcpt@server.test> 250
	cmd DATA 354
	datagen $SIZE large-gro
	expect 250
	cmd VRFY probe-after-big 5
	cmd QUIT 221
	S
	) || { rc=1; echo "$out" | tail -n 5 | sed 's/^/#   /'; }
	secs=$(elapsed "$t1")
	sent=$(echo "$out" | sed -n 's/.*datagen bytes=[0-9]* sha256=\([0-9a-f]*\).*/\1/p')
	d=$(sink_dump_of "datagen large-gro")
	if [ -z "$d" ]; then
		echo "# no dump of the large message"; return 1
	fi
	got=$(dump_sha "$d")
	echo "# $(stat -c %s "$d") bytes dumped in ${secs}s (~$(awk -v b="$SIZE" -v s="$secs" 'BEGIN { printf "%.1f", b / s / 1e6 }') MB/s)"
	[ -n "$sent" ] && [ "$sent" = "$got" ] || { echo "# digest sent '$sent', received '$got'"; rc=1; }
	big=$(in_g nft list table inet sgcount | sed -n 's/.*counter packets \([0-9]*\).*/\1/p')
	echo "# forwarded SMTP packets > 1500 bytes (GRO/GSO): ${big:-?}"
	sink_cmds | grep -q '^XXXX probe-after-big$' || { echo "# VRFY after the big message not masked"; rc=1; }
	rm -f "$d"
	return $rc
}
st_check "$SIZE byte message through GRO arrives intact; VRFY after it masked" big
st_check "helper attached to the SMTP flow" st_helper_seen
# the same with GRO off, a smaller message (the MTU-sized path)
small_nogro() {
	in_g ethtool -K $IF_GC gro off >/dev/null 2>&1
	in_g ethtool -K $IF_GS gro off >/dev/null 2>&1
	in_c ethtool -K $IF_C tso off gso off >/dev/null 2>&1
	local out sent got d
	out=$(timeout 600 ip netns exec "$NS_C" $SMTP_CLIENT -t 120 $S4 25 2>&1 <<-S
	expect 220
	cmd EHLO client.test 250
	cmd MAIL FROM:<big@client.test> 250
	cmd RCPT TO:<rcpt@server.test> 250
	cmd DATA 354
	datagen 5000000 nogro
	expect 250
	cmd QUIT 221
	S
	) || { echo "$out" | tail -n 5 | sed 's/^/#   /'; return 1; }
	sent=$(echo "$out" | sed -n 's/.*datagen bytes=[0-9]* sha256=\([0-9a-f]*\).*/\1/p')
	d=$(sink_dump_of "datagen nogro") || return 1
	got=$(dump_sha "$d")
	[ "$sent" = "$got" ] || { echo "# digest sent '$sent', received '$got'"; return 1; }
}
st_check "5 MB message with GRO/TSO off arrives intact" small_nogro
st_diag "runtime $(elapsed "$t0")s"
st_finish
