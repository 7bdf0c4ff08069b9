/* SPDX-License-Identifier: GPL-2.0 */
/* Where presets live, and how "FILE|PRESET" arguments resolve to a path. */
#ifndef SMTPGUARD_POLICY_PRESET_H
#define SMTPGUARD_POLICY_PRESET_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#ifndef PRESET_DIR_SYS
#define PRESET_DIR_SYS "/usr/share/smtpguard/policy"
#endif

#define SG_PRESET_DIRS_MAX 4

/*
 * Directories searched for presets, in order: $SMTPGUARD_PRESET_DIR,
 * <dir of the binary>/../policy (a source tree),
 * <dir of the binary>/../share/smtpguard/policy, PRESET_DIR_SYS.
 */
int sg_preset_dirs(char dirs[][PATH_MAX], int max);

/* Preset names are [A-Za-z0-9_-]+. */
bool sg_preset_name_ok(const char *name);

/* Resolve @arg: an existing file wins, then a preset of that name.
 * Returns 0 with @path set, or -ENOENT. */
int sg_policy_resolve(const char *arg, char *path, size_t len);

#endif /* SMTPGUARD_POLICY_PRESET_H */
