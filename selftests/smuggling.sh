#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# SMTP smuggling (CVE-2023-51764 class): every end-of-data variant with a
# bare CR or bare LF inside DATA, and bare CR/LF in command lines, is handled
# with the action the active (esmtp) preset gives the "smuggling" class; the
# server must never receive the smuggled second message.  The server is a
# real Postfix 3.7 with smtpd_forbid_bare_newline off (its default there),
# which takes "\n.\n" as end of data (CVE-2023-51764); a control run with
# the helper detached shows the smuggled transaction arriving, so the checks
# can see one when it gets through.
. "$(dirname "$0")/lib_smtp.sh"

st_require ip nft conntrack postfix openssl python3
st_need_vm

# The expected outcome comes from the preset file, so a policy change is
# followed here: reset -> client sees a reset; drop -> the session stalls;
# log -> passes (the smuggled message then reaches the server: only
# reported).
ACTION=$(sed -n 's/^action smuggling \([a-z]*\).*/\1/p' "$TOPDIR/policy/esmtp.conf" 2>/dev/null)
ACTION=${ACTION:-reset}

VARIANTS=("${SMUGGLE_VARIANTS[@]}")
st_begin $(( ${#VARIANTS[@]} + 3 )) postfix
st_diag "esmtp preset: action smuggling $ACTION"

# smuggle TAG VARIANT: returns 0 when handled as the policy says
smuggle() {
	local tag=$1 v=$2 out rc crc=0
	pf_mark
	out=$(smuggle_script "$tag" "$v" |
		timeout 60 ip netns exec "$NS_C" $SMTP_CLIENT -t 8 $S4 25 2>&1
	) || crc=$?
	sleep 0.5
	rc=0
	if pf_new_cmds | grep -q "evil-$tag@"; then
		echo "# $tag: the server received the smuggled transaction"
		[ "$ACTION" = log ] || rc=1
	fi
	case $ACTION in
	reset)
		if [ $crc != 3 ] && ! echo "$out" | grep -q 'RESULT: closed'; then
			echo "# $tag: client connection not reset (client rc $crc)"; rc=1
		fi ;;
	drop)
		echo "$out" | grep -q '^S: 250 .*' && { echo "# $tag: carrier accepted despite drop"; rc=1; } ;;
	esac
	if [ $rc != 0 ]; then
		echo "$out" | sed 's/^/#   C /'
		pf_new_cmds | sed 's/^/#   S /'
	else
		echo "# $tag: client $(echo "$out" | sed -n 's/^RESULT: //p'), nothing smuggled"
	fi
	return $rc
}

i=0
for v in "${VARIANTS[@]}"; do
	i=$((i + 1))
	st_check "smuggling in DATA '$v': $ACTION, no smuggled message at the server" smuggle v$i "$v"
done

cmdline() {
	local out crc=0 rc=0
	pf_mark
	out=$(smuggle_cmdline_script |
		timeout 60 ip netns exec "$NS_C" $SMTP_CLIENT -t 8 $S4 25 2>&1
	) || crc=$?
	sleep 0.3
	pf_new_cmds | grep -qi '^VRFY' && { echo "# VRFY reached the server whole"; rc=1; }
	if [ "$ACTION" = reset ] && [ $crc != 3 ] && ! echo "$out" | grep -q 'RESULT: closed'; then
		echo "# bare LF in a command line: no reset (client rc $crc)"; rc=1
	fi
	[ $rc = 0 ] || { echo "$out" | sed 's/^/#   C /'; pf_new_cmds | sed 's/^/#   S /'; }
	return $rc
}
st_check "bare LF/CR in a command line: $ACTION, nothing unmasked at the server" cmdline

# Control: without the helper, Postfix 3.7 takes "\n.\n" as end of data, so
# the smuggled transaction arrives: proves the checks above can fail.
control() {
	st_helper_detach
	local out
	pf_mark
	out=$(timeout 60 ip netns exec "$NS_C" $SMTP_CLIENT -t 8 $S4 25 2>&1 <<-'S'
	expect 220
	cmd EHLO client.test 250
	cmd MAIL FROM:<legit-control@client.test> 250
	cmd RCPT TO:<rcpt@server.test> 250
	cmd DATA 354
	send Subject: carrier-control\r\n\r\nhello\n.\nMAIL FROM:<evil-control@attacker.test>\r\nRCPT TO:<victim@server.test>\r\nDATA\r\nSubject: smuggled-control\r\n\r\nsmuggled\r\n.\r\n
	drain 1.5
	cmd QUIT 221
	S
	)
	sleep 0.3
	st_helper_attach
	pf_new_cmds | grep -q 'evil-control@'
}
st_check "helper attached to the SMTP flow (conntrack helper=smtp)" st_helper_seen
if control; then
	st_pass "control: without the helper Postfix accepts the smuggled transaction"
else
	st_skip "control: without the helper Postfix accepts the smuggled transaction" \
		"this Postfix does not take \\n.\\n as end of data"
fi
st_diag "runtime $(elapsed "$t0")s"
st_finish
