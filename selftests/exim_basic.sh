#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Exim 4.96 behind the helper (lib_exim.sh): a message arrives
# byte-identical, a disallowed verb reaches Exim masked, and with the helper
# detached (control) the same VRFY really runs on Exim.
. "$(dirname "$0")/lib_smtp.sh"
. "$ST_DIR/lib_exim.sh"

st_require ip nft conntrack swaks openssl python3
st_need_vm
exim_available || st_skip_all "no $EXIM_BIN (scripts/install-deps)"

st_begin 4 none
exim_server_start || { st_fail "exim starts"; st_finish; }
st_pass "exim starts in the server namespace"

deliver() {	# SUBJECT
	local f=$ST_TMP/$1.txt m
	msg_gen "$f" 50000 "$1" || return 1
	swaks_send "$NS_C" $S4 "$1" "$f" > "$ST_TMP/$1.swaks" 2>&1 || {
		echo "# swaks failed:"; tail -n 8 "$ST_TMP/$1.swaks" | sed 's/^/#   /'; exim_diag; return 1; }
	m=$(exim_mail_of "$1") || { echo "# $1 not delivered"; exim_diag; return 1; }
	[ "$(msg_sha "$f")" = "$(dump_sha "$m")" ] || { echo "# $1: digest differs"; return 1; }
}

vrfy_runs() {	# 0 if Exim ran VRFY
	exim_mark
	printf 'expect 220\ncmd EHLO client.test 250\ncmd VRFY root@server.test 2\ncmd QUIT 221\n' |
		timeout 60 ip netns exec "$NS_C" $SMTP_CLIENT -t 20 $S4 25 > "$ST_TMP/vrfy.out" 2>&1
	sleep 0.3
	exim_ran VRFY
}

st_check "mail through the helper arrives byte-identical at Exim" deliver exim-basic-1
if vrfy_runs; then
	st_fail "VRFY reaches Exim masked with the helper attached"
	exim_log_since | sed 's/^/#   /'
else
	exim_log_since | grep -i 'syntax error' | sed 's/^/# exim: /'
	st_pass "VRFY reaches Exim masked with the helper attached"
fi
st_helper_detach
st_check "control, helper detached: Exim runs VRFY" vrfy_runs
st_finish
