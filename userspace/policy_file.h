/* SPDX-License-Identifier: GPL-2.0 */
/*
 * smtpguard text policy format (see doc/smtpguard.conf.5): parse a file
 * or a string into a compiled struct sg_policy, and write one back so
 * that "show > f && load f" round-trips exactly.
 */
#ifndef SMTPGUARD_POLICY_FILE_H
#define SMTPGUARD_POLICY_FILE_H

#include <stdio.h>
#include "../kmod/engine/policy.h"

/* Error kinds, stable: the CLI maps them to exit codes. */
enum sg_pf_err {
	SG_PF_OK,
	SG_PF_NOFILE,		/* cannot open or read the file */
	SG_PF_SYNTAX,		/* unknown directive, bad value, bad token */
	SG_PF_WORD,		/* invalid verb/keyword: bad character,
				 * longer than SG_NAME_MAX, or duplicate */
	SG_PF_RANGE,		/* limit out of range; too many words */
	SG_PF_ACTION,		/* action not valid for its class */
	SG_PF_CONTRADICTION,	/* e.g. STARTTLS listed as a verb */
	SG_PF_MAX
};

struct sg_pf_error {
	enum sg_pf_err kind;
	unsigned int line;	/* 1-based; 0 if not about a line */
	unsigned int col;	/* 1-based */
	char msg[320];		/* "file:line:col: message" */
};

const char *sg_pf_err_name(enum sg_pf_err e);

/*
 * Parse @text (named @name in messages) into @p and compile it. Scalar
 * settings start from sg_policy_defaults(); the verb and keyword lists
 * start empty. Returns SG_PF_OK or the error kind (also in @e->kind).
 */
enum sg_pf_err sg_policy_parse_string(const char *name, const char *text,
				      struct sg_policy *p,
				      struct sg_pf_error *e);
enum sg_pf_err sg_policy_parse_file(const char *path, struct sg_policy *p,
				    struct sg_pf_error *e);

/* Write @p in the text format. Returns 0, or -1 on a write error. */
int sg_policy_write(FILE *f, const struct sg_policy *p);

/* Same, into a malloc()ed string the caller frees; NULL on failure. */
char *sg_policy_to_string(const struct sg_policy *p);

/* Whether the source fields of two policies are equal. */
int sg_policy_equal(const struct sg_policy *a, const struct sg_policy *b);

#endif /* SMTPGUARD_POLICY_FILE_H */
