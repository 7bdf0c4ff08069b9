#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Evasion through the kernel helper (issue 9): a client with raw sockets
# (scapy, selftests/evasion_raw.py) tries to make a real Postfix execute
# "VRFY root", which the esmtp preset masks, by making the gateway and the
# server read different streams:
#   urg   an urgent byte hides an end of data inside DATA
#   syn   a SYN in the established connection carries bytes the server
#         discards, then VRFY at the same sequence
#   paws  bytes with a stale TCP timestamp (PAWS drops them), then VRFY
#   icmp  an ICMP error quoting the connection (conntrack RELATED) whose
#         bytes read as a TCP segment at the client's next sequence
#   frag  VRFY root in 8-byte IP fragments, last first (the TCP header
#         itself split): the gateway must read what the server reassembles
#   ttl   bytes with TTL 2, which expire one hop past the gateway (a rule
#         at the server plays that hop), then VRFY at the same sequence
# Each case runs first with the helper detached (the control: the attack
# reaches Postfix), then attached (it must not).
. "$(dirname "$0")/lib_smtp.sh"

CASES=(urg syn paws icmp frag ttl)
evasion_begin $(( 2 * ${#CASES[@]} + 2 ))

for c in "${CASES[@]}"; do
	st_helper_detach
	st_check "$c, control with the helper detached: VRFY root reaches Postfix" \
		evasion_run "$c" through
	st_helper_attach
	st_check "$c through the helper: VRFY root never reaches Postfix" \
		evasion_run "$c" blocked
	[ "$c" != ttl ] || st_check "ttl: the helper raised the TTL, so the first copy reached Postfix" \
		evasion_ttl_delivered
done
st_check "helper attached to the SMTP flow" st_helper_seen
st_diag "runtime $(elapsed "$t0")s"
st_finish
