#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The administrator's path, end to end, on the VM guest's overlay root (the
# host is never touched): apt installs the built packages (make deb:
# build/deb/smtpguard*.deb), DKMS builds the module for the guest kernel,
# the boot steps load it (systemd-modules-load with the shipped
# modules-load.d entry), the shipped nft file attaches the helper, and the
# policy comes from /etc/smtpguard/smtpguard.conf through the command lines
# of smtpguard.service; real mail passes and is filtered by that policy.
# smtpguard monitor --syslog (smtpguard-monitor.service) puts a violation
# with its class, direction, limit and tuple into syslog. A simulated reboot
# (module unloaded, rules gone, the same boot steps again) keeps it all.
# apt purge leaves nothing behind.
#
# systemd is not PID 1 in this VM: the units are checked with
# "systemd-analyze verify" and their Exec* command lines are run as written,
# in the gateway namespace (the policy is per network namespace).
. "$(dirname "$0")/lib.sh"

checktool ip nft conntrack smtp-sink swaks python3 ss apt-get dpkg dkms systemd-analyze
require_vm

KVER=$(uname -r)
DEB_DIR=${SMTPGUARD_DEB_DIR:-$TOPDIR/build/deb}
case "$DEB_DIR" in /*) ;; *) DEB_DIR=$TOPDIR/$DEB_DIR ;; esac
set -- "$DEB_DIR"/smtpguard-dkms_*_all.deb "$DEB_DIR"/smtpguard_*_amd64.deb
[ -r "$1" ] && [ -r "$2" ] || ktap_skip_all "no packages in $DEB_DIR (make deb)"
DEBS=("$@")
[ -e "/lib/modules/$KVER/build/include/generated/utsrelease.h" ] ||
	ktap_skip_all "no headers for $KVER: DKMS cannot build"
module_loaded && ktap_skip_all "nf_conntrack_smtp already loaded"

ktap_header
ktap_plan 25

TMP=$(lib_tmpdir) || exit 1
RUN=$$-$RANDOM
UNIT=/lib/systemd/system/smtpguard.service
MONUNIT=/lib/systemd/system/smtpguard-monitor.service
CONF=/etc/smtpguard/smtpguard.conf

# Where a package could leave something; compared before and after (kept
# small: every directory read crosses 9p under TCG).
footprint() {
	{
		find /etc /var/lib/dkms /var/lib/systemd /lib/systemd/system \
			/usr/lib/modules-load.d /usr/share/man/man5 /usr/share/man/man8 \
			/usr/share/bash-completion/completions "/lib/modules/$KVER/updates" \
			2>/dev/null
		ls -d /usr/src/* /usr/sbin/* /usr/share/smtpguard /usr/share/doc/smtpguard* \
			/var/lib/dpkg/info/smtpguard* 2>/dev/null
	} | grep -v -e '^/etc/ld.so.cache$' | LC_ALL=C sort
}

purge() {
	modprobe -r nf_conntrack_smtp 2>/dev/null
	dpkg -l 'smtpguard*' 2>/dev/null | grep -q '^[ri]i' &&
		apt-get purge -y -q smtpguard smtpguard-dkms >"$TMP/purge.log" 2>&1
}

# unit_cmds UNIT KEY: the unit's KEY= command lines (ExecStartPre, ...),
# without systemd's "-@+!" prefixes.
unit_cmds() { sed -n "s/^$2=[-@+!]*//p" "$1"; }

# run_unit KEY: run smtpguard.service's KEY= commands in the gateway
run_unit() {
	local c
	while read -r c; do
		ip netns exec "$NS_GW" sh -c "$c" || { ktap_msg "$2 failed: $c"; return 1; }
	done < <(unit_cmds "$UNIT" "$1")
}

# boot: what a boot does, in systemd's order: modules-load.d, then the
# nftables ruleset that includes the shipped file, then smtpguard.service.
boot() {
	/lib/systemd/systemd-modules-load || { ktap_msg "systemd-modules-load failed"; return 1; }
	module_loaded || { ktap_msg "modules-load.d did not load nf_conntrack_smtp"; return 1; }
	printf 'include "/etc/smtpguard/smtpguard.nft"\n' >"$TMP/nftables.conf"
	ip netns exec "$NS_GW" nft -f "$TMP/nftables.conf" || { ktap_msg "nft include failed"; return 1; }
	run_unit ExecStartPre && run_unit ExecStart
}

# session NAME: one swaks session through the gateway; passes if the mail
# was dumped by the sink; the transcript is left in $TMP/NAME.out.
session() {
	local m=sg-$1-$RUN
	swaks_send 4 "$m" "${@:2}" >"$TMP/$1.out" 2>&1 || {
		ktap_msg "swaks failed:"; ktap_msg "$(tail -n 20 "$TMP/$1.out")"; return 1
	}
	busywait 5000 sink_dump_with "$TMP" "X-Marker: $m" >/dev/null ||
		{ ktap_msg "mail $m not dumped"; return 1; }
}
banner_masked() { grep -q '^<-  220 \*\*\*' "$TMP/$1.out"; }
st_listening() { ip netns exec "$NS_SERVER" ss -Hltn "sport = :$1" | grep -q .; }
helper_on_flows() { ip netns exec "$NS_GW" conntrack -L -p tcp 2>/dev/null | grep -q 'helper=smtp'; }

# The kernel helper's per-namespace policy, as "smtpguard show" prints it.
gw_show() { ip netns exec "$NS_GW" smtpguard show; }

# A syslog daemon for /dev/log: one datagram per line in $TMP/syslog.
syslog_start() {
	rm -f /dev/log
	python3 - "$TMP/syslog" <<-'PY' &
	import socket, sys
	s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
	s.bind('/dev/log')
	out = open(sys.argv[1], 'ab', buffering=0)
	while True:
	    out.write(s.recv(4096).rstrip(b'\n') + b'\n')
	PY
	bg_track $!
	busywait 5000 test -S /dev/log
}

# result RC DESC [DIAGNOSTIC]: one KTAP result; the diagnostic on failure
result() { ktap_result "$1" "$2"; [ "$1" = 0 ] || [ -z "${3:-}" ] || ktap_msg "$3"; }

# dkms and dpkg's scripts use <(...), i.e. /dev/fd, which systemd-udevd
# would create at boot; this guest's devtmpfs lacks it.
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd

# DKMS's postinst builds for the running kernel and the newest installed
# one. The guest only ever runs its own; hiding the other kernels' headers
# halves the compile time under TCG (each kernel has its own guest run).
for b in /lib/modules/*/build; do
	case "$b" in "/lib/modules/$KVER/build") continue ;; esac
	mv "$b" "$b.hidden" && defer mv "$b.hidden" "$b"
done

# man-db's dpkg trigger re-indexes every man page, minutes over 9p under
# TCG; it skips when this file is absent (man-db/auto-update false).
rm -f /var/lib/man-db/auto-update

BEFORE=$(footprint)
defer purge

# install
t0=$(date +%s)
apt-get install -y -q --no-install-recommends "${DEBS[@]}" >"$TMP/install.log" 2>&1 </dev/null
result $? "apt-get install ./smtpguard-dkms ./smtpguard ($(( $(date +%s) - t0 )) s)" \
	"$(tail -n 30 "$TMP/install.log")"
dkms status smtpguard -k "$KVER" | grep -q ': installed'
result $? "dkms built and installed the module for $KVER: $(dkms status smtpguard -k "$KVER")" \
	"$(tail -n 30 /var/lib/dkms/smtpguard/*/build/make.log 2>/dev/null)"
v=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' /usr/src/smtpguard-*/dkms.conf)
[ -n "$v" ] && [ "$(modinfo -F version nf_conntrack_smtp)" = "$v" ] &&
	[ "$(smtpguard -V)" = "smtpguard $v" ] && [ "$(smtpguard-nfq -V)" = "smtpguard-nfq $v" ] &&
	dpkg-query -W -f='${Version}' smtpguard | grep -qx "$v"
ktap_result $? "one version everywhere: modinfo, smtpguard -V, smtpguard-nfq -V, package: $v"

# 
out=$(systemd-analyze verify "$UNIT" "$MONUNIT" /lib/systemd/system/smtpguard-nfq.service 2>&1)
result $? "systemd-analyze verify: the three units" "$out"

# topology and the boot steps
setup_topo; ktap_result $? "topology: client <-> gw <-> server"
[ "$KTAP_FAIL" = 0 ] || ktap_bail "no packages or no topology"
start_sink "$TMP" || ktap_bail "no smtp-sink"

# The admin edits the conffile: the banner masked, long commands logged.
sed -i -e 's/^banner pass/banner mask/' -e 's/^limit command-line .*/limit command-line 100/' "$CONF"
boot; ktap_result $? "boot: modules-load.d, nft include of /etc/smtpguard/smtpguard.nft, smtpguard.service ExecStart"

# 
gw_show | grep -qx 'banner mask'
ktap_result $? "the active policy is /etc/smtpguard/smtpguard.conf's (banner mask)"
session first; ktap_result $? "mail through the gateway arrives"
banner_masked first
result $? "the server banner reached the client masked (policy from /etc)" \
	"$(grep '^<-  220' "$TMP/first.out")"
helper_on_flows; ktap_result $? "conntrack: flows carry helper=smtp (attached by the shipped nft file)"
ip netns exec "$NS_SERVER" smtp-sink -u nobody -h smtp-sink.test -d "$TMP/dump/%M." \
	"$SERVER4:587" 64 >"$TMP/sink587.log" 2>&1 &
bg_track $!
busywait 10000 st_listening 587 && session submission --port 587 && banner_masked submission
result $? "port 587 (submission): the same helper \"smtp\" filters it, banner masked" \
	"$(grep '^<-  220' "$TMP/submission.out" 2>/dev/null)"

# events into syslog through the monitor unit's command line
syslog_start && {
	ip netns exec "$NS_GW" sh -c "exec $(unit_cmds "$MONUNIT" ExecStart)" &
	bg_track $!
	sleep 3	# joins the events group (TCG is slow)
}
session logged --helo "$(printf 'h%.0s' $(seq 120)).test"	# EHLO line: 132 bytes
ktap_result $? "mail with a 132-byte EHLO line (limit 100, action log) arrives"
busywait 10000 grep -q 'violation class command-line action log' "$TMP/syslog" 2>/dev/null
line=$(grep 'violation class command-line' "$TMP/syslog" 2>/dev/null | head -n1)
case "$line" in
"<29>"*" smtpguard["*"]: violation class command-line action log dir client "*) ;;
*) false ;;
esac && case "$line" in *" limit 100 $CLIENT4:"*" -> $SERVER4:25 id "*) ;; *) false ;; esac
result $? "smtpguard monitor --syslog: daemon.notice with class, direction, limit, tuple" \
	"syslog: $(cat "$TMP/syslog" 2>/dev/null)"

# systemctl reload runs ExecReload
sed -i 's/^banner mask/banner pass/' "$CONF"
run_unit ExecReload && gw_show | grep -qx 'banner pass'
ktap_result $? "ExecReload loads the edited file (banner pass)"
session reloaded && ! banner_masked reloaded
ktap_result $? "mail arrives, banner no longer masked"
sed -i 's/^banner pass/banner mask/' "$CONF"

# simulated reboot: rules and module gone, policy lost with them
ip netns exec "$NS_GW" nft delete table inet smtpguard
modprobe -r nf_conntrack_smtp && ! module_loaded
ktap_result $? "reboot: module unloaded, helper rules removed"
boot; ktap_result $? "reboot: the same boot steps again"
gw_show | grep -qx 'banner mask'
ktap_result $? "reboot: the policy from /etc is active again"
session rebooted && banner_masked rebooted
ktap_result $? "reboot: mail arrives, banner masked"
helper_on_flows; ktap_result $? "reboot: flows carry helper=smtp"

# removal
ip netns exec "$NS_GW" nft delete table inet smtpguard
modprobe -r nf_conntrack_smtp
apt-get purge -y -q smtpguard smtpguard-dkms >"$TMP/purge.log" 2>&1
result $? "apt-get purge smtpguard smtpguard-dkms" "$(tail -n 20 "$TMP/purge.log")"
! ls -d /usr/src/smtpguard-* /var/lib/dkms/smtpguard 2>/dev/null | grep -q .
ktap_result $? "no DKMS tree or source left"
! grep -q nf_conntrack_smtp "/lib/modules/$KVER/modules.dep" && ! modinfo nf_conntrack_smtp >/dev/null 2>&1
ktap_result $? "no module left for $KVER (modules.dep, modinfo)"
[ ! -e /etc/smtpguard ] && ! ls /etc/systemd/system/*/smtpguard* >/dev/null 2>&1
ktap_result $? "no /etc/smtpguard, no enabled-unit links"
# Only additions count. dkms keeps its module signing key (mok.*) for
# every DKMS module; it is dkms's, not ours. The lower layer is the live
# host root, so changes made on the host meanwhile show through; sysv
# rc links (no smtpguard package ships an init script) are the usual ones.
AFTER=$(footprint)
LC_ALL=C comm -13 <(echo "$BEFORE") <(echo "$AFTER") |
	grep -v -e '^/var/lib/dkms/mok\.\(key\|pub\)$' -e '^/etc/rc[0-6S]\.d/' >"$TMP/footprint.diff"
[ ! -s "$TMP/footprint.diff" ]
result $? "nothing else left behind (/etc, /usr/src, /usr/sbin, units, /var/lib/dkms, dpkg info, /lib/modules/$KVER)" \
	"$(head -n 30 "$TMP/footprint.diff")"

ktap_finished
