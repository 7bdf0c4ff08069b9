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
#   - RCPT TO:<"a>|b"@...: the | inside the quoted local part is masked;
#   - plaintext after the 220 to STARTTLS: starttls-injection, reset;
#   - a verb cut short ("MAI"): its letters masked, CR LF untouched.
. "$(dirname "$0")/lib_smtp.sh"
. "$ST_DIR/lib_exim.sh"

st_require ip nft conntrack postfix openssl python3
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
s_quoted() {
	printf '%s\n' 'expect 220' 'cmd EHLO client.test 250' \
		'cmd MAIL FROM:<a@client.test> 250' 'line RCPT TO:<"a>|b"@server.test>' \
		'read' 'cmd QUIT 221'
}
s_tls() {
	printf '%s\n' 'expect 220' 'cmd EHLO client.test 250' 'cmd STARTTLS 220' \
		"line $HID" 'expect_close'
}
s_prefix() {
	printf '%s\n' 'expect 220' 'cmd EHLO client.test 250' 'cmd MAI 5' 'cmd QUIT 221'
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

	s_quoted | session quoted-$SERVER
	if srv_log | grep -qF '"a> b"@server.test' && ! srv_log | grep -qF '|b"@'; then
		st_pass "$SERVER: RCPT TO:<\"a>|b\"@...>: the | arrives masked"
	else
		st_fail "$SERVER: RCPT TO:<\"a>|b\"@...>: the | arrives masked"; show quoted-$SERVER
	fi
	new_tag
	s_tls | session tls-$SERVER
	if was_reset tls-$SERVER && ! srv_ran_vrfy; then
		st_pass "$SERVER: plaintext after the 220 to STARTTLS is reset"
	else
		st_fail "$SERVER: plaintext after the 220 to STARTTLS is reset"; show tls-$SERVER
	fi
	s_prefix | session prefix-$SERVER
	if srv_log | grep -qE '(^|")XXX("|$)' && ! srv_log | grep -q 'MAIX'; then
		st_pass "$SERVER: 'MAI' arrives as 'XXX', CR LF untouched"
	else
		st_fail "$SERVER: 'MAI' arrives as 'XXX', CR LF untouched"; show prefix-$SERVER
	fi

	# controls: the same bytes with the engine out
	st_engine_off
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
	new_tag
	s_bdat 'BDAT 23 LASTX' | session ctl-lastx-$SERVER
	st_diag "$SERVER, engine out, 'BDAT 23 LASTX': client saw $(grep -A2 '^C: BDAT' "$ST_TMP/ctl-lastx-$SERVER.out" | grep '^S: ' | cut -c1-60 | tr '\n' ' '); $(srv_ran_vrfy && echo 'the VRFY ran' || echo 'no VRFY ran')"
	s_quoted | session ctl-quoted-$SERVER
	st_check "$SERVER: control, engine out: the | reaches the server" \
		eval 'srv_log | grep -qF "|b\"@server.test"'
}

# postfix: 8 checks, 1 control; exim: 9 checks, 5 controls
st_plan 23
t0=$(now)
st_topo || { st_fail "topology"; st_finish; }
st_engine_load || { st_fail "engine: $ST_ENGINE"; st_finish; }
st_diag "engine: $ST_ENGINE"

SERVER=postfix
if pf_start; then
	server_cases
	pf_stop
else
	st_fail "postfix starts"
fi
SERVER=exim
if exim_server_start; then
	server_cases
	exim_server_stop
else
	st_fail "exim starts"
fi
st_diag "runtime $(elapsed "$t0")s"
st_finish
