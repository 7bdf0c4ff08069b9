#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# kmemleak bracket for a debug-kernel run (selftests/run-debug): the first
# run in a boot marks everything allocated so far as seen (boot noise is not
# ours); the next one, after the other tests and with nf_conntrack_smtp
# unloaded (run_tests.sh unloads it after each test), scans and fails on any
# unreferenced object. Skips on kernels without CONFIG_DEBUG_KMEMLEAK.
. "$(dirname "$0")/lib.sh"

KML=/sys/kernel/debug/kmemleak
STAMP=/run/smtpguard-kmemleak.baseline

[ -w $KML ] || ktap_skip_all "no $KML (kernel without CONFIG_DEBUG_KMEMLEAK)"
ktap_header
ktap_plan 1
if [ ! -e $STAMP ]; then
	echo scan > $KML && echo clear > $KML && touch $STAMP
	ktap_result $? "kmemleak: baseline taken (boot allocations marked as seen)"
	ktap_finished
fi
[ -d /sys/module/nf_conntrack_smtp ] && rmmod nf_conntrack_smtp
# objects must be older than kmemleak's minimum age (5 s) to be reported
sleep 6
echo scan > $KML; echo scan > $KML
leaks=$(cat $KML)
[ -z "$leaks" ] || echo "$leaks" | head -n 80 | sed 's/^/# /'
ktap_result "$([ -z "$leaks" ]; echo $?)" \
	"kmemleak: no unreferenced object after the tests ($(echo "$leaks" | grep -c '^unreferenced object') reported)"
ktap_finished
