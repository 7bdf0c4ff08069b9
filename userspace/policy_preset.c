// SPDX-License-Identifier: GPL-2.0
/* Preset lookup shared by smtpguard and smtpguard-nfq. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "policy_preset.h"

static bool file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int sg_preset_dirs(char dirs[][PATH_MAX], int max)
{
	const char *env = getenv("SMTPGUARD_PRESET_DIR");
	char exe[PATH_MAX], *slash;
	ssize_t n;
	int k = 0;

	if (env && *env && k < max)
		snprintf(dirs[k++], PATH_MAX, "%s", env);
	/* running from a source tree: <tree>/userspace/<binary> */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			if (k < max)
				snprintf(dirs[k++], PATH_MAX, "%.*s/../policy",
					 PATH_MAX - 16, exe);
			if (k < max)
				snprintf(dirs[k++], PATH_MAX,
					 "%.*s/../share/smtpguard/policy",
					 PATH_MAX - 32, exe);
		}
	}
	if (k < max)
		snprintf(dirs[k++], PATH_MAX, "%s", PRESET_DIR_SYS);
	return k;
}

bool sg_preset_name_ok(const char *name)
{
	const char *s;

	if (!*name)
		return false;
	for (s = name; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
			return false;
	return true;
}

int sg_policy_resolve(const char *arg, char *path, size_t len)
{
	char dirs[SG_PRESET_DIRS_MAX][PATH_MAX];
	int i, n;

	if (file_exists(arg) || strchr(arg, '/') || !sg_preset_name_ok(arg)) {
		snprintf(path, len, "%s", arg);
		return file_exists(arg) ? 0 : -ENOENT;
	}
	n = sg_preset_dirs(dirs, SG_PRESET_DIRS_MAX);
	for (i = 0; i < n; i++) {
		snprintf(path, len, "%.*s/%s.conf", PATH_MAX - 64, dirs[i], arg);
		if (file_exists(path))
			return 0;
	}
	snprintf(path, len, "%s", arg);
	return -ENOENT;
}
