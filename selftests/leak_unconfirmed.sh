#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# No per-connection state for conntrack entries that are never confirmed.
# A SYN carrying payload is dropped by the helper itself (never consumed,
# doc/stream-model.md: the server would discard it), so its entry is freed
# without the helper's .destroy: state allocated for it would leak (~160 B
# of slab per spoofed SYN, remotely).
# Counted exactly through the cache's allocation tracking; kmemleak on the
# debug kernel (make check-debug) sees the same. The control shows that the
# count does follow live, confirmed connections.
. "$(dirname "$0")/lib_smtp.sh"

st_require ip nft conntrack smtp-sink python3
st_need_vm

SYNS=2000
HOLD=20

st_begin 6 sink

# flush the gateway's entries until their states are freed (packets still
# in flight may make new entries after a flush)
flushed_le() { in_g conntrack -F >/dev/null 2>&1; sleep 0.5; slab_le smtp_conn "$1"; }
settle() { busywait 30000 flushed_le "$1"; }

# Control: HOLD confirmed sessions each own one object.
settle 0
base=$(slab_objs smtp_conn)
hold_sessions $HOLD "$ST_TMP/go" "$ST_TMP/hold.out"
held=$(slab_objs smtp_conn)
st_check "control: $HOLD live sessions own $HOLD states (slab $base -> $held)" \
	test $((held - base)) -ge $HOLD
touch "$ST_TMP/go"

# The attack: spoofed SYNs with payload, dropped (held) by the helper.
printf 'action verb drop\n' | cat "$TOPDIR/policy/esmtp.conf" - > "$ST_TMP/drop.conf"
st_check "policy: esmtp with action verb drop" st_policy "$ST_TMP/drop.conf"
settle 0
base=$(slab_objs smtp_conn)
dropped() { echo $(( $(st_stat drops) + $(st_stat holds) )); }
drops0=$(dropped)
in_c python3 "$ST_DIR/syn_payload.py" $C4 $S4 25 $SYNS 'VRFY root\r\n'
sleep 1
drops=$(( $(dropped) - drops0 ))
st_check "helper dropped the $SYNS SYNs with payload (drops + holds +$drops)" test $drops -ge $SYNS
settle "$base"
after=$(slab_objs smtp_conn)
st_diag "smtp_conn objects: $base before, $after after $SYNS dropped SYNs"
st_check "no state left behind by dropped unconfirmed entries" test $((after - base)) -lt $((SYNS / 20))

# SYNs whose payload is allowed are dropped the same way, without state;
# any entry that does get confirmed gets state, and flushing frees it.
st_check "allowed SYN payload: state only for confirmed entries, freed with them" \
	eval 'in_c python3 "$ST_DIR/syn_payload.py" $C4 $S4 25 50 "NOOP\r\n" &&
	      settle "$after"'
st_check "a normal session still works under the drop policy" \
	eval 'printf "expect 220\ncmd EHLO c.test 250\ncmd QUIT 221\n" |
	      in_c $SMTP_CLIENT -t 20 $S4 25 >/dev/null'
st_finish
