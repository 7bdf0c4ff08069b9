#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# STARTTLS against a real Postfix with a self-signed certificate: the EHLO
# reply keeps STARTTLS (and masks VRFY/ETRN), swaks --tls delivers a message
# intact through the helper (the helper must leave the TLS stream alone),
# and plaintext pipelined behind STARTTLS in one write ("STARTTLS\r\nVRFY
# x\r\n", CVE-2011-0411 class) gets the esmtp preset's starttls-injection
# action (reset): the client is reset and the server sees nothing of it.
. "$(dirname "$0")/lib_smtp.sh"

st_require ip nft conntrack postfix openssl swaks python3
st_need_vm
perl -MNet::SSLeay -e1 2>/dev/null || st_skip_all "swaks --tls needs Net::SSLeay (libnet-ssleay-perl)"

ACTION=$(sed -n 's/^action starttls-injection \([a-z]*\).*/\1/p' "$TOPDIR/policy/esmtp.conf" 2>/dev/null)
ACTION=${ACTION:-reset}

st_begin 5 postfix

ehlo() {
	local out rc=0 l
	out=$(printf 'expect 220\ncmd EHLO client.test 250\ncmd QUIT 221\n' |
		timeout 60 ip netns exec "$NS_C" $SMTP_CLIENT -t 20 $S4 25 2>&1) || rc=1
	for l in 250-PIPELINING 250-SIZE 250-STARTTLS 250-ENHANCEDSTATUSCODES \
		 250-8BITMIME 250-DSN 250-SMTPUTF8 "250 CHUNKING"; do
		echo "$out" | grep -q "^S: $l" || { echo "# EHLO reply lacks '$l'"; rc=1; }
	done
	echo "$out" | grep -qE '^S: 250-(VRFY|ETRN)' && { echo "# VRFY/ETRN keyword passed"; rc=1; }
	# Postfix sends VRFY then ETRN after SIZE: both must be masked with the
	# same length (the engine keeps a live prefix: ETRN -> EXXX)
	local kws k
	kws=$(echo "$out" | sed -n '/^S: 250-SIZE/,/^S: 250-STARTTLS/p' | sed -n 's/^S: 250-//p' | grep -vE '^(SIZE|STARTTLS)')
	set -- $kws
	masked_like VRFY "${1:-}" && masked_like ETRN "${2:-}" ||
		{ echo "# VRFY/ETRN keywords seen as '$kws'"; rc=1; }
	echo "# keywords VRFY ETRN seen as: $(echo $kws)"
	[ $rc = 0 ] || echo "$out" | sed 's/^/#   /'
	return $rc
}
st_check "postfix EHLO: VRFY/ETRN masked, STARTTLS/CHUNKING/... intact" ehlo

# digest of the part of a delivered message from our Subject header on
mail_sha() {	# FILE SUBJECT
	python3 - "$1" "Subject: $2" <<-'P'
	import hashlib, sys
	d = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n")
	i = d.find(b"\n" + sys.argv[2].encode() + b"\n")
	d = d[i + 1:] if i >= 0 else b""
	print(hashlib.sha256(d.rstrip(b"\n")).hexdigest())
	P
}

tls_deliver() {
	local f=$ST_TMP/tls.txt out m want got
	msg_gen "$f" 400000 starttls-deliver || return 1
	out=$(swaks_send "$NS_C" $S4 starttls-deliver "$f" --to rcpt@server.test --tls 2>&1) || {
		echo "# swaks --tls failed:"; echo "$out" | grep -vE '^ ~> ' | tail -n 8 | sed 's/^/#   /'; return 1; }
	echo "$out" | grep -q '=== TLS started' || { echo "# no TLS session"; return 1; }
	echo "# $(echo "$out" | grep '=== TLS started')"
	m=$(pf_mail_of starttls-deliver) || { echo "# not delivered to the maildir"; tail -n 5 "$PF_LOG" | sed 's/^/#   /'; return 1; }
	want=$(msg_sha "$f"); got=$(mail_sha "$m" starttls-deliver)
	[ "$want" = "$got" ] || { echo "# digest sent $want, delivered $got"; return 1; }
}
st_check "swaks --tls through the helper: TLS up, 400 kB message delivered intact" tls_deliver

plain_deliver() {
	local f=$ST_TMP/plain.txt m
	msg_gen "$f" 100000 starttls-plain || return 1
	swaks_send "$NS_C" $S4 starttls-plain "$f" > "$ST_TMP/plain.out" 2>&1 || {
		tail -n 5 "$ST_TMP/plain.out" | sed 's/^/#   /'; return 1; }
	m=$(pf_mail_of starttls-plain) || return 1
	[ "$(msg_sha "$f")" = "$(mail_sha "$m" starttls-plain)" ]
}
st_check "plaintext session to postfix delivered intact" plain_deliver

inject() {
	local out crc=0 rc=0
	pf_mark
	out=$(timeout 60 ip netns exec "$NS_C" $SMTP_CLIENT -t 10 $S4 25 2>&1 <<-'S'
	expect 220
	cmd EHLO client.test 250
	send STARTTLS\r\nVRFY probe-inject\r\n
	read
	read
	S
	) || crc=$?
	sleep 0.5
	pf_new_cmds | grep -q 'probe-inject' && { echo "# the injected command reached postfix"; rc=1; }
	if [ "$ACTION" = reset ]; then
		[ $crc = 3 ] || echo "$out" | grep -q 'RESULT: closed' || {
			echo "# client not reset (rc $crc)"; rc=1; }
	fi
	echo "# client: $(echo "$out" | grep -E '^(EV|RESULT)' | tr '\n' ' ')"
	echo "# postfix got: $(pf_new_cmds | tr '\n' '|')"
	[ $rc = 0 ] || echo "$out" | sed 's/^/#   /'
	return $rc
}
st_check "STARTTLS injection (one write): $ACTION, nothing injected reaches postfix" inject
st_check "helper attached to the SMTP flow" st_helper_seen
st_diag "runtime $(elapsed "$t0")s"
st_finish
