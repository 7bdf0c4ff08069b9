#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# exim_security.sh through the NFQUEUE engine (userspace/smtpguard-nfq)
# instead of the kernel helper: the same attacks and controls against live
# Exim.
SMTPGUARD_ENGINE=nfq exec "$(dirname "$0")/exim_security.sh"
