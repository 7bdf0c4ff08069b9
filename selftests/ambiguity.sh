#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Issue 10: the gateway must read SMTP the way every real server behind it
# does. Each case runs against live Postfix 3.7 and live Exim 4.96, first
# through the engine (the kernel helper, or smtpguard-nfq with
# SMTPGUARD_ENGINE=nfq), then as a control with the engine taken out, where
# the server really runs the hidden VRFY (Exim logs every VRFY its ACL sees,
# Postfix every command it reads), so each check can fail:
#   - BDAT in a HELO session (Exim: 503, the "chunk" read as commands);
#   - " BDAT 23" and "BDAT<TAB>23" (no BDAT to Exim, the chunk is commands);
#   - "BDAT 23 LASTX" (not the strict form: masked; Exim counts a non-last
#     chunk, Postfix answers 501; the control shows what each did);
#   - NOOP + 16380 octets + "VRFY root" (Exim splits at 16384 and runs the
#     rest): reset by the hard line bound;
#   - BDAT after an EHLO reply without CHUNKING (Exim only: Postfix 3.7
#     answers a BDAT it does not offer with 521 and disconnects);
#   - RCPT TO:<"a>|b"@... and RCPT TO:"x y|z"@...: the | inside the quoted
#     local part is masked;
#   - plaintext after the 220 to STARTTLS: starttls-injection, reset; a
#     real TLS handshake there: opaque, the session inside TLS goes on;
#   - a verb cut short ("MAI", "HEL<TAB>foo"): its letters masked, CR, LF
#     and TAB untouched;
#   - AUTH (Exim: LOGIN, plaintext driver; Postfix: Cyrus PLAIN LOGIN): a
#     line pipelined behind an AUTH the server refuses (CRAM-MD5) and one
#     behind the "*" that cancels an exchange are commands to both servers,
#     so they are masked; an AUTH continuation of 16384 octets and an AUTH
#     line of 16385 with the VRFY behind them are reset by the hard line
#     bound (Exim's auth_get_data() and smtp_read_command() split there and
#     run the rest; Postfix skips the rest of a long line, so its control
#     is not run); an empty line answering the 334 of AUTH PLAIN is the
#     (empty) response, so the VRFY behind it is a command to Postfix
#     (Exim's test server offers only LOGIN, whose next line is the
#     password: there the case is a plain check, with no control).
. "$(dirname "$0")/lib_smtp.sh"
. "$ST_DIR/lib_mta.sh"	# pf_server_sasl
. "$ST_DIR/lib_exim.sh"

st_require ip nft conntrack postfix saslpasswd2 openssl python3
st_need_vm
st_engine_require
exim_available || st_skip_all "no $EXIM_BIN (scripts/install-deps)"

# ---- per server: mark its log, did it run the hidden VRFY
SERVER=
# every session hides its own "VRFY <tag>@server.test", so a check sees
# only the VRFY of its own session
TAG=0
new_tag() { TAG=$((TAG + 1)); HID=$(printf "VRFY h%03d@server.test" $TAG); }
srv_mark() { if [ "$SERVER" = exim ]; then exim_mark; else pf_mark; fi; }
# the command lines the server read since the mark (Postfix), or its
# VRFY/RCPT ACL and syntax-error lines (Exim)
srv_log() { if [ "$SERVER" = exim ]; then exim_log_since; else pf_new_cmds; fi; }
srv_ran_vrfy() {
	if [ "$SERVER" = exim ]; then
		exim_ran "$HID"
	else
		pf_new_cmds | grep -qix "$HID"
	fi
}

# session NAME: the client script on stdin, output in $ST_TMP/NAME.out;
# returns the client's exit status (3: reset)
session() {
	local rc=0
	srv_mark
	timeout 120 ip netns exec "$NS_C" $SMTP_CLIENT -k -t 10 $S4 25 \
		> "$ST_TMP/$1.out" 2>&1 || rc=$?
	sleep 0.5
	return $rc
}
show() {	# NAME: diagnostics
	echo "# client:"; grep -vE '^C: NOOP a{50}' "$ST_TMP/$1.out" | cut -c1-160 | tail -n 12 | sed 's/^/#   /'
	echo "# server:"; srv_log | cut -c1-160 | tail -n 12 | sed 's/^/#   /'
}
was_reset() { grep -qE 'RESULT: (reset|closed)' "$ST_TMP/$1.out"; }

LONG=$(printf 'a%.0s' $(seq 16380))
# the scripts; $1: helo|ehlo
s_helo_bdat() {
	printf '%s\n' 'expect 220' 'cmd HELO client.test 250' \
		'cmd MAIL FROM:<a@client.test> 250' 'cmd RCPT TO:<rcpt@server.test> 250' \
		"send BDAT 23\\r\\n$HID\\r\\n" 'read' 'read' 'cmd QUIT 221'
}
s_bdat() {	# LINE: after EHLO, MAIL, RCPT
	printf '%s\n' 'expect 220' 'cmd EHLO client.test 250' \
		'cmd MAIL FROM:<a@client.test> 250' 'cmd RCPT TO:<rcpt@server.test> 250' \
		"send $1\\r\\n$HID\\r\\n" 'read' 'read' 'cmd RSET 250' 'cmd QUIT 221'
}
s_long() {
	printf '%s\n' 'expect 220' 'cmd EHLO client.test 250' \
		"send NOOP ${LONG}$HID\\r\\n" 'read' 'read' 'cmd QUIT 221'
}
s_quoted() {	# PATH: RCPT TO:PATH
	printf '%s\n' 'expect 220' 'cmd EHLO client.test 250' \
		'cmd MAIL FROM:<a@client.test> 250' "line RCPT TO:$1" \
		'read' 'cmd QUIT 221'
}
QUOTED=('<"a>|b"@server.test>' '"x y|z"@server.test')
# quoted_seen PATH [masked]: the server read PATH (without its <>), or
# with "masked" PATH with its | masked and never PATH itself
quoted_seen() {
	local path=${1#<}
	path=${path%>}
	[ -z "${2:-}" ] && { srv_log | grep -qF "$path"; return; }
	srv_log | grep -qF "${path//|/ }" && ! srv_log | grep -qF "$path"
}
s_tls() {
	printf '%s\n' 'expect 220' 'cmd EHLO client.test 250' 'cmd STARTTLS 220' \
		"line $HID" 'expect_close'
}
s_tls_ok() {	# inside TLS the engine keeps out: the VRFY runs
	printf '%s\n' 'expect 220' 'cmd EHLO client.test 250' 'cmd STARTTLS 220' 'tls' \
		'cmd EHLO client.test 250' "cmd $HID 2" 'cmd QUIT 221'
}
s_prefix() {
	printf '%s\n' 'expect 220' 'cmd EHLO client.test 250' 'cmd MAI 5' \
		'cmd HEL\tfoo 5' 'cmd QUIT 221'
}
AUTHPAD=$(printf 'Q%.0s' $(seq 16384))
s_auth_refused() {	# a mechanism neither server offers, VRFY in the same write
	printf '%s\n' 'expect 220' 'cmd EHLO client.test 250' \
		"send AUTH CRAM-MD5\\r\\n$HID\\r\\n" 'read' 'read' 'cmd QUIT 221'
}
s_auth_cancel() {	# "*" ends the exchange: the line behind it is a command
	printf '%s\n' 'expect 220' 'cmd EHLO client.test 250' 'cmd AUTH LOGIN 334' \
		"send *\\r\\n$HID\\r\\n" 'read' 'read' 'cmd QUIT 221'
}
s_auth_blank() {	# an empty response to the 334 of AUTH PLAIN, VRFY behind it
	printf '%s\n' 'expect 220' 'cmd EHLO client.test 250' 'cmd AUTH PLAIN 334' \
		"send \\r\\n$HID\\r\\n" 'read' 'read' 'cmd QUIT 221'
}
s_auth_cont_long() {	# Exim's auth_get_data() returns at octet 16384
	printf '%s\n' 'expect 220' 'cmd EHLO client.test 250' 'cmd AUTH LOGIN 334' \
		"send $AUTHPAD$HID\\r\\n" 'read' 'read' 'cmd QUIT 221'
}
s_auth_line_long() {	# Exim's smtp_read_command() returns at octet 16385
	printf '%s\n' 'expect 220' 'cmd EHLO client.test 250' \
		"send AUTH PLAIN ${AUTHPAD:10}$HID\\r\\n" 'read' 'read' 'cmd QUIT 221'
}

# case NAME SERVERS SCRIPT [ARG]: through the engine, the server must
# not run the hidden VRFY; in the control (engine out) it must, on SERVERS
# (the servers where the hidden command really runs).
declare -A CONTROL CARG
sec_case() {
	local name=$1 on=$2; shift 2
	new_tag
	"$@" | session "$name-$SERVER"
	if srv_ran_vrfy; then
		st_fail "$SERVER: $name: the hidden VRFY does not run"
		show "$name-$SERVER"
	else
		st_pass "$SERVER: $name: the hidden VRFY does not run"
	fi
	if [[ " $on " == *" $SERVER "* ]]; then
		CONTROL[$name]=$1
		CARG[$name]=${2:-}
	fi
}

server_cases() {
	CONTROL=(); CARG=()
	st_engine_on || { st_fail "$SERVER: engine attached"; return; }
	[ $SERVER = exim ] && sec_case "BDAT in a HELO session" "exim" s_helo_bdat
	sec_case "' BDAT 23' (leading space)" "exim" s_bdat ' BDAT 23'
	sec_case "'BDAT<TAB>23'" "exim" s_bdat 'BDAT\t23'
	sec_case "'BDAT 23 LASTX'" "" s_bdat 'BDAT 23 LASTX'
	srv_log | grep -iE 'BDAT|LASTX|XXXX' | head -n 3 | sed "s/^/# $SERVER read: /"
	sec_case "NOOP + 16380 octets + VRFY root" "exim" s_long
	st_check "$SERVER: the 16400-octet line is reset" \
		was_reset "NOOP + 16380 octets + VRFY root-$SERVER"

	local path
	for path in "${QUOTED[@]}"; do
		s_quoted "$path" | session quoted-$SERVER
		if quoted_seen "$path" masked; then
			st_pass "$SERVER: RCPT TO:$path: the | arrives masked"
		else
			st_fail "$SERVER: RCPT TO:$path: the | arrives masked"; show quoted-$SERVER
		fi
	done
	new_tag
	s_tls | session tls-$SERVER
	if was_reset tls-$SERVER && ! srv_ran_vrfy; then
		st_pass "$SERVER: plaintext after the 220 to STARTTLS is reset"
	else
		st_fail "$SERVER: plaintext after the 220 to STARTTLS is reset"; show tls-$SERVER
	fi
	new_tag
	s_tls_ok | session tls-ok-$SERVER
	if grep -q '^EV: TLS' "$ST_TMP/tls-ok-$SERVER.out" &&
	   grep -q 'RESULT: ok' "$ST_TMP/tls-ok-$SERVER.out" && srv_ran_vrfy; then
		st_pass "$SERVER: a TLS handshake after the 220 to STARTTLS: opaque, the session inside goes on"
	else
		st_fail "$SERVER: a TLS handshake after the 220 to STARTTLS: opaque, the session inside goes on"
		show tls-ok-$SERVER
	fi
	s_prefix | session prefix-$SERVER
	# Exim logs the TAB as \t
	if srv_log | grep -qE '(^|")XXX("|$)' && srv_log | grep -qE 'XXX(.|\\t)foo' &&
	   ! srv_log | grep -qE 'MAIX|HELX'; then
		st_pass "$SERVER: 'MAI', 'HEL<TAB>foo' arrive as 'XXX', 'XXX<TAB>foo'"
	else
		st_fail "$SERVER: 'MAI', 'HEL<TAB>foo' arrive as 'XXX', 'XXX<TAB>foo'"; show prefix-$SERVER
	fi
	sec_case "VRFY pipelined behind a refused AUTH" "postfix exim" s_auth_refused
	sec_case "VRFY pipelined behind the '*' that cancels AUTH" "postfix exim" s_auth_cancel
	sec_case "VRFY behind an empty response to AUTH PLAIN's 334" "postfix" s_auth_blank
	sec_case "AUTH continuation of 16384 octets + VRFY" "exim" s_auth_cont_long
	st_check "$SERVER: the 16407-octet AUTH continuation is reset" \
		was_reset "AUTH continuation of 16384 octets + VRFY-$SERVER"
	sec_case "AUTH line of 16385 octets + VRFY" "exim" s_auth_line_long
	st_check "$SERVER: the 16408-octet AUTH line is reset" \
		was_reset "AUTH line of 16385 octets + VRFY-$SERVER"

	# controls: the same bytes with the engine out
	st_engine_off
	run_controls
	new_tag
	s_bdat 'BDAT 23 LASTX' | session ctl-lastx-$SERVER
	st_diag "$SERVER, engine out, 'BDAT 23 LASTX': client saw $(grep -A2 '^C: BDAT' "$ST_TMP/ctl-lastx-$SERVER.out" | grep '^S: ' | cut -c1-60 | tr '\n' ' '); $(srv_ran_vrfy && echo 'the VRFY ran' || echo 'no VRFY ran')"
	for path in "${QUOTED[@]}"; do
		s_quoted "$path" | session ctl-quoted-$SERVER
		st_check "$SERVER: control, engine out: RCPT TO:$path: the | reaches the server" \
			quoted_seen "$path"
	done
}

# run_controls: the sec_case scripts kept in CONTROL, with the engine out
run_controls() {
	local name
	for name in "${!CONTROL[@]}"; do
		new_tag
		"${CONTROL[$name]}" "${CARG[$name]}" | session "ctl-$SERVER"
		if srv_ran_vrfy; then
			st_pass "$SERVER: control, engine out: $name runs the hidden VRFY"
		else
			st_fail "$SERVER: control, engine out: $name runs the hidden VRFY"
			show "ctl-$SERVER"
		fi
	done
}

# postfix: 17 checks, 5 controls; exim: 18 checks, 10 controls; Exim
# without CHUNKING: 1 check, 1 control
st_plan 52
t0=$(now)
st_topo || { st_fail "topology"; st_finish; }
st_engine_load || { st_fail "engine: $ST_ENGINE"; st_finish; }
st_diag "engine: $ST_ENGINE"

SERVER=postfix
if pf_start && MTA_CERTS=$PF_DIR/conf pf_server_sasl; then
	server_cases
	pf_stop
else
	st_fail "postfix starts, with SASL"
fi
SERVER=exim
if exim_server_start auth; then
	server_cases
	exim_server_stop
else
	st_fail "exim starts"
fi
if exim_server_start no-chunking && st_engine_on; then
	CONTROL=(); CARG=()
	sec_case "BDAT 23 after an EHLO reply without CHUNKING" "exim" s_bdat 'BDAT 23'
	st_engine_off
	run_controls
	exim_server_stop
else
	st_fail "exim without CHUNKING starts, engine attached"
fi
st_diag "runtime $(elapsed "$t0")s"
st_finish
