#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Real MTAs for the interop matrix (selftests/interop.sh): a test CA, the
# Postfix, Exim and OpenSMTPD *client* instances (each takes submissions on
# 127.0.0.1 in the client namespace and relays through the gateway), the
# OpenSMTPD server, the capture/Exchange-style server (interop_server.py)
# and SASL on the lib_smtp.sh Postfix server.  The Exim server is
# lib_exim.sh's.  Exim and OpenSMTPD come unpacked under $MTA_ROOT
# (scripts/install-deps); nothing here touches a system service.
#
# Client MTAs relay everything to $S4:25 (one server runs at a time) and
# pick how by the envelope sender's local part, the CLASS: plain (no TLS),
# tls (STARTTLS required), auth (AUTH in clear text, so the gateway sees
# it) or authtls (STARTTLS, then AUTH: OpenSMTPD offers AUTH only so).

MTA_ROOT=${SMTPGUARD_MTA_ROOT:-/opt/smtpguard-mta}
EXIM_BIN=$MTA_ROOT/exim4/usr/sbin/exim4
SMTPD_BIN=$MTA_ROOT/opensmtpd/usr/sbin/smtpd
INTEROP_MSG="python3 -S $ST_DIR/interop_msg.py"	# -S: stdlib only; site costs seconds under TCG
INTEROP_SERVER="python3 $ST_DIR/interop_server.py"
MTA_USER=user@client.test
MTA_PASS=secret

MTA_CLASSES="plain tls auth authtls"
# client submission ports on 127.0.0.1 in the client namespace
declare -A MTA_SUBMIT=([pf]=2525 [ex]=2526 [os]=2527)

# mta_vm_prepare: the system users and compiled-in paths Exim and OpenSMTPD
# need.  Only in the VM, whose root is a throw-away overlay.
mta_vm_prepare() {
	[ -n "${SMTPGUARD_VM:-}" ] || { echo "# mta_vm_prepare: not in the VM"; return 1; }
	local u
	for u in Debian-exim opensmtpd opensmtpq; do
		getent passwd "$u" >/dev/null ||
			useradd --system --no-create-home --home-dir /nonexistent \
				--shell /usr/sbin/nologin "$u" || return 1
	done
	# The namespaces reach no name server: one that refuses at once, not
	# one whose timeouts hold banners (OpenSMTPD, Postfix) for minutes
	echo "nameserver 127.0.0.1" > /etc/resolv.conf || return 1
	mkdir -p /usr/libexec /var/lib/opensmtpd/empty /var/spool/smtpd &&
		cp -a "$MTA_ROOT"/opensmtpd/usr/libexec/opensmtpd /usr/libexec/ &&
		chmod 755 /var/lib/opensmtpd/empty
}

# mta_have: the unpacked MTAs are there
mta_have() { [ -x "$EXIM_BIN" ] && [ -x "$SMTPD_BIN" ]; }

# mta_certs DIR: a test CA and a server.test certificate it signed
mta_certs() {
	local d=$1
	mkdir -p "$d" || return 1
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=interop-test-ca \
		-keyout "$d"/ca.key -out "$d"/ca.pem >/dev/null 2>&1 &&
	openssl req -newkey rsa:2048 -nodes -subj /CN=server.test \
		-keyout "$d"/key.pem -out "$d"/req.pem >/dev/null 2>&1 &&
	# a file, not <(...): the VM has no /dev/fd
	printf 'subjectAltName=DNS:server.test,IP:%s\n' "$S4" > "$d"/san.ext &&
	openssl x509 -req -in "$d"/req.pem -CA "$d"/ca.pem -CAkey "$d"/ca.key \
		-CAcreateserial -days 2 -out "$d"/cert.pem -extfile "$d"/san.ext \
		>/dev/null 2>&1 &&
	chmod 644 "$d"/*.pem && chmod 600 "$d"/key.pem	# OpenSMTPD insists
}

# ----------------------------------------------------------- Postfix server
# pf_server_sasl: AUTH PLAIN/LOGIN (Cyrus sasldb) on the pf_start server,
# allowed in clear text, so the gateway sees the exchange
pf_server_sasl() {
	local c=$PF_DIR/conf
	mkdir -p "$c"/sasl || return 1
	echo "$MTA_PASS" | saslpasswd2 -f "$c"/sasl/sasldb2 -p -c -u client.test user || return 1
	chown postfix "$c"/sasl/sasldb2
	cat > "$c"/sasl/smtpd.conf <<-EOF
	pwcheck_method: auxprop
	auxprop_plugin: sasldb
	sasldb_path: $c/sasl/sasldb2
	mech_list: PLAIN LOGIN
	EOF
	postconf -c "$c" -e smtpd_sasl_auth_enable=yes smtpd_sasl_type=cyrus \
		smtpd_sasl_path=smtpd "cyrus_sasl_config_path=$c/sasl" \
		smtpd_sasl_security_options=noanonymous smtpd_tls_auth_only=no \
		smtpd_tls_cert_file="$MTA_CERTS/cert.pem" smtpd_tls_key_file="$MTA_CERTS/key.pem" \
		smtpd_tls_received_header=yes smtpd_sasl_authenticated_header=yes &&
	in_s postfix -c "$c" reload >/dev/null 2>&1
}

# ----------------------------------------------------------- Postfix client
# pfc_start: a Postfix in the client namespace: smtpd on 127.0.0.1:2525,
# relays to the servers with one smtp transport per CLASS (master.cf -o)
PFC_DIR=
pfc_start() {
	local d=$ST_TMP/pfc c
	PFC_DIR=$d; PFC_LOG=$d/maillog
	mkdir -p "$d"/conf "$d"/spool "$d"/data || return 1
	chown postfix "$d"/data
	for c in $MTA_CLASSES; do
		echo "/^$c@client\\.test\$/ smtp_$c:[$S4]:25"
	done > "$d"/conf/sender_transport
	cat > "$d"/conf/main.cf <<-EOF
	compatibility_level = 3.6
	config_directory = $d/conf
	queue_directory = $d/spool
	data_directory = $d/data
	mail_owner = postfix
	setgid_group = postdrop
	inet_interfaces = 127.0.0.1
	inet_protocols = ipv4
	myhostname = client.test
	mydomain = test
	myorigin = client.test
	mydestination =
	mynetworks = 127.0.0.0/8
	smtpd_relay_restrictions = permit_mynetworks, reject
	smtputf8_enable = yes
	message_size_limit = 0
	sender_dependent_default_transport_maps = regexp:$d/conf/sender_transport
	smtp_tls_loglevel = 1
	smtp_tls_CAfile = $MTA_CERTS/ca.pem
	smtp_sasl_password_maps = static:$MTA_USER:$MTA_PASS
	smtp_sasl_security_options = noanonymous
	smtp_sasl_mechanism_filter = login
	maillog_file_prefixes = $d
	maillog_file = $PFC_LOG
	biff = no
	EOF
	{
		cat <<-'EOF'
		127.0.0.1:2525 inet n - n - - smtpd
		smtp_plain unix - - n - - smtp -o smtp_tls_security_level=none
		smtp_tls  unix  -       -       n       -       -       smtp -o smtp_tls_security_level=encrypt
		smtp_auth unix  -       -       n       -       -       smtp -o smtp_tls_security_level=none -o smtp_sasl_auth_enable=yes
		smtp_authtls unix -     -       n       -       -       smtp -o smtp_tls_security_level=encrypt -o smtp_sasl_auth_enable=yes
		EOF
		pf_master_services
	} > "$d"/conf/master.cf
	pf_instance_start "$NS_C" "$d" client.test "$PFC_LOG" || { PFC_DIR=; return 1; }
	st_wait_listen "$NS_C" 2525
}

pfc_stop() {
	[ -n "$PFC_DIR" ] || return 0
	pf_instance_stop "$NS_C" "$PFC_DIR"
	PFC_DIR=
}

# pfc_flush: drop whatever is still queued (a failed cell must not be
# retried into a later one) and forget that the server failed (the queue
# manager would suspend the destination for the next cells)
pfc_flush() {
	in_c postsuper -c "$PFC_DIR"/conf -d ALL >/dev/null 2>&1
	in_c postfix -c "$PFC_DIR"/conf reload >/dev/null 2>&1
}

# ----------------------------------------------------------- Exim client
# exc_start: an Exim daemon in the client namespace on 127.0.0.1:2526
EXC_DIR=
exc_start() {
	local d=$ST_TMP/exc c
	EXC_DIR=$d; EXC_LOG=$d/log/mainlog
	mkdir -p "$d"/spool "$d"/log || return 1
	chown Debian-exim "$d"/spool "$d"/log
	cat > "$d"/exim.conf <<-EOF
	primary_hostname = client.test
	exim_path = $EXIM_BIN
	exim_user = Debian-exim
	exim_group = Debian-exim
	spool_directory = $d/spool
	log_file_path = $d/log/%slog
	log_selector = +all -arguments
	daemon_smtp_ports = 2526
	local_interfaces = 127.0.0.1
	acl_smtp_rcpt = accept
	acl_smtp_data = accept
	message_size_limit = 0
	smtputf8_advertise_hosts = *
	dsn_advertise_hosts = *
	chunking_advertise_hosts =
	tls_advertise_hosts =
	host_lookup =
	rfc1413_hosts =
	keep_environment =
	begin routers
	EOF
	# one router a class: a transport name from the sender would be tainted
	for c in $MTA_CLASSES; do
		printf '%s:\n  driver = manualroute\n  senders = %s@client.test\n  route_data = %s\n  transport = smtp_%s\n  self = send\n' \
			"$c" "$c" "$S4" "$c"
	done >> "$d"/exim.conf
	cat >> "$d"/exim.conf <<-EOF
	begin transports
	smtp_plain:
	  driver = smtp
	  hosts_avoid_tls = *
	smtp_tls:
	  driver = smtp
	  hosts_require_tls = *
	smtp_auth:
	  driver = smtp
	  hosts_avoid_tls = *
	  hosts_require_auth = *
	smtp_authtls:
	  driver = smtp
	  hosts_require_tls = *
	  hosts_require_auth = *
	begin retry
	* * F,1m,1m
	begin authenticators
	plain:
	  driver = plaintext
	  public_name = PLAIN
	  client_send = ^$MTA_USER^$MTA_PASS
	EOF
	in_c "$EXIM_BIN" -C "$d"/exim.conf -bV > "$d"/start.log 2>&1 &&
		in_c unshare -u sh -c 'hostname client.test && exec "$@"' sh \
			"$EXIM_BIN" -C "$d"/exim.conf -bd -oX 2526 -oP "$d"/exim.pid \
			>> "$d"/start.log 2>&1 || {
		echo "# exim client failed to start:"; sed 's/^/#   /' "$d"/start.log
		EXC_DIR=; return 1
	}
	st_wait_listen "$NS_C" 2526
}

exc_stop() {
	[ -n "$EXC_DIR" ] || return 0
	[ -r "$EXC_DIR"/exim.pid ] && kill "$(cat "$EXC_DIR"/exim.pid)" 2>/dev/null
	EXC_DIR=
}
# exc_flush: the queue, and the retry hints that would hold back the
# next cells' deliveries
exc_flush() {
	[ -n "$EXC_DIR" ] || return 0
	rm -f "$EXC_DIR"/spool/input/* "$EXC_DIR"/spool/db/retry* "$EXC_DIR"/spool/db/wait-*
}

# ----------------------------------------------------------- OpenSMTPD
# osmtpd_run NAME NS CONF: smtpd -d in namespace NS with its own spool and
# control socket (bind mounts private to the process: the paths are
# compiled in); log in $ST_TMP/osmtpd-NAME/log
osmtpd_run() {
	local name=$1 ns=$2 conf=$3 d=$ST_TMP/osmtpd-$1
	mkdir -p "$d"/spool "$d"/run || return 1
	chmod 711 "$d"/spool
	ip netns exec "$ns" unshare -u -m sh -c '
		hostname "$1" &&
		mount --bind "$2"/spool /var/spool/smtpd &&
		mount --bind "$2"/run /run &&
		exec "$3" -d -v -f "$4"' sh "$([ "$ns" = "$NS_C" ] && echo client.test || echo server.test)" \
		"$d" "$SMTPD_BIN" "$conf" > "$d"/log 2>&1 &
	bg_track $!
	OSMTPD_PID[$name]=$!
}
declare -A OSMTPD_PID=()
osmtpd_stop() {	# NAME
	local p=${OSMTPD_PID[$1]:-}
	[ -n "$p" ] || return 0
	kill "$p" 2>/dev/null; wait "$p" 2>/dev/null
	unset "OSMTPD_PID[$1]"
}

# osc_start: OpenSMTPD client on 127.0.0.1:2527
osc_start() {
	local d=$ST_TMP/osmtpd-osc
	OSC_LOG=$d/log
	mkdir -p "$d" || return 1
	echo "auth $MTA_USER:$MTA_PASS" > "$d"/creds; chmod 640 "$d"/creds
	{
		echo "table creds file:$d/creds"
		echo "listen on 127.0.0.1 port 2527"
		echo "action \"plain\" relay host smtp+notls://$S4"
		echo "action \"tls\" relay host smtp+tls://$S4 tls no-verify"
		echo "action \"authtls\" relay host smtp+tls://auth@$S4 tls no-verify auth <creds>"
		for c in plain tls authtls; do
			echo "match from any mail-from \"$c@client.test\" for any action \"$c\""
		done
	} > "$d"/smtpd.conf
	"$SMTPD_BIN" -n -f "$d"/smtpd.conf > "$d"/check.log 2>&1 || {
		echo "# opensmtpd client config:"; sed 's/^/#   /' "$d"/check.log; return 1; }
	osmtpd_run osc "$NS_C" "$d"/smtpd.conf
	st_wait_listen "$NS_C" 2527
}
# osc_flush: a fresh instance (an empty queue, no route marked down)
osc_flush() {
	osmtpd_stop osc
	rm -rf "$ST_TMP"/osmtpd-osc/spool
	osc_start
}

# oss_start: OpenSMTPD server on port 25, STARTTLS and AUTH
# (OpenSMTPD offers AUTH only after STARTTLS), relaying everything for
# server.test to a capture server on 127.0.0.1:2600 (no local users needed)
oss_start() {
	local d=$ST_TMP/osmtpd-oss
	OSS_LOG=$d/log
	mkdir -p "$d" || return 1
	echo "$MTA_USER $("$MTA_ROOT"/opensmtpd/usr/libexec/opensmtpd/encrypt "$MTA_PASS")" > "$d"/creds
	chmod 640 "$d"/creds
	cat > "$d"/smtpd.conf <<-EOF
	pki server.test cert "$MTA_CERTS/cert.pem"
	pki server.test key "$MTA_CERTS/key.pem"
	table creds file:$d/creds
	listen on 0.0.0.0 port 25 tls pki server.test auth-optional <creds> hostname server.test
	action sink relay host smtp://127.0.0.1:2600
	match from any for domain "server.test" action sink
	match auth from any for domain "server.test" action sink
	EOF
	"$SMTPD_BIN" -n -f "$d"/smtpd.conf > "$d"/check.log 2>&1 || {
		echo "# opensmtpd server config:"; sed 's/^/#   /' "$d"/check.log; return 1; }
	cap_start oss-sink "$NS_S" plain 127.0.0.1:2600 || return 1
	osmtpd_run oss "$NS_S" "$d"/smtpd.conf
	st_wait_listen "$NS_S" 25
}

# ----------------------------------------------------------- capture servers
# cap_start NAME NS PROFILE ADDR:PORT...: interop_server.py, messages in
# $ST_TMP/cap-NAME
cap_start() {
	local name=$1 ns=$2 profile=$3 d=$ST_TMP/cap-$1; shift 3
	mkdir -p "$d" || return 1
	ip netns exec "$ns" $INTEROP_SERVER --dir "$d" --profile "$profile" \
		--cert "$MTA_CERTS/cert.pem" --key "$MTA_CERTS/key.pem" "$@" \
		> "$d"/stderr 2>&1 &
	bg_track $!
	CAP_PID[$name]=$!
	local a
	for a in "$@"; do st_wait_listen "$ns" "${a##*:}" || return 1; done
}
declare -A CAP_PID=()
cap_stop() {	# NAME
	local p=${CAP_PID[$1]:-}
	[ -n "$p" ] || return 0
	kill "$p" 2>/dev/null; wait "$p" 2>/dev/null
	unset "CAP_PID[$1]"
}
oss_stop() { osmtpd_stop oss; cap_stop oss-sink; }

# oss_tls_broken: why this OpenSMTPD cannot be a TLS server ("" if it can).
# 6.8 hands its key to the privsep signer through EVP_PKEY_get1_RSA(),
# which under OpenSSL 3 returns a cached copy: every server handshake fails
# "missing private key" / "EVP lib" (OpenSMTPD-portable issue 1171, fixed
# in 7.3.0p0).  AUTH needs TLS there, so it goes too.
oss_tls_broken() {
	local v
	v=$(sed -n 's/^ *opensmtpd=//p' "$MTA_ROOT"/opensmtpd.stamp 2>/dev/null)
	case $v in 6.*) ;; *) return 0 ;; esac
	case $(openssl version) in "OpenSSL 3."*) ;; *) return 0 ;; esac
	echo "OpenSMTPD $v with OpenSSL 3 cannot be a TLS server (its privsep key never reaches the signer, OpenSMTPD-portable issue 1171), and it offers AUTH only after STARTTLS"
}
# oss_tls_fails_alone: the control for oss_tls_broken: a STARTTLS straight
# to the running OpenSMTPD server on its own loopback (no gateway) fails,
# and its log says why
oss_tls_fails_alone() {
	local out
	out=$(in_s timeout 60 openssl s_client -starttls smtp -connect 127.0.0.1:25 \
		-servername server.test -brief < /dev/null 2>&1)
	if echo "$out" | grep -q 'CONNECTION ESTABLISHED'; then
		echo "# OpenSMTPD server did STARTTLS: drop the n/a (oss_tls_broken)"
		return 1
	fi
	busywait 10000 grep -q 'EVP lib' "$OSS_LOG" || {
		echo "# STARTTLS failed, but not as oss_tls_broken says:"
		echo "$out" | tail -n 3 | sed 's/^/#   /'; return 1; }
}
