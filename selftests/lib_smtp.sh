#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# SMTP helpers for the smtpguard selftests that push real mail through the
# helper: smtp-sink and Postfix servers, swaks and smtp_client.py clients,
# message digests, policy loading.  Sources selftests/lib.sh (KTAP, topology,
# module loading, nft helper attachment) and wraps it in the st_* names the
# issue-4 scripts use.
#
# Topology (lib.sh setup_topo): client 10.0.1.2 / fd00:1::2 <-> gw <-> server
# 10.0.2.2 / fd00:2::2; the gateway forwards and runs the helper.

ST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
. "$ST_DIR/lib.sh"
SMTP_CLIENT="python3 $ST_DIR/smtp_client.py"

# --------------------------------------------------------------- KTAP
st_plan() { ktap_plan "$1"; }
st_diag() { ktap_msg "$*"; }
st_pass() { ktap_ok "$@"; }
st_fail() { ktap_fail "$@"; }
st_skip() { ktap_skip "$1" "$2"; }
# st_check NAME CMD...: pass if CMD succeeds
st_check() { local n=$1; shift; if "$@"; then ktap_ok "$n"; else ktap_fail "$n"; fi; }
st_finish() {
	[ -n "$KTAP_PLAN" ] && while [ "$KTAP_CNT" -lt "$KTAP_PLAN" ]; do
		ktap_skip "not-run-$((KTAP_CNT + 1))" "earlier failure"; done
	echo "# $KTAP_PASS passed, $KTAP_FAIL failed, $KTAP_SKIP skipped"
	ktap_finished
}
st_skip_all() { ktap_skip_all "$@"; }
st_require() { checktool "$@"; }
st_need_vm() { require_vm; }

# --------------------------------------------------------------- topology
C4=$CLIENT4; G4C=$GW4_C; G4S=$GW4_S; S4=$SERVER4
C6=$CLIENT6; G6C=$GW6_C; G6S=$GW6_S; S6=$SERVER6
# lib.sh interface names: client c-gw <-> gw-c [gw] gw-s <-> s-gw server
IF_C=c-gw; IF_GC=gw-c; IF_GS=gw-s; IF_S=s-gw

in_c() { ip netns exec "$NS_C" "$@"; }
in_g() { ip netns exec "$NS_G" "$@"; }

# st_queue_smtp TABLE QUEUE: attach_nfq in the gateway, port 25, table TABLE
st_queue_smtp() { attach_nfq "$2" "$NS_G" 25 "$1"; }

in_s() { ip netns exec "$NS_S" "$@"; }

# Background processes a test starts: add their pids to ST_PIDS (or use
# bg_track); st_cleanup (the EXIT trap) kills them, stops Postfix, then
# runs lib.sh's cleanup (deferred commands, namespaces, scratch directory).
ST_TMP=
ST_PIDS=
st_cleanup() {
	local p
	for p in $ST_PIDS; do kill "$p" 2>/dev/null; done
	pf_stop
	lib_cleanup
}
trap st_cleanup EXIT

st_topo() {
	ST_TMP=$(lib_tmpdir) || return 1
	setup_topo || return 1
	NS_C=$NS_CLIENT; NS_G=$NS_GW; NS_S=$NS_SERVER
}

# --------------------------------------------------------------- module
st_module_load() { load_module; }
st_module_unload() { unload_module; }
st_helper_attach() { attach_helper "${1:-$NS_G}"; }
st_helper_detach() { detach_helper "${1:-$NS_G}"; }

# Conntrack without the helper: same hooks, a ct expression so conntrack
# is active in the namespace (for the no-helper baseline).
st_conntrack_only() {
	local ns=${1:-$NS_G}
	ip netns exec "$ns" nft -f - <<-EOF
	table inet smtpguard {
		chain pre {
			type filter hook prerouting priority filter; policy accept;
			tcp dport 25 ct state new counter
		}
		chain out {
			type filter hook output priority filter; policy accept;
			tcp dport 25 ct state new counter
		}
	}
	EOF
}

# Does conntrack in the gateway show a port-25 flow with a helper?  ctnetlink
# dumps CTA_HELP only for flows that have one; the name should be "smtp"
# (st_helper_named checks that separately).
st_helper_seen() {
	in_g conntrack -L -p tcp --dport 25 2>/dev/null | grep -qE 'helper=(smtp)?( |$)'
}
st_helper_named() {
	local l
	l=$(in_g conntrack -L -p tcp --dport 25 2>/dev/null)
	echo "$l" | grep -q 'helper=smtp' && return 0
	echo "# conntrack -L in the gateway:"; echo "$l" | sed 's/^/#   /'
	return 1
}

# --------------------------------------------------------------- engine
# Tests that run through either engine pick it with SMTPGUARD_ENGINE:
# "module" (default: the kernel helper) or "nfq" (userspace/smtpguard-nfq,
# esmtp preset, on NFQUEUE 7; a thin *_nfq.sh wrapper sets it).
# st_engine_require at the start, st_engine_load after st_topo; then
# st_engine_on puts the engine in the gateway's path and st_engine_off takes
# it out again (the control runs).
ST_ENGINE=${SMTPGUARD_ENGINE:-module}
ST_NFQ=$TOPDIR/userspace/smtpguard-nfq
ST_NFQ_PID=
st_engine_require() {
	case $ST_ENGINE in
	module) ;;
	nfq) [ -x "$ST_NFQ" ] || st_skip_all "no $ST_NFQ (make -C userspace)" ;;
	*) st_skip_all "SMTPGUARD_ENGINE=$ST_ENGINE: want module or nfq" ;;
	esac
}
st_engine_load() { [ "$ST_ENGINE" = nfq ] || st_module_load; }
st_engine_on() {
	[ "$ST_ENGINE" = nfq ] || { st_helper_attach; return; }
	st_queue_smtp smtpguard_nfq 7 || return 1
	# events (-v) of every run go to one file: st_engine_seen reads it
	in_g "$ST_NFQ" -q 7 -f esmtp -v >> "$ST_TMP/nfq.out" 2> "$ST_TMP/nfq.err" &
	ST_NFQ_PID=$!
	bg_track $ST_NFQ_PID
	busywait 5000 grep -q "queue 7" "$ST_TMP/nfq.err"
}
st_engine_off() {
	[ "$ST_ENGINE" = nfq ] || { st_helper_detach; return; }
	in_g nft delete table inet smtpguard_nfq
	kill "$ST_NFQ_PID" 2>/dev/null
	wait "$ST_NFQ_PID" 2>/dev/null
	ST_NFQ_PID=
}
# st_engine_seen: the engine inspects the SMTP flow: conntrack shows the
# helper on it, or smtpguard-nfq reported events of a flow to the server
st_engine_seen() {
	[ "$ST_ENGINE" = nfq ] || { st_helper_seen; return; }
	grep -q "> $S4:25\$" "$ST_TMP/nfq.out"
}

# Full setup: topology, module, helper attached.  Returns non-zero on error.
# ST_NO_HELPER=1 (debugging the tests themselves): no module, conntrack only.
st_setup() {
	st_topo || return 1
	if [ -n "${ST_NO_HELPER:-}" ]; then
		st_conntrack_only
		return
	fi
	st_module_load || return 1
	st_helper_attach || return 1
}

# st_begin PLAN sink|postfix: the common start of a test: the KTAP plan,
# t0 for the closing timing line, st_setup, then the server (smtp-sink or
# the Postfix instance). Ends the test on a failure.
st_begin() {
	st_plan "$1"
	t0=$(now)
	if ! st_setup; then
		st_fail "setup: topology, module, helper"
		st_finish
	fi
	case $2 in
	sink) sink_start || { st_fail "smtp-sink starts"; st_finish; } ;;
	postfix) pf_start || { st_fail "postfix starts"; st_finish; } ;;
	esac
}

# veth offloads: st_offload on|off FEATURE...  on every veth
st_offload() {
	local v=$1; shift
	local f args=()
	for f in "$@"; do args+=("$f" "$v"); done
	in_c ethtool -K $IF_C "${args[@]}" >/dev/null 2>&1
	in_g ethtool -K $IF_GC "${args[@]}" >/dev/null 2>&1
	in_g ethtool -K $IF_GS "${args[@]}" >/dev/null 2>&1
	in_s ethtool -K $IF_S "${args[@]}" >/dev/null 2>&1
	return 0
}

# --------------------------------------------------------------- policy
SMTPGUARD_CLI=${SMTPGUARD_CLI:-$TOPDIR/userspace/smtpguard}

st_have_cli() { [ -x "$SMTPGUARD_CLI" ]; }
# st_policy PRESET|FILE: load into the gateway's namespace
st_policy() { in_g "$SMTPGUARD_CLI" load "$1"; }

# --------------------------------------------------------------- smtp-sink
# sink_start [NAME] [smtp-sink options...]: listens on :25 (v4 and v6) in
# the server namespace, logs every command (-v) to $SINK_LOG and dumps
# every message under $SINK_DUMP.
# sink_start [NAME] [smtp-sink options...]: listens on $S4:25 and [$S6]:25
# in the server namespace (one smtp-sink per family), logs every command (-v)
# to $SINK_LOG and dumps every message under $SINK_DUMP.
SINK_PIDS=
sink_start() {
	local name=${1:-sink} a; shift
	SINK_DIR=$ST_TMP/$name
	SINK_LOG=$SINK_DIR/log
	SINK_DUMP=$SINK_DIR/dump
	mkdir -p "$SINK_DUMP" && chmod 777 "$SINK_DIR" "$SINK_DUMP" || return 1
	: > "$SINK_LOG"
	for a in "$S4" "[$S6]"; do
		in_s smtp-sink -v -u nobody -h server.test -d "$SINK_DUMP/%H%M%S." \
			-t 60 "$@" "$a:25" 1024 >> "$SINK_LOG" 2>&1 &
		SINK_PIDS="$SINK_PIDS $!"
		bg_track $!
	done
	busywait 10000 sink_listening
}

sink_stop() {
	local p
	for p in $SINK_PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	SINK_PIDS=
}

# sink_mark: remember the log position; sink_new prints what came after
sink_mark() { SINK_MARK=$(wc -l < "$SINK_LOG"); }
sink_new() { tail -n +"$((${SINK_MARK:-0} + 1))" "$SINK_LOG" | sed -n 's/^smtp-sink: //p'; }
# the commands the server received since the mark (SMTP lines only)
sink_cmds() {
	sink_new | grep -vE '^(name_mask|trying|connect|disconnect|vstream_|fd=|smtp_stream_setup|.*: (Connection|reset|lost|read timeout))'
}

# dump file whose message has Subject MARK
sink_dump_of() { grep -l -F -x "Subject: $1" "$SINK_DUMP"/* 2>/dev/null; }
sink_dump_count() { grep -l -F -x "Subject: $1" "$SINK_DUMP"/* 2>/dev/null | wc -l; }

st_wait_listen() {	# NS PORT
	local i
	for i in $(seq 100); do
		ip netns exec "$1" ss -Hltn "sport = :$2" 2>/dev/null | grep -q . && return 0
		sleep 0.1
	done
	echo "# nothing listens on port $2 in $1" >&2
	return 1
}

# --------------------------------------------------------------- messages
# msg_gen FILE BYTES SUBJECT
msg_gen() { $SMTP_CLIENT --gen "$2" --seed "$3" --subject "$3" "$1"; }
msg_sha() { $SMTP_CLIENT --sha "$1"; }
dump_sha() { $SMTP_CLIENT --sha-dump "$1"; }

# msg_arrived_intact SUBJECT SENTFILE: exactly one dump with that Subject and
# the same body digest
msg_arrived_intact() {
	local d n want got
	n=$(sink_dump_count "$1")
	if [ "$n" != 1 ]; then
		echo "# $1: $n copies at the server (want 1)"
		return 1
	fi
	d=$(sink_dump_of "$1")
	want=$(msg_sha "$2"); got=$(dump_sha "$d")
	if [ "$want" != "$got" ]; then
		echo "# $1: digest sent $want, received $got ($d)"
		return 1
	fi
	return 0
}

# --------------------------------------------------------------- clients
# smtpc NS HOST [client options]: script on stdin, output to stdout
smtpc() { local ns=$1; shift; ip netns exec "$ns" $SMTP_CLIENT "$@"; }

# swaks_send NS SERVER SUBJECT FILE [swaks options]: send FILE as the
# message.  (Replaces lib.sh's swaks_send FAMILY MARKER in scripts that
# source this file.)
swaks_send() {
	local ns=$1 srv=$2 subj=$3 file=$4; shift 4
	ip netns exec "$ns" swaks --server "$srv" --port 25 --from sender@client.test \
		--to rcpt@server.test --helo client.test --data @"$file" \
		--timeout 60 "$@"
}

# pf_master_services: the master.cf service lines every test Postfix
# instance (server or client) needs besides its smtpd and smtp entries
pf_master_services() {
	cat <<-'EOF'
	pickup    unix  n       -       n       60      1       pickup
	cleanup   unix  n       -       n       -       0       cleanup
	qmgr      unix  n       -       n       300     1       qmgr
	tlsmgr    unix  -       -       n       1000?   1       tlsmgr
	rewrite   unix  -       -       n       -       -       trivial-rewrite
	bounce    unix  -       -       n       -       0       bounce
	defer     unix  -       -       n       -       0       bounce
	trace     unix  -       -       n       -       0       bounce
	verify    unix  -       -       n       -       1       verify
	flush     unix  n       -       n       1000?   0       flush
	proxymap  unix  -       -       n       -       -       proxymap
	proxywrite unix -       -       n       -       1       proxymap
	smtp      unix  -       -       n       -       -       smtp
	relay     unix  -       -       n       -       -       smtp
	showq     unix  n       -       n       -       -       showq
	error     unix  -       -       n       -       -       error
	retry     unix  -       -       n       -       -       error
	discard   unix  -       -       n       -       -       discard
	anvil     unix  -       -       n       -       1       anvil
	scache    unix  -       -       n       -       1       scache
	postlog   unix-dgram n  -       n       -       1       postlogd
	EOF
}

# --------------------------------------------------------------- postfix
# pf_start LISTEN...: a real Postfix in the server namespace, TLS with a
# self-signed certificate, verbose smtpd logging to $PF_LOG, mail for
# @server.test delivered to the maildir $PF_MAIL.
PF_DIR=
pf_start() {
	local d=$ST_TMP/postfix l
	PF_DIR=$d; PF_LOG=$d/maillog; PF_MAIL=$d/mail/inbox
	mkdir -p "$d"/conf "$d"/spool "$d"/data "$d"/mail || return 1
	chown postfix "$d"/data
	chown nobody:nogroup "$d"/mail
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=server.test \
		-keyout "$d"/conf/key.pem -out "$d"/conf/cert.pem >/dev/null 2>&1 || return 1
	cat > "$d"/conf/main.cf <<-EOF
	compatibility_level = 3.6
	config_directory = $d/conf
	queue_directory = $d/spool
	data_directory = $d/data
	mail_owner = postfix
	setgid_group = postdrop
	inet_interfaces = all
	inet_protocols = all
	myhostname = server.test
	mydomain = test
	myorigin = server.test
	mydestination =
	mynetworks = 0.0.0.0/0 [::]/0
	smtpd_relay_restrictions = permit_mynetworks, reject
	smtpd_recipient_restrictions = permit_mynetworks, reject
	virtual_mailbox_domains = server.test
	virtual_mailbox_base = $d/mail
	virtual_mailbox_maps = static:inbox/
	virtual_uid_maps = static:65534
	virtual_gid_maps = static:65534
	virtual_minimum_uid = 100
	message_size_limit = 0
	virtual_mailbox_limit = 0
	mailbox_size_limit = 0
	smtpd_tls_cert_file = $d/conf/cert.pem
	smtpd_tls_key_file = $d/conf/key.pem
	smtpd_tls_security_level = may
	smtpd_tls_loglevel = 1
	maillog_file_prefixes = $d
	maillog_file = $d/maillog
	debug_peer_list = 0.0.0.0/0 [::]/0
	debug_peer_level = 1
	smtpd_banner = \$myhostname ESMTP Postfix
	biff = no
	smtputf8_enable = yes
	disable_vrfy_command = no
	# 3.7 defaults, spelled out: the smuggling test needs a server that
	# takes a bare LF as end of line (CVE-2023-51764)
	smtpd_forbid_bare_newline = no
	smtpd_forbid_unauth_pipelining = no
	smtpd_client_restrictions =
	smtpd_helo_required = no
	EOF
	{
		for l in "${@:-:25}"; do echo "$l inet n - n - - smtpd"; done
		pf_master_services
		cat <<-'EOF'
		local     unix  -       n       n       -       -       local
		virtual   unix  -       n       n       -       -       virtual
		lmtp      unix  -       -       n       -       -       lmtp
		EOF
	} > "$d"/conf/master.cf
	pf_instance_start "$NS_S" "$d" server.test "$d"/maillog || { PF_DIR=; return 1; }
	st_wait_listen "$NS_S" 25
}

pf_stop() {
	[ -n "$PF_DIR" ] || return 0
	pf_instance_stop "$NS_S" "$PF_DIR"
	PF_DIR=
}

# pf_instance_start NS DIR HOSTNAME LOG: start the Postfix instance whose
# configuration is DIR/conf in namespace NS.  Postfix prints its errors
# only to a terminal, so its own messages are kept in DIR/start.log and
# shown with the tail of LOG on failure.  Its delivery agents refuse an
# invalid own hostname (the VM's is "vm-6.12.95+deb12"): it runs in its
# own UTS namespace as HOSTNAME.
pf_instance_start() {
	local ns=$1 d=$2
	ip netns exec "$ns" postfix -c "$d"/conf check > "$d"/start.log 2>&1 &&
		ip netns exec "$ns" unshare -u sh -c 'hostname "$2" && exec postfix -c "$1"/conf start' \
			sh "$d" "$3" >> "$d"/start.log 2>&1 && return 0
	echo "# postfix ($3) failed to start:"
	sed 's/^/#   /' "$d"/start.log
	[ -r "$4" ] && tail -5 "$4" | sed 's/^/#   /'
	return 1
}

pf_instance_stop() {
	ip netns exec "$1" postfix -c "$2"/conf stop >/dev/null 2>&1
}

# maildir_mail_of MAILDIR MARK: the file in MAILDIR that holds Subject MARK
# (waits for delivery up to 20 s)
maildir_mail_of() {
	local i f
	for i in $(seq 100); do
		f=$(grep -l -F -x "Subject: $2" "$1"/new/* 2>/dev/null | head -n1)
		[ -n "$f" ] && { echo "$f"; return 0; }
		sleep 0.2
	done
	return 1
}

pf_mail_of() { maildir_mail_of "$PF_MAIL" "$1"; }
# what smtpd received from clients, one command a line
pf_cmds() { sed -n 's/.*postfix\/smtpd\[[0-9]*\]: < [^ ]*: //p' "$PF_LOG"; }

# --------------------------------------------------------------- misc
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# masked_like ORIG SEEN: SEEN is ORIG with its tail (at least the last
# byte) overwritten by the mask character, same length, never ORIG itself
masked_like() {
	local o=${1^^} s=$2 c=${3:-X} i
	[ ${#o} = ${#s} ] && [ "$o" != "${s^^}" ] || return 1
	[ "${s: -1}" = "$c" ] || return 1
	for ((i = 0; i < ${#o}; i++)); do
		[ "${s:i:1}" = "${o:i:1}" ] || [ "${s:i:1}" = "$c" ] || [ "${s:i:1}" = "${1:i:1}" ] || return 1
	done
	return 0
}

# st_verbs_masked NS HOST LABEL VERBLINE...: one session from NS sending each
# VERBLINE; each must get 500 and reach the server masked (smtp-sink log),
# never whole.  Prints diagnostics; returns non-zero on any failure.
st_verbs_masked() {
	local ns=$1 host=$2 label=$3; shift 3
	local out rc=0 v verb seen
	sink_mark
	out=$( {
		echo "expect 220"
		echo "cmd EHLO client.test 250"
		[ -n "${ST_VERB_PRE:-}" ] && echo "$ST_VERB_PRE"
		for v in "$@"; do echo "cmd $v 5"; done
		[ -n "${ST_VERB_PRE:-}" ] && echo "bytewise off"
		echo "cmd NOOP 250"
		echo "cmd QUIT 221"
	} | timeout 400 ip netns exec "$ns" $SMTP_CLIENT -k -t "${ST_VERB_TIMEOUT:-20}" "$host" 25 2>&1) || rc=1
	if [ $rc != 0 ]; then
		echo "# $label: client session failed:"; echo "$out" | tail -n 8 | sed 's/^/#   /'
	fi
	# the 500s the client saw
	local n500
	n500=$(echo "$out" | grep -c '^S: 500')
	if [ "$n500" -lt $# ]; then
		echo "# $label: client saw $n500 replies 500 for $# disallowed verbs"; rc=1
	fi
	sleep 0.3
	local cmds
	cmds=$(sink_cmds)
	for v in "$@"; do
		verb=${v%% *}
		if echo "$cmds" | grep -qi "^$verb\\b"; then
			echo "# $label: server received $verb whole"; rc=1
			continue
		fi
		# the server line with the same arguments
		if [ "$verb" = "$v" ]; then
			seen=$(echo "$cmds" | awk -v n=${#verb} 'length($0) == n && /X$/' | head -n1)
		else
			seen=$(echo "$cmds" | grep -F -- " ${v#* }" | grep -v "^EHLO" | head -n1)
			seen=${seen%% *}
		fi
		if ! masked_like "$verb" "$seen"; then
			echo "# $label: $verb arrived as '${seen:-nothing}', not masked"; rc=1
		else
			echo "# $label: $verb -> $seen, client got 500"
		fi
	done
	if [ $rc != 0 ]; then
		echo "# server log:"; echo "$cmds" | head -n 20 | sed 's/^/#   /'
	fi
	return $rc
}
pf_mark() { PF_MARK=$(wc -l < "$PF_LOG" 2>/dev/null || echo 0); }
# commands smtpd received since pf_mark
pf_new_cmds() {
	tail -n +"$((${PF_MARK:-0} + 1))" "$PF_LOG" 2>/dev/null |
		sed -n 's/.*postfix\/smtpd\[[0-9]*\]: < [^ ]*: //p'
}

# policy_test_begin PLAN: the common start of the policy_* tests: tools, VM,
# the smtpguard CLI (in $CLI), module dependencies, the KTAP plan, topology
# with module and helper, and smtp-sink. Ends the test on a failure.
policy_test_begin() {
	st_require ip nft conntrack smtp-sink python3
	st_need_vm
	st_have_cli || st_skip_all "no $SMTPGUARD_CLI (make -C userspace)"
	CLI=$SMTPGUARD_CLI
	modprobe -a $(modinfo -F depends "$SMTPGUARD_KO" 2>/dev/null | tr , ' ') 2>/dev/null
	st_begin "$1" sink
}

# --------------------------------------------------------------- leaks
# slab_objs CACHE: live objects of CACHE, exactly from its allocation
# tracking (run-in-vm boots with slub_debug=U,smtp_conn), else the
# slab-granular active count of /proc/slabinfo
slab_objs() {
	local f=/sys/kernel/slab/$1/alloc_calls
	# KASAN holds freed objects in its quarantine, still allocated to the
	# slab: shrinking the cache releases this cache's ones
	echo 1 > "/sys/kernel/slab/$1/shrink" 2>/dev/null
	if [ -r "$f" ]; then
		awk '$1 ~ /^[0-9]+$/ { n += $1 } END { print n + 0 }' "$f"
	else
		awk -v c="$1" '$1 == c { print $2; f = 1 } END { if (!f) print 0 }' /proc/slabinfo
	fi
}
# slab_settle CACHE MAX: wait (up to 30 s: RCU grace periods and sweeps are
# slow under TCG and KASAN) until CACHE has at most MAX live objects
slab_le() { [ "$(slab_objs "$1")" -le "$2" ]; }
slab_settle() { busywait 30000 slab_le "$1" "$2"; }
# st_stat NAME: one counter of "smtpguard stats" in the gateway
st_stat() { in_g "$SMTPGUARD_CLI" stats | awk -v k="$1" '$1 == k { print $2 }'; }
# hold_sessions N GOFILE OUT: N client sessions to $S4:25 that read the
# banner and stay open until GOFILE exists; "holding" in OUT once all are up
hold_sessions() {
	in_c python3 - "$S4" "$1" "$2" > "$3" 2>&1 <<-'PY' &
	import os, socket, sys, time
	server, n, go = sys.argv[1], int(sys.argv[2]), sys.argv[3]
	socks = [socket.create_connection((server, 25), timeout=30) for _ in range(n)]
	for s in socks:
	    if not s.recv(512).startswith(b'220'):
	        sys.exit('no banner')
	print('holding', flush=True)
	while not os.path.exists(go):
	    time.sleep(0.1)
	PY
	bg_track $!
	busywait 30000 grep -q holding "$3"
}

# --------------------------------------------------------------- evasion
# evasion_begin PLAN: Postfix in the server namespace, and the client
# namespace ready for evasion_raw.py (scapy): the client kernel's own RSTs
# to port 25 suppressed, since it does not know the raw sessions.
EVASION_PY=$TOPDIR/selftests/evasion_raw.py
evasion_begin() {
	st_require ip nft conntrack postfix openssl
	st_need_vm
	/usr/bin/python3 -c 'import scapy.layers.inet' 2>/dev/null ||
		st_skip_all "python3-scapy missing (scripts/install-deps)"
	st_begin "$1" postfix
	in_c nft -f - <<-EOF || { st_fail "client: suppress kernel RSTs"; st_finish; }
	table inet evasion {
		chain out {
			type filter hook output priority filter; policy accept;
			tcp dport 25 tcp flags & rst == rst drop
		}
	}
	EOF
	# one more router between gateway and server, for the ttl case: what
	# arrives with TTL 1 would have expired there
	in_s nft -f - <<-EOF || { st_fail "server: the extra hop"; st_finish; }
	table inet evasion_hop {
		chain in {
			type filter hook prerouting priority raw; policy accept;
			tcp dport 25 ip ttl <= 1 drop
		}
	}
	EOF
}

# evasion_run CASE WANT: play CASE of evasion_raw.py against Postfix; WANT
# "through": VRFY root must reach smtpd as a command (control run);
# "blocked": it must not, and the session must end with QUIT 221 or, for
# a policy reset, with a reset.
evasion_run() {
	local case=$1 want=$2 out rc=0 got=blocked
	pf_mark
	out=$(timeout 120 ip netns exec "$NS_C" /usr/bin/python3 "$EVASION_PY" \
		"$case" $S4 2>&1)
	sleep 0.5
	pf_new_cmds | grep -q '^VRFY root' && got=through
	[ "$got" = "$want" ] || rc=1
	if [ "$want" = blocked ] &&
	   ! echo "$out" | grep -qE '^RESULT: (quit 221|reset by peer)'; then
		echo "# $case: the session did not go on"
		rc=1
	fi
	if [ $rc != 0 ]; then
		echo "# $case: VRFY root $got, want $want"
		echo "$out" | sed 's/^/#   C /'
		pf_new_cmds | sed 's/^/#   S /'
	fi
	return $rc
}

# evasion_ttl_delivered: after the ttl case through a filter, the first
# copy (sent with TTL 2) reached Postfix: the filter raised its TTL, so the
# server read what the gateway inspected (without that, desync resets)
evasion_ttl_delivered() {
	pf_new_cmds | grep -q '^NOOP xxxx$'
}

# --------------------------------------------------------------- smuggling
# SMTP smuggling (CVE-2023-51764 class), shared by smuggling.sh (Postfix)
# and exim_security.sh: the end-of-data variants with a bare CR or LF.
SMUGGLE_VARIANTS=('\n.\n' '\r.\r' '\r.\n' '\n.\r' '\n.\r\n' '\r\n.\n' '\r.\r\n' '\r\n.\r')
# smuggle_script TAG VARIANT [EOL]: smtp_client.py script of a carrier
# message whose body ends in VARIANT, followed by a second transaction from
# <evil-TAG@attacker.test> (Subject smuggled-TAG) and a real end of data;
# EOL ends the carrier's header and blank line (default \r\n; \n puts Exim
# in its LF-only mode, where \n.\n ends data)
smuggle_script() {
	local eol=${3:-'\r\n'}
	printf '%s\n' 'expect 220' 'cmd EHLO client.test 250' \
		"cmd MAIL FROM:<legit-$1@client.test> 250" 'cmd RCPT TO:<rcpt@server.test> 250' \
		'cmd DATA 354' "send Subject: carrier-$1$eol${eol}hello$2" \
		"send MAIL FROM:<evil-$1@attacker.test>\\r\\nRCPT TO:<victim@server.test>\\r\\nDATA\\r\\nSubject: smuggled-$1\\r\\n\\r\\nsmuggled\\r\\n.\\r\\n" \
		'drain 1.5' 'cmd QUIT 221'
}
# smuggle_cmdline_script: NOOP ended by a bare LF, then by a bare CR, each
# followed by a VRFY (probe-lf, probe-cr) a server may read as a command
smuggle_cmdline_script() {
	printf '%s\n' 'expect 220' 'cmd EHLO client.test 250' \
		'send NOOP\nVRFY probe-lf@server.test\r\n' 'read' 'read' \
		'send NOOP\rVRFY probe-cr@server.test\r\n' 'read' 'read' 'cmd QUIT 221'
}
