# SPDX-License-Identifier: GPL-2.0
# smtpguard: top-level build. `make help` lists the targets.

# One version string for module, tools, man pages and packages: dkms.conf's.
VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' $(dir $(lastword $(MAKEFILE_LIST)))dkms.conf)

# Kernel headers to build against. Default: the running kernel's; where
# those are absent (e.g. a build host or container), the newest Debian
# headers installed under /usr/src.
KDIR ?= $(shell d=/lib/modules/$$(uname -r)/build; \
	  if [ -d "$$d" ]; then echo "$$d"; \
	  else ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | grep -v -- -rt-amd64 | \
	       sort -V | tail -n1; fi)
# Debian's include/config/kernel.release says "6.1.192"; the module
# directory and vermagic use UTS_RELEASE ("6.1.0-56-amd64").
kver_of = $(shell sed -n 's/.*UTS_RELEASE "\(.*\)"/\1/p' $(1)/include/generated/utsrelease.h 2>/dev/null)
KVER = $(call kver_of,$(KDIR))
# The kernel matrix (make check-vm). The host's kernels with headers and a
# bootable image: Debian 12's 6.1, bookworm-backports' 6.12 and 6.12-rt
# (headers linux-headers-*-rt-amd64 match the same glob).
HOST_KERNELS ?= $(shell for d in $$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V); do \
	     v=$$(sed -n 's/.*UTS_RELEASE "\(.*\)"/\1/p' $$d/include/generated/utsrelease.h); \
	     [ -f /boot/vmlinuz-$$v ] && echo $$v; done)
# Plus the newest TRIXIE_KSERIES kernel of trixie-backports, built and booted
# from the trixie build root (scripts/trixie-root; empty: none). Expanded
# late: the root may only appear during this make run.
TRIXIE_KSERIES ?= 7.2
export TRIXIE_KSERIES
TRIXIE_KERNELS = $(if $(TRIXIE_KSERIES),$(shell scripts/trixie-root kvers))
KERNELS ?= $(HOST_KERNELS) $(TRIXIE_KERNELS)
# The full suite on the stock Debian kernels, the smoke + security subset
# (selftests/Makefile SUBSET_PROGS) elsewhere; MATRIX=all: full everywhere.
FULL_KERNELS ?= $(filter-out %-rt-amd64,$(HOST_KERNELS))
MATRIX ?=

BUILD := $(CURDIR)/build
KOBJ = $(BUILD)/$(KVER)
PREFIX ?= /usr/local
DESTDIR ?=

KMOD_SRC := Kbuild $(wildcard kmod/*.c kmod/*.h kmod/engine/*.c kmod/engine/*.h \
			       kmod/uapi/*.h kmod/probes/*.c) kmod/probe-compat.sh

.PHONY: all module modules-all userspace check check-unit check-install check-vm demo \
	fuzz bench bench-vm sparse checkpatch install install-module \
	install-userspace uninstall install-dkms-source dkms-install dkms-uninstall \
	deb check-deb check-all trixie-root distclean \
	debug-kernel check-debug check-debug-cached stack-usage interop \
	clean help

all: module userspace

help:
	@echo "make                 module for KDIR (=$(KDIR)) and userspace tools"
	@echo "make KDIR=/path      module for another kernel"
	@echo "make check           unit tests, fuzzer, then VM selftests on: $(KERNELS)"
	@echo "                     (full suite on: $(FULL_KERNELS); smoke + security on the others)"
	@echo "make check-all       the same with the full suite on every kernel"
	@echo "                     (and a debug-kernel subset if one is cached)"
	@echo "make demo            boot the VM and push real mail through the helper"
	@echo "make fuzz | bench | bench-vm | sparse | checkpatch | stack-usage"
	@echo "make check-debug     every selftest on the KASAN/lockdep/kmemleak debug kernel"
	@echo "make interop         real MTAs through the gateway, every preset (INTEROP_KERNELS=$(INTEROP_KERNELS))"
	@echo "make install | uninstall [DESTDIR=...] [PREFIX=/usr/local]"
	@echo "make dkms-install | dkms-uninstall   DKMS, every kernel with headers"
	@echo "make clean"

# Out-of-tree builds put objects next to the sources, so each kernel gets
# its own shadow tree of symlinks under build/KVER/.
module: $(KOBJ)/nf_conntrack_smtp.ko

$(BUILD)/%/nf_conntrack_smtp.ko: $(KMOD_SRC)
	@test -n "$(KDIR)" -a -d "$(KDIR)" || { echo "no kernel headers found; install linux-headers or set KDIR" >&2; exit 1; }
	@mkdir -p $(BUILD)/$*
	@rm -rf $(BUILD)/$*/kmod && cp -rs $(CURDIR)/kmod $(BUILD)/$*/kmod
	@ln -sf $(CURDIR)/Kbuild $(BUILD)/$*/Kbuild
	kmod/probe-compat.sh $(KDIR) $(BUILD)/$*/kmod/compat-probed.h
	$(MAKE) -C $(KDIR) M=$(BUILD)/$* W=1 modules

modules-all: trixie-root
	@set -e; for v in $(HOST_KERNELS); do \
		$(MAKE) --no-print-directory module KDIR=/usr/src/linux-headers-$$v; done; \
	for v in $(TRIXIE_KERNELS); do \
		scripts/trixie-root exec $(MAKE) --no-print-directory module \
			KDIR=/usr/src/linux-headers-$$v; done

# Debian 13 root for kernels whose headers need trixie's toolchain (cached).
trixie-root:
	@if [ -n "$(TRIXIE_KSERIES)" ]; then scripts/trixie-root setup; fi

userspace:
	$(MAKE) -C userspace

check: check-unit check-install check-deb check-vm check-debug-cached

# make install/uninstall DESTDIR=... write nothing outside DESTDIR (root).
check-install: module userspace
	KDIR=$(KDIR) tests/install/check-install.sh

check-unit:
	$(MAKE) -C tests check
	$(MAKE) -C userspace check

# Suite per kernel: the full suite on the first of FULL_KERNELS, the same
# less the userspace and packaging tests (ONCE_PROGS) on the others, smoke
# and security tests elsewhere; MATRIX=all (make check-all): full everywhere.
suite_of = $(if $(MATRIX),full,$(if $(filter $(1),$(firstword $(FULL_KERNELS))),full,$(if $(filter $(1),$(FULL_KERNELS)),core,subset)))

check-vm: modules-all userspace
	@test -n "$(KERNELS)" || { echo "no bootable kernel with headers; run scripts/install-deps" >&2; exit 1; }
	selftests/run-matrix $(foreach v,$(KERNELS),$(v):$(call suite_of,$(v)))

check-all: check-unit
	$(MAKE) check-vm MATRIX=all

# The debug kernel (scripts/build-debug-kernel, cached in build/debug-kernel)
# and every selftest on it, bracketed by kmemleak scans; DEBUG_TESTS="a.sh b.sh"
# for a subset.
DEBUG_KDIR := $(BUILD)/debug-kernel/obj
DEBUG_TESTS ?=
debug-kernel:
	scripts/build-debug-kernel

check-debug: debug-kernel userspace
	$(MAKE) module KDIR=$(DEBUG_KDIR)
	selftests/run-debug $(DEBUG_TESTS)

# In make check: building the debug kernel takes longer than CI's budget
# (~56 min with -j2 here), so the subset below runs only where a cached one
# (build/debug-kernel, keyed on the source package and the config fragment)
# is up to date; CI caches that directory.
DEBUG_CI_TESTS ?= leak_unconfirmed.sh leak_helper_removal.sh log_flood.sh \
		  tls_event.sh unload_traffic.sh
check-debug-cached:
	@if scripts/build-debug-kernel --check; then \
		$(MAKE) check-debug DEBUG_TESTS="$(DEBUG_CI_TESTS)"; \
	else echo "check: debug-kernel selftests skipped (make debug-kernel, then make check)"; fi

# Stack frames of the module (gcc -fstack-usage): fails on any above STACK_MAX
# (the packet path stays under 250 bytes; netlink STATS_GET, process context,
# has the largest frame).
STACK_MAX ?= 320
stack-usage: $(KMOD_SRC)
	@mkdir -p $(BUILD)/stack-$(KVER)
	@rm -rf $(BUILD)/stack-$(KVER)/kmod && cp -rs $(CURDIR)/kmod $(BUILD)/stack-$(KVER)/kmod
	@ln -sf $(CURDIR)/Kbuild $(BUILD)/stack-$(KVER)/Kbuild
	kmod/probe-compat.sh $(KDIR) $(BUILD)/stack-$(KVER)/kmod/compat-probed.h
	$(MAKE) -C $(KDIR) M=$(BUILD)/stack-$(KVER) KCFLAGS=-fstack-usage modules >/dev/null
	@cat $$(find $(BUILD)/stack-$(KVER) -name '*.su') | sort -t'	' -k2 -n -r | head -n 8
	@! cat $$(find $(BUILD)/stack-$(KVER) -name '*.su') | awk -F'\t' '$$2 > $(STACK_MAX)' | grep .

demo: module userspace
	selftests/vm/run $(KVER) selftests/demo.sh

fuzz:
	$(MAKE) -C tests fuzz

bench:
	$(MAKE) -C tests bench

# slab_nomerge keeps smtp_conn and the kmalloc caches apart in
# /proc/slabinfo, where the memory figures come from; BENCH_* pass through.
bench-vm: modules-all userspace
	@set -e; test -n "$(KERNELS)" || { echo "no bootable kernel with headers; run scripts/install-deps" >&2; exit 1; }; \
	for v in $(KERNELS); do \
		VM_MEM=$${VM_MEM:-2G} VM_TIMEOUT=$${VM_TIMEOUT:-5400} \
		VM_APPEND="slab_nomerge $${VM_APPEND:-}" selftests/vm/run $$v selftests/bench_vm.sh; \
	done

# The interop matrix (selftests/interop.sh, issue 13): Postfix, Exim,
# OpenSMTPD, swaks and smtplib through the gateway to Postfix, Exim,
# OpenSMTPD and an Exchange emulation, under esmtp, rfc821 and strict; a
# kernel's servers in INTEROP_LANES VMs at once (selftests/run-interop).
# Tables: build/interop/matrix-KVER.md.  INTEROP_PRESETS, _CLIENTS,
# _SERVERS, _FEATURES narrow it.
INTEROP_KERNELS ?= $(KERNELS)
interop: modules-all userspace
	@test -n "$(INTEROP_KERNELS)" || { echo "no bootable kernel with headers; run scripts/install-deps" >&2; exit 1; }
	selftests/run-interop $(INTEROP_KERNELS)

sparse: $(KMOD_SRC)
	@mkdir -p $(BUILD)/sparse-$(KVER)
	@rm -rf $(BUILD)/sparse-$(KVER)/kmod && cp -rs $(CURDIR)/kmod $(BUILD)/sparse-$(KVER)/kmod
	@ln -sf $(CURDIR)/Kbuild $(BUILD)/sparse-$(KVER)/Kbuild
	kmod/probe-compat.sh $(KDIR) $(BUILD)/sparse-$(KVER)/kmod/compat-probed.h
	$(MAKE) -C $(KDIR) M=$(BUILD)/sparse-$(KVER) C=2 W=1 modules 2>&1 | tee $(BUILD)/sparse.log
	@! grep -E 'warning:|error:' $(BUILD)/sparse.log
	@! grep -q 'not available or not up to date' $(BUILD)/sparse.log || \
		{ echo "sparse did not run: missing or too old for $(KVER)" >&2; exit 1; }

CHECKPATCH ?= $(firstword $(wildcard /usr/src/linux-source-*/scripts/checkpatch.pl))
checkpatch:
	@test -n "$(CHECKPATCH)" || { echo "checkpatch.pl not found; run scripts/install-deps" >&2; exit 1; }
	@mkdir -p $(BUILD)
	$(CHECKPATCH) --no-tree --strict --show-types \
		--ignore SPDX_LICENSE_TAG,FILE_PATH_CHANGES,PREFER_KERNEL_TYPES,CAMELCASE \
		-f $(filter %.c %.h,$(KMOD_SRC)) >$(BUILD)/checkpatch.log 2>&1; rc=$$?; \
	cat $(BUILD)/checkpatch.log; \
	! grep -E '^(WARNING|ERROR|CHECK)' $(BUILD)/checkpatch.log && [ $$rc -eq 0 ]

# Everything under DESTDIR; the module through INSTALL_MOD_PATH (depmod
# runs on DESTDIR's tree, or on the live one when DESTDIR is empty).
install: install-module install-userspace

install-module: module
	$(MAKE) -C $(KDIR) M=$(KOBJ) INSTALL_MOD_PATH=$(DESTDIR) INSTALL_MOD_DIR=updates \
		modules_install
	if [ -z "$(DESTDIR)" ]; then depmod -a $(KVER); fi

install-userspace: userspace
	$(MAKE) -C userspace install DESTDIR=$(DESTDIR) PREFIX=$(PREFIX)

uninstall:
	rm -f $(DESTDIR)/lib/modules/$(KVER)/updates/nf_conntrack_smtp.ko*
	if [ -z "$(DESTDIR)" ]; then depmod -a $(KVER); fi
	$(MAKE) -C userspace uninstall DESTDIR=$(DESTDIR) PREFIX=$(PREFIX)

# DKMS: register this version's source and build and install it for every
# installed kernel with headers; any failure stops with dkms's own error.
# DKMS_KERNELS narrows the list; dkms-uninstall removes every trace.
DKMS_SRC := $(DESTDIR)/usr/src/smtpguard-$(VERSION)
DKMS_KERNELS ?= $(shell for d in /lib/modules/*/build; do \
		  [ -e "$$d/include/generated/utsrelease.h" ] && \
		  sed -n 's/.*UTS_RELEASE "\(.*\)"/\1/p' $$d/include/generated/utsrelease.h; \
		  done 2>/dev/null | sort -uV)

install-dkms-source:
	rm -rf $(DKMS_SRC) && install -d $(DKMS_SRC)/kmod
	cp -r Kbuild Makefile dkms.conf $(DKMS_SRC)/
	cp -r kmod/. $(DKMS_SRC)/kmod/

dkms-install:
	@test -n "$(DKMS_KERNELS)" || { echo "dkms-install: no kernel with headers under /lib/modules/*/build" >&2; exit 1; }
	@! dkms status smtpguard/$(VERSION) | grep . || { \
		echo "dkms-install: smtpguard/$(VERSION) is registered already; make dkms-uninstall first" >&2; exit 1; }
	$(MAKE) --no-print-directory install-dkms-source
	dkms add smtpguard/$(VERSION)
	@set -e; for k in $(DKMS_KERNELS); do \
		echo "dkms-install: building for $$k"; \
		dkms build smtpguard/$(VERSION) -k $$k; \
		dkms install smtpguard/$(VERSION) -k $$k; \
	done

dkms-uninstall:
	if dkms status smtpguard/$(VERSION) | grep -q .; then \
		dkms remove smtpguard/$(VERSION) --all; fi
	rm -rf $(DKMS_SRC)

# Debian packages into build/deb/, built from a copy of the tracked sources
# so that neither the tree nor its parent directory collects outputs.
DEB_DIR := $(BUILD)/deb
deb:
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/smtpguard-$(VERSION)
	git ls-files -z --cached --others --exclude-standard | \
		xargs -0 cp --parents -t $(DEB_DIR)/smtpguard-$(VERSION)
	cd $(DEB_DIR)/smtpguard-$(VERSION) && dpkg-buildpackage -us -uc -b
	ls $(DEB_DIR)/*.deb

# selftests/deb_install.sh installs these packages in the guest.
check-vm: deb

# The packages build, and lintian finds no error in them.
check-deb: deb
	lintian --fail-on error \
		$(DEB_DIR)/smtpguard_$(VERSION)_*.changes

# clean keeps the trixie root (a cache of ~700 MB downloads); distclean not.
clean:
	rm -rf $(filter-out $(BUILD)/trixie-root,$(wildcard $(BUILD)/*))
	-$(MAKE) -C userspace clean
	-$(MAKE) -C tests clean

distclean: clean
	rm -rf $(BUILD)
