#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench-vm: figures, not a test.  In the VM, through the gateway:
#  1. bulk SMTP DATA throughput (smtp-source -> smtp-sink), alternating
#     rounds of each mode (BENCH_MODES): conntrack only (nohelper, the
#     baseline), the helper attached (helper), smtpguard-nfq on an NFQUEUE
#     (nfq), and Suricata 7 inline on an NFQUEUE with Debian's packaged
#     configuration, the SMTP parser and a VRFY/EXPN drop rule, at full
#     stream depth (suricata) and at its packaged 1 MB depth (suricata1mb);
#     every mode keeps conntrack on.  Prints each mode's best and mean MB/s,
#     its ratio to conntrack only (targets: helper >= 0.9, nfq >= 0.7 and
#     ahead of suricata), client retransmissions, and the packets each
#     queue lost (kernel queue_dropped + queue_user_dropped);
#  2. kernel memory per tracked SMTP connection: smtp-source opens N
#     sessions (default 10000), delivers one message on each and keeps them
#     all open and idle (-d -w); measured once with the helper and once with
#     conntrack only.  Figures come from /proc/slabinfo (active objects x
#     object size, per cache; the VM boots with slab_nomerge so smtp_conn and
#     the kmalloc caches that hold conntrack extensions are not folded into
#     other caches).  Every session costs sockets in the client and server
#     namespaces too; those are the same in both modes, so the helper's cost
#     is the per-session difference, shown cache by cache.
# Debian's Suricata needs SSE4.2, which qemu's default CPU model lacks;
# selftests/vm/run passes -cpu max (VM_CPU), which has it under TCG, and
# the benchmark checks /proc/cpuinfo before starting Suricata.
# BENCH_PARTS: "throughput memory" (default), or either alone; with
# BENCH_ROUNDS=0 the throughput part only probes each mode's behaviour.
# Exit 0 unless the harness itself broke.
. "$(dirname "$0")/lib_smtp.sh"

st_require ip nft conntrack smtp-sink smtp-source python3 nstat
st_need_vm

MSGS=${BENCH_MSGS:-5}
LEN=${BENCH_LEN:-10000000}
ROUNDS=${BENCH_ROUNDS:-2}
SESSIONS=${BENCH_SESSIONS:-10000}
IDLE_WAIT=${BENCH_IDLE_WAIT:-900}
PARTS=${BENCH_PARTS:-throughput memory}
MODES=${BENCH_MODES:-nohelper helper nfq suricata suricata1mb}
NFQ=$TOPDIR/userspace/smtpguard-nfq
# one queue per queueing mode, each daemon started once
declare -A QUEUE=([nfq]=0 [suricata]=1 [suricata1mb]=2)
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

# queue_rules QUEUE: conntrack on as in conntrack-only, and both directions
# of port 25 to QUEUE (no bypass: nothing passes without a verdict)
queue_rules() {
	st_conntrack_only || return 1
	in_g nft -f - <<-EOF
	table inet bench_queue {
		chain forward {
			type filter hook forward priority filter; policy accept;
			tcp dport 25 ct state invalid drop
			tcp sport 25 ct state invalid drop
			tcp dport 25 queue num $1
			tcp sport 25 queue num $1
		}
	}
	EOF
}

mode() {	# helper|nohelper|untracked|nfq|suricata|suricata1mb
	st_helper_detach
	in_g nft delete table inet bench_queue 2>/dev/null
	in_g conntrack -F >/dev/null 2>&1
	case $1 in
	helper) st_helper_attach ;;
	nohelper) st_conntrack_only ;;
	untracked) ;;	# no ct rule in the gateway: conntrack stays off
	nfq|suricata|suricata1mb) queue_rules "${QUEUE[$1]}" ;;
	esac
}

label() {
	case $1 in
	nohelper) echo "conntrack-only" ;;
	helper) echo "kernel helper" ;;
	nfq) echo "smtpguard-nfq" ;;
	suricata) echo "Suricata, full depth" ;;
	suricata1mb) echo "Suricata, 1 MB depth" ;;
	esac
}

# ---------------------------------------------------------------- daemons
nfq_start() {
	[ -x "$NFQ" ] || die "no $NFQ (make userspace)"
	ip netns exec "$NS_G" "$NFQ" -q "${QUEUE[nfq]}" -f esmtp -j \
		> "$ST_TMP/nfq.out" 2> "$ST_TMP/nfq.err" &
	NFQ_PID=$!; ST_PIDS="$ST_PIDS $NFQ_PID"
	busywait 10000 grep -q "policy esmtp" "$ST_TMP/nfq.err" ||
		die "smtpguard-nfq did not start: $(cat "$ST_TMP/nfq.err")"
	sed 's/^/bench:   /' "$ST_TMP/nfq.err"
}

# suri_start MODE DEPTH: Debian's suricata.yaml; only our rules; the
# stream depth; one worker thread on the mode's queue
suri_start() {
	local m=$1 depth=$2 d=$ST_TMP/$1
	command -v suricata >/dev/null || die "no suricata (scripts/install-deps)"
	# Debian's build needs it; qemu's default model lacks it (VM_CPU)
	grep -qw sse4_2 /proc/cpuinfo || die "the VM's CPU has no SSE4.2 (set VM_CPU, e.g. max)"
	mkdir -p "$d"
	cat > "$d/smtp.rules" <<-'EOF'
	drop smtp any any -> any 25 (msg:"SMTP VRFY"; flow:to_server,established; content:"VRFY"; nocase; pcre:"/^VRFY\b/mi"; sid:9000001; rev:1;)
	drop smtp any any -> any 25 (msg:"SMTP EXPN"; flow:to_server,established; content:"EXPN"; nocase; pcre:"/^EXPN\b/mi"; sid:9000002; rev:1;)
	EOF
	ip netns exec "$NS_G" suricata -c /etc/suricata/suricata.yaml \
		-q "${QUEUE[$m]}" --runmode workers -S "$d/smtp.rules" -l "$d" \
		--pidfile "$d/suricata.pid" \
		--set stream.reassembly.depth="$depth" \
		--set unix-command.enabled=no \
		--set app-layer.protocols.smtp.enabled=yes \
		> "$d/stdout" 2>&1 &
	ST_PIDS="$ST_PIDS $!"
	busywait 180000 grep -q "Engine started" "$d/stdout" "$d/suricata.log" ||
		die "suricata ($m) did not start: $(tail -n 5 "$d/stdout")"
	say "  suricata $(suricata -V 2>/dev/null | grep -o '[0-9][0-9.]*' | head -n1) ($m): queue ${QUEUE[$m]}, stream depth $depth, $(grep -c ^drop "$d/smtp.rules") drop rules, ready after $(elapsed "$BENCH_T0")s"
}

# probe KIND: what the gateway's current mode does with a VRFY before
# EHLO (early), after EHLO (vrfy), after a 1.1 MB message (late), and with
# a message whose body has lines starting with VRFY and EXPN (body)
probe() {
	local out reply f=$ST_TMP/vrfy-body.eml
	local mail=('cmd EHLO client.test 250' 'cmd MAIL FROM:<a@client.test> 250'
		    'cmd RCPT TO:<b@server.test> 250' 'cmd DATA 354')
	local steps=()
	case $1 in
	early) steps=('line VRFY postmaster' read) ;;
	vrfy) steps=('cmd EHLO client.test 250' 'line VRFY postmaster' read) ;;
	late)	# 1.1 MB of plain text (datagen's text has VRFY lines)
		{ printf 'Subject: big\n\n'
		  yes 'Plain text, nothing here looks like a command.' | head -c 1100000; } > "$f"
		steps=("${mail[@]}" "data $f" 'expect 250' 'line VRFY postmaster' read) ;;
	late-split)	# the same, then VRFY one byte per segment
		{ printf 'Subject: big\n\n'
		  yes 'Plain text, nothing here looks like a command.' | head -c 1100000; } > "$f"
		steps=("${mail[@]}" "data $f" 'expect 250' 'bytewise on' 'pace 0.05'
		       'line VRFY postmaster' 'bytewise off' read) ;;
	body)
		printf '%s\n' 'Subject: minutes' '' 'Two lines of the text:' \
			'VRFY the figures before Friday' 'EXPN is on the agenda' > "$f"
		steps=("${mail[@]}" "data $f" read) ;;
	esac
	out=$(printf '%s\n' 'expect 220' "${steps[@]}" |
		in_c timeout 120 $SMTP_CLIENT -k -t 10 "$S4" 25 2>&1)
	# the first reply after the probe went out
	local after='^C: VRFY'
	[ "$1" = body ] && after='^C: <'
	reply=$(echo "$out" | awk -v a="$after" '$0 ~ a { v = 1; next } v && /^S: / { print $2; exit }')
	if [ "$1" = body ]; then
		case $reply in
		250) echo "delivered" ;;
		"") echo "no reply: dropped" ;;
		*) echo "refused ($reply)" ;;
		esac
		return
	fi
	case $1 in late*) false ;; *) true ;; esac || {
		# was the message itself delivered?
		case $(echo "$out" | awk '/^C: </ { v = 1; next } v && /^S: / { print $2; exit }') in
		250) printf 'message delivered, then VRFY ' ;;
		*) printf 'message dropped, then VRFY ' ;;
		esac
	}
	case $reply in
	500) echo "masked (500)" ;;
	"") echo "no reply: dropped" ;;
	*) echo "reached the server ($reply)" ;;
	esac
}

# queue_lost QUEUE: the kernel's dropped + user_dropped for QUEUE
queue_lost() {
	in_g awk -v q="$1" '$1 == q { print $6 + $7; f = 1 } END { if (!f) print "unbound" }' \
		/proc/net/netfilter/nfnetlink_queue
}
retrans() { in_c nstat -az TcpRetransSegs | awk '$1 == "TcpRetransSegs" { print $2 }'; }

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
best() { printf '%s\n' "$@" | awk '$1 > b { b = $1 } END { printf "%.2f", b }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

bench_throughput() {
	local m r v rt0 rt
	declare -A RUNS RETR
	in_s smtp-sink -u nobody -t 120 $S4:25 256 > "$ST_TMP/sink.log" 2>&1 &
	st_wait_listen "$NS_S" 25 || die "smtp-sink"

	say "throughput: modes: $MODES"
	for m in $MODES; do
		case $m in
		nfq) nfq_start ;;
		suricata) suri_start suricata 0 ;;
		suricata1mb) suri_start suricata1mb 1mb ;;
		esac
	done
	say "behaviour: VRFY before EHLO / after EHLO / after a 1.1 MB message / the same, VRFY one byte per segment; a message with VRFY and EXPN body lines:"
	for m in $MODES; do
		case $m in nfq|suricata|suricata1mb|helper)
			mode $m || die "nft ($m)"
			say "  $(label $m): $(probe early) / $(probe vrfy) / $(probe late) / $(probe late-split); $(probe body)" ;;
		esac
	done
	[ "$ROUNDS" -gt 0 ] || { stop_ns_procs "$NS_S" "$NS_G"; return 0; }
	say "throughput: $ROUNDS rounds x $MSGS messages x $LEN bytes, modes alternating"
	for r in $(seq "$ROUNDS"); do
		for m in $MODES; do
			mode $m || die "nft ($m)"
			rt0=$(retrans)
			v=$(run_source) || die "smtp-source failed ($m)"
			rt=$(( $(retrans) - rt0 ))
			[ $m = helper ] && ! st_helper_seen &&
				say "  WARNING: no helper seen on the flows in helper mode"
			say "  round $r $(label $m): $v MB/s, $rt retransmitted segments"
			RUNS[$m]="${RUNS[$m]} $v"; RETR[$m]=$(( ${RETR[$m]:-0} + rt ))
		done
	done
	mode nohelper
	local base=$(best ${RUNS[nohelper]:-0})
	say "throughput, best of $ROUNDS (MB/s) and ratio to conntrack-only:"
	say "  | configuration | best MB/s | mean MB/s | ratio (best) | retransmits | queue loss |"
	say "  |---|---|---|---|---|---|"
	for m in $MODES; do
		local b=$(best ${RUNS[$m]}) lost=-
		case $m in nfq|suricata|suricata1mb) lost=$(queue_lost "${QUEUE[$m]}") ;; esac
		say "  | $(label $m) | $b | $(mean ${RUNS[$m]}) | $(ratio "$b" "$base") | ${RETR[$m]} | $lost |"
		case $m in
		helper) say "throughput ratio helper/conntrack-only: $(ratio "$b" "$base") (target >= 0.9)" ;;
		nfq) NFQ_BEST=$b ;;
		suricata) SURI_BEST=$b ;;
		esac
	done
	if [ -n "${NFQ_BEST:-}" ]; then
		say "throughput ratio smtpguard-nfq/conntrack-only: $(ratio "$NFQ_BEST" "$base") (target >= 0.7)"
		[ -n "${SURI_BEST:-}" ] &&
			say "throughput ratio smtpguard-nfq/Suricata full depth: $(ratio "$NFQ_BEST" "$SURI_BEST") (target > 1)"
		kill -USR1 "$NFQ_PID"; sleep 1
		say "smtpguard-nfq counters: $(tail -n 1 "$ST_TMP/nfq.err")"
	fi
	for m in suricata suricata1mb; do
		[ -r "$ST_TMP/$m/fast.log" ] &&
			say "suricata ($m) alerts: $(wc -l < "$ST_TMP/$m/fast.log"):" \
				"$(grep -o 'SMTP [A-Z]*' "$ST_TMP/$m/fast.log" | sort | uniq -c | tr '\n' ' ')"
	done
	stop_ns_procs "$NS_S" "$NS_G"
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

# BENCH_ROUNDS=0: the behaviour probes only
case " $PARTS " in *" throughput "*) bench_throughput ;; esac
case " $PARTS " in *" memory "*) [ "$SESSIONS" -gt 0 ] && bench_memory ;; esac
say "done in $(elapsed "$BENCH_T0")s"
exit 0
