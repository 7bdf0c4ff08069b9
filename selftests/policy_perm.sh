#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Who may change what: write operations (load, stats reset) and the events
# group need CAP_NET_ADMIN over the network namespace (GENL_UNS_ADMIN_PERM);
# reading (show, stats) is open. An unprivileged user, and root inside a
# user namespace that does not own the netns, get "permission denied"
# (exit 4); a user namespace that owns its netns may set that netns's
# policy and nothing else. A refused load changes nothing.
. "$(dirname "$0")/lib_smtp.sh"

st_require ip setpriv unshare
st_need_vm
st_have_cli || st_skip_all "no $SMTPGUARD_CLI (make -C userspace)"
CLI=$SMTPGUARD_CLI
modprobe -a $(modinfo -F depends "$SMTPGUARD_KO" 2>/dev/null | tr , ' ') 2>/dev/null

st_plan 15
st_module_load || { st_fail "module loads"; st_finish; }
st_pass "module loads"
ST_TMP=$(lib_tmpdir) || exit 1

NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all"

rc_is() {	# WANT CMD...: CMD exits with WANT
	local want=$1 rc out; shift
	out=$("$@" 2>&1); rc=$?
	[ "$rc" = "$want" ] && { echo "# $(echo "$out" | head -n1)"; return 0; }
	echo "# exit $rc, want $want: $*"; echo "$out" | sed 's/^/#   /'
	return 1
}

"$CLI" load esmtp
"$CLI" show > "$ST_TMP/before"

st_check "nobody: load -> permission denied (4)" rc_is 4 $NOBODY "$CLI" load rfc821
st_check "nobody: stats reset -> permission denied (4)" rc_is 4 $NOBODY "$CLI" stats reset
st_check "nobody: monitor -> permission denied (4)" rc_is 4 $NOBODY "$CLI" monitor
st_check "nobody: show works" rc_is 0 $NOBODY "$CLI" show
st_check "nobody: stats works" rc_is 0 $NOBODY "$CLI" stats

# root in a fresh user namespace, still in the initial netns
st_check "userns without the netns: load -> permission denied (4)" rc_is 4 unshare -U -r "$CLI" load rfc821
st_check "userns without the netns: stats reset -> permission denied (4)" rc_is 4 unshare -U -r "$CLI" stats reset
st_check "userns without the netns: monitor -> permission denied (4)" rc_is 4 unshare -U -r "$CLI" monitor
"$CLI" show > "$ST_TMP/after"
st_check "refused loads left the policy unchanged" cmp -s "$ST_TMP/before" "$ST_TMP/after"

# a user namespace that owns its own netns may set that netns's policy
out=$(unshare -U -r -n sh -c "'$CLI' load rfc821 && '$CLI' show" 2>&1); rc=$?
st_check "userns owning its netns: load rfc821 there" rc_is 0 test $rc = 0
echo "$out" > "$ST_TMP/userns-show"
"$CLI" preset show rfc821 | grep '^verbs ' > "$ST_TMP/rfc821-verbs"
st_check "... and show there is rfc821" grep -qxF -f "$ST_TMP/rfc821-verbs" "$ST_TMP/userns-show"
"$CLI" show > "$ST_TMP/after2"
st_check "... while the initial netns keeps its policy" cmp -s "$ST_TMP/before" "$ST_TMP/after2"

# same for an unprivileged user, if the kernel lets it create namespaces
if $NOBODY unshare -U -r -n true 2>/dev/null; then
	st_check "nobody in its own userns+netns: load works there" rc_is 0 \
		$NOBODY unshare -U -r -n "$CLI" load strict
else
	st_skip "nobody in its own userns+netns: load works there" "unprivileged user namespaces disabled"
fi
st_module_unload
st_check "module unloaded: show -> module not loaded (3)" rc_is 3 "$CLI" show
st_finish
