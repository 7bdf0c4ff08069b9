#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The security tests of the Postfix side (smuggling.sh; mask_verbs.sh's
# verbs and EHLO keywords; segmentation.sh's pipelining and split verbs;
# starttls.sh's injection) against live Exim 4.96 (lib_exim.sh) through the
# kernel helper, or through smtpguard-nfq with SMTPGUARD_ENGINE=nfq
# (exim_security_nfq.sh). Every case runs first through the engine (the
# hidden command must not run, the preset's action must be seen), then as a
# control with the engine taken out, which shows Exim really runs it, so the
# check can fail. Where Exim itself resists a case, the control is a skip
# that says so and only the attached run is asserted (its action check can
# still fail):
#   - Debian's 4.96 carries the CVE-2023-51766 fix: in a CRLF message it
#     ends data only at CRLF.CRLF, so none of the 8 shared DATA variants
#     smuggles; a carrier whose header lines end in a bare LF puts it in
#     LF-only mode, where "\n.\n" ends data: that variant's control passes;
#   - it discards what a client pipelines behind STARTTLS.
. "$(dirname "$0")/lib_smtp.sh"
. "$ST_DIR/lib_exim.sh"

st_require ip nft conntrack openssl python3
st_need_vm
st_engine_require
exim_available || st_skip_all "no $EXIM_BIN (scripts/install-deps)"

# the expected outcome follows the esmtp preset's actions
preset_action() {	# CLASS
	local a
	a=$(sed -n "s/^action $1 \\([a-z]*\\).*/\\1/p" "$TOPDIR/policy/esmtp.conf" 2>/dev/null)
	echo "${a:-reset}"
}
SMUGGLE_ACTION=$(preset_action smuggling)
INJECT_ACTION=$(preset_action starttls-injection)

# 8 DATA variants, the LF-only one and the command-line one, each
# attached + control; pipelining, verbs one by one, EHLO keywords, split
# verb, STARTTLS injection: attached + control; plain STARTTLS; exim
# starts; engine seen
st_plan $(( 2 * ${#SMUGGLE_VARIANTS[@]} + 4 + 10 + 3 ))
t0=$(now)
if ! st_topo || ! st_engine_load || ! st_engine_on; then
	st_fail "setup: topology, engine ($ST_ENGINE) in the gateway"
	st_finish
fi
st_diag "engine: $ST_ENGINE"
exim_server_start || { st_fail "exim starts"; st_finish; }
st_pass "exim starts in the server namespace"

# xsession NAME [TIMEOUT]: the client script on stdin, output in
# $ST_TMP/NAME.out; returns the client's exit status (3: reset)
xsession() {
	local rc=0
	exim_mark
	timeout 120 ip netns exec "$NS_C" $SMTP_CLIENT -k -t "${2:-8}" $S4 25 \
		> "$ST_TMP/$1.out" 2>&1 || rc=$?
	sleep 0.5
	return $rc
}
show() {	# NAME: diagnostics
	echo "# client:"; tail -n 14 "$ST_TMP/$1.out" | cut -c1-160 | sed 's/^/#   /'
	echo "# exim:"; exim_log_since | cut -c1-200 | tail -n 14 | sed 's/^/#   /'
}
was_reset() { grep -qE 'RESULT: (reset|closed)' "$ST_TMP/$1.out"; }
# acted ACTION NAME: the client saw what ACTION does (reset: a reset or
# close; drop: the session stalls, no 250 after the attack; log: anything)
acted() {
	case $1 in
	reset) was_reset "$2" || { echo "# $2: client not reset"; return 1; } ;;
	drop) ! grep -q 'RESULT: ok' "$ST_TMP/$2.out" || { echo "# $2: session went on"; return 1; } ;;
	esac
	return 0
}
exim_received() { exim_log_since | grep -q "<= $1 "; }

# ---------------------------------------------------------------- smuggling
# engine in: nothing of the second transaction reaches Exim as commands
smuggle_attached() {	# TAG VARIANT [EOL]
	local rc=0
	smuggle_script "$@" | xsession "sm-$1"
	if exim_log_since | grep -qE "evil-$1@|victim@server.test"; then
		echo "# $1: Exim read the smuggled transaction"
		[ "$SMUGGLE_ACTION" = log ] || rc=1
	fi
	acted "$SMUGGLE_ACTION" "sm-$1" || rc=1
	[ $rc = 0 ] && echo "# $1: client $(sed -n 's/^RESULT: //p' "$ST_TMP/sm-$1.out"), nothing smuggled" ||
		show "sm-$1"
	return $rc
}
i=0
for v in "${SMUGGLE_VARIANTS[@]}"; do
	i=$((i + 1))
	st_check "smuggling in DATA '$v': $SMUGGLE_ACTION, Exim reads no smuggled transaction" \
		smuggle_attached v$i "$v"
done
st_check "LF-only carrier ending '\\n.\\n' (Exim's LF mode): $SMUGGLE_ACTION, Exim reads no smuggled transaction" \
	smuggle_attached lf '\n.\n' '\n'
cmdline_attached() {
	local rc=0
	smuggle_cmdline_script | xsession sm-cmdline
	exim_ran "VRFY probe-(lf|cr)@server.test" && { echo "# a VRFY after a bare CR/LF ran"; rc=1; }
	acted "$SMUGGLE_ACTION" sm-cmdline || rc=1
	[ $rc = 0 ] || show sm-cmdline
	return $rc
}
st_check "bare LF/CR in a command line: $SMUGGLE_ACTION, the VRFY behind it never runs" cmdline_attached

# -------------------------------------------------- pipelining and masking
# five commands in one write: MAIL, VRFY, RCPT, EXPN, NOOP
pipe_script() {
	printf '%s\n' 'expect 220' 'cmd EHLO client.test 250' \
		'send MAIL FROM:<pipe@client.test>\r\nVRFY probe-pipe@server.test\r\nRCPT TO:<rcpt@server.test>\r\nEXPN probe-pipe2@server.test\r\nNOOP\r\n' \
		'read' 'read' 'read' 'read' 'read' 'cmd RSET 250' 'cmd QUIT 221'
}
# VERB SUFFIX: how Exim saw the masked VERB (its syntax-error line)
exim_masked_as() {
	exim_log_since | sed -n "s/.*SMTP syntax error in \"\\([A-Za-z-]*\\) $2\".*/\\1/p" | head -n1
}
masked_at_exim() {	# VERB SUFFIX NAME
	local seen
	seen=$(exim_masked_as "$1" "$2")
	masked_like "$1" "$seen" && { echo "# $3: $1 -> $seen (Exim: unrecognized command)"; return 0; }
	echo "# $3: $1 reached Exim as '${seen:-nothing}', not masked"
	return 1
}
# ended_clean NAME N: the client of session NAME saw N replies 500 and
# ended its script
ended_clean() {
	local n500 rc=0
	n500=$(grep -c '^S: 500' "$ST_TMP/$1.out")
	[ "$n500" = "$2" ] || { echo "# client saw $n500 replies 500, want $2"; rc=1; }
	grep -q 'RESULT: ok' "$ST_TMP/$1.out" || { echo "# session did not end cleanly"; rc=1; }
	return $rc
}
pipe_attached() {
	local rc=0
	pipe_script | xsession pipe
	exim_ran "(VRFY|EXPN) probe-pipe2?@server.test" && { echo "# a pipelined VRFY/EXPN ran"; rc=1; }
	masked_at_exim VRFY probe-pipe@server.test pipe || rc=1
	masked_at_exim EXPN probe-pipe2@server.test pipe || rc=1
	exim_log_since | grep -qF 'rcpt: RCPT TO:<rcpt@server.test>' ||
		{ echo "# the RCPT after the masked VRFY did not run"; rc=1; }
	ended_clean pipe 2 || rc=1
	[ $rc = 0 ] || show pipe
	return $rc
}
st_check "pipelined MAIL/VRFY/RCPT/EXPN/NOOP in one segment: VRFY, EXPN masked at Exim, the others run" \
	pipe_attached

# one command at a time: each disallowed verb reaches Exim masked, Exim
# answers 500 (three at most: Exim drops a session at its fourth
# unrecognized command, smtp_max_unknown_commands); the EHLO reply's EXPN
# and ETRN keywords (Exim offers them when their ACLs exist) reach the
# client masked
verbs_script() {
	printf '%s\n' 'expect 220' 'cmd EHLO client.test 250' 'line VRFY probe-v@server.test' 'read' \
		'line EXPN probe-e@server.test' 'read' 'line ETRN probe-etrn' 'read' \
		'cmd NOOP 250' 'cmd QUIT 221'
}
ehlo_keywords() {	# NAME: the keywords of the EHLO reply the client saw
	sed -n '/^C: EHLO/,/^S: 250 /s/^S: 250[- ]\([^ ]*\).*/\1/p' "$ST_TMP/$1.out" | tail -n +2
}
verbs_attached() {
	local rc=0
	verbs_script | xsession verbs
	exim_ran "(VRFY|EXPN|ETRN) probe-" && { echo "# a disallowed verb ran"; rc=1; }
	masked_at_exim VRFY probe-v@server.test verbs || rc=1
	masked_at_exim EXPN probe-e@server.test verbs || rc=1
	masked_at_exim ETRN probe-etrn verbs || rc=1
	ended_clean verbs 3 || rc=1
	[ $rc = 0 ] || show verbs
	return $rc
}
st_check "VRFY, EXPN, ETRN one by one: each reaches Exim masked, client gets 500" verbs_attached
ehlo_attached() {
	local rc=0 k kws n=0
	kws=$(ehlo_keywords verbs)
	echo "# Exim's EHLO keywords seen by the client: $(echo $kws)"
	for k in PIPELINING CHUNKING STARTTLS SMTPUTF8 8BITMIME DSN; do
		echo "$kws" | grep -qx "$k" || { echo "# keyword $k lost"; rc=1; }
	done
	echo "$kws" | grep -qxE 'EXPN|ETRN' && { echo "# EXPN/ETRN keyword passed"; rc=1; }
	for k in $kws; do
		masked_like EXPN "$k" || masked_like ETRN "$k" && n=$((n + 1))
	done
	[ $n -ge 2 ] || { echo "# $n masked EXPN/ETRN keywords, want 2"; rc=1; }
	return $rc
}
st_check "Exim's EHLO reply: EXPN, ETRN masked, PIPELINING/CHUNKING/STARTTLS/... intact" ehlo_attached

split_script() {
	printf '%s\n' 'expect 220' 'cmd EHLO client.test 250' 'send VR' 'sleep 0.4' \
		'send FY probe-split@server.test\r\n' 'read' \
		'line vrfy probe-lc@server.test' 'read' 'cmd QUIT 221'
}
split_attached() {
	local rc=0
	split_script | xsession split
	exim_ran "VRFY probe-split@server.test" && { echo "# the split VRFY ran"; rc=1; }
	masked_at_exim VRFY probe-split@server.test split || rc=1
	exim_ran "VRFY probe-lc@server.test" && { echo "# the lower-case vrfy ran"; rc=1; }
	masked_at_exim VRFY probe-lc@server.test lower-case || rc=1
	[ $rc = 0 ] || show split
	return $rc
}
st_check "VRFY split across two segments, and a lower-case vrfy, reach Exim masked" split_attached

# ---------------------------------------------------------------- STARTTLS
inject_script() {	# the commands pipelined behind STARTTLS in one write,
	# then (if the connection lives) a TLS handshake and a session inside
	printf '%s\n' 'expect 220' 'cmd EHLO client.test 250' \
		'send STARTTLS\r\nVRFY probe-inject@server.test\r\n' 'expect 220' \
		'tls' 'cmd EHLO client.test 250' 'cmd QUIT 221'
}
tls_plain() {
	local rc=0
	printf '%s\n' 'expect 220' 'cmd EHLO client.test 250' 'cmd STARTTLS 220' 'tls' \
		'cmd EHLO client.test 250' 'cmd VRFY probe-tls@server.test 2' 'cmd QUIT 221' |
		xsession tls-plain
	grep -q '^EV: TLS' "$ST_TMP/tls-plain.out" && grep -q 'RESULT: ok' "$ST_TMP/tls-plain.out" || rc=1
	# the TLS stream is opaque to the engine: the VRFY inside runs
	exim_ran "VRFY probe-tls@server.test" || { echo "# VRFY inside TLS did not run"; rc=1; }
	[ $rc = 0 ] && echo "# $(grep '^EV: TLS' "$ST_TMP/tls-plain.out")" || show tls-plain
	return $rc
}
st_check "STARTTLS through the engine: TLS comes up, the session inside goes on" tls_plain
inject_attached() {
	local rc=0
	inject_script | xsession inject
	exim_ran "VRFY probe-inject@server.test" && { echo "# the injected VRFY ran"; rc=1; }
	acted "$INJECT_ACTION" inject || rc=1
	[ $rc = 0 ] || show inject
	return $rc
}
st_check "STARTTLS injection (one write): $INJECT_ACTION, the injected VRFY never runs" inject_attached

st_check "the engine ($ST_ENGINE) inspects the SMTP flow" st_engine_seen

# ---------------------------------------------------------------- controls
st_engine_off
i=0
for v in "${SMUGGLE_VARIANTS[@]}"; do
	i=$((i + 1))
	smuggle_script c$i "$v" | xsession "ctl-sm-c$i"
	desc="control, engine out: Exim records the smuggled message of '$v'"
	if exim_received "evil-c$i@attacker.test"; then
		st_pass "$desc"
	elif exim_received "legit-c$i@client.test"; then
		st_diag "Exim 4.96 reads '$v' as message data: not vulnerable to this variant"
		st_skip "$desc" "Exim itself is not vulnerable to '$v'"
	else
		st_fail "$desc"
		echo "# neither the carrier nor a smuggled message arrived"; show "ctl-sm-c$i"
	fi
done
smuggle_script ctl-lf '\n.\n' '\n' | xsession ctl-sm-lf
if exim_received "evil-ctl-lf@attacker.test"; then
	st_pass "control, engine out: Exim in LF-only mode records the smuggled message"
else
	st_fail "control, engine out: Exim in LF-only mode records the smuggled message"
	show ctl-sm-lf
fi
smuggle_cmdline_script | xsession ctl-cmdline 3
if exim_ran "VRFY probe-cr@server.test"; then
	st_diag "Exim also runs the VRFY behind a bare CR"
else
	st_diag "Exim reads 'NOOP<CR>VRFY ...' as one (unrecognized) command: only the bare LF splits"
fi
if exim_ran "VRFY probe-lf@server.test"; then
	st_pass "control, engine out: Exim runs the VRFY behind a bare LF"
else
	st_fail "control, engine out: Exim runs the VRFY behind a bare LF"; show ctl-cmdline
fi
pipe_script | xsession ctl-pipe
if exim_ran "VRFY probe-pipe@server.test" && exim_ran "EXPN probe-pipe2@server.test"; then
	st_pass "control, engine out: the pipelined VRFY and EXPN run on Exim"
else
	st_fail "control, engine out: the pipelined VRFY and EXPN run on Exim"; show ctl-pipe
fi
verbs_script | xsession ctl-verbs
if exim_ran "VRFY probe-v@server.test" && exim_ran "EXPN probe-e@server.test" &&
	exim_ran "ETRN probe-etrn"; then
	st_pass "control, engine out: VRFY, EXPN, ETRN run on Exim"
else
	st_fail "control, engine out: VRFY, EXPN, ETRN run on Exim"; show ctl-verbs
fi
if ehlo_keywords ctl-verbs | grep -qx EXPN && ehlo_keywords ctl-verbs | grep -qx ETRN; then
	st_pass "control, engine out: Exim's EHLO reply offers EXPN and ETRN"
else
	st_fail "control, engine out: Exim's EHLO reply offers EXPN and ETRN"
	echo "# keywords: $(ehlo_keywords ctl-verbs | tr '\n' ' ')"
fi
split_script | xsession ctl-split
if exim_ran "VRFY probe-split@server.test" && exim_ran "VRFY probe-lc@server.test"; then
	st_pass "control, engine out: the split VRFY and the lower-case vrfy run on Exim"
else
	st_fail "control, engine out: the split VRFY and the lower-case vrfy run on Exim"
	show ctl-split
fi
inject_script | xsession ctl-inject
desc="control, engine out: Exim runs the VRFY injected behind STARTTLS"
if exim_ran "VRFY probe-inject@server.test"; then
	st_pass "$desc"
elif grep -q '^EV: TLS' "$ST_TMP/ctl-inject.out" && grep -q 'RESULT: ok' "$ST_TMP/ctl-inject.out"; then
	st_diag "Exim 4.96 discards what was pipelined behind STARTTLS: TLS came up, the injected VRFY never ran"
	st_skip "$desc" "Exim itself discards input pipelined behind STARTTLS"
else
	st_fail "$desc"
	echo "# no VRFY, and no TLS session after the injection either"; show ctl-inject
fi
st_diag "runtime $(elapsed "$t0")s"
st_finish
