#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Unload under traffic: while a bulk DATA transfer flows through the helper,
# detach it (delete the nft table that holds the ct helper object) and
# rmmod nf_conntrack_smtp.  The transfer must complete with its message
# intact, and the VM runner fails the run on any kernel splat.  Then the
# module loads again and inspects new sessions.
. "$(dirname "$0")/lib_smtp.sh"

st_require ip nft conntrack smtp-sink python3 tc
st_need_vm

SIZE=${UNLOAD_SIZE:-20000000}
modprobe sch_netem 2>/dev/null
st_begin 5 sink
# slow the server link so the transfer lasts several seconds
in_g tc qdisc replace dev $IF_GS root netem rate 20mbit limit 2000 2>/dev/null ||
	st_diag "no netem rate: transfer may finish too fast"

out=$ST_TMP/bulk.out
timeout 600 ip netns exec "$NS_C" $SMTP_CLIENT -t 120 $S4 25 > "$out" 2>&1 <<-S &
expect 220
cmd EHLO client.test 250
cmd MAIL FROM:<bulk@client.test> 250
cmd RCPT TO:<rcpt@server.test> 250
cmd DATA 354
datagen $SIZE unload
expect 250
cmd QUIT 221
S
cpid=$!
# wait for DATA to start, then let it flow a little
for i in $(seq 100); do grep -q '^S: 354' "$out" && break; sleep 0.1; done
sleep 2

unload() {
	local i
	kill -0 $cpid 2>/dev/null || { echo "# transfer already over before the unload"; return 1; }
	echo "# helper flows before unload: $(in_g conntrack -L -p tcp --dport 25 2>/dev/null | grep -c 'helper=')"
	if rmmod nf_conntrack_smtp 2>/dev/null; then
		echo "# rmmod succeeded with the nft ct helper object still present"
	else
		echo "# rmmod refused while nft holds the helper (expected)"
	fi
	st_helper_detach
	for i in $(seq 50); do
		grep -q '^nf_conntrack_smtp ' /proc/modules || break
		rmmod nf_conntrack_smtp 2>/dev/null && break
		sleep 0.2
	done
	grep -q '^nf_conntrack_smtp ' /proc/modules && { echo "# module still loaded: $(grep '^nf_conntrack_smtp ' /proc/modules)"; return 1; }
	kill -0 $cpid 2>/dev/null || { echo "# transfer ended before the module was gone"; return 1; }
	echo "# module unloaded mid-transfer"
}
st_check "rmmod nf_conntrack_smtp while a bulk DATA transfer flows" unload

finish() {
	local sent got d
	wait $cpid || { tail -n 5 "$out" | sed 's/^/#   /'; return 1; }
	sent=$(sed -n 's/.*datagen bytes=[0-9]* sha256=\([0-9a-f]*\).*/\1/p' "$out")
	d=$(sink_dump_of "datagen unload") || { echo "# no dump"; return 1; }
	got=$(dump_sha "$d")
	[ -n "$sent" ] && [ "$sent" = "$got" ] || { echo "# digest sent '$sent', received '$got'"; return 1; }
}
st_check "the transfer completes, message intact" finish
in_g tc qdisc del dev $IF_GS root 2>/dev/null

st_check "module loads again, helper re-attached" eval 'st_module_load && st_helper_attach'
st_check "after reload: disallowed verbs masked again" \
	st_verbs_masked "$NS_C" $S4 reload "VRFY probe-reload"
st_check "no kernel warning in dmesg" eval '! dmesg | grep -qE "WARNING:|BUG:|Call Trace|refcount_t"'
st_diag "runtime $(elapsed "$t0")s"
st_finish
