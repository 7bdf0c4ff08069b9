#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# "make install DESTDIR=D" and "make uninstall DESTDIR=D" write nothing
# outside D: both run in a private mount namespace where every mount is
# read-only except D, so any write elsewhere fails the make. The control
# run shows the sandbox catches such a write (make install without DESTDIR
# must fail in it). Then the expected files exist under D, and uninstall
# leaves D empty. Needs root (unshare -m); run from the source tree after
# "make module userspace".
set -eu

KDIR=${KDIR:?KDIR}
D=$(mktemp -d /tmp/smtpguard-destdir.XXXXXX)
trap 'rm -rf "$D" "$D.log"' EXIT

# Run "$@" with the whole tree read-only but $D.
sandboxed() {
	unshare -m --propagation private sh -c '
		d=$1; shift
		findmnt -rn -o TARGET | while read -r m; do
			case "$m" in /proc*|/sys*|/dev*) continue ;; esac
			mount -o remount,bind,ro "$m" 2>/dev/null || true
		done
		mount --bind "$d" "$d" && mount -o remount,bind,rw "$d"
		exec "$@"' sandboxed "$D" "$@"
}

fail() { echo "check-install: FAIL: $*" >&2; exit 1; }

make -s module userspace KDIR="$KDIR"

if sandboxed make -s install-module KDIR="$KDIR" >/dev/null 2>&1; then
	fail "control: install-module without DESTDIR succeeded in the read-only sandbox"
fi
echo "check-install: control: a write outside DESTDIR fails in the sandbox"

log=$D.log
sandboxed make -s install KDIR="$KDIR" DESTDIR="$D" PREFIX=/usr >"$log" 2>&1 ||
	{ cat "$log" >&2; fail "make install DESTDIR=$D wrote outside DESTDIR (or failed)"; }

kver=$(sed -n 's/.*UTS_RELEASE "\(.*\)"/\1/p' "$KDIR/include/generated/utsrelease.h")
for f in "lib/modules/$kver/updates/nf_conntrack_smtp.ko" \
	usr/sbin/smtpguard usr/sbin/smtpguard-nfq \
	usr/share/man/man8/smtpguard.8 usr/share/man/man8/smtpguard-nfq.8 \
	usr/share/man/man5/smtpguard.conf.5 usr/share/smtpguard/policy/esmtp.conf \
	usr/lib/systemd/system/smtpguard.service \
	usr/lib/modules-load.d/smtpguard.conf \
	etc/smtpguard/smtpguard.conf etc/smtpguard/smtpguard.nft; do
	[ -e "$D/$f" ] || [ -e "$D/$f.xz" ] || fail "make install did not install $f"
done
! grep -q '@VERSION@' "$D/usr/share/man/man8/smtpguard.8" ||
	fail "man page version not substituted"
echo "check-install: make install DESTDIR: $(find "$D" -type f | wc -l) files, nothing outside"

sandboxed make -s uninstall KDIR="$KDIR" DESTDIR="$D" PREFIX=/usr >"$log" 2>&1 ||
	{ cat "$log" >&2; fail "make uninstall DESTDIR=$D wrote outside DESTDIR (or failed)"; }
left=$(find "$D" -type f)
[ -z "$left" ] || fail "make uninstall left: $left"
echo "check-install: make uninstall DESTDIR: no file left"
