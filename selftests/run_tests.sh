#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# kselftest-style runner for the smtpguard selftests, inside the VM:
#	selftests/run_tests.sh [TEST...]     (default: TEST_PROGS from the Makefile)
# Each test runs with the timeout from ./settings ("timeout=N", or
# "timeout.TEST=N" for one test; KSFT_TIMEOUT overrides both); its output is indented
# with "# "; the result is one KTAP line per test.  Exit 0 if nothing failed
# (skips are fine), 1 otherwise.
cd "$(dirname "$0")" || exit 1
DIR=$(pwd -P)

TIMEOUT=$(sed -n 's/^timeout=//p' settings 2>/dev/null)
TIMEOUT=${KSFT_TIMEOUT:-${TIMEOUT:-900}}

if [ $# -eq 0 ]; then
	set -- $(make -s --no-print-directory -C "$DIR" print-tests 2>/dev/null)
	[ $# -gt 0 ] || { echo "run_tests: no tests (make print-tests failed)" >&2; exit 1; }
fi

echo "TAP version 13"
echo "1..$#"
n=0; pass=0; fail=0; skip=0; failed=
for t in "$@"; do
	n=$((n + 1))
	tmo=$(sed -n "s/^timeout\.$t=//p" settings 2>/dev/null)
	tmo=${KSFT_TIMEOUT:-${tmo:-$TIMEOUT}}
	echo "# timeout set to $tmo"
	echo "# selftests: smtpguard: $t"
	if [ ! -x "$DIR/$t" ]; then
		echo "not ok $n selftests: smtpguard: $t # missing or not executable"
		fail=$((fail + 1)); failed="$failed $t"; continue
	fi
	start=$(date +%s)
	( timeout --foreground -k 10 "$tmo" "$DIR/$t" 2>&1; echo "rc=$?" > "/tmp/.ksft-rc.$$" ) |
		sed -u 's/^/# /'
	rc=$(sed -n 's/^rc=//p' "/tmp/.ksft-rc.$$"); rm -f "/tmp/.ksft-rc.$$"
	dur=$(( $(date +%s) - start ))
	case "$rc" in
	0) echo "ok $n selftests: smtpguard: $t # ${dur}s"; pass=$((pass + 1)) ;;
	4) echo "ok $n selftests: smtpguard: $t # SKIP"; skip=$((skip + 1)) ;;
	124|137) echo "not ok $n selftests: smtpguard: $t # TIMEOUT $tmo seconds"
	    fail=$((fail + 1)); failed="$failed $t" ;;
	*) echo "not ok $n selftests: smtpguard: $t # exit=$rc"
	    fail=$((fail + 1)); failed="$failed $t" ;;
	esac
	# leave a clean slate for the next test
	if [ -d /sys/module/nf_conntrack_smtp ] && [ -n "${SMTPGUARD_VM:-}" ]; then
		rmmod nf_conntrack_smtp 2>/dev/null ||
			echo "# note: nf_conntrack_smtp still loaded and busy after $t"
	fi
done
echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:$skip error:0"
[ $fail = 0 ] || { echo "# FAILED:$failed"; exit 1; }
exit 0
