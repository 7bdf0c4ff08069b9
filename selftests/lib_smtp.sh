#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# SMTP helpers for the smtpguard selftests that push real mail through the
# helper: smtp-sink and Postfix servers, swaks and smtp_client.py clients,
# message digests, policy loading.  Sourced by the test scripts, after
# selftests/lib.sh when that exists (topology, module loading, KTAP); the
# st_* functions below fall back to their own minimal versions otherwise.
#
# Topology (same as lib.sh): client 10.0.1.2 / fd00:1::2 <-> gw <-> server
# 10.0.2.2 / fd00:2::2; the gateway forwards and runs the helper.

ST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
TOPDIR=${TOPDIR:-$(cd "$ST_DIR/.." && pwd -P)}
SMTP_CLIENT="python3 $ST_DIR/smtp_client.py"
ksft_skip=4

# --------------------------------------------------------------- KTAP
ST_N=0; ST_PASS=0; ST_FAIL=0; ST_SKIP=0; ST_PLAN=0

st_plan() {	# N
	ST_PLAN=$1
	echo "TAP version 13"
	echo "1..$1"
}
st_diag() { local l; while IFS= read -r l; do echo "# $l"; done <<<"$*"; }
st_pass() { ST_N=$((ST_N + 1)); ST_PASS=$((ST_PASS + 1)); echo "ok $ST_N $*"; }
st_fail() { ST_N=$((ST_N + 1)); ST_FAIL=$((ST_FAIL + 1)); echo "not ok $ST_N $*"; }
st_skip() {	# NAME REASON
	ST_N=$((ST_N + 1)); ST_SKIP=$((ST_SKIP + 1)); echo "ok $ST_N $1 # SKIP $2"
}
# st_check NAME CMD...: pass if CMD succeeds
st_check() { local n=$1; shift; if "$@"; then st_pass "$n"; else st_fail "$n"; fi; }
# st_result NAME RC: pass on 0, fail otherwise
st_result() { if [ "$2" -eq 0 ]; then st_pass "$1"; else st_fail "$1"; fi; }

st_finish() {
	while [ "$ST_N" -lt "$ST_PLAN" ]; do st_skip "not-run-$((ST_N + 1))" "earlier failure"; done
	echo "# Totals: pass:$ST_PASS fail:$ST_FAIL xfail:0 xpass:0 skip:$ST_SKIP error:0"
	echo "# $ST_PASS passed, $ST_FAIL failed, $ST_SKIP skipped"
	if [ "$ST_FAIL" -gt 0 ]; then exit 1; fi
	if [ "$ST_PASS" -eq 0 ] && [ "$ST_SKIP" -gt 0 ]; then exit $ksft_skip; fi
	exit 0
}

# st_skip_all REASON: the whole script cannot run (missing tool, not in VM)
st_skip_all() {
	echo "TAP version 13"
	echo "1..0 # SKIP $*"
	exit $ksft_skip
}

st_require() {	# TOOL...
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || st_skip_all "missing tool: $t"
	done
}

# --------------------------------------------------------------- topology
NS_C=sgc-$$; NS_G=sgg-$$; NS_S=sgs-$$
C4=10.0.1.2; G4C=10.0.1.1; G4S=10.0.2.1; S4=10.0.2.2
C6=fd00:1::2; G6C=fd00:1::1; G6S=fd00:2::1; S6=fd00:2::2
# interface names: client side c0 <-> gw gc; gw gs <-> server s0
IF_C=c0; IF_GC=gc; IF_GS=gs; IF_S=s0

in_c() { ip netns exec "$NS_C" "$@"; }
in_g() { ip netns exec "$NS_G" "$@"; }
in_s() { ip netns exec "$NS_S" "$@"; }

ST_TMP=
ST_PIDS=

st_cleanup() {
	local p
	for p in $ST_PIDS; do kill "$p" 2>/dev/null; done
	[ -n "${PF_DIR:-}" ] && pf_stop
	sleep 0.2
	for p in $ST_PIDS; do kill -9 "$p" 2>/dev/null; done
	ip netns del "$NS_C" 2>/dev/null
	ip netns del "$NS_G" 2>/dev/null
	ip netns del "$NS_S" 2>/dev/null
	[ -n "$ST_TMP" ] && [ -z "${ST_KEEP:-}" ] && rm -rf "$ST_TMP"
}

# The VM guest is where modules load; refuse to run on the host, which
# cannot load modules (and whose netfilter we must not touch).
st_need_vm() {
	[ -n "${SMTPGUARD_VM:-}" ] || [ -n "${SMTPGUARD_ALLOW_HOST:-}" ] ||
		st_skip_all "run inside the VM: selftests/vm/run KVER $0"
	[ "$(id -u)" = 0 ] || st_skip_all "must run as root"
}

st_topo() {
	ST_TMP=$(mktemp -d /tmp/smtpguard-st.XXXXXX) || exit 1
	chmod 755 "$ST_TMP"
	trap st_cleanup EXIT
	ip netns add "$NS_C" && ip netns add "$NS_G" && ip netns add "$NS_S" || return 1
	ip link add "$IF_C" netns "$NS_C" type veth peer name "$IF_GC" netns "$NS_G" || return 1
	ip link add "$IF_S" netns "$NS_S" type veth peer name "$IF_GS" netns "$NS_G" || return 1
	local ns
	for ns in "$NS_C" "$NS_G" "$NS_S"; do
		ip -n "$ns" link set lo up
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
			net.ipv6.conf.default.accept_dad=0
	done
	in_g sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	ip -n "$NS_C" addr add $C4/24 dev $IF_C
	ip -n "$NS_C" addr add $C6/64 dev $IF_C nodad
	ip -n "$NS_G" addr add $G4C/24 dev $IF_GC
	ip -n "$NS_G" addr add $G6C/64 dev $IF_GC nodad
	ip -n "$NS_G" addr add $G4S/24 dev $IF_GS
	ip -n "$NS_G" addr add $G6S/64 dev $IF_GS nodad
	ip -n "$NS_S" addr add $S4/24 dev $IF_S
	ip -n "$NS_S" addr add $S6/64 dev $IF_S nodad
	ip -n "$NS_C" link set $IF_C up
	ip -n "$NS_G" link set $IF_GC up
	ip -n "$NS_G" link set $IF_GS up
	ip -n "$NS_S" link set $IF_S up
	ip -n "$NS_C" route add default via $G4C
	ip -n "$NS_C" -6 route add default via $G6C
	ip -n "$NS_S" route add default via $G4S
	ip -n "$NS_S" -6 route add default via $G6S
	local i ping="ping" ping6="ping -6"
	command -v ping >/dev/null || { ping="busybox ping"; ping6="busybox ping6"; }
	for i in $(seq 50); do
		in_c $ping -c1 -W1 -q $S4 >/dev/null 2>&1 &&
			in_c $ping6 -c1 -W1 -q $S6 >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	echo "# topology: no connectivity client -> server" >&2
	return 1
}

# --------------------------------------------------------------- module
SMTPGUARD_KO=${SMTPGUARD_KO:-$TOPDIR/build/$(uname -r)/nf_conntrack_smtp.ko}

st_module_load() {
	if grep -q '^nf_conntrack_smtp ' /proc/modules; then return 0; fi
	[ -r "$SMTPGUARD_KO" ] || { echo "# no module at $SMTPGUARD_KO" >&2; return 1; }
	modprobe nf_conntrack || return 1
	modprobe nf_nat 2>/dev/null
	insmod "$SMTPGUARD_KO" || return 1
}

st_module_unload() {
	grep -q '^nf_conntrack_smtp ' /proc/modules || return 0
	rmmod nf_conntrack_smtp
}

# st_helper_attach [NS]: nft ct helper "smtp" on prerouting and output
st_helper_attach() {
	local ns=${1:-$NS_G}
	ip netns exec "$ns" nft -f - <<-EOF
	table inet smtpguard {
		ct helper smtp {
			type "smtp" protocol tcp
		}
		chain prerouting {
			type filter hook prerouting priority filter; policy accept;
			tcp dport 25 ct helper set "smtp"
		}
		chain output {
			type filter hook output priority filter; policy accept;
			tcp dport 25 ct helper set "smtp"
		}
	}
	EOF
}

# Conntrack without the helper: same hooks, a ct expression so conntrack
# is active in the namespace (for the no-helper baseline).
st_conntrack_only() {
	local ns=${1:-$NS_G}
	ip netns exec "$ns" nft -f - <<-EOF
	table inet smtpguard {
		chain prerouting {
			type filter hook prerouting priority filter; policy accept;
			tcp dport 25 ct state new counter
		}
		chain output {
			type filter hook output priority filter; policy accept;
			tcp dport 25 ct state new counter
		}
	}
	EOF
}

st_helper_detach() { ip netns exec "${1:-$NS_G}" nft delete table inet smtpguard 2>/dev/null; }

# Does conntrack in the gateway show a port-25 flow with helper=smtp?
st_helper_seen() {
	in_g conntrack -L -p tcp --dport 25 2>/dev/null | grep -q 'helper=smtp'
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
SINK_PID=
sink_start() {
	local name=${1:-sink}; shift
	SINK_DIR=$ST_TMP/$name
	SINK_LOG=$SINK_DIR/log
	SINK_DUMP=$SINK_DIR/dump
	mkdir -p "$SINK_DUMP" && chmod 777 "$SINK_DIR" "$SINK_DUMP"
	in_s smtp-sink -v -u nobody -h server.test -d "$SINK_DUMP/%H%M%S." \
		-t 60 "$@" :25 1024 > "$SINK_LOG" 2>&1 &
	SINK_PID=$!
	ST_PIDS="$ST_PIDS $SINK_PID"
	st_wait_listen "$NS_S" 25
}

sink_stop() {
	[ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null && wait "$SINK_PID" 2>/dev/null
	SINK_PID=
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

# swaks_send NS SERVER SUBJECT FILE [swaks options]: send FILE as the message
swaks_send() {
	local ns=$1 srv=$2 subj=$3 file=$4; shift 4
	ip netns exec "$ns" swaks --server "$srv" --port 25 --from sender@client.test \
		--to rcpt@server.test --helo client.test --data @"$file" \
		--timeout 60 "$@"
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
	smtpd_client_restrictions =
	smtpd_helo_required = no
	EOF
	{
		for l in "${@:-:25}"; do echo "$l inet n - n - - smtpd"; done
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
		local     unix  -       n       n       -       -       local
		virtual   unix  -       n       n       -       -       virtual
		lmtp      unix  -       -       n       -       -       lmtp
		anvil     unix  -       -       n       -       1       anvil
		scache    unix  -       -       n       -       1       scache
		postlog   unix-dgram n  -       n       -       1       postlogd
		EOF
	} > "$d"/conf/master.cf
	# postfix only prints errors to a terminal; keep its own messages
	in_s postfix -c "$d"/conf check > "$d"/start.log 2>&1 &&
		in_s postfix -c "$d"/conf start >> "$d"/start.log 2>&1 || {
		echo "# postfix failed to start:"; sed 's/^/#   /' "$d"/start.log
		[ -r "$d"/maillog ] && tail -5 "$d"/maillog | sed 's/^/#   /'
		PF_DIR=
		return 1
	}
	st_wait_listen "$NS_S" 25
}

pf_stop() {
	[ -n "$PF_DIR" ] || return 0
	in_s postfix -c "$PF_DIR"/conf stop >/dev/null 2>&1
	PF_DIR=
}

# maildir file that holds Subject MARK (waits for delivery up to 20 s)
pf_mail_of() {
	local i f
	for i in $(seq 100); do
		f=$(grep -l -F -x "Subject: $1" "$PF_MAIL"/new/* 2>/dev/null | head -n1)
		[ -n "$f" ] && { echo "$f"; return 0; }
		sleep 0.2
	done
	return 1
}
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
	} | timeout 120 ip netns exec "$ns" $SMTP_CLIENT -k -t 20 "$host" 25 2>&1) || rc=1
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
