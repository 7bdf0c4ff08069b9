#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Raw generic netlink abuse (policy_netlink_raw.py): wrong attribute types,
# oversized and unterminated strings, unknown attributes and commands,
# truncated messages, reserved header bits. Every one must be refused with
# an error (extack message where the kernel can name the problem), none may
# change the policy, and the kernel must not warn or oops (vm/run checks
# the guest log).
. "$(dirname "$0")/lib_smtp.sh"

st_require python3
st_need_vm
modprobe -a $(modinfo -F depends "$SMTPGUARD_KO" 2>/dev/null | tr , ' ') 2>/dev/null
st_module_load || st_skip_all "module does not load"
exec python3 "$ST_DIR/policy_netlink_raw.py"
