#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench-vm: figures, not a test.  In the VM, through the gateway:
#  1. bulk SMTP DATA throughput (smtp-source -> smtp-sink) with the helper
#     attached and with conntrack only (same topology, same rules minus the
#     helper), alternating rounds; prints MB/s for both and the ratio
#     (target >= 0.9);
#  2. memory per tracked SMTP connection: N idle sessions (default 10000)
#     held open, with and without the helper; slab and MemAvailable deltas
#     per session, and the object sizes of nf_conntrack and smtp_conn.
# Exit 0 unless the harness itself broke.
. "$(dirname "$0")/lib_smtp.sh"

st_require ip nft conntrack smtp-sink smtp-source python3
st_need_vm

MSGS=${BENCH_MSGS:-5}
LEN=${BENCH_LEN:-10000000}
ROUNDS=${BENCH_ROUNDS:-2}
SESSIONS=${BENCH_SESSIONS:-10000}
IDLE_WAIT=${BENCH_IDLE_WAIT:-600}
BENCH_T0=$(now)

say() { echo "bench: $*"; }
die() { echo "bench: harness error: $*" >&2; exit 1; }

st_topo || die "topology"
st_module_load || die "module load"
sysctl -qw net.netfilter.nf_conntrack_max=$((SESSIONS * 3 + 10000)) 2>/dev/null
in_s sysctl -qw net.core.somaxconn=65535 2>/dev/null
in_c sysctl -qw net.ipv4.ip_local_port_range="1024 65001" 2>/dev/null
in_s sysctl -qw net.ipv4.tcp_max_syn_backlog=65535 2>/dev/null

mode() {	# helper|nohelper
	st_helper_detach
	in_g conntrack -F >/dev/null 2>&1
	if [ "$1" = helper ]; then st_helper_attach; else st_conntrack_only; fi
}

# ---------------------------------------------------------------- throughput
in_s smtp-sink -u nobody -t 120 $S4:25 256 > "$ST_TMP/sink.log" 2>&1 &
SINKP=$!; ST_PIDS="$ST_PIDS $SINKP"
st_wait_listen "$NS_S" 25 || die "smtp-sink"

run_source() {	# prints MB/s
	local t1 secs
	t1=$(now)
	# Postfix tools refuse an invalid own hostname ("vm-6.12.95+deb12")
	in_c unshare -u sh -c 'hostname client.test && exec "$@"' sh timeout 600 smtp-source -s 1 -m "$MSGS" -l "$LEN" -f bench@client.test \
		-t rcpt@server.test $S4:25 > "$ST_TMP/source.log" 2>&1 || {
		sed 's/^/bench:   smtp-source: /' "$ST_TMP/source.log" | tail -n 5 >&2; return 1; }
	secs=$(elapsed "$t1")
	awk -v b=$((MSGS * LEN)) -v s="$secs" 'BEGIN { printf "%.2f\n", b / s / 1e6 }'
}

declare -a TH TN
say "throughput: $ROUNDS rounds x $MSGS messages x $LEN bytes each way"
for r in $(seq "$ROUNDS"); do
	for m in nohelper helper; do
		mode $m || die "nft ($m)"
		v=$(run_source) || die "smtp-source failed ($m)"
		say "  round $r $m: $v MB/s"
		if [ $m = helper ]; then TH+=("$v"); else TN+=("$v"); fi
	done
done
st_helper_seen || say "  WARNING: no helper seen on the flows in helper mode"
mean() { printf '%s\n' "$@" | awk '{ s += $1 } END { printf "%.2f", s / NR }'; }
H=$(mean "${TH[@]}"); N=$(mean "${TN[@]}")
R=$(awk -v h="$H" -v n="$N" 'BEGIN { printf "%.3f", (n > 0 ? h / n : 0) }')
say "throughput helper: $H MB/s"
say "throughput conntrack-only: $N MB/s"
say "throughput ratio helper/conntrack-only: $R (target >= 0.9)"
kill $SINKP 2>/dev/null; wait $SINKP 2>/dev/null

# ---------------------------------------------------------------- memory
memkb() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }
slabline() { grep -E "^$1 " /proc/slabinfo 2>/dev/null; }
slab_active() { slabline "$1" | awk '{ print $2 }'; }
slab_objsize() { slabline "$1" | awk '{ print $4 }'; }

idle() {	# MODE: prints "sessions slab_kb memavail_kb"
	local m=$1 sp cp s0 a0 s1 a1 up i
	mode $m || return 1
	in_s $SMTP_CLIENT --serve "$SESSIONS" 0.0.0.0 25 > "$ST_TMP/serve.$m" 2>&1 &
	sp=$!
	st_wait_listen "$NS_S" 25 || return 1
	sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null
	sleep 1
	s0=$(memkb Slab); a0=$(memkb MemAvailable)
	cs0=$(slab_active nf_conntrack); h0=$(slab_active smtp_conn)
	rm -f "$ST_TMP/held.$m"
	in_c $SMTP_CLIENT --hold "$SESSIONS" --hold-time 900 --hold-file "$ST_TMP/held.$m" \
		-t 300 $S4 25 > "$ST_TMP/hold.$m" 2>&1 &
	cp=$!
	# bounded: under a loaded TCG host 10k handshakes can be slow; measure
	# whatever is up after BENCH_IDLE_WAIT seconds
	for i in $(seq $((IDLE_WAIT * 2))); do [ -s "$ST_TMP/held.$m" ] && break; kill -0 $cp 2>/dev/null || break; sleep 0.5; done
	up=$(cat "$ST_TMP/held.$m" 2>/dev/null)
	if [ -z "$up" ]; then
		up=$(in_g conntrack -L -p tcp --dport 25 2>/dev/null | grep -c ESTABLISHED)
		say "  $m: not all sessions up after ${IDLE_WAIT}s ($(tail -n1 "$ST_TMP/hold.$m")); measuring the $up established"
	fi
	sleep 2
	s1=$(memkb Slab); a1=$(memkb MemAvailable)
	cs1=$(slab_active nf_conntrack); h1=$(slab_active smtp_conn)
	CT_N=$(in_g conntrack -C 2>/dev/null)
	say "  $m: $(grep -v '^progress' "$ST_TMP/hold.$m" | head -n1); conntrack entries in gw: ${CT_N:-?}"
	say "  $m: nf_conntrack objects +$(( ${cs1:-0} - ${cs0:-0} )), smtp_conn objects +$(( ${h1:-0} - ${h0:-0} ))"
	kill $cp 2>/dev/null; wait $cp 2>/dev/null
	kill $sp 2>/dev/null; wait $sp 2>/dev/null
	sleep 1
	in_g conntrack -F >/dev/null 2>&1
	echo "${up:-0} $((s1 - s0)) $((a0 - a1))" > "$ST_TMP/idle.$m"
}

say "memory: $SESSIONS idle sessions (banner read, then idle), each mode"
for m in nohelper helper; do
	idle $m || die "idle sessions ($m)"
	read -r up ds da < "$ST_TMP/idle.$m"
	if [ "${up:-0}" -gt 0 ]; then
		say "  $m: $up sessions: Slab +${ds} kB ($(( ds * 1024 / up )) B/session), MemAvailable -${da} kB ($(( da * 1024 / up )) B/session, all three namespaces' sockets included)"
	else
		say "  $m: no session came up"
	fi
done
read -r uh dsh dah < "$ST_TMP/idle.helper"
read -r un dsn dan < "$ST_TMP/idle.nohelper"
if [ "${uh:-0}" -gt 0 ] && [ "${un:-0}" -gt 0 ]; then
	say "memory per SMTP connection due to the helper (Slab delta, helper - conntrack-only): $(( (dsh * 1024 / uh) - (dsn * 1024 / un) )) B"
	say "memory per SMTP connection due to the helper (MemAvailable delta): $(( (dah * 1024 / uh) - (dan * 1024 / un) )) B"
fi
ocs=$(slab_objsize nf_conntrack); ohs=$(slab_objsize smtp_conn)
say "object sizes: nf_conntrack ${ocs:-?} B, smtp_conn ${ohs:-n/a (no such kmem cache)} B"
grep -E '^(nf_conntrack|smtp)' /proc/slabinfo | sed 's/^/bench:   slabinfo: /'
say "done in $(elapsed "$BENCH_T0")s"
exit 0
