#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ambiguity.sh through the NFQUEUE engine (userspace/smtpguard-nfq) instead
# of the kernel helper: the same cases against live Postfix and Exim.
SMTPGUARD_ENGINE=nfq exec "$(dirname "$0")/ambiguity.sh"
