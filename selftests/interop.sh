#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Interop matrix: real MTAs on both sides of the gateway (issue 13).  For
# each preset, each server and each client, one delivery per feature,
# client -> gateway (helper attached, the preset loaded) -> server.  A cell
# passes when
#   - every recipient got the message, byte-identical (interop_msg.py
#     digest: body and the headers a transport must not touch);
#   - the feature was really used: the server's own log (or, for the
#     capture servers, what the session recorded) shows TLS, AUTH, BDAT,
#     SMTPUTF8, DSN, BODY=8BITMIME, pipelining;
#   - the gateway counted no violation, drop or reset (smtpguard stats -j,
#     zeroed before the cell).
# Under esmtp every applicable cell must pass.  Under rfc821 and strict a
# failing cell passes as XFAIL only when interop_expect names the preset's
# documented reason; the table prints that reason.
#
# Clients: pf Postfix 3.7 smtp, ex Exim 4.96, os OpenSMTPD 6.8 (each takes
# the message on 127.0.0.1 in the client namespace and relays it), sw swaks,
# py Python smtplib (both connect through the gateway themselves).
# Servers: pf Postfix smtpd, ex Exim (lib_exim.sh), os OpenSMTPD (relaying
# to a capture server on its loopback), xc an Exchange 2019 hub transport
# emulation (interop_server.py --profile exchange).
# Features: plain (8-bit body, 998-octet header lines, dot-started lines,
# PIPELINING), tls (STARTTLS), auth (AUTH PLAIN or LOGIN), dsn
# (NOTIFY/ORCPT/RET/ENVID), utf8 (SMTPUTF8, non-ASCII recipient), bdat
# (CHUNKING), big (20 MB, SIZE), rcpt500 (500 recipients), xoauth2 (a
# 2 KB AUTH XOAUTH2 line).
#
# Environment: INTEROP_PRESETS, INTEROP_CLIENTS, INTEROP_SERVERS,
# INTEROP_FEATURES restrict the matrix (space separated); INTEROP_OUT is
# where the tables go (default build/interop/matrix-KVER.md).
. "$(dirname "$0")/lib_smtp.sh"
. "$(dirname "$0")/lib_mta.sh"
[ -r "$ST_DIR/lib_exim.sh" ] && . "$ST_DIR/lib_exim.sh"

PRESETS=${INTEROP_PRESETS:-esmtp rfc821 strict}
CLIENTS=${INTEROP_CLIENTS:-pf ex os sw py}
SERVERS=${INTEROP_SERVERS:-pf ex os xc}
FEATURES=${INTEROP_FEATURES:-plain tls auth dsn utf8 bdat big rcpt500 xoauth2}
OUT=${INTEROP_OUT:-$TOPDIR/build/interop/matrix-$(uname -r).md}

declare -A CLIENT_NAME=([pf]="Postfix 3.7" [ex]="Exim 4.96" [os]="OpenSMTPD 6.8"
	[sw]="swaks" [py]="Python smtplib")
declare -A SERVER_NAME=([pf]="Postfix 3.7" [ex]="Exim 4.96" [os]="OpenSMTPD 6.8"
	[xc]="Exchange 2019 (emulated)")

st_need_vm
st_require python3 swaks openssl saslpasswd2 postfix nft
mta_have || st_skip_all "no Exim/OpenSMTPD under $MTA_ROOT (run scripts/install-deps)"
OSS_NO_TLS=$(oss_tls_broken)
declare -F exim_server_start >/dev/null || SERVERS=${SERVERS//ex/}

# ------------------------------------------------------------ applicability
# interop_na C S F: why cell C->S F does not exist ("" if it does)
interop_na() {
	local c=$1 s=$2 f=$3
	case $f in
	bdat)
		[ "$c" = ex ] || { echo "client has no CHUNKING"; return; }
		[ "$s" = os ] && echo "server has no CHUNKING" ;;
	xoauth2)
		[ "$c" = py ] || { echo "raw XOAUTH2 line only from smtplib"; return; }
		[ "$s" = os ] && echo "OpenSMTPD 6.8 takes no command line of 2048 octets or more (smtp_session.c: cmd[LINE_MAX]), and AUTH only after STARTTLS" ;;
	dsn)
		[ "$c" = sw ] && echo "swaks 20201014 has no DSN parameters" ;;
	utf8)
		[ "$c" = sw ] && { echo "swaks 20201014 has no SMTPUTF8"; return; }
		[ "$c" = os ] || [ "$s" = os ] && echo "OpenSMTPD 6.8 has no SMTPUTF8" ;;
	auth)
		[ "$s" = ex ] && { echo "lib_exim.sh server has no authenticators"; return; }
		[ "$s" = os ] && echo "$OSS_NO_TLS" ;;
	tls)
		[ "$s" = os ] && echo "$OSS_NO_TLS" ;;
	esac
}

# interop_expect PRESET C S F: the documented reason this cell fails under
# PRESET ("" if it must pass)
interop_expect() {
	local p=$1 c=$2 s=$3 f=$4
	# rfc821 and strict mask the banner ("220 *****"): Postfix's smtp
	# client takes that for a Cisco PIX and turns ESMTP off
	if [ "$c" = pf ] && [ "$p" != esmtp ]; then
		echo "banner masked: Postfix assumes a Cisco PIX and sends HELO (smtp_pix_workarounds = disable_esmtp): no STARTTLS, AUTH, DSN, SMTPUTF8, 8BITMIME (8-bit body sent as quoted-printable)"
		return
	fi
	case $p in
	rfc821)
		case $f in
		tls|auth|dsn|utf8|bdat|xoauth2)
			echo "rfc821 allows no EHLO, so no ${f^^}"; return ;;
		esac ;;
	strict)
		case $f in
		auth|xoauth2) echo "strict allows no AUTH"; return ;;
		bdat) echo "strict denies CHUNKING/BDAT: the client falls back to DATA"; return ;;
		esac ;;
	esac
}

# ------------------------------------------------------------ servers
SRV=
server_start() {
	SRV=$1
	# the previous server is gone: nothing else may answer on port 25
	busywait 10000 port25_free || { echo "# port 25 still taken:"; in_s ss -Hltnp 'sport = :25'; return 1; }
	case $1 in
	pf) pf_start "$S4:25" && pf_server_sasl ;;
	ex) exim_server_start ;;
	os) oss_start ;;
	xc) cap_start xc "$NS_S" exchange "$S4:25" ;;
	esac
}
port25_free() { ! in_s ss -Hltn 'sport = :25' | grep -q .; }
server_stop() {
	case $SRV in
	pf) pf_stop ;;
	ex) exim_server_stop ;;
	os) oss_stop ;;
	xc) cap_stop xc ;;
	esac
	SRV=
}
server_log() {
	case $SRV in
	pf) echo "$PF_LOG" ;;
	ex) echo "$EXIM_LOG" ;;
	os) echo "$OSS_LOG" ;;
	xc) echo "$ST_TMP/cap-xc/log" ;;
	esac
}
# where the messages land: a maildir (one file a recipient) or a capture
# directory (one .eml per transaction, recipients in the .json)
server_store() {
	case $SRV in
	pf) echo "maildir $PF_MAIL/new" ;;
	ex) echo "maildir $EXIM_MAIL/new" ;;
	os) echo "cap $ST_TMP/cap-oss-sink" ;;
	xc) echo "cap $ST_TMP/cap-xc" ;;
	esac
}

# the capture record(s) of cell ID (capture servers)
cell_json() {
	local kind dir f
	read -r kind dir <<<"$(server_store)"
	[ "$kind" = cap ] || return 0
	for f in $(grep -l -E "^X-Interop-Cell: $1"$'\r'"?\$" "$dir"/*.eml 2>/dev/null); do
		cat "${f%.eml}.json"; echo
	done
}
# imsg OP ARGS...: interop_msg.py OP in the one process imsg_start began
# (in the client namespace, so "send" connects from there); its output on
# stdout, its status returned
imsg_start() {
	coproc IMSG { in_c $INTEROP_MSG serve 2>&1; }
	bg_track "$IMSG_PID"
}
imsg() {
	local IFS=$'\x1f' line
	printf '%s\n' "$*" >&"${IMSG[1]}" || { echo "interop_msg.py serve: gone"; return 1; }
	while IFS= read -r -t 900 line <&"${IMSG[0]}"; do
		case $line in $'\x1e'*) return "${line#?}" ;; esac
		printf '%s\n' "$line"
	done
	echo "interop_msg.py serve: no answer"
	return 1
}
# cell_check ID DIGEST WANT: interop_msg.py check against this server
cell_check() {
	local -a o
	case $SRV in
	pf) o=(--pf-log "$PF_LOG" --log-from "$LOGMARK") ;;
	ex) o=(--exim-log "$EXIM_LOG" --log-from "$LOGMARK") ;;
	esac
	imsg check --cell "$1" --digest "$2" --want "$3" --store $(server_store) "${o[@]}"
}

# ------------------------------------------------------------ one cell
LOGMARK=0
log_since() { tail -c +"$((LOGMARK + 1))" "$(server_log)" 2>/dev/null; }

# client failure seen in the relaying client's log since its mark
declare -A CMARK=()
client_log() {
	case $1 in pf) echo "$PFC_LOG" ;; ex) echo "$EXC_LOG" ;; os) echo "$OSC_LOG" ;; esac
}
client_failed() {
	local l
	l=$(tail -c +"$((${CMARK[$1]:-0} + 1))" "$(client_log "$1")" 2>/dev/null)
	case $1 in
	pf) echo "$l" | grep -E 'status=(deferred|bounced)' ;;
	ex) echo "$l" | grep -E ' (==|\*\*) ' ;;
	os) echo "$l" | grep -E 'result="?(TempFail|PermFail)' ;;
	esac | head -n 3
}
client_flush() {
	case $1 in pf) pfc_flush ;; ex) exc_flush ;; os) osc_flush ;; esac
}

# feature_used F C: the server shows that F was used (prints why not)
feature_used() {
	local f=$1 c=$2 l j
	l=$(log_since); j=$(cell_json "$CELL")
	case $SRV:$f in
	*:plain)
		# BODY=8BITMIME where both ends show it: only Postfix and
		# smtplib send it (swaks, OpenSMTPD and Exim's smtp transport
		# never do); Exim's log (lib_exim.sh's log_selector has no
		# +8bitmime) and OpenSMTPD (accepts it without a trace) cannot
		# tell.  The 8-bit body arriving byte-identical is checked anyway.
		# rfc821 masks EHLO: HELO has neither BODY= nor PIPELINING, and
		# the intact 8-bit body is what that cell shows.
		[ "$PRESET" = rfc821 ] && return 0
		if [ "$c" = pf ] || [ "$c" = py ]; then
			case $SRV in
			pf) echo "$l" | grep -qi 'BODY=8BITMIME' ;;
			ex|os) true ;;
			xc) echo "$j" | grep -q '"BODY=8BITMIME"' ;;
			esac || { echo "no BODY=8BITMIME at the server"; return 1; }
		fi
		if [ "$SRV" = xc ] && [ "$c" != os ] && [ "$c" != py ]; then
			echo "$j" | grep -q '"pipelined": true' || { echo "no pipelining seen"; return 1; }
		fi
		return 0 ;;
	pf:tls) echo "$l" | grep -q 'TLS connection established from' ;;
	ex:tls) echo "$l" | grep -q '<= .* X=TLS' ;;
	os:tls) echo "$l" | grep -q ' smtp tls ciphers=' ;;	# not "mta": the relay to the sink
	xc:tls) echo "$j" | grep -q '"tls": "TLS' ;;
	pf:auth) echo "$l" | grep -q 'sasl_method=' ;;
	os:auth) echo "$l" | grep -qiE 'authentication .*result=ok' ;;
	xc:auth) echo "$j" | grep -qE '"auth": "(PLAIN|LOGIN)"' ;;
	pf:dsn) echo "$l" | grep -qiE 'RCPT TO:.*NOTIFY=' ;;
	ex:dsn) return 0 ;;	# Exim does not log DSN parameters
	os:dsn) echo "$j" | grep -q 'NOTIFY=' ;;
	xc:dsn) echo "$j" | grep -q 'NOTIFY=' ;;
	pf:utf8) echo "$l" | grep -qiE 'MAIL FROM:.*SMTPUTF8' ;;
	ex:utf8) echo "$l" | grep -q '<= .* P=utf8' ;;
	os:utf8) echo "$l" | grep -qi 'SMTPUTF8' ;;
	xc:utf8) echo "$j" | grep -q '"smtputf8": true' ;;
	pf:bdat) echo "$l" | grep -qiE ': BDAT [0-9]+' ;;
	ex:bdat) echo "$l" | grep -qE '<= .* K ' ;;
	xc:bdat) echo "$j" | grep -q '"bdat": true' ;;
	xc:xoauth2) echo "$j" | grep -q '"xoauth2_sha256": "' ;;
	*:big|*:rcpt500|*:xoauth2) return 0 ;;
	*) echo "no check for $f at $SRV"; return 1 ;;
	esac && return 0
	echo "server log shows no ${f^^}"
	return 1
}

# gateway_clean: no drop or reset, and no violation of a class whose action
# in the loaded preset drops or resets, since the stats reset.  Violations
# the preset masks or only logs (a masked EHLO under rfc821, more than 100
# RCPT under esmtp) are what the preset is for: they go to GWNOTE.
GWNOTE=
gateway_clean() {
	local j all bad k
	GWNOTE=
	j=$(in_g "$SMTPGUARD_CLI" -j stats) || { echo "smtpguard stats failed"; return 1; }
	# "name":N pairs of the violations object, then drops and resets
	all=$( { echo "$j" | sed -n 's/.*"violations":{\([^}]*\)}.*/\1/p' | tr ',' '\n'
		echo "$j" | grep -oE '"(drops|resets)":[0-9]+'; } |
		grep -vE ':0$' | tr -d '"')
	[ -z "$all" ] && return 0
	for k in $all; do
		if grep -qE "^action ${k%%:*} (mask|log)\$" "$TOPDIR/policy/$PRESET.conf"; then
			GWNOTE="$GWNOTE $k"
		else
			bad="$bad $k"
		fi
	done
	[ -z "$bad" ] && return 0
	echo "gateway:$bad"
	return 1
}

# phase NAME: add NAME's time since the last phase to PHASES (where a
# cell's time goes: the runtime budget)
phase() {
	local t
	t=$(lib_now_ms)
	PHASES="$PHASES $1 $(((t - tm) / 1000)).$(((t - tm) % 1000 / 100)) s,"
	tm=$t
}

# run_cell PRESET C F: one delivery; sets RESULT (ok|fail) and WHY;
# PHASES says where the time went
run_cell() {
	local p=$1 c=$2 f=$3 cls=plain kind=std rc n want got sent
	CELL=$p-$c-$SRV-$f
	local msg=$ST_TMP/$CELL.eml out=$ST_TMP/$CELL.out
	local -a rcpt=(--to "$CELL@server.test") opts=(--8bit) sw=()
	local tm polls=0
	tm=$(lib_now_ms)
	PHASES=
	case $f in
	tls) cls=tls ;;
	auth) cls=auth; { [ "$SRV" = os ] || [ "$c" = os ]; } && cls=authtls ;;
	dsn) opts+=(--dsn "env-$CELL") ;;
	utf8) rcpt=(--to "jörg.müller-$CELL@server.test"); opts+=(--smtputf8) ;;
	big) kind=big ;;
	rcpt500) rcpt=(--rcpts 500 --rcpt-prefix "$CELL") ;;
	esac
	want=1; [ "$f" = rcpt500 ] && want=500
	sent=$(imsg gen --cell "$CELL" --kind "$kind" --from "$cls@client.test" "$msg") || {
		RESULT=fail; WHY="cannot generate the message"; return; }
	phase gen
	LOGMARK=$(stat -c %s "$(server_log)" 2>/dev/null || echo 0)
	EVMARK=$(stat -c %s "$EVENTS" 2>/dev/null || echo 0)
	[ -n "$(client_log "$c")" ] && CMARK[$c]=$(stat -c %s "$(client_log "$c")" 2>/dev/null || echo 0)
	in_g "$SMTPGUARD_CLI" stats reset || { RESULT=fail; WHY="smtpguard stats reset failed"; return; }

	case $c in
	pf|ex|os)
		imsg send 127.0.0.1 "${MTA_SUBMIT[$c]}" --from "$cls@client.test" \
			"${rcpt[@]}" "${opts[@]}" "$msg" > "$out" 2>&1 ;;
	py)
		case $cls in tls) opts+=(--starttls) ;; auth) opts+=(--auth LOGIN) ;;
		authtls) opts+=(--starttls --auth LOGIN) ;; esac
		[ "$f" = xoauth2 ] && opts+=(--auth XOAUTH2 --auth-optional)
		imsg send "$S4" 25 --from "$cls@client.test" \
			"${rcpt[@]}" "${opts[@]}" "$msg" > "$out" 2>&1 ;;
	sw)
		case $cls in tls) sw+=(-tls) ;; auth) sw+=(--auth PLAIN --auth-user "$MTA_USER" --auth-password "$MTA_PASS") ;;
		authtls) sw+=(-tls --auth PLAIN --auth-user "$MTA_USER" --auth-password "$MTA_PASS") ;; esac
		local to
		if [ "$f" = rcpt500 ]; then
			to=$(seq -f "$CELL-r%03g@server.test" 1 500 | paste -sd,)
		else
			to=${rcpt[1]}
		fi
		in_c timeout 300 swaks --server "$S4" --port 25 --helo client.test \
			--from "$cls@client.test" --to "$to" --data @"$msg" --pipeline \
			--timeout 120 "${sw[@]}" > "$out" 2>&1 ;;
	esac
	rc=$?
	phase submit
	if [ $rc != 0 ]; then
		RESULT=fail; WHY="client: $(grep -vE '^ *(~>|<~|->|<-|\*\*\*) ' "$out" | tail -n 2 | tr '\n' ' ' | cut -c1-160)"
		[ "$c" = sw ] && WHY="swaks exit $rc: $(grep -E '^(<\*\*|\*\*\*)' "$out" | tail -n 1 | cut -c1-140)"
		gateway_clean > "$ST_TMP/gw" || WHY="$WHY; $(cat "$ST_TMP/gw")"
		return
	fi
	# wait for every recipient's copy (relaying clients: or their failure)
	local limit=120 t0=$SECONDS fail=
	case $f in big|rcpt500) limit=300 ;; esac
	while :; do
		got=$(cell_check "$CELL" "$sent" "$want" 2>&1); rc=$?
		[ $rc != 2 ] && break
		case $c in pf|ex|os) fail=$(client_failed "$c") ;; esac
		[ -n "$fail" ] && break
		[ $((SECONDS - t0)) -ge "$limit" ] && break
		sleep 0.3; polls=$((polls + 1))
	done
	phase "delivery ($polls polls)"
	RESULT=fail
	if [ -n "$fail" ]; then
		WHY="relay failed: $(echo "$fail" | head -n 1 | sed -E 's/.*(status=|result=)//' | cut -c1-160)"
		client_flush "$c"
	elif [ $rc = 2 ]; then
		WHY="$got after $((SECONDS - t0)) s"
		client_flush "$c"
	else
		if [ $rc != 0 ]; then
			WHY=$got
		elif ! WHY=$(feature_used "$f" "$c"); then
			:
		elif ! gateway_clean > "$ST_TMP/gw"; then
			WHY=$(cat "$ST_TMP/gw")
		else
			RESULT=ok; WHY=
			[ -n "$GWNOTE" ] && WHY="the preset masked or logged:$GWNOTE"
		fi
	fi
	[ "$RESULT" = ok ] || gateway_clean > "$ST_TMP/gw" || case $WHY in gateway:*) ;; *) WHY="$WHY; $(cat "$ST_TMP/gw")" ;; esac
	phase checks
	# checked: the copies go (20 MB copies would fill the VM's memory,
	# and every later check would read 500-recipient cells again)
	# shellcheck disable=SC2046
	imsg remove --cell "$CELL" --store $(server_store)
	rm -f "$msg"
}

# cell_logs C: the gateway's violation events, the tails of the client's
# and the server's logs
cell_logs() {
	local l
	tail -c +"$((EVMARK + 1))" "$EVENTS" 2>/dev/null | grep '"kind":"violation"' |
		head -n 3 | cut -c1-240 | sed 's/^/#   event: /'
	l=$(client_log "$1")
	[ -n "$l" ] && tail -c +"$((${CMARK[$1]:-0} + 1))" "$l" | grep -vE 'debug|^ *$' |
		tail -n 6 | cut -c1-200 | sed 's/^/#   client: /'
	log_since | grep -vE 'debug|smtp_get|smtp_fputs|vstream|dict_|attribute|maps_find|match_|generic_checks|ctable|name_mask|_clnt|connect to|watchdog|extract_addr|send attr|input_transp|mail_addr|smtpd_acl|sasl_mech' |
		tail -n 8 | cut -c1-200 | sed 's/^/#   server: /'
}

# ------------------------------------------------------------ matrix
declare -A RES=()
NOTES=()
# note_of TEXT: NOTE = its footnote number (added once; not in a
# subshell, so NOTES keeps it)
note_of() {
	local i
	for i in "${!NOTES[@]}"; do
		[ "${NOTES[i]}" = "$1" ] && { NOTE=$((i + 1)); return; }
	done
	NOTES+=("$1"); NOTE=${#NOTES[@]}
}

ncells=0
for p in $PRESETS; do for s in $SERVERS; do for c in $CLIENTS; do for f in $FEATURES; do
	[ -z "$(interop_na "$c" "$s" "$f")" ] && ncells=$((ncells + 1))
done; done; done; done
# the OpenSMTPD server's own STARTTLS, no gateway: the control for OSS_NO_TLS
nctl=0; case " $SERVERS " in *" os "*) [ -n "$OSS_NO_TLS" ] && nctl=1 ;; esac
st_plan $((ncells + nctl + 2))
t0=$(now)
if ! st_setup; then st_fail "setup: topology, module, helper"; st_finish; fi
# every event with its value and flow, for the diagnosis of a failing cell
EVENTS=$ST_TMP/events EVMARK=0
in_g "$SMTPGUARD_CLI" -j monitor > "$EVENTS" 2>&1 &
bg_track $!
imsg_start
MTA_CERTS=$ST_TMP/certs
mta_clients() { mta_certs "$MTA_CERTS" && mta_vm_prepare && pfc_start && exc_start && osc_start; }
st_check "MTAs: test CA, users, Postfix/Exim/OpenSMTPD clients" mta_clients
defer pfc_stop
defer exc_stop

for s in $SERVERS; do
	server_start "$s" || { st_fail "$s server starts"; continue; }
	[ "$s" = os ] && [ -n "$OSS_NO_TLS" ] &&
		st_check "OpenSMTPD server: STARTTLS fails on its own loopback too (so its TLS and AUTH cells are n/a)" \
			oss_tls_fails_alone
	for p in $PRESETS; do
		st_policy "$p" >/dev/null || { st_fail "load $p"; continue; }
		PRESET=$p
		for c in $CLIENTS; do for f in $FEATURES; do
			na=$(interop_na "$c" "$s" "$f")
			if [ -n "$na" ]; then
				note_of "$na"; RES[$p,$c,$s,$f]="n/a[$NOTE]"
				continue
			fi
			ts=$SECONDS
			run_cell "$p" "$c" "$f"
			st_diag "$CELL:${PHASES%,}"
			exp=$(interop_expect "$p" "$c" "$s" "$f")
			name="$p: ${CLIENT_NAME[$c]} -> ${SERVER_NAME[$s]}: $f ($((SECONDS - ts)) s)"
			if [ "$RESULT" = ok ]; then
				RES[$p,$c,$s,$f]=ok
				[ -n "$WHY" ] && { note_of "${WHY//[0-9]/}"; RES[$p,$c,$s,$f]="ok[$NOTE]"; }
				[ -n "$exp" ] && RES[$p,$c,$s,$f]="ok (xpass)"
				st_pass "$name"
			elif [ -n "$exp" ]; then
				note_of "$exp"; RES[$p,$c,$s,$f]="xfail[$NOTE]"
				ktap_xfail "$name" "$exp; saw: $WHY"
			else
				note_of "$WHY"; RES[$p,$c,$s,$f]="FAIL[$NOTE]"
				st_diag "$CELL: $WHY"
				cell_logs "$c"
				st_fail "$name"
			fi
		done; done
	done
	server_stop
done

# ------------------------------------------------------------ the table
print_matrix() {
	local p s c f row
	echo "Interop matrix, $(uname -r), $(date -u +%Y-%m-%d): client -> gateway -> server."
	echo "ok: delivered byte-identical, feature used, no violation; xfail: the"
	echo "preset's documented consequence; n/a: one end lacks the feature."
	for p in $PRESETS; do
		echo
		echo "#### $p"
		echo
		row="| client -> server |"
		for f in $FEATURES; do row+=" $f |"; done
		echo "$row"
		echo "|---|$(for f in $FEATURES; do printf -- '---|'; done)"
		for s in $SERVERS; do for c in $CLIENTS; do
			row="| ${CLIENT_NAME[$c]} -> ${SERVER_NAME[$s]} |"
			for f in $FEATURES; do row+=" ${RES[$p,$c,$s,$f]:-not run} |"; done
			echo "$row"
		done; done
	done
	echo
	local i
	for i in "${!NOTES[@]}"; do echo "[$((i + 1))] ${NOTES[i]}"; done
}
mkdir -p "$(dirname "$OUT")" && print_matrix > "$OUT"
sed 's/^/# /' "$OUT"
st_diag "matrix in $OUT; $(elapsed "$t0") s"
st_check "matrix written" test -s "$OUT"
st_finish
