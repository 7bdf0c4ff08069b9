#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Mid-stream pickup (issue-4 item 7, conntrackd failover) on real SMTP
# sessions through the gateway:
#  1. late attach: a session opened while the gateway tracked it without the
#     helper; the helper is attached and conntrack flushed, so the session's
#     next segment makes a new entry (no SYN, nf_conntrack_tcp_loose) that
#     gets the helper.  The first command after the pickup (VRFY) passes
#     untouched (no masking by guesswork).  The engine skips the first server
#     line it sees (it may have joined mid-line), so the reply to the next
#     command, NOOP, is the first whole final reply line: the safe point.
#     After it VRFY is masked; the session ends with QUIT 221.
#  2. conntrackd-style injection: a held session's entry is dumped, deleted
#     and re-created through ctnetlink (selftests/ct_inject.py: CT_NEW with
#     tuples, status, timeout, TCP state, CTA_HELP "smtp"), which calls the
#     helper's from_nlattr: same pickup behaviour; CTA_HELP_INFO round-trips
#     and its opaque (TLS) flag stops inspection.
#  3. policy "pickup reset": a picked-up connection (flush or injection) is
#     reset at its first payload: the client sees a reset, the server gets
#     nothing more; a connection seen from its SYN is not affected.
# Run in the VM: selftests/vm/run KVER selftests/pickup.sh
. "$(dirname "$0")/lib.sh"

checktool ip nft conntrack smtp-sink python3 ss modinfo
require_vm

CLI=${SMTPGUARD_CLI:-$TOPDIR/userspace/smtpguard}
CT_INJECT=$LIB_DIR/ct_inject.py
[ -x "$CLI" ] || ktap_skip_all "no $CLI (make -C userspace)"
[ -r "$CT_INJECT" ] || ktap_skip_all "no $CT_INJECT"
module_loaded || [ -r "$SMTPGUARD_KO" ] ||
	ktap_skip_all "no module for $(uname -r) at $SMTPGUARD_KO (make modules-all, or set SMTPGUARD_KO)"

ktap_header
ktap_plan 26

TMP=$(lib_tmpdir) || exit 1
SINK_LOG=$TMP/sink4.log

in_gw() { ip netns exec "$NS_GW" "$@"; }

# ------------------------------------------------------------ held client
# A scriptable SMTP client whose steps can wait for trigger files, so the
# test can change the gateway between two commands of one session.
cat > "$TMP/held.py" <<'PY'
import os, socket, sys, time
server, d, steps = sys.argv[1], sys.argv[2], sys.argv[3:]
def out(p, t):
    print('%s: %s' % (p, t), flush=True)
def done(res, rc):
    out('RESULT', res)
    sys.exit(rc)
try:
    s = socket.create_connection((server, 25), timeout=60)
except OSError as e:
    out('EV', 'connect: %s' % e)
    done('fail', 1)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
with open(os.path.join(d, 'port'), 'w') as f:
    f.write('%d\n' % s.getsockname()[1])
buf = b''
def readline():
    global buf
    while b'\n' not in buf:
        c = s.recv(4096)
        if not c:
            raise EOFError()
        buf += c
    l, buf = buf.split(b'\n', 1)
    return l.rstrip(b'\r').decode('latin-1')
def reply():
    while True:
        l = readline()
        out('S', l)
        if len(l) < 4 or l[3] != '-':
            return l
try:
    for st in steps:
        op, _, arg = st.partition(' ')
        if op == 'expect':
            r = reply()
            if not r.startswith(arg):
                out('EV', 'expected %s, got %r' % (arg, r))
                done('fail', 1)
        elif op == 'cmd':
            text, _, code = arg.rpartition(' ')
            out('C', text)
            s.sendall(text.encode() + b'\r\n')
            r = reply()
            if not r.startswith(code):
                out('EV', '%s: expected %s, got %r' % (text, code, r))
                done('fail', 1)
        elif op == 'line':
            out('C', arg)
            s.sendall(arg.encode() + b'\r\n')
        elif op == 'read':
            reply()
        elif op == 'touch':
            open(os.path.join(d, arg), 'w').close()
        elif op == 'wait':
            t = time.time() + 600
            while not os.path.exists(os.path.join(d, arg)):
                if time.time() > t:
                    out('EV', 'nobody touched ' + arg)
                    done('fail', 1)
                time.sleep(0.1)
except (ConnectionResetError, BrokenPipeError):
    out('EV', 'connection reset by peer')
    done('reset', 3)
except EOFError:
    out('EV', 'connection closed by peer')
    done('closed', 4)
except socket.timeout:
    out('EV', 'timeout')
    done('fail', 1)
done('ok', 0)
PY

# held_start NAME STEP...: run the held client in the background in
# $TMP/NAME (output in out, exit status in rc); waits for "touch ready" if
# the steps have one.  Sets HELD_PID, HELD_PORT.
held_start() {
	local name=$1 d=$TMP/$1; shift
	mkdir -p "$d" && rm -f "$d"/*
	( ip netns exec "$NS_CLIENT" python3 "$TMP/held.py" "$SERVER4" "$d" "$@" \
		> "$d/out" 2>&1; echo $? > "$d/rc" ) &
	HELD_PID=$!
	bg_track $HELD_PID
	if printf '%s\n' "$@" | grep -qx 'touch ready'; then
		busywait 60000 test -e "$d/ready" || {
			ktap_msg "$name: not ready:"; ktap_msg "$(cat "$d/out")"; return 1
		}
	fi
	HELD_PORT=$(cat "$d/port" 2>/dev/null)
	[ -n "$HELD_PORT" ]
}

# held_go NAME TRIGGER [UNTIL]: touch TRIGGER, wait for UNTIL (a file the
# client touches) or for the client's exit
held_go() {
	local d=$TMP/$1
	touch "$d/$2"
	busywait 60000 test -e "$d/${3:-rc}" || { ktap_msg "$1: stuck:"; ktap_msg "$(cat "$d/out")"; return 1; }
}
held_rc() { cat "$TMP/$1/rc" 2>/dev/null; }
held_show() { ktap_msg "$1 client:"; ktap_msg "$(cat "$TMP/$1/out")"; }

# ------------------------------------------------------------ observation
# the SMTP lines smtp-sink logged (-v)
sink_lines() { sed -n 's/^smtp-sink: //p' "$SINK_LOG"; }
sink_has() { sink_lines | grep -qxF -- "$1"; }
sink_mentions() { sink_lines | grep -qF -- "$1"; }
sink_show() { ktap_msg "smtp-sink log:"; ktap_msg "$(sink_lines | tail -n 25)"; }

# ct_sport PORT: conntrack -L line(s) of the flow from the client's PORT
ct_sport() { in_gw conntrack -L -p tcp --sport "$1" --dport 25 2>/dev/null; }
ct_has_helper() { ct_sport "$1" | grep -q 'helper=smtp'; }

# event_has STRING...: one monitor line contains every STRING
event_has() {
	local l s ok
	while IFS= read -r l; do
		ok=1
		for s in "$@"; do [[ "$l" == *"$s"* ]] || { ok=0; break; }; done
		[ $ok = 1 ] && return 0
	done < "$MON"
	return 1
}
mon_show() { ktap_msg "monitor -j:"; ktap_msg "$(cat "$MON")"; }

# stats_vals: "sessions probe_masked pickup_violations resets"
stats_vals() {
	in_gw "$CLI" stats -j | python3 -c 'import json,sys
s = json.load(sys.stdin)
print(s["sessions"], s["verbs_masked"]["probe"], s["violations"]["pickup"], s["resets"])'
}

# Session TAG's two probes at the server: VRFY early-TAG, sent before the
# safe point, arrived as sent (no masking by guesswork); VRFY late-TAG,
# sent after it, arrived masked and never whole.
arrived_untouched() {
	busywait 10000 sink_mentions "early-$1" && sink_has "VRFY early-$1" ||
		{ sink_show; return 1; }
}
arrived_masked() {
	busywait 10000 sink_mentions "late-$1" && sink_has "XXXX late-$1" &&
		! sink_mentions "VRFY late-$1" || { sink_show; return 1; }
}

# ------------------------------------------------------------ setup
# 1, 2
ktap_topo_module
modprobe -q nf_conntrack_netlink

# 3: the gateway tracks port 25 without a helper (the late-attach baseline),
# mid-stream entries allowed (the default, made explicit)
rc=0
ns_sysctl "$NS_GW" net.netfilter.nf_conntrack_tcp_loose=1 || rc=1
in_gw nft -f - <<-EOF || rc=1
table inet ctonly {
	chain pre {
		type filter hook prerouting priority filter; policy accept;
		tcp dport 25 ct state new counter
	}
}
EOF
start_sink "$TMP" -t 300 || rc=1
in_gw "$CLI" load esmtp || rc=1
MON=$TMP/monitor.json
in_gw "$CLI" -j monitor > "$MON" 2>&1 &
bg_track $!
sleep 1		# joined the events group by then (TCG is slow)
ktap_result $rc "gateway tracks port 25 without the helper, smtp-sink up, esmtp policy, monitor running"
[ $rc = 0 ] || ktap_bail "setup failed"

# ------------------------------------------------------------ 1. late attach
read -r S0 P0 V0 R0 <<<"$(stats_vals)"

# 4
held_start A "expect 220" "cmd EHLO late.test 250" "touch ready" \
	"wait go1" "line VRFY early-A" "read" "touch early" \
	"wait go2" "cmd NOOP 250" "line VRFY late-A" "read" "cmd QUIT 221"; rc=$?
PA=$HELD_PORT
if [ $rc = 0 ]; then
	ct_sport "$PA" | grep -q ESTABLISHED && ! ct_has_helper "$PA" || {
		rc=1; ktap_msg "gw conntrack:"; ktap_msg "$(in_gw conntrack -L 2>&1)"; }
fi
ktap_result $rc "late attach: session A (port $PA) established through the gw, tracked without a helper"

# 5
rc=0
attach_helper "$NS_GW" || rc=1
ct_has_helper "$PA" && { rc=1; ktap_msg "attaching gave the existing entry a helper?"; }
in_gw conntrack -F 2>/dev/null || rc=1
[ -z "$(ct_sport "$PA")" ] || { rc=1; ktap_msg "entry survived conntrack -F: $(ct_sport "$PA")"; }
ktap_result $rc "helper attached (existing entry unchanged), conntrack -F removed A's entry"

# 6: the next segment, VRFY early-A (no SYN), makes a new entry with the helper
held_go A go1 early; rc=$?
if [ $rc = 0 ]; then
	out=$(ct_sport "$PA")
	echo "$out" | grep -q 'helper=smtp' || rc=1
	[ $rc = 0 ] || ktap_msg "no helper on the picked-up entry: $out"
fi
ktap_result $rc "pickup: A's next segment (no SYN) created a new entry with helper=smtp"

# 7: before the safe point nothing is masked by guesswork
arrived_untouched A
ktap_result $? "pickup: the first command after the pickup (VRFY early-A) reached the server untouched"

# 8, 9
held_go A go2; rc9=$?
[ "$(held_rc A)" = 0 ] || rc9=1
arrived_masked A
ktap_result $? "pickup: after the reply to NOOP (safe point) VRFY late-A is masked to XXXX at the server"
[ $rc9 = 0 ] || held_show A
ktap_result $rc9 "pickup: session A completes with QUIT 221"

# 10
sleep 0.5
rc=0
event_has '"kind":"pickup"' '"value":0,' "\"sport\":$PA," || { rc=1; ktap_msg "no pickup event (value 0) for port $PA"; }
event_has '"class":"verb"' '"token":"VRFY"' '"action":"mask"' "\"sport\":$PA," ||
	{ rc=1; ktap_msg "no VRFY mask event for port $PA"; }
[ $rc = 0 ] || mon_show
ktap_result $rc "monitor -j: pickup event (mode open) and the VRFY mask for A's tuple"

# 11
read -r S1 P1 V1 R1 <<<"$(stats_vals)"
rc=0
[ "$((S1 - S0))" -ge 1 ] && [ "$((P1 - P0))" = 1 ] && [ "$V1" = "$V0" ] && [ "$R1" = "$R0" ] || rc=1
[ $rc = 0 ] || ktap_msg "stats before: sessions=$S0 probe=$P0 pickup=$V0 resets=$R0; after: $S1 $P1 $V1 $R1"
ktap_result $rc "stats -j: session counted, one VRFY masked, no pickup violation or reset in mode open"

# ------------------------------------------------------------ 2. ctnetlink injection
# 12: a session seen from its SYN, with the helper
held_start B "expect 220" "cmd EHLO inject.test 250" "touch ready" \
	"wait go1" "line VRFY early-B" "read" "touch early" \
	"wait go2" "cmd NOOP 250" "line VRFY late-B" "read" "cmd QUIT 221"; rc=$?
PB=$HELD_PORT
[ $rc = 0 ] && busywait 5000 ct_has_helper "$PB" || { rc=1; ktap_msg "$(ct_sport "$PB")"; }
ktap_result $rc "inject: session B (port $PB) established with helper=smtp from its SYN"

# 13: what conntrackd does on the backup: the entry re-created through ctnetlink
rc=0
in_gw python3 "$CT_INJECT" move $CLIENT4 "$PB" $SERVER4 25 --helper smtp \
	> "$TMP/injB.json" 2> "$TMP/injB.old" || rc=1
python3 - "$TMP/injB.old" "$TMP/injB.json" <<-'PY' || rc=1
import json, sys
old = json.loads(open(sys.argv[1]).read().split('old: ', 1)[1])
new = json.load(open(sys.argv[2]))
ok = (new.get('help', {}).get('name') == 'smtp' and
      new.get('tcp', {}).get('state_name') == 'ESTABLISHED' and
      new.get('status', 0) & 6 == 6 and old.get('help', {}).get('name') == 'smtp')
sys.exit(0 if ok else 1)
PY
out=$(ct_sport "$PB")
echo "$out" | grep -q 'ESTABLISHED' && echo "$out" | grep -q 'helper=smtp' &&
	echo "$out" | grep -q ASSURED || rc=1
[ $rc = 0 ] || { ktap_msg "ct_inject: $(cat "$TMP/injB.old" "$TMP/injB.json")"; ktap_msg "conntrack -L: $out"; }
ktap_result $rc "inject: B's entry deleted and re-created via ctnetlink (CT_NEW, CTA_HELP smtp); conntrack -L: ESTABLISHED ASSURED helper=smtp"

# 14: the helper's to_nlattr data in a ctnetlink dump
rc=0
in_gw python3 "$CT_INJECT" get $CLIENT4 "$PB" $SERVER4 25 > "$TMP/getB.json" || rc=1
python3 -c 'import json,sys
i = json.load(open(sys.argv[1]))["help"]["info"]
sys.exit(0 if i.get("flags") == 0 and i["nested_flag"] else 1)' "$TMP/getB.json" 2>/dev/null || rc=1
[ $rc = 0 ] || ktap_msg "dump: $(cat "$TMP/getB.json")"
ktap_result $rc "inject: ctnetlink dump carries CTA_HELP_INFO (nested, flags 0 = not opaque)"

# 15, 16, 17
held_go B go1 early; rc=$?
arrived_untouched B || rc=1
ktap_result $rc "inject: the first command after the injection (VRFY early-B) reached the server untouched"
held_go B go2; rc17=$?
[ "$(held_rc B)" = 0 ] || rc17=1
arrived_masked B
ktap_result $? "inject: after the reply to NOOP (safe point) VRFY late-B is masked to XXXX at the server"
[ $rc17 = 0 ] || held_show B
ktap_result $rc17 "inject: session B completes with QUIT 221"

# 18
sleep 0.5
event_has '"kind":"pickup"' '"value":0,' "\"sport\":$PB,"; rc=$?
[ $rc = 0 ] || mon_show
ktap_result $rc "monitor -j: pickup event for the injected entry (B)"

# inject_opaque TAG FORMAT: a held session whose entry is re-injected with
# CTA_HELP_INFO { flags: opaque (2) } in FORMAT: "nested" as the kernel dumps
# it, "plain" as libnetfilter_conntrack re-emits its saved payload (without
# NLA_F_NESTED). The dump must show the flag, and the stream, TLS for the
# helper, must pass uninspected: VRFY late-TAG reaches the server.
inject_opaque() {
	local t=$1 fmt=$2 rc=0 port
	held_start "$t" "expect 220" "cmd EHLO opaque-$t.test 250" "touch ready" \
		"wait go1" "line VRFY early-$t" "read" "cmd NOOP 250" "line VRFY late-$t" "read" \
		"cmd QUIT 221" || rc=1
	port=$HELD_PORT
	in_gw python3 "$CT_INJECT" move $CLIENT4 "$port" $SERVER4 25 --helper smtp --info 2 \
		--info-format "$fmt" > "$TMP/inj$t.json" 2> "$TMP/inj$t.old" || rc=1
	python3 -c 'import json,sys
sys.exit(0 if json.load(open(sys.argv[1]))["help"]["info"].get("flags") == 2 else 1)' \
		"$TMP/inj$t.json" 2>/dev/null ||
		{ rc=1; ktap_msg "dump after injecting flags=2 ($fmt): $(cat "$TMP/inj$t.json")"; }
	held_go "$t" go1 || rc=1
	[ "$(held_rc "$t")" = 0 ] || { rc=1; held_show "$t"; }
	busywait 10000 sink_mentions "late-$t" && sink_has "VRFY late-$t" ||
		{ rc=1; ktap_msg "server saw: $(sink_lines | grep -F -- "-$t")"; }
	return $rc
}

# 19
inject_opaque C nested
ktap_result $? "inject: CTA_HELP_INFO opaque flag (nested) is kept: dump shows flags 2, the stream is not inspected"

# 20
inject_opaque D plain
ktap_result $? "inject: CTA_HELP_INFO opaque flag in libnetfilter_conntrack's encoding (no NLA_F_NESTED) is kept"

# ------------------------------------------------------------ 3. pickup reset
# 21
rc=0
sed 's/^pickup open$/pickup reset/' "$TOPDIR/policy/esmtp.conf" > "$TMP/pickup-reset.conf"
grep -qx 'pickup reset' "$TMP/pickup-reset.conf" || rc=1
in_gw "$CLI" load "$TMP/pickup-reset.conf" || rc=1
in_gw "$CLI" show | grep -qx 'pickup reset' || rc=1
ktap_result $rc "policy: esmtp with \"pickup reset\" loaded from a file (smtpguard load)"
read -r S2 P2 V2 R2 <<<"$(stats_vals)"

# 22: a connection seen from its SYN is inspected as usual, not reset
held_start N "expect 220" "cmd EHLO normal.test 250" "line VRFY normal-N" "read" "cmd QUIT 221"
wait "$HELD_PID"
rc=0
[ "$(held_rc N)" = 0 ] || { rc=1; held_show N; }
busywait 10000 sink_mentions "normal-N" && sink_has "XXXX normal-N" || { rc=1; sink_show; }
ktap_result $rc "pickup reset: a session seen from its SYN completes, VRFY masked"

# 23, 24: picked up after a flush -> reset at the first payload
held_start E "expect 220" "cmd EHLO reset.test 250" "touch ready" \
	"wait go1" "line VRFY early-E" "read" "cmd QUIT 221"; rc=$?
PE=$HELD_PORT
in_gw conntrack -F 2>/dev/null || rc=1
held_go E go1 || rc=1
[ "$(held_rc E)" = 3 ] && grep -qx 'RESULT: reset' "$TMP/E/out" || { rc=1; held_show E; }
ktap_result $rc "pickup reset: session E picked up after conntrack -F: the client sees the connection reset"
sleep 1
rc=0
sink_mentions "early-E" && { rc=1; sink_show; }
ktap_result $rc "pickup reset: the server got nothing of E after the pickup"

# 25: injected through ctnetlink -> reset too
held_start F "expect 220" "cmd EHLO reset2.test 250" "touch ready" \
	"wait go1" "line VRFY early-F" "read" "cmd QUIT 221"; rc=$?
PF=$HELD_PORT
in_gw python3 "$CT_INJECT" move $CLIENT4 "$PF" $SERVER4 25 --helper smtp \
	> "$TMP/injF.json" 2> "$TMP/injF.old" || { rc=1; ktap_msg "$(cat "$TMP/injF.old" "$TMP/injF.json")"; }
held_go F go1 || rc=1
[ "$(held_rc F)" = 3 ] || { rc=1; held_show F; }
sleep 1
sink_mentions "early-F" && { rc=1; sink_show; }
ktap_result $rc "pickup reset: session F re-created via ctnetlink is reset, the server got nothing of it"

# 26
sleep 0.5
read -r S3 P3 V3 R3 <<<"$(stats_vals)"
rc=0
[ "$((V3 - V2))" = 2 ] && [ "$((R3 - R2))" = 2 ] || {
	rc=1; ktap_msg "stats before: pickup=$V2 resets=$R2; after: pickup=$V3 resets=$R3"; }
for p in $PE $PF; do
	event_has '"kind":"pickup"' '"value":1,' "\"sport\":$p," &&
		event_has '"class":"pickup"' '"action":"reset"' "\"sport\":$p," ||
		{ rc=1; ktap_msg "no pickup/reset events for port $p"; }
done
[ $rc = 0 ] || mon_show
ktap_result $rc "stats -j: two pickup violations and two resets; monitor: pickup (mode reset) + violation pickup/reset for E and F"

# leave the module unloaded for the next test
detach_helper "$NS_GW"
in_gw nft delete table inet ctonly 2>/dev/null
unload_module || ktap_msg "final rmmod failed"
ktap_finished
