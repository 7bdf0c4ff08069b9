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
# INTEROP_FEATURES restrict the matrix (space separated); INTEROP_VERBOSE=1
# prints an xfail cell's events and log tails too, not only a failed one's;
# INTEROP_OUT is where the tables go (default build/interop/matrix-KVER.md),
# INTEROP_CELLS the cell records they are made from (interop_table.py; default
# build/interop/cells-KVER.tsv).
. "$(dirname "$0")/lib_smtp.sh"
. "$(dirname "$0")/lib_mta.sh"
[ -r "$ST_DIR/lib_exim.sh" ] && . "$ST_DIR/lib_exim.sh"

PRESETS=${INTEROP_PRESETS:-esmtp rfc821 strict}
CLIENTS=${INTEROP_CLIENTS:-pf ex os sw py}
SERVERS=${INTEROP_SERVERS:-pf ex os xc}
FEATURES=${INTEROP_FEATURES:-plain tls auth dsn utf8 bdat big rcpt500 xoauth2}
OUT=${INTEROP_OUT:-$TOPDIR/build/interop/matrix-$(uname -r).md}
CELLS=${INTEROP_CELLS:-$TOPDIR/build/interop/cells-$(uname -r).tsv}
INTEROP_TABLE="python3 -S $ST_DIR/interop_table.py"

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
# interop_na C S F: NA = why cell C->S F does not exist ("" if it does);
# sets a variable, not printed: a subshell a cell costs under TCG
interop_na() {
	local c=$1 s=$2 f=$3
	NA=
	case $f in
	bdat)
		[ "$c" = ex ] || { NA="client has no CHUNKING"; return; }
		[ "$s" = os ] && NA="server has no CHUNKING" ;;
	xoauth2)
		[ "$c" = py ] || { NA="raw XOAUTH2 line only from smtplib"; return; }
		[ "$s" = os ] && NA="OpenSMTPD 6.8 takes no command line of 2048 octets or more (smtp_session.c: cmd[LINE_MAX]), and AUTH only after STARTTLS" ;;
	dsn)
		[ "$c" = sw ] && NA="swaks 20201014 has no DSN parameters" ;;
	utf8)
		[ "$c" = sw ] && { NA="swaks 20201014 has no SMTPUTF8"; return; }
		[ "$c" = os ] || [ "$s" = os ] && NA="OpenSMTPD 6.8 has no SMTPUTF8" ;;
	auth)
		[ "$s" = ex ] && { NA="lib_exim.sh server has no authenticators"; return; }
		[ "$s" = os ] && NA=$OSS_NO_TLS ;;
	tls)
		[ "$s" = os ] && NA=$OSS_NO_TLS ;;
	esac
}

# interop_expect PRESET C S F: EXPECT = the documented reason this cell
# fails under PRESET ("" if it must pass); OKNOTE = why it passes where
# one might expect otherwise
interop_expect() {
	local p=$1 c=$2 s=$3 f=$4
	EXPECT= OKNOTE=
	# rfc821 and strict mask the banner ("220 *****"): Postfix's smtp
	# client takes that for a Cisco PIX and turns ESMTP off
	if [ "$c" = pf ] && [ "$p" != esmtp ]; then
		EXPECT="banner masked: Postfix assumes a Cisco PIX and sends HELO (smtp_pix_workarounds = disable_esmtp): no STARTTLS, AUTH, DSN, SMTPUTF8, 8BITMIME (8-bit body sent as quoted-printable)"
		return
	fi
	case $p in
	rfc821)
		case $f in
		tls|auth|dsn|utf8|bdat|xoauth2)
			EXPECT="rfc821 allows no EHLO, so no ${f^^}"; return ;;
		esac ;;
	strict)
		case $f in
		auth)
			# OpenSMTPD authenticates only inside TLS (authtls)
			if [ "$c" = os ] || [ "$s" = os ]; then
				OKNOTE="AUTH after STARTTLS: strict masks AUTH in clear text; inside TLS the gateway reads nothing"
			else
				EXPECT="strict allows no AUTH"
			fi
			return ;;
		xoauth2) EXPECT="strict allows no AUTH"; return ;;
		bdat) EXPECT="strict denies CHUNKING/BDAT: the client falls back to DATA"; return ;;
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
	pf) SRV_DEBUG=on; pf_start "$S4:25" && pf_server_sasl ;;
	ex) exim_server_start ;;
	os) oss_start ;;
	xc) cap_start xc "$NS_S" exchange "$S4:25" ;;
	esac
}
port25_free() { ! in_s ss -Hltn 'sport = :25' | grep -q .; }
# server_debug on|off: the Postfix server's smtpd debug log (pf_start logs
# every peer) on for the feature cells, whose evidence (MAIL and RCPT
# parameters, BDAT) only it shows, off for the bulk ones (big, rcpt500:
# 500 RCPTs logged line by line are most of a cell's time under TCG).
# Returns once no smtpd of the old setting is left to take a connection.
SRV_DEBUG=on
server_debug() {
	local c=$PF_DIR/conf list="" old p
	[ "$SRV" = pf ] && [ "$SRV_DEBUG" != "$1" ] || return 0
	[ "$1" = on ] && list="0.0.0.0/0 [::]/0"
	old=$(pgrep -P "$(head -n 1 "$PF_DIR/spool/pid/master.pid" | tr -d ' ')" -x smtpd)
	postconf -c "$c" -e "debug_peer_list = $list" &&
		in_s postfix -c "$c" reload >/dev/null 2>&1 || return 1
	for p in $old; do busywait 30000 lib_pid_gone "$p" || return 1; done
	SRV_DEBUG=$1
}
server_stop() {
	case $SRV in
	pf) pf_stop ;;
	ex) exim_server_stop ;;
	os) oss_stop ;;
	xc) cap_stop xc ;;
	esac
	SRV=
}
# the server's log, where its messages land (a maildir: one file a
# recipient; a capture directory: one .eml a transaction, recipients in
# its .json) and how its recipients are counted: set once a server, not
# asked a cell (every subshell and command costs under TCG)
server_vars() {
	SRV_COUNT=()
	case $SRV in
	pf) SRV_LOG=$PF_LOG SRV_STORE=(maildir "$PF_MAIL/new") SRV_COUNT=(--pf-log "$PF_LOG") ;;
	ex) SRV_LOG=$EXIM_LOG SRV_STORE=(maildir "$EXIM_MAIL/new") SRV_COUNT=(--exim-log "$EXIM_LOG") ;;
	os) SRV_LOG=$OSS_LOG SRV_STORE=(cap "$ST_TMP/cap-oss-sink") ;;
	xc) SRV_LOG=$ST_TMP/cap-xc/log SRV_STORE=(cap "$ST_TMP/cap-xc") ;;
	esac
}

# imsg OP ARGS...: interop_msg.py OP in the one process imsg_start began
# (in the client namespace, so "send" connects from there); its output in
# IMSG_OUT (not printed: no subshell to capture it), its status returned
imsg_start() {
	coproc IMSG { in_c $INTEROP_MSG serve 2>&1; }
	bg_track "$IMSG_PID"
}
imsg() {
	local IFS=$'\x1f' line
	IMSG_OUT=
	printf '%s\n' "$*" >&"${IMSG[1]}" || { IMSG_OUT="interop_msg.py serve: gone"; return 1; }
	while IFS= read -r -t 900 line <&"${IMSG[0]}"; do
		case $line in $'\x1e'*) IMSG_OUT=${IMSG_OUT%$'\n'}; return "${line#?}" ;; esac
		IMSG_OUT+=$line$'\n'
	done
	IMSG_OUT="interop_msg.py serve: no answer"
	return 1
}

# ------------------------------------------------------------ one cell
# the relaying clients' logs, and the lines that say a relay failed
declare -A CLIENT_LOG=() CLIENT_FAIL=(
	[pf]='status=(deferred|bounced)' [ex]=' (==|\*\*) ' [os]='result="?(TempFail|PermFail)')
declare -A CMARK=()
client_flush() {
	case $1 in pf) pfc_flush ;; ex) exc_flush ;; os) osc_flush ;; esac
}

# feature_expect F C: FX = the check options (--expect log|json WHAT
# REGEX) under which the server shows that F was used
feature_expect() {
	local f=$1 c=$2
	FX=()
	case $SRV:$f in
	*:plain)
		# BODY=8BITMIME where both ends show it: only Postfix and
		# smtplib send it (swaks, OpenSMTPD and Exim's smtp transport
		# never do); Exim's log (lib_exim.sh's log_selector has no
		# +8bitmime) and OpenSMTPD (accepts it without a trace) cannot
		# tell.  The 8-bit body arriving byte-identical is checked anyway.
		# rfc821 masks EHLO: HELO has neither BODY= nor PIPELINING, and
		# the intact 8-bit body is what that cell shows.
		[ "$PRESET" = rfc821 ] && return
		if [ "$c" = pf ] || [ "$c" = py ]; then
			case $SRV in
			pf) FX+=(--expect log BODY=8BITMIME '(?i)BODY=8BITMIME') ;;
			xc) FX+=(--expect json BODY=8BITMIME '"BODY=8BITMIME"') ;;
			esac
		fi
		[ "$SRV" = xc ] && [ "$c" != os ] && [ "$c" != py ] &&
			FX+=(--expect json pipelining '"pipelined": true')
		;;
	pf:tls) FX=(--expect log TLS 'TLS connection established from') ;;
	ex:tls) FX=(--expect log TLS '<= .* X=TLS') ;;
	os:tls) FX=(--expect log TLS ' smtp tls ciphers=') ;;	# not "mta": the relay to the sink
	xc:tls) FX=(--expect json TLS '"tls": "TLS') ;;
	pf:auth) FX=(--expect log AUTH 'sasl_method=') ;;
	os:auth) FX=(--expect log AUTH '(?i)authentication .*result=ok') ;;
	xc:auth) FX=(--expect json AUTH '"auth": "(PLAIN|LOGIN)"') ;;
	pf:dsn) FX=(--expect log DSN '(?i)RCPT TO:.*NOTIFY=') ;;
	ex:dsn) FX=(--expect log DSN '(?i)rcpt: RCPT TO:.*NOTIFY=') ;;	# lib_exim.sh logs each RCPT
	os:dsn|xc:dsn) FX=(--expect json DSN 'NOTIFY=') ;;
	pf:utf8) FX=(--expect log SMTPUTF8 '(?i)MAIL FROM:.*SMTPUTF8') ;;
	ex:utf8) FX=(--expect log SMTPUTF8 '<= .* P=utf8') ;;
	os:utf8) FX=(--expect log SMTPUTF8 '(?i)SMTPUTF8') ;;
	xc:utf8) FX=(--expect json SMTPUTF8 '"smtputf8": true') ;;
	pf:bdat) FX=(--expect log BDAT '(?i): BDAT [0-9]+') ;;
	ex:bdat) FX=(--expect log BDAT '<= .* K ') ;;
	xc:bdat) FX=(--expect json BDAT '"bdat": true') ;;
	xc:xoauth2) FX=(--expect json XOAUTH2 '"xoauth2_sha256": "') ;;
	*:big|*:rcpt500|*:xoauth2) ;;
	*) FX=(--expect log "a check for $f at $SRV" '$^') ;;
	esac
}

# cell_check ID DIGEST WANT C: interop_msg.py check against this server
# (and the relaying client's log, for its failure)
cell_check() {
	local -a cl=()
	[ -n "${CLIENT_LOG[$4]:-}" ] &&
		cl=(--client-log "${CLIENT_LOG[$4]}" --client-from "${CMARK[$4]}" --client-fail "${CLIENT_FAIL[$4]}")
	imsg check --cell "$1" --digest "$2" --want "$3" --store "${SRV_STORE[@]}" \
		"${SRV_COUNT[@]}" --server-log "$SRV_LOG" --log-from "$LOGMARK" \
		"${FX[@]}" "${cl[@]}"
}

# gateway_clean: what the gateway reported since the cell began (the
# events of smtpguard -j monitor; block_complete shows that they were
# complete): no violation it dropped or reset.  Those it masked or only
# logged (a masked EHLO under rfc821, a 101st RCPT) are what the preset is
# for: they go to GWNOTE.
declare -A GWNOTE_WHY=(
	[recipients]="recipients (more than 100 RCPTs in one transaction: logged, action recipients log)"
	[verb]="verb (the masked EHLO: what rfc821 is)")
GWNOTE=
gateway_clean() {
	local rc l k
	GWNOTE="" GWBAD=""
	imsg gateway --events "$EVENTS" --from "$EVMARK"; rc=$?
	while IFS= read -r l; do
		case $l in
		note:*)
			for k in ${l#note:}; do
				GWNOTE+="${GWNOTE:+;} ${GWNOTE_WHY[${k%%:*}]:-${k%%:*}}"
			done ;;
		bad:*) GWBAD="gateway:${l#bad:}" ;;
		esac
	done <<<"$IMSG_OUT"
	[ $rc = 0 ] && return 0
	[ -n "$GWBAD" ] || GWBAD="gateway: $IMSG_OUT"
	return 1
}

# block_begin / block_complete: around a server's cells under one preset,
# the counters zeroed, then compared with the events the cells were
# judged by (smtpguard stats costs a second a call under TCG, so not a cell)
block_begin() {
	in_g "$SMTPGUARD_CLI" stats reset || return 1
	imsg sizes "$EVENTS" && BLOCKMARK=$IMSG_OUT
}
block_complete() {
	local j
	j=$(in_g "$SMTPGUARD_CLI" -j stats) || { echo "smtpguard stats failed"; return 1; }
	imsg gateway --events "$EVENTS" --from "$BLOCKMARK" --stats "$j" && return 0
	echo "$IMSG_OUT"
	return 1
}

# phase NAME: add NAME's time since the last phase to PHASES (where a
# cell's time goes: the runtime budget)
phase() {
	local t=${EPOCHREALTIME/[.,]/}
	t=$((t / 1000))
	PHASES="$PHASES $1 $(((t - tm) / 1000)).$(((t - tm) % 1000 / 100)) s,"
	tm=$t
}

# run_cell PRESET C F: one delivery; sets RESULT (ok|fail) and WHY;
# PHASES says where the time went
run_cell() {
	local p=$1 c=$2 f=$3 cls=plain kind=std rc want sent
	CELL=$p-$c-$SRV-$f
	local msg=$ST_TMP/$CELL.eml out=$ST_TMP/$CELL.out
	local -a rcpt=(--to "$CELL@server.test") opts=(--8bit) sw=()
	local tm polls=0
	tm=${EPOCHREALTIME/[.,]/}; tm=$((tm / 1000))
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
	feature_expect "$f" "$c"
	imsg gen --cell "$CELL" --kind "$kind" --from "$cls@client.test" "$msg" || {
		RESULT=fail; WHY="cannot generate the message"; return; }
	sent=$IMSG_OUT
	phase gen
	imsg sizes "$SRV_LOG" "$EVENTS" "${CLIENT_LOG[$c]:-/dev/null}"
	read -r LOGMARK EVMARK "CMARK[$c]" <<<"$IMSG_OUT"

	case $c in
	pf|ex|os)
		imsg send 127.0.0.1 "${MTA_SUBMIT[$c]}" --from "$cls@client.test" \
			"${rcpt[@]}" "${opts[@]}" "$msg"; rc=$?
		printf '%s\n' "$IMSG_OUT" > "$out" ;;
	py)
		case $cls in tls) opts+=(--starttls) ;; auth) opts+=(--auth LOGIN) ;;
		authtls) opts+=(--starttls --auth LOGIN) ;; esac
		[ "$f" = xoauth2 ] && opts+=(--auth XOAUTH2 --auth-optional)
		imsg send "$S4" 25 --from "$cls@client.test" \
			"${rcpt[@]}" "${opts[@]}" "$msg"; rc=$?
		printf '%s\n' "$IMSG_OUT" > "$out" ;;
	sw)
		case $cls in tls) sw+=(-tls) ;; auth) sw+=(--auth PLAIN --auth-user "$MTA_USER" --auth-password "$MTA_PASS") ;;
		authtls) sw+=(-tls --auth PLAIN --auth-user "$MTA_USER" --auth-password "$MTA_PASS") ;; esac
		local to=${rcpt[1]}
		if [ "$f" = rcpt500 ]; then
			printf -v to "$CELL-r%03d@server.test," {1..500}
			to=${to%,}
		fi
		in_c timeout 300 swaks --server "$S4" --port 25 --helo client.test \
			--from "$cls@client.test" --to "$to" --data @"$msg" --pipeline \
			--timeout 120 "${sw[@]}" > "$out" 2>&1
		rc=$? ;;
	esac
	phase submit
	if [ $rc != 0 ]; then
		RESULT=fail; WHY="client: $(grep -vE '^ *(~>|<~|->|<-|\*\*\*) ' "$out" | tail -n 2 | tr '\n' ' ' | cut -c1-160)"
		[ "$c" = sw ] && WHY="swaks exit $rc: $(grep -E '^(<\*\*|\*\*\*)' "$out" | tail -n 1 | cut -c1-140)"
		gateway_clean || WHY="$WHY; $GWBAD"
		return
	fi
	# wait for every recipient's copy (relaying clients: or their failure)
	local limit=120 t0=$SECONDS
	case $f in big|rcpt500) limit=300 ;; esac
	# a (small) cell the preset is documented to break: the client may
	# retry for minutes (OpenSMTPD, refused STARTTLS) before it logs a
	# failure
	[ -n "$EXPECT" ] && [ "$limit" = 120 ] && limit=30
	while :; do
		cell_check "$CELL" "$sent" "$want" "$c"; rc=$?
		[ $rc != 2 ] && break
		[ $((SECONDS - t0)) -ge "$limit" ] && break
		sleep 0.3; polls=$((polls + 1))
	done
	phase "delivery ($polls polls)"
	RESULT=fail
	case $rc in
	4)
		WHY="relay failed: $(echo "${IMSG_OUT%%$'\n'*}" | sed -E 's/.*(status=|result=)//' | cut -c1-160)"
		client_flush "$c" ;;
	2)
		WHY="$IMSG_OUT after $((SECONDS - t0)) s"
		client_flush "$c" ;;
	0)
		if ! gateway_clean; then
			WHY=$GWBAD
		else
			RESULT=ok; WHY=
			[ -n "$GWNOTE" ] && WHY="the preset masked or logged:${GWNOTE}"
		fi ;;
	*)
		WHY=$IMSG_OUT ;;
	esac
	[ "$RESULT" = ok ] || gateway_clean || case $WHY in gateway:*) ;; *) WHY="$WHY; $GWBAD" ;; esac
	phase checks
	# checked: the copies go (20 MB copies would fill the VM's memory,
	# and every later check would read 500-recipient cells again)
	imsg remove --cell "$CELL" --store "${SRV_STORE[@]}" --also "$msg"
}

# cell_logs C: the gateway's violation events, the tails of the client's
# and the server's logs
cell_logs() {
	local l=${CLIENT_LOG[$1]:-}
	tail -c +"$((EVMARK + 1))" "$EVENTS" 2>/dev/null | grep '"kind":"violation"' |
		head -n 3 | cut -c1-240 | sed 's/^/#   event: /'
	[ -n "$l" ] && tail -c +"$((${CMARK[$1]:-0} + 1))" "$l" | grep -vE 'debug|^ *$' |
		tail -n 6 | cut -c1-200 | sed 's/^/#   client: /'
	tail -c +"$((LOGMARK + 1))" "$SRV_LOG" 2>/dev/null |
		grep -vE 'debug|smtp_get|smtp_fputs|vstream|dict_|attribute|maps_find|match_|generic_checks|ctable|name_mask|_clnt|connect to|watchdog|extract_addr|send attr|input_transp|mail_addr|smtpd_acl|sasl_mech' |
		tail -n 8 | cut -c1-200 | sed 's/^/#   server: /'
}

# ------------------------------------------------------------ matrix
# record P C S F RESULT [NOTE]: one cell's line for interop_table.py
record() {
	local note=${6:-}
	note=${note//[$'\t\n']/ }
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "${CLIENT_NAME[$2]}" \
		"$3" "${SERVER_NAME[$3]}" "$4" "$5" "$note" >> "$CELLS"
}

ncells=0
for p in $PRESETS; do for s in $SERVERS; do for c in $CLIENTS; do for f in $FEATURES; do
	interop_na "$c" "$s" "$f"
	[ -z "$NA" ] && ncells=$((ncells + 1))
done; done; done; done
# the OpenSMTPD server's own STARTTLS, no gateway: the control for OSS_NO_TLS
nctl=0; case " $SERVERS " in *" os "*) [ -n "$OSS_NO_TLS" ] && nctl=1 ;; esac
nblocks=0; for s in $SERVERS; do for p in $PRESETS; do nblocks=$((nblocks + 1)); done; done
st_plan $((ncells + nctl + nblocks + 2))
t0=$(now)
mkdir -p "$(dirname "$CELLS")" "$(dirname "$OUT")" && : > "$CELLS"
if ! st_setup; then st_fail "setup: topology, module, helper"; st_finish; fi
# every event with its class, action, value and flow: what a cell is
# judged by, and the diagnosis of a failing one
EVENTS=$ST_TMP/events EVMARK=0
in_g "$SMTPGUARD_CLI" -j monitor > "$EVENTS" 2>&1 &
bg_track $!
imsg_start
MTA_CERTS=$ST_TMP/certs
mta_clients() { mta_certs "$MTA_CERTS" && mta_vm_prepare && pfc_start && exc_start && osc_start; }
st_check "MTAs: test CA, users, Postfix/Exim/OpenSMTPD clients" mta_clients
defer pfc_stop
defer exc_stop
CLIENT_LOG=([pf]=$PFC_LOG [ex]=$EXC_LOG [os]=$OSC_LOG)

for s in $SERVERS; do
	server_start "$s" || { st_fail "$s server starts"; continue; }
	server_vars
	[ "$s" = os ] && [ -n "$OSS_NO_TLS" ] &&
		st_check "OpenSMTPD server: STARTTLS fails on its own loopback too (so its TLS and AUTH cells are n/a)" \
			oss_tls_fails_alone
	for p in $PRESETS; do
		st_policy "$p" >/dev/null || { st_fail "load $p"; continue; }
		PRESET=$p
		block_begin || { st_fail "$p, ${SERVER_NAME[$s]}: smtpguard stats reset"; continue; }
		# the feature cells, then the bulk ones (server_debug)
		for cf in $(for pass in feature bulk; do for c in $CLIENTS; do for f in $FEATURES; do
			case $pass:$f in feature:big|feature:rcpt500) ;; feature:*|bulk:big|bulk:rcpt500) echo "$c:$f" ;; esac
		done; done; done); do
			c=${cf%:*} f=${cf#*:}
			case $f in big|rcpt500) dbg=off ;; *) dbg=on ;; esac
			server_debug $dbg || st_fail "${SERVER_NAME[$s]}: debug log $dbg"
			interop_na "$c" "$s" "$f"
			if [ -n "$NA" ]; then
				record "$p" "$c" "$s" "$f" n/a "$NA"
				continue
			fi
			ts=$SECONDS
			interop_expect "$p" "$c" "$s" "$f"
			run_cell "$p" "$c" "$f"
			st_diag "$CELL:${PHASES%,}"
			name="$p: ${CLIENT_NAME[$c]} -> ${SERVER_NAME[$s]}: $f ($((SECONDS - ts)) s)"
			if [ "$RESULT" = ok ]; then
				if [ -n "$EXPECT" ]; then
					record "$p" "$c" "$s" "$f" xpass "$EXPECT"
				else
					record "$p" "$c" "$s" "$f" ok "$OKNOTE${OKNOTE:+${WHY:+; }}$WHY"
				fi
				st_pass "$name"
			elif [ -n "$EXPECT" ]; then
				record "$p" "$c" "$s" "$f" xfail "$EXPECT"
				[ -n "${INTEROP_VERBOSE:-}" ] && cell_logs "$c"
				ktap_xfail "$name" "$EXPECT; saw: $WHY"
			else
				record "$p" "$c" "$s" "$f" FAIL "$WHY"
				st_diag "$CELL: $WHY"
				cell_logs "$c"
				st_fail "$name"
			fi
		done
		st_check "$p, ${SERVER_NAME[$s]}: the gateway's counters match the events the cells were judged by" \
			block_complete
	done
	server_stop
done

# ------------------------------------------------------------ the table
$INTEROP_TABLE --kernel "$(uname -r)" --presets "$PRESETS" --servers "$SERVERS" \
	--clients "$CLIENTS" --features "$FEATURES" "$CELLS" > "$OUT"
sed 's/^/# /' "$OUT"
st_diag "matrix in $OUT, cells in $CELLS; $(elapsed "$t0") s"
st_check "matrix written" test -s "$OUT"
st_finish
