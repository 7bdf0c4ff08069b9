#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Every preset through smtpguard(8): it loads, "show" round-trips
# (show > f; load f; show is identical and matches the preset), and it has
# its effect on real traffic through the gateway: VRFY reaches smtp-sink
# masked under every preset, EHLO is masked under rfc821, the banner is
# masked under rfc821 and strict, AUTH is masked under strict.
. "$(dirname "$0")/lib_smtp.sh"

st_require ip nft conntrack smtp-sink python3
st_need_vm
st_have_cli || st_skip_all "no $SMTPGUARD_CLI (make -C userspace)"
CLI=$SMTPGUARD_CLI
# the module's own dependencies (nf_reject_ipv4/6), which insmod won't load
modprobe -a $(modinfo -F depends "$SMTPGUARD_KO" 2>/dev/null | tr , ' ') 2>/dev/null

PRESETS=$("$CLI" preset list)
[ -n "$PRESETS" ] || st_skip_all "no presets found"
n=0; for p in $PRESETS; do n=$((n + 1)); done
st_begin $((1 + n * 4)) sink
st_pass "setup: topology, module, helper, smtp-sink"

# words of the "verbs" lines of a policy file, one per line
file_verbs() { sed -n 's/^[[:space:]]*verbs\b//p' "$1" | tr -s ' \t' '\n\n' | sed '/^$/d'; }

roundtrip() {	# PRESET
	local p=$1 d=$ST_TMP/rt-$1 rc=0
	mkdir -p "$d"
	in_g "$CLI" show > "$d/show1" || { echo "# show failed"; return 1; }
	in_g "$CLI" load "$d/show1" || { echo "# load of show output failed"; return 1; }
	in_g "$CLI" show > "$d/show2" || return 1
	if ! cmp -s "$d/show1" "$d/show2"; then
		echo "# show output changed after load:"; diff "$d/show1" "$d/show2" | sed 's/^/#   /'
		rc=1
	fi
	"$CLI" preset show "$p" > "$d/preset"
	if [ "$(file_verbs "$d/preset" | sort)" != "$(file_verbs "$d/show1" | sort)" ]; then
		echo "# verbs of show differ from the preset:"
		echo "#   preset: $(file_verbs "$d/preset" | tr '\n' ' ')"
		echo "#   show:   $(file_verbs "$d/show1" | tr '\n' ' ')"
		rc=1
	fi
	return $rc
}

# what the server got in place of the command whose argument is ARG
sink_seen() { sink_cmds | grep -F -- " $1" | head -n1 | awk '{print $1}'; }

effect() {	# PRESET
	local p=$1 out rc=0 ehlo_code=250 banner seen
	[ "$p" = rfc821 ] && ehlo_code=5
	sink_mark
	out=$(printf '%s\n' "expect 220" "cmd HELO client.test 250" \
		"cmd VRFY probe-$p 5" "cmd EHLO ehlo-$p $ehlo_code" \
		"line AUTH PLAIN auth-$p" "read" "cmd NOOP 250" "cmd QUIT 221" |
		timeout 120 ip netns exec "$NS_C" $SMTP_CLIENT -k -t 20 $S4 25 2>&1)
	sleep 0.3
	seen=$(sink_seen "probe-$p")
	if ! masked_like VRFY "$seen"; then
		echo "# $p: VRFY arrived as '${seen:-nothing}'"; rc=1
	fi
	echo "$out" | grep -q "^S: 5.. .*" || { echo "# $p: client saw no 5xx for VRFY"; rc=1; }
	seen=$(sink_seen "ehlo-$p")
	if [ "$p" = rfc821 ]; then
		masked_like EHLO "$seen" || { echo "# $p: EHLO arrived as '${seen:-nothing}'"; rc=1; }
	else
		[ "$seen" = EHLO ] || { echo "# $p: EHLO arrived as '${seen:-nothing}'"; rc=1; }
	fi
	seen=$(sink_seen "auth-$p")
	case $p in
	strict|rfc821) masked_like AUTH "$seen" || { echo "# $p: AUTH arrived as '${seen:-nothing}'"; rc=1; } ;;
	esmtp) [ "$seen" = AUTH ] || { echo "# $p: AUTH arrived as '${seen:-nothing}'"; rc=1; } ;;
	esac
	banner=$(echo "$out" | sed -n 's/^S: \(220.*\)/\1/p' | head -n1)
	case $p in
	strict|rfc821)
		[[ "$banner" =~ ^220[\ -]\*+$ ]] || { echo "# $p: banner '$banner' not masked"; rc=1; } ;;
	*)
		[[ "$banner" == *server.test* ]] || { echo "# $p: banner '$banner' altered"; rc=1; } ;;
	esac
	echo "$out" | grep -q "RESULT: ok" || { echo "# $p: session:"; echo "$out" | sed 's/^/#   /'; rc=1; }
	[ $rc = 0 ] && echo "# $p: VRFY -> $(sink_seen "probe-$p"), EHLO -> $(sink_seen "ehlo-$p"), AUTH -> $(sink_seen "auth-$p"), banner '$banner'"
	return $rc
}

for p in $PRESETS; do
	st_check "$p: smtpguard load $p" in_g "$CLI" load "$p"
	st_check "$p: show round-trips and matches the preset" roundtrip "$p"
	case $p in
	esmtp|rfc821|strict) st_check "$p: effect on a real session" effect "$p" ;;
	*) st_skip "$p: effect on a real session" "no expectations for preset $p" ;;
	esac
	st_check "$p: check accepts the show output" "$CLI" check "$ST_TMP/rt-$p/show1"
done
st_finish
