#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench-vm: figures, not a test.  In the VM, through the gateway:
#  1. bulk SMTP DATA throughput (smtp-source -> smtp-sink) with the helper
#     attached and with conntrack only (same topology, same rules minus the
#     helper), alternating rounds; prints MB/s for both and the ratio
#     (target >= 0.9);
#  2. kernel memory per tracked SMTP connection: smtp-source opens N
#     sessions (default 10000), delivers one message on each and keeps them
#     all open and idle (-d -w); measured once with the helper and once with
#     conntrack only.  Figures come from /proc/slabinfo (active objects x
#     object size, per cache; the VM boots with slab_nomerge so smtp_conn and
#     the kmalloc caches that hold conntrack extensions are not folded into
#     other caches).  Every session costs sockets in the client and server
#     namespaces too; those are the same in both modes, so the helper's cost
#     is the per-session difference, shown cache by cache.
# Exit 0 unless the harness itself broke.
. "$(dirname "$0")/lib_smtp.sh"

st_require ip nft conntrack smtp-sink smtp-source python3
st_need_vm

MSGS=${BENCH_MSGS:-5}
LEN=${BENCH_LEN:-10000000}
ROUNDS=${BENCH_ROUNDS:-2}
SESSIONS=${BENCH_SESSIONS:-10000}
IDLE_WAIT=${BENCH_IDLE_WAIT:-900}
BENCH_T0=$(now)

say() { echo "bench: $*"; }
die() { echo "bench: harness error: $*" >&2; exit 1; }

st_topo || die "topology"
st_module_load || die "module load"
sysctl -qw net.netfilter.nf_conntrack_max=$((SESSIONS * 3 + 10000)) 2>/dev/null
in_s sysctl -qw net.core.somaxconn=65535 2>/dev/null
in_c sysctl -qw net.ipv4.ip_local_port_range="1024 65001" 2>/dev/null
in_s sysctl -qw net.ipv4.tcp_max_syn_backlog=65535 2>/dev/null
# one descriptor per idle session in smtp-source and in smtp-sink
ulimit -n $((SESSIONS + 4096)) || die "ulimit -n"

# stop_ns_procs NS...: end every process in those namespaces.  A background
# in_s/in_c job's pid is the subshell's, so killing it can leave smtp-sink or
# smtp-source running, and their sessions would count in the next mode.
ns_empty() { [ -z "$(ip netns pids "$1" 2>/dev/null)" ]; }
stop_ns_procs() {
	local ns
	for ns in "$@"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
		busywait 10000 ns_empty "$ns" ||
			ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
	done
}

mode() {	# helper|nohelper|untracked
	st_helper_detach
	in_g conntrack -F >/dev/null 2>&1
	case $1 in
	helper) st_helper_attach ;;
	nohelper) st_conntrack_only ;;
	untracked) ;;	# no ct rule in the gateway: conntrack stays off
	esac
}

# ---------------------------------------------------------------- throughput
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
mean() { printf '%s\n' "$@" | awk '{ s += $1 } END { printf "%.2f", s / NR }'; }

bench_throughput() {
	in_s smtp-sink -u nobody -t 120 $S4:25 256 > "$ST_TMP/sink.log" 2>&1 &
	st_wait_listen "$NS_S" 25 || die "smtp-sink"

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
	H=$(mean "${TH[@]}"); N=$(mean "${TN[@]}")
	R=$(awk -v h="$H" -v n="$N" 'BEGIN { printf "%.3f", (n > 0 ? h / n : 0) }')
	say "throughput helper: $H MB/s"
	say "throughput conntrack-only: $N MB/s"
	say "throughput ratio helper/conntrack-only: $R (target >= 0.9)"
	stop_ns_procs "$NS_S"
}

# ---------------------------------------------------------------- memory
# slab_snap FILE: "cache bytes" for every cache (active objects x size)
slab_snap() {
	sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null
	sleep 2
	awk 'NR > 2 { print $1, $2 * $4 }' /proc/slabinfo | LC_ALL=C sort > "$1"
}
# slab_diff A B: "cache bytes(B) - bytes(A)" for caches that changed
slab_diff() {
	LC_ALL=C join -a1 -a2 -e0 -o 0,1.2,2.2 "$1" "$2" |
		awk '$3 != $2 { print $1, $3 - $2 }'
}
slab_objsize() { awk -v c="$1" '$1 == c { print $4 }' /proc/slabinfo; }
session_count() {	# last running count smtp-source -c printed
	[ -r "$1" ] && tr '\r' '\n' < "$1" | grep -E '^[0-9]+$' | tail -n1
}

idle() {	# MODE: leaves $ST_TMP/delta.MODE and $ST_TMP/up.MODE
	local m=$1 cp up=0 i t1
	mode $m || return 1
	in_s smtp-sink -u nobody -m $((SESSIONS + 16)) -t 3600 $S4:25 4096 \
		> "$ST_TMP/idle-sink.$m" 2>&1 &
	st_wait_listen "$NS_S" 25 || return 1
	slab_snap "$ST_TMP/slab0.$m"
	t1=$(now)
	# one message per session, then every session waits an hour on its
	# open connection (-d: no QUIT; -m 2N: the second message never starts)
	in_c unshare -u sh -c 'hostname client.test && exec "$@"' sh \
		smtp-source -c -d -s "$SESSIONS" -m $((SESSIONS * 2)) -w 3600 \
		-f bench@client.test -t rcpt@server.test $S4:25 \
		> "$ST_TMP/idle-source.$m" 2>&1 &
	cp=$!
	for i in $(seq "$IDLE_WAIT"); do
		up=$(session_count "$ST_TMP/idle-source.$m")
		[ "${up:-0}" -ge "$SESSIONS" ] && break
		kill -0 $cp 2>/dev/null || break
		sleep 1
	done
	up=${up:-0}
	if ! kill -0 $cp 2>/dev/null; then
		# the sessions closed with it: nothing left to measure
		say "  $m: smtp-source exited after $up sessions: $(tr '\r' '\n' < "$ST_TMP/idle-source.$m" | grep -v '^[0-9]*$' | tail -n 2)"
		say "  $m: smtp-sink: $(tail -n 2 "$ST_TMP/idle-sink.$m")"
		in_s nstat -az TcpExtListenOverflows TcpExtListenDrops TcpExtTCPReqQFullDrop 2>/dev/null | sed 's/^/bench:   server: /'
		stop_ns_procs "$NS_C" "$NS_S"
		return 1
	fi
	[ "$up" -ge "$SESSIONS" ] ||
		say "  $m: only $up of $SESSIONS sessions idle after ${IDLE_WAIT}s; measuring those"
	say "  $m: $up sessions idle after $(elapsed "$t1")s; gateway conntrack entries: $(in_g conntrack -C 2>/dev/null)"
	slab_snap "$ST_TMP/slab1.$m"
	slab_diff "$ST_TMP/slab0.$m" "$ST_TMP/slab1.$m" > "$ST_TMP/delta.$m"
	echo "$up" > "$ST_TMP/up.$m"
	stop_ns_procs "$NS_C" "$NS_S"
	in_g conntrack -F >/dev/null 2>&1
}

# per_session DELTA N: "cache bytes-per-session", sorted for join
per_session() { awk -v n="$2" '{ printf "%s %.0f\n", $1, $2 / n }' "$1" | LC_ALL=C sort; }
per_total() { awk '{ s += $2 } END { print s + 0 }' "$1"; }
per_total_col() { awk -v c="$1" '{ s += $c } END { print s + 0 }' "$ST_TMP/tracking"; }
ct_caches_col() {
	awk -v c="$1" '$1 ~ /^(nf_conntrack|smtp_conn|kmalloc-[0-9]+k?)$/ { s += $c }
		END { print s + 0 }' "$ST_TMP/tracking"
}

bench_memory() {
	local m up
	[ -r /proc/slabinfo ] || die "no /proc/slabinfo"
	grep -q slab_nomerge /proc/cmdline ||
		say "WARNING: booted without slab_nomerge; merged caches blur the breakdown"
	say "memory: $SESSIONS concurrent idle smtp-source sessions in each mode"
	for m in untracked nohelper helper; do
		idle $m || die "idle sessions ($m)"
		up=$(cat "$ST_TMP/up.$m")
		[ "$up" -gt 0 ] || die "no idle session came up ($m)"
		per_session "$ST_TMP/delta.$m" "$up" > "$ST_TMP/per.$m"
	done

	# what tracking adds per session, cache by cache: the untracked run
	# (client and server sockets only) subtracted from each mode
	LC_ALL=C join -a1 -a2 -e0 -o 0,1.2,2.2 "$ST_TMP/per.untracked" "$ST_TMP/per.nohelper" \
		> "$ST_TMP/per.un"
	LC_ALL=C join -a1 -a2 -e0 -o 0,1.2,1.3,2.2 "$ST_TMP/per.un" "$ST_TMP/per.helper" |
		awk '{ print $1, $3 - $2, $4 - $2 }' > "$ST_TMP/tracking"
	say "  per-session slab growth over the untracked run, by cache (bytes, |value| > 4):"
	say "    cache                    conntrack-only  helper"
	awk '$2 > 4 || $2 < -4 || $3 > 4 || $3 < -4 { printf "bench:     %-24s %14d %7d\n", $1, $2, $3 }' "$ST_TMP/tracking"
	say "  object sizes: nf_conntrack $(slab_objsize nf_conntrack) B, smtp_conn $(slab_objsize smtp_conn) B"
	say "  smtp_conn objects per helper session: $(awk -v s="$(slab_objsize smtp_conn)" '$1 == "smtp_conn" { printf "%.3f", $2 / s }' "$ST_TMP/per.helper")"
	say "  all caches (sockets' run-to-run noise included): untracked $(per_total "$ST_TMP/per.untracked") B/session, conntrack-only $(per_total_col 2) B more, helper $(per_total_col 3) B more"
	# the caches conntrack allocates from: the entry, its extension area
	# (plain kmalloc; sockets' buffers are in the kmalloc-cg caches) and the
	# helper's engine state
	CT=$(ct_caches_col 2); HL=$(ct_caches_col 3)
	say "kernel memory per tracked SMTP connection (nf_conntrack + extensions + smtp_conn): helper $HL B, conntrack-only baseline $CT B, added by the helper $((HL - CT)) B"
}

[ "$ROUNDS" -gt 0 ] && bench_throughput
[ "$SESSIONS" -gt 0 ] && bench_memory
say "done in $(elapsed "$BENCH_T0")s"
exit 0
