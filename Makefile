# SPDX-License-Identifier: GPL-2.0
# smtpguard: top-level build. `make help` lists the targets.

VERSION := 0.1.0

# Kernel headers to build against. Default: the running kernel's; where
# those are absent (e.g. a build host or container), the newest Debian
# headers installed under /usr/src.
KDIR ?= $(shell d=/lib/modules/$$(uname -r)/build; \
	  if [ -d "$$d" ]; then echo "$$d"; \
	  else ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n1; fi)
# Debian's include/config/kernel.release says "6.1.192"; the module
# directory and vermagic use UTS_RELEASE ("6.1.0-56-amd64").
kver_of = $(shell sed -n 's/.*UTS_RELEASE "\(.*\)"/\1/p' $(1)/include/generated/utsrelease.h 2>/dev/null)
KVER = $(call kver_of,$(KDIR))
# Every installed Debian kernel that has headers and a bootable image.
KERNELS ?= $(shell for d in $$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V); do \
	     v=$$(sed -n 's/.*UTS_RELEASE "\(.*\)"/\1/p' $$d/include/generated/utsrelease.h); \
	     [ -f /boot/vmlinuz-$$v ] && echo $$v; done)

BUILD := $(CURDIR)/build
KOBJ = $(BUILD)/$(KVER)
PREFIX ?= /usr/local
DESTDIR ?=

KMOD_SRC := Kbuild $(wildcard kmod/*.c kmod/*.h kmod/engine/*.c kmod/engine/*.h \
			       kmod/uapi/*.h kmod/probes/*.c) kmod/probe-compat.sh

.PHONY: all module modules-all userspace check check-unit check-vm demo \
	fuzz bench bench-vm sparse checkpatch install dkms-install clean help \
	debug-kernel check-debug check-debug-cached stack-usage

all: module userspace

help:
	@echo "make                 module for KDIR (=$(KDIR)) and userspace tools"
	@echo "make KDIR=/path      module for another kernel"
	@echo "make check           unit tests, fuzzer, then VM selftests on: $(KERNELS)"
	@echo "                     (and a debug-kernel subset if one is cached)"
	@echo "make demo            boot the VM and push real mail through the helper"
	@echo "make fuzz | bench | bench-vm | sparse | checkpatch | stack-usage"
	@echo "make check-debug     every selftest on the KASAN/lockdep/kmemleak debug kernel"
	@echo "make install | dkms-install | clean"

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

modules-all:
	@set -e; for v in $(KERNELS); do \
		$(MAKE) --no-print-directory module KDIR=/usr/src/linux-headers-$$v; done

userspace:
	$(MAKE) -C userspace

check: check-unit check-vm check-debug-cached

check-unit:
	$(MAKE) -C tests check
	$(MAKE) -C userspace check

check-vm: modules-all userspace
	@set -e; test -n "$(KERNELS)" || { echo "no bootable kernel with headers; run scripts/install-deps" >&2; exit 1; }; \
	for v in $(KERNELS); do selftests/run-in-vm $$v; done

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

sparse: $(KMOD_SRC)
	@mkdir -p $(BUILD)/sparse-$(KVER)
	@rm -rf $(BUILD)/sparse-$(KVER)/kmod && cp -rs $(CURDIR)/kmod $(BUILD)/sparse-$(KVER)/kmod
	@ln -sf $(CURDIR)/Kbuild $(BUILD)/sparse-$(KVER)/Kbuild
	kmod/probe-compat.sh $(KDIR) $(BUILD)/sparse-$(KVER)/kmod/compat-probed.h
	$(MAKE) -C $(KDIR) M=$(BUILD)/sparse-$(KVER) C=2 W=1 modules 2>&1 | tee $(BUILD)/sparse.log
	@! grep -E 'warning:|error:' $(BUILD)/sparse.log

CHECKPATCH ?= $(firstword $(wildcard /usr/src/linux-source-*/scripts/checkpatch.pl))
checkpatch:
	@test -n "$(CHECKPATCH)" || { echo "checkpatch.pl not found; run scripts/install-deps" >&2; exit 1; }
	@mkdir -p $(BUILD)
	$(CHECKPATCH) --no-tree --strict --show-types \
		--ignore SPDX_LICENSE_TAG,FILE_PATH_CHANGES,PREFER_KERNEL_TYPES,CAMELCASE \
		-f $(filter %.c %.h,$(KMOD_SRC)) >$(BUILD)/checkpatch.log 2>&1; rc=$$?; \
	cat $(BUILD)/checkpatch.log; \
	! grep -E '^(WARNING|ERROR|CHECK)' $(BUILD)/checkpatch.log && [ $$rc -eq 0 ]

install: module userspace
	$(MAKE) -C $(KDIR) M=$(KOBJ) INSTALL_MOD_DIR=updates modules_install
	depmod -a $(KVER) || true
	$(MAKE) -C userspace install DESTDIR=$(DESTDIR) PREFIX=$(PREFIX)

DKMS_SRC := $(DESTDIR)/usr/src/smtpguard-$(VERSION)
dkms-install:
	rm -rf $(DKMS_SRC) && mkdir -p $(DKMS_SRC)
	cp -r Kbuild Makefile dkms.conf kmod $(DKMS_SRC)/
	sed -i 's/@VERSION@/$(VERSION)/' $(DKMS_SRC)/dkms.conf
	dkms add smtpguard/$(VERSION) || true
	dkms build smtpguard/$(VERSION) -k $(KVER)
	dkms install smtpguard/$(VERSION) -k $(KVER) --force

clean:
	rm -rf $(BUILD)
	-$(MAKE) -C userspace clean
	-$(MAKE) -C tests clean
