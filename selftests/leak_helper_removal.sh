#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Removing the helper from live entries through ctnetlink (CTA_HELP with an
# empty name, as "conntrack -U" tools may) clears help->helper without the
# helper's .destroy: the connection's state must still be freed, within the
# module's sweep period (2 s), not leak with every such entry. Counted
# exactly (slab allocation tracking); the control shows the count follows
# the held sessions.
. "$(dirname "$0")/lib_smtp.sh"

st_require ip nft conntrack smtp-sink python3
st_need_vm

HOLD=30

st_begin 6 sink

slab_settle smtp_conn 0
base=$(slab_objs smtp_conn)
hold_sessions $HOLD "$ST_TMP/go" "$ST_TMP/hold.out"
held=$(slab_objs smtp_conn)
st_check "control: $HOLD live sessions own $HOLD states (slab $base -> $held)" \
	test $((held - base)) -ge $HOLD

out=$(in_g python3 "$ST_DIR/ct_unhelp.py" 25)
st_check "ctnetlink removed the helper from the held entries ($out)" \
	test "${out#removed }" -ge $HOLD
st_check "the entries have no helper now" eval '! ct_helper_flows "$NS_G" >/dev/null'
slab_settle smtp_conn "$base"	# sweep period 2 s, then an RCU grace period
now=$(slab_objs smtp_conn)
st_check "states of the unhelped live entries freed ($held -> $now)" \
	test $((now - base)) -lt $((HOLD / 3))

touch "$ST_TMP/go"
in_g conntrack -F >/dev/null 2>&1
slab_settle smtp_conn "$base"
now=$(slab_objs smtp_conn)
st_check "nothing left after the entries are gone ($base -> $now)" \
	test $((now - base)) -lt $((HOLD / 3))
st_check "the sessions themselves were fine (held until released)" \
	eval '! grep -qiE "error|Traceback" "$ST_TMP/hold.out"'
st_finish
