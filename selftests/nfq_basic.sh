#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The NFQUEUE engine (userspace/smtpguard-nfq) does the module's job where a
# module cannot be loaded: the gateway queues port-25 traffic to it and it
# runs the same engine with the same policy files. A disallowed verb reaches
# the real server masked and gets 500; allowed mail arrives intact over IPv4
# and IPv6; the masked verb is reported as an event. SIGHUP reloads the
# policy file (the unit's reload): a policy that allows VRFY lets it
# through, and a file that does not parse leaves the active policy.
. "$(dirname "$0")/lib.sh"

checktool ip nft smtp-sink swaks python3 ss
require_vm

NFQ=$TOPDIR/userspace/smtpguard-nfq
[ -x "$NFQ" ] || ktap_skip_all "no $NFQ (make -C userspace)"

ktap_header
ktap_plan 10

TMP=$(lib_tmpdir) || exit 1
RUN=$$-$RANDOM

setup_topo; ktap_result $? "topology"
[ "$KTAP_FAIL" = 0 ] || ktap_finished

ip netns exec "$NS_GW" nft -f - <<-EOF
table inet smtpguard_nfq {
	chain forward {
		type filter hook forward priority filter; policy accept;
		tcp dport 25 queue num 7
		tcp sport 25 queue num 7
	}
}
EOF
ktap_result $? "nft: port 25 queued to queue 7"

# The policy file the SIGHUP cases rewrite: the esmtp preset to start with.
cp "$TOPDIR/policy/esmtp.conf" "$TMP/policy.conf" || exit 1
ip netns exec "$NS_GW" "$NFQ" -q 7 -f "$TMP/policy.conf" -v >"$TMP/nfq.out" 2>"$TMP/nfq.err" &
bg_track $!
busywait 5000 grep -q "queue 7" "$TMP/nfq.err"
ktap_result $? "smtpguard-nfq bound queue 7 with the esmtp policy file"
NFQ_PID=$(pgrep -n -f "smtpguard-nfq -q 7")

start_sink "$TMP" || ktap_finished

# VRFY is masked by esmtp: the server must log XXXX, never VRFY.
out=$(printf '%s\n' 'expect 220' 'cmd EHLO nfq.test 250' 'line VRFY postmaster' \
	'expect 5' 'cmd QUIT 221' |
	ip netns exec "$NS_CLIENT" timeout 60 python3 "$TOPDIR/selftests/smtp_client.py" \
		"$SERVER4" 25 2>&1)
if [ $? = 0 ] && grep -q 'XXXX' "$TMP/sink4.log" && ! grep -qi 'vrfy' "$TMP/sink4.log"; then
	ktap_ok "VRFY reaches the server as XXXX and gets 5xx"
else
	ktap_fail "VRFY reaches the server as XXXX and gets 5xx"
	ktap_msg "client: $out"
	ktap_msg "sink: $(tail -20 "$TMP/sink4.log")"
fi

for fam in 4 6; do
	marker=nfq$fam-$RUN
	if swaks_send "$fam" "$marker" >"$TMP/swaks$fam" 2>&1 &&
	   busywait 5000 sink_dump_with "$TMP" "X-Marker: $marker" >/dev/null; then
		ktap_ok "IPv$fam mail delivered through the NFQUEUE engine"
	else
		ktap_fail "IPv$fam mail delivered through the NFQUEUE engine"
		ktap_msg "$(tail -20 "$TMP/swaks$fam")"
	fi
done

grep -q 'class verb action mask' "$TMP/nfq.out"
ktap_result $? "the engine reported the masked verb as an event"

# vrfy_session TAG: one session sending VRFY TAG; 0 if the server got it
# as VRFY (not masked)
vrfy_session() {
	printf '%s\n' 'expect 220' 'cmd EHLO nfq.test 250' "line VRFY $1" \
		'expect 2' 'cmd QUIT 221' |
		ip netns exec "$NS_CLIENT" timeout 60 python3 \
			"$TOPDIR/selftests/smtp_client.py" "$SERVER4" 25 >/dev/null 2>&1
	busywait 5000 grep -qi "VRFY $1" "$TMP/sink4.log"
}

sed -i 's/^verbs HELO /verbs VRFY HELO /' "$TMP/policy.conf"
kill -HUP "$NFQ_PID"
busywait 5000 grep -q 'reloaded' "$TMP/nfq.err" && vrfy_session reload-$RUN
ktap_result $? "SIGHUP: the rewritten policy (VRFY allowed) is active"

echo 'verbs EHLO BOGUS-SYNTAX (' > "$TMP/policy.conf"
kill -HUP "$NFQ_PID"
busywait 5000 grep -q 'the active policy stays' "$TMP/nfq.err"
ktap_result $? "SIGHUP with a broken file: the error is reported"
vrfy_session kept-$RUN
ktap_result $? "the policy before the broken file is still active"
[ "$KTAP_FAIL" = 0 ] || { kill -USR1 $(pgrep -f smtpguard-nfq); sleep 1; ktap_msg "events: $(cat "$TMP/nfq.out")"; ktap_msg "nfq: $(cat "$TMP/nfq.err")"; ip netns exec "$NS_GW" nft list ruleset; }

ktap_finished
