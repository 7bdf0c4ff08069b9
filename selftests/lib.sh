#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Shared helpers for the smtpguard selftests (kselftest style).  Source it:
#	. "$(dirname "$0")/lib.sh"
#
#  KTAP:      ktap_header, ktap_plan N, ktap_ok/ktap_fail/ktap_skip DESC,
#             ktap_result RC DESC, ktap_msg TEXT, ktap_finished, ktap_skip_all
#  checks:    checktool TOOL..., require_root, require_vm, busywait MS CMD...
#  cleanup:   defer CMD... (run in reverse order on exit), bg_track PID
#  topology:  setup_ns VAR..., setup_topo (client/gw/server, see below)
#  module:    load_module [PARAMS], unload_module, attach_helper [NS],
#             detach_helper [NS], ct_helper_flows [NS]
#  SMTP:      start_sink DIR [smtp-sink options], sink_dump_with MARKER,
#             swaks_send FAMILY MARKER [swaks options], smtp_hold ...
#
# Topology (setup_topo):
#   $NS_CLIENT c-gw 10.0.1.2/24 fd00:1::2/64
#        <-> gw-c  $NS_GW  10.0.1.1 fd00:1::1  (forwarding v4+v6)
#            gw-s          10.0.2.1 fd00:2::1
#        <-> s-gw $NS_SERVER 10.0.2.2/24 fd00:2::2/64

ksft_pass=0
ksft_fail=1
ksft_xfail=2
ksft_xpass=3
ksft_skip=4

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
TOPDIR=${TOPDIR:-$(cd "$LIB_DIR/.." && pwd -P)}

# Module under test: per-kernel build, overridable; relative paths are
# relative to the project directory.
SMTPGUARD_KO=${SMTPGUARD_KO:-build/$(uname -r)/nf_conntrack_smtp.ko}
case "$SMTPGUARD_KO" in /*) ;; *) SMTPGUARD_KO=$TOPDIR/$SMTPGUARD_KO ;; esac
SMTPGUARD_MOD=nf_conntrack_smtp

CLIENT4=10.0.1.2; GW4_C=10.0.1.1; GW4_S=10.0.2.1; SERVER4=10.0.2.2
CLIENT6=fd00:1::2; GW6_C=fd00:1::1; GW6_S=fd00:2::1; SERVER6=fd00:2::2

# ------------------------------------------------------------------ KTAP
KTAP_CNT=0; KTAP_PASS=0; KTAP_FAIL=0; KTAP_SKIP=0; KTAP_XFAIL=0; KTAP_PLAN=
KTAP_HEADER_DONE=

ktap_header() {
	[ -n "$KTAP_HEADER_DONE" ] && return
	KTAP_HEADER_DONE=1
	echo "TAP version 13"
}

ktap_plan() {	# N
	ktap_header
	KTAP_PLAN=$1
	echo "1..$1"
}

# ktap_msg TEXT: diagnostic line(s), each prefixed with "# "
ktap_msg() {
	local l
	while IFS= read -r l; do echo "# $l"; done <<<"$*"
}

ktap_ok() {
	KTAP_CNT=$((KTAP_CNT + 1)); KTAP_PASS=$((KTAP_PASS + 1))
	echo "ok $KTAP_CNT $*"
}

ktap_fail() {
	KTAP_CNT=$((KTAP_CNT + 1)); KTAP_FAIL=$((KTAP_FAIL + 1))
	echo "not ok $KTAP_CNT $*"
}

ktap_skip() {	# DESC [REASON]
	KTAP_CNT=$((KTAP_CNT + 1)); KTAP_SKIP=$((KTAP_SKIP + 1))
	echo "ok $KTAP_CNT $1 # SKIP${2:+ $2}"
}

ktap_xfail() {	# DESC [REASON]
	KTAP_CNT=$((KTAP_CNT + 1)); KTAP_XFAIL=$((KTAP_XFAIL + 1))
	echo "ok $KTAP_CNT $1 # XFAIL${2:+ $2}"
}

# ktap_result RC DESC: 0 -> ok, $ksft_skip -> skip, anything else -> not ok
ktap_result() {
	local rc=$1; shift
	case "$rc" in
	0) ktap_ok "$@" ;;
	"$ksft_skip") ktap_skip "$@" ;;
	*) ktap_fail "$@" ;;
	esac
}

# ktap_check DESC CMD...: run CMD, report its result as one test
ktap_check() {
	local d=$1; shift
	"$@"; ktap_result $? "$d"
}

ktap_print_totals() {
	echo "# Totals: pass:$KTAP_PASS fail:$KTAP_FAIL xfail:$KTAP_XFAIL xpass:0 skip:$KTAP_SKIP error:0"
}

# ktap_finished: totals, then exit: 1 if anything failed (or the plan was not
# met), 4 if everything was skipped, else 0.
ktap_finished() {
	local rc=0
	if [ -n "$KTAP_PLAN" ] && [ "$KTAP_CNT" -ne "$KTAP_PLAN" ]; then
		echo "# Planned $KTAP_PLAN tests but ran $KTAP_CNT"
		rc=$ksft_fail
	fi
	ktap_print_totals
	if [ "$KTAP_FAIL" -gt 0 ]; then
		rc=$ksft_fail
	elif [ "$rc" = 0 ] && [ "$KTAP_PASS" -eq 0 ] && [ "$KTAP_SKIP" -gt 0 ]; then
		rc=$ksft_skip
	fi
	exit $rc
}

# ktap_bail WHY: skip everything left in the plan and finish
ktap_bail() {
	while [ "$KTAP_CNT" -lt "$KTAP_PLAN" ]; do ktap_skip "not-run-$((KTAP_CNT + 1))" "$1"; done
	ktap_finished
}

# ktap_skip_all REASON: the whole test cannot run
ktap_skip_all() {
	ktap_header
	if [ -z "$KTAP_PLAN" ]; then
		echo "1..0 # SKIP $*"
	else
		ktap_msg "SKIP: $*"
		while [ "$KTAP_CNT" -lt "$KTAP_PLAN" ]; do ktap_skip "not-run-$((KTAP_CNT + 1))" "$*"; done
		ktap_print_totals
	fi
	exit $ksft_skip
}

# ------------------------------------------------------------------ checks
# checktool TOOL...: skip the whole test (exit 4) if a tool is missing.
# "TOOL" may be "perl:Module::Name" to require a perl module.
checktool() {
	local t
	for t in "$@"; do
		case "$t" in
		perl:*)
			perl -M"${t#perl:}" -e 1 2>/dev/null ||
				ktap_skip_all "missing perl module ${t#perl:}"
			;;
		*)
			command -v "$t" >/dev/null 2>&1 ||
				ktap_skip_all "missing tool: $t (run scripts/install-deps)"
			;;
		esac
	done
}

require_root() {
	[ "$(id -u)" = 0 ] || ktap_skip_all "must run as root"
}

# The host cannot load modules and its netfilter must not be touched: the
# tests run in the VM (selftests/vm/run sets SMTPGUARD_VM=1).
require_vm() {
	[ -n "${SMTPGUARD_VM:-}" ] || [ -n "${SMTPGUARD_ALLOW_HOST:-}" ] ||
		ktap_skip_all "run inside the VM: selftests/vm/run KVER selftests/$(basename "$0") (KVER from /boot/vmlinuz-KVER)"
	require_root
}

# busywait TIMEOUT_MS CMD...: retry CMD every 100 ms until it succeeds or
# TIMEOUT_MS elapsed; returns CMD's last exit status.
busywait() {
	local timeout_ms=$1; shift
	local start rc
	start=$(lib_now_ms)
	while :; do
		"$@"; rc=$?
		[ $rc = 0 ] && return 0
		[ $(($(lib_now_ms) - start)) -ge "$timeout_ms" ] && return $rc
		sleep 0.1
	done
}
# milliseconds since the epoch, without forking where bash >= 5 allows
lib_now_ms() {
	if [ -n "${EPOCHREALTIME:-}" ]; then
		local t=${EPOCHREALTIME/[.,]/}
		echo $((t / 1000))
	else
		date +%s%3N
	fi
}

# ------------------------------------------------------------------ cleanup
LIB_DEFER=()
LIB_NS=()
LIB_PIDS=()
LIB_TMP=

# defer CMD...: run CMD (as one shell string) at exit, last registered first
defer() { LIB_DEFER+=("$*"); }
bg_track() { LIB_PIDS+=("$@"); }

lib_cleanup() {
	local i p ns
	for ((i = ${#LIB_DEFER[@]} - 1; i >= 0; i--)); do
		eval "${LIB_DEFER[i]}" 2>/dev/null
	done
	for p in "${LIB_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${LIB_PIDS[@]}"; do
		busywait 2000 lib_pid_gone "$p" || kill -9 "$p" 2>/dev/null
	done
	# anything still running in a namespace keeps it alive after "ip netns
	# del", and with it its ct helper objects, which pin the module
	for ns in "${LIB_NS[@]}"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	[ -n "$LIB_TMP" ] && [ -z "${KEEP_TMP:-}" ] && rm -rf "$LIB_TMP"
	return 0
}
lib_pid_gone() { ! kill -0 "$1" 2>/dev/null; }
trap lib_cleanup EXIT

# lib_tmpdir: the script's private scratch directory (removed at exit
# unless KEEP_TMP). Made here, in the script's own shell: callers take it
# as $(lib_tmpdir), a subshell that could not hand a new one back.
LIB_TMP=$(mktemp -d "${TMPDIR:-/tmp}/smtpguard-st.XXXXXX") && chmod 755 "$LIB_TMP" ||
	LIB_TMP=
lib_tmpdir() {
	[ -n "$LIB_TMP" ] || return 1
	echo "$LIB_TMP"
}

# ------------------------------------------------------------------ netns
# setup_ns VAR...: create one namespace per VAR, named var-<random>, store the
# name in $VAR, bring lo up, disable DAD; all removed at exit.  (Few
# processes: every exec costs ~0.1-0.3 s under TCG.)
setup_ns() {
	local var name names=() batch=
	for var in "$@"; do
		name="${var,,}-$(printf '%04x%04x' $RANDOM $RANDOM)"
		names+=("$name")
		printf -v "$var" '%s' "$name"
		batch+="netns add $name"$'\n'
	done
	ip -batch - <<<"$batch" || return 1
	LIB_NS+=("${names[@]}")
	for name in "${names[@]}"; do
		ip -n "$name" link set lo up || return 1
		ns_sysctl "$name" net.ipv6.conf.all.accept_dad=0 \
			net.ipv6.conf.default.accept_dad=0 || return 1
	done
}

# ns_sysctl NS KEY=VALUE...: set sysctls in NS.  nsenter --net is much
# cheaper than "ip netns exec" (no mount namespace, no sysfs remount), and
# net.* sysctls follow the network namespace of the writer.
ns_sysctl() {
	local ns=$1; shift
	nsenter --net=/run/netns/"$ns" sysctl -qw "$@" >/dev/null
}

lib_ping() {	# NS ADDR
	local p=ping
	command -v ping >/dev/null 2>&1 || p="busybox ping"
	case "$2" in *:*) [ "$p" = ping ] && p="ping -6" || p="busybox ping6" ;; esac
	nsenter --net=/run/netns/"$1" $p -c1 -W1 -q "$2" >/dev/null 2>&1
}

# topo_host NS DEV ADDR4 ADDR6 GW4 GW6: an end host's address and routes
topo_host() {
	ip -n "$1" -batch - <<-EOF
	addr add $3/24 dev $2
	addr add $4/64 dev $2 nodad
	link set $2 up
	route add default via $5
	route add ::/0 via $6
	EOF
}

# setup_topo: client <-> gw <-> server (see the top of this file)
setup_topo() {
	setup_ns NS_CLIENT NS_GW NS_SERVER || return 1
	ip -batch - <<-EOF || return 1
	link add c-gw netns $NS_CLIENT type veth peer name gw-c netns $NS_GW
	link add s-gw netns $NS_SERVER type veth peer name gw-s netns $NS_GW
	EOF
	topo_host "$NS_CLIENT" c-gw $CLIENT4 $CLIENT6 $GW4_C $GW6_C || return 1
	topo_host "$NS_SERVER" s-gw $SERVER4 $SERVER6 $GW4_S $GW6_S || return 1
	ip -n "$NS_GW" -batch - <<-EOF || return 1
	addr add $GW4_C/24 dev gw-c
	addr add $GW6_C/64 dev gw-c nodad
	addr add $GW4_S/24 dev gw-s
	addr add $GW6_S/64 dev gw-s nodad
	link set gw-c up
	link set gw-s up
	EOF
	ns_sysctl "$NS_GW" net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 || return 1

	busywait 10000 lib_ping "$NS_CLIENT" $SERVER4 &&
		busywait 10000 lib_ping "$NS_CLIENT" $SERVER6 || {
		ktap_msg "topology: no connectivity client -> server"
		return 1
	}
}

# ------------------------------------------------------------------ module
module_loaded() { [ -d /sys/module/$SMTPGUARD_MOD ]; }

# load_module [PARAM=VALUE...]: insmod $SMTPGUARD_KO unless already loaded.
# Returns $ksft_skip if the .ko is missing, 1 on failure.
load_module() {
	local d
	modprobe -q nf_conntrack && modprobe -q nf_tables && modprobe -q nft_ct || {
		ktap_msg "cannot load nf_conntrack/nf_tables/nft_ct"
		return 1
	}
	if module_loaded; then
		[ $# -gt 0 ] && ktap_msg "$SMTPGUARD_MOD already loaded, ignoring params: $*"
		return 0
	fi
	if [ ! -r "$SMTPGUARD_KO" ]; then
		ktap_msg "no module at $SMTPGUARD_KO (build it: make module KDIR=/usr/src/linux-headers-$(uname -r))"
		return $ksft_skip
	fi
	for d in $(modinfo -F depends "$SMTPGUARD_KO" 2>/dev/null | tr ',' ' '); do
		modprobe -q "$d" || { ktap_msg "cannot load dependency $d"; return 1; }
	done
	insmod "$SMTPGUARD_KO" "$@" || { ktap_msg "insmod $SMTPGUARD_KO $* failed"; return 1; }
}

# ktap_topo_module: results 1 and 2 of a test that counts its own setup:
# the topology, then the module; finishes the test if either fails.
ktap_topo_module() {
	local rc
	setup_topo; ktap_result $? "topology: client <-> gw <-> server, v4+v6"
	[ "$KTAP_FAIL" = 0 ] || ktap_bail "no topology"
	load_module; rc=$?
	ktap_result $rc "module: insmod $(basename "$SMTPGUARD_KO")"
	[ $rc = $ksft_skip ] && ktap_bail "no module for $(uname -r) at $SMTPGUARD_KO"
	[ $rc = 0 ] || ktap_bail "module did not load"
}

# kmod_has PROBE: kmod/probes/PROBE.c compiled for the kernel the module
# under test was built for (its compat-probed.h): kernel facts, not versions.
kmod_has() {
	grep -qx "#define SMTPGUARD_HAVE_$1 1" \
		"$(dirname "$SMTPGUARD_KO")/kmod/compat-probed.h" 2>/dev/null
}

unload_module() {
	module_loaded || return 0
	rmmod $SMTPGUARD_MOD
}

# attach_helper [NS] [PORT]: assign ct helper "smtp" to TCP/PORT (25) flows
# in NS (default $NS_GW), for forwarded (prerouting) and local (output)
# traffic, IPv4 and IPv6.
attach_helper() {
	local ns=${1:-$NS_GW} port=${2:-25}
	ip netns exec "$ns" nft -f - <<-EOF
	table inet smtpguard {
		ct helper smtp {
			type "smtp" protocol tcp
			l3proto inet
		}
		chain pre {
			type filter hook prerouting priority filter; policy accept;
			# INVALID (bad checksum, out of window) never reaches the helper
			tcp dport $port ct state invalid drop
			tcp sport $port ct state invalid drop
			tcp dport $port ct helper set "smtp"
		}
		chain out {
			type filter hook output priority filter; policy accept;
			tcp dport $port ct helper set "smtp"
		}
	}
	EOF
}

# attach_nfq QUEUE [NS] [PORT] [TABLE]: queue forwarded TCP/PORT (25)
# traffic in NS (default $NS_GW), both directions, to smtpguard-nfq's QUEUE
# ("4-5": a range, picked by address hash) in table TABLE (smtpguard_nfq),
# dropping what conntrack finds INVALID (the engine would not see it);
# conntrack also reassembles fragments before the queue.
attach_nfq() {
	local q=$1 ns=${2:-$NS_GW} port=${3:-25} table=${4:-smtpguard_nfq}
	ip netns exec "$ns" nft -f - <<-EOF
	table inet $table {
		chain forward {
			type filter hook forward priority filter; policy accept;
			tcp dport $port ct state invalid drop
			tcp sport $port ct state invalid drop
			tcp dport $port queue num $q
			tcp sport $port queue num $q
		}
	}
	EOF
}

detach_helper() {
	ip netns exec "${1:-$NS_GW}" nft delete table inet smtpguard 2>/dev/null
}

# ct_helper_flows [NS] [PORT]: conntrack entries with dport PORT and helper=smtp
ct_helper_flows() {
	ip netns exec "${1:-$NS_GW}" conntrack -L -p tcp --dport "${2:-25}" 2>/dev/null |
		grep 'helper=smtp'
}

# ------------------------------------------------------------------ SMTP
# start_sink DIR [smtp-sink options]: smtp-sink in $NS_SERVER on
# $SERVER4:25 and [$SERVER6]:25 (it binds one family per socket), verbose
# transcript in DIR/sink4.log / sink6.log, every transaction dumped to
# DIR/dump/<min>.<random>.
start_sink() {
	local dir=$1; shift
	local a log
	mkdir -p "$dir/dump" && chmod 1777 "$dir/dump" || return 1
	for a in "$SERVER4" "[$SERVER6]"; do
		case "$a" in \[*) log=$dir/sink6.log ;; *) log=$dir/sink4.log ;; esac
		ip netns exec "$NS_SERVER" smtp-sink -v -u nobody -h smtp-sink.test \
			-d "$dir/dump/%M." "$@" "$a:25" 64 >"$log" 2>&1 &
		bg_track $!
	done
	busywait 10000 sink_listening || {
		ktap_msg "smtp-sink did not start:"; ktap_msg "$(cat "$dir"/sink*.log)"
		return 1
	}
}
sink_listening() {
	[ "$(ip netns exec "$NS_SERVER" ss -Hltn 'sport = :25' | wc -l)" -ge 2 ]
}

# sink_dump_with DIR MARKER: names of dump files containing MARKER
sink_dump_with() { grep -l -F -- "$2" "$1"/dump/* 2>/dev/null; }

# swaks_send 4|6 MARKER [swaks options]: a full SMTP session from the client
# namespace to the server through the gateway; prints the transcript.
swaks_send() {
	local fam=$1 marker=$2 server; shift 2
	[ "$fam" = 6 ] && server=$SERVER6 || server=$SERVER4
	ip netns exec "$NS_CLIENT" timeout 120 swaks -$fam --server "$server" --port 25 \
		--helo client.test --from "sender-$marker@client.test" \
		--to "rcpt-$marker@server.test" \
		--header "Subject: smtpguard selftest $marker" \
		--header "X-Marker: $marker" \
		--body "Hello through the gateway. Marker: $marker" \
		--timeout 60 "$@"
}

# smtp_hold DIR 4|6: connect from the client, read the banner, EHLO, then
# hold the connection until DIR/go exists; then NOOP + QUIT and exit 0 if the
# server answered 250 and 221.  DIR/ready appears once EHLO was answered.
# Run it in the background; bg_track its pid.
smtp_hold() {
	local dir=$1 fam=$2 server
	[ "$fam" = 6 ] && server=$SERVER6 || server=$SERVER4
	exec ip netns exec "$NS_CLIENT" python3 - "$server" "$dir" <<-'PY'
	import os, socket, sys, time
	server, d = sys.argv[1], sys.argv[2]
	s = socket.create_connection((server, 25), timeout=60)
	f = s.makefile('rb')
	def reply():
	    lines = []
	    while True:
	        l = f.readline().decode(errors='replace').rstrip('\r\n')
	        if not l:
	            raise SystemExit('hold: connection closed')
	        lines.append(l)
	        print('hold: S: ' + l, flush=True)
	        if len(l) < 4 or l[3] != '-':
	            return lines
	def cmd(c, want):
	    print('hold: C: ' + c, flush=True)
	    s.sendall(c.encode() + b'\r\n')
	    r = reply()
	    if not r[-1].startswith(want):
	        raise SystemExit('hold: %s: expected %s, got %r' % (c, want, r[-1]))
	if not reply()[-1].startswith('220'):
	    raise SystemExit('hold: bad banner')
	cmd('EHLO hold.test', '250')
	open(os.path.join(d, 'ready'), 'w').close()
	t = time.time() + 600
	while not os.path.exists(os.path.join(d, 'go')):
	    if time.time() > t:
	        raise SystemExit('hold: nobody said go')
	    time.sleep(0.1)
	cmd('NOOP', '250')
	cmd('QUIT', '221')
	print('hold: done', flush=True)
	PY
}
