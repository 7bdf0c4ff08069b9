#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Exim 4.96 as a second real SMTP server in the selftests. Debian's
# exim4-daemon-light conflicts with postfix in dpkg, so it is unpacked
# privately (scripts/install-deps: apt-get download + dpkg-deb -x) under
# $EXIM_ROOT; no system service, no /etc/exim4. Source after lib_smtp.sh.
#
# exim_server_start [helo-only] [no-chunking] [sync] [auth]: the daemon in the
# server namespace on port 25 (v4 and v6), with
#   - mail for @server.test accepted from anyone and delivered to the
#     maildir $EXIM_MAIL (exim_mail_of SUBJECT finds a message);
#   - CHUNKING, PIPELINING, 8BITMIME, SMTPUTF8, SIZE, DSN and STARTTLS
#     (self-signed certificate) advertised;
#   - every VRFY, EXPN and ETRN that reaches an ACL logged as
#     "ran: <command line>", every RCPT as "rcpt: <command line>", every
#     message as "data: N recipients, message-id <id>" (its recipients
#     counted before its "<=" line, which Exim cuts at 8 KB), and
#     every unknown or malformed command as
#     Exim's "SMTP syntax error" / "SMTP protocol error" lines, in
#     $EXIM_LOG (exim_ran CMD, exim_log_since);
#   - smtp_enforce_sync off by default, so a client may pipeline past the
#     banner or after HELO like an attacker would ("sync" turns it on);
#   - "helo-only": EHLO is refused (550), clients fall back to HELO;
#   - "no-chunking": CHUNKING is not advertised;
#   - "auth": AUTH LOGIN (plaintext driver, prompts 334 VXNlcm5hbWU6 and
#     334 UGFzc3dvcmQ6; user $EXIM_AUTH_USER, password $EXIM_AUTH_PASS)
#     offered in clear text.
# exim_server_stop: stops it (st_cleanup calls it too).

EXIM_ROOT=${EXIM_ROOT:-/opt/smtpguard-mta/exim4}
EXIM_BIN=$EXIM_ROOT/usr/sbin/exim4
EXIM_USER=Debian-exim	# compiled into Debian's binary
EXIM_DIR=
EXIM_PID=
EXIM_AUTH_USER=user@client.test
EXIM_AUTH_PASS=secret

# the unpacked binary, with its libraries (scripts/install-deps)
exim_available() {
	[ -x "$EXIM_BIN" ] && ! ldd "$EXIM_BIN" 2>/dev/null | grep -q 'not found'
}

# The binary looks up its compiled-in user at start: create it in the VM's
# writable overlay when the host has none.
exim_user_ensure() {
	getent passwd "$EXIM_USER" >/dev/null && return 0
	useradd --system --no-create-home --home-dir /nonexistent \
		--shell /usr/sbin/nologin "$EXIM_USER" 2>/dev/null ||
		getent passwd "$EXIM_USER" >/dev/null
}

exim_server_start() {
	local helo_only=0 chunking='*' sync=false auth= opt d
	for opt in "$@"; do
		case $opt in
		helo-only) helo_only=1 ;;
		no-chunking) chunking= ;;
		sync) sync=true ;;
		auth) auth=1 ;;
		*) echo "# exim_server_start: unknown option $opt"; return 1 ;;
		esac
	done
	exim_available || { echo "# no $EXIM_BIN (scripts/install-deps)"; return 1; }
	exim_user_ensure || { echo "# cannot create user $EXIM_USER"; return 1; }
	# a fresh directory for each start: no spool, log or mail carried over
	d=$(mktemp -d "$(lib_tmpdir)/exim.XXXXXX") && chmod 755 "$d" || return 1
	EXIM_DIR=$d; EXIM_LOG=$d/log/mainlog; EXIM_MAIL=$d/mail
	mkdir -p "$d"/conf "$d"/spool "$d"/log "$d"/mail || return 1
	chown "$EXIM_USER" "$d"/spool "$d"/log "$d"/mail || return 1
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=server.test \
		-keyout "$d"/conf/key.pem -out "$d"/conf/cert.pem >/dev/null 2>&1 || return 1
	chown "$EXIM_USER" "$d"/conf/key.pem
	cat > "$d"/conf/exim.conf <<-EOF
	primary_hostname = server.test
	spool_directory = $d/spool
	log_file_path = $d/log/%slog
	log_selector = +smtp_protocol_error +smtp_syntax_error +smtp_connection \
	  +incoming_interface +received_recipients +pipelining +tls_peerdn
	exim_path = $EXIM_BIN
	exim_user = $EXIM_USER
	exim_group = $EXIM_USER
	daemon_smtp_ports = 25
	domainlist local_domains = server.test
	host_lookup =
	rfc1413_hosts =
	helo_accept_junk_hosts = *
	chunking_advertise_hosts = $chunking
	pipelining_advertise_hosts = *
	smtputf8_advertise_hosts = *
	dsn_advertise_hosts = *
	accept_8bitmime = true
	message_size_limit = 0
	smtp_enforce_sync = $sync
	smtp_max_synprot_errors = 1000
	smtp_accept_max = 200
	tls_advertise_hosts = *
	tls_certificate = $d/conf/cert.pem
	tls_privatekey = $d/conf/key.pem
	keep_environment =
	acl_smtp_helo = acl_helo
	acl_smtp_rcpt = acl_rcpt
	acl_smtp_data = acl_data
	acl_smtp_vrfy = acl_ran
	acl_smtp_expn = acl_ran
	acl_smtp_etrn = acl_ran

	begin acl
	acl_helo:
	  deny condition = $helo_only
	       condition = \${if match{\$smtp_command}{\N^(?i)ehlo\N}}
	       message = EHLO not supported here
	  accept
	acl_rcpt:
	  warn logwrite = rcpt: \$smtp_command
	  accept domains = +local_domains
	  deny message = relay not permitted
	acl_data:
	  warn logwrite = data: \$recipients_count recipients, message-id \$h_message-id:
	  accept
	acl_ran:
	  warn logwrite = ran: \$smtp_command
	  accept

	begin routers
	inbox:
	  driver = accept
	  domains = +local_domains
	  transport = maildir

	begin transports
	maildir:
	  driver = appendfile
	  directory = $d/mail
	  maildir_format
	  create_directory
	  user = $EXIM_USER
	  delivery_date_add
	  envelope_to_add
	  return_path_add
	EOF
	[ -z "$auth" ] || cat >> "$d"/conf/exim.conf <<-EOF

	begin authenticators
	login:
	  driver = plaintext
	  public_name = LOGIN
	  server_prompts = Username:: : Password::
	  server_condition = \${if and{{eq{\$auth1}{$EXIM_AUTH_USER}}{eq{\$auth2}{$EXIM_AUTH_PASS}}}}
	  server_set_id = \$auth1
	EOF
	# Exim refuses a configuration writable by others
	chmod 644 "$d"/conf/exim.conf
	if ! "$EXIM_BIN" -C "$d"/conf/exim.conf -bV > "$d"/check.log 2>&1; then
		echo "# exim configuration rejected:"; sed 's/^/#   /' "$d"/check.log
		return 1
	fi
	# not through in_s: a function in the background is a subshell, and
	# exim_server_stop must signal Exim itself (ip netns exec execs it),
	# or the daemon outlives it and keeps port 25 from the next server
	ip netns exec "$NS_S" "$EXIM_BIN" -C "$d"/conf/exim.conf -bdf -q5s > "$d"/daemon.log 2>&1 &
	EXIM_PID=$!
	bg_track $EXIM_PID
	st_wait_listen "$NS_S" 25 || {
		echo "# exim did not start:"; exim_diag
		return 1
	}
}

# exim_diag: the daemon's output and the tails of its logs, as diagnostics
exim_diag() {
	local f
	for f in "$EXIM_DIR"/daemon.log "$EXIM_DIR"/log/paniclog "$EXIM_DIR"/log/rejectlog "$EXIM_LOG"; do
		[ -s "$f" ] && { echo "# $f:"; tail -n 15 "$f" | sed 's/^/#   /'; }
	done
}

exim_server_stop() {
	[ -n "$EXIM_PID" ] || return 0
	kill "$EXIM_PID" 2>/dev/null
	wait "$EXIM_PID" 2>/dev/null
	EXIM_PID=
	# a daemon started next binds the same port
	busywait 5000 exim_port_free
}
exim_port_free() { ! in_s ss -Hltn "sport = :25" 2>/dev/null | grep -q .; }

# exim_mark / exim_log_since: the mainlog lines after the mark
exim_mark() { EXIM_MARK=$(wc -l < "$EXIM_LOG" 2>/dev/null || echo 0); }
exim_log_since() { tail -n +"$((${EXIM_MARK:-0} + 1))" "$EXIM_LOG" 2>/dev/null; }
# exim_ran VERB: an ACL ran VERB (whole, at a command start) since the mark
exim_ran() { exim_log_since | grep -qiE "ran: $1( |\$)"; }
# maildir file that holds Subject MARK (maildir_mail_of, lib_smtp.sh)
exim_mail_of() { maildir_mail_of "$EXIM_MAIL" "$1"; }
