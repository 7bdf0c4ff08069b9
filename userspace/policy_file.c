// SPDX-License-Identifier: GPL-2.0
/*
 * smtpguard text policy format: parser and writer.
 *
 * Line oriented. '#' starts a comment at the start of a line or after
 * white space. Tokens are separated by spaces or tabs. Directives:
 *
 *	verbs WORD...			(repeatable, accumulates)
 *	keywords WORD...		(repeatable, accumulates)
 *	banner mask|pass
 *	starttls allow|deny
 *	bdat allow|deny
 *	pickup open|reset
 *	mask-char C			(one printable char, or 0xHH)
 *	banner-char C
 *	limit NAME VALUE
 *	action CLASS log|mask|drop|reset
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "policy_file.h"
#include "../kmod/engine/engine.h"

static const char *const pf_err_names[SG_PF_MAX] = {
	[SG_PF_OK] = "ok",
	[SG_PF_NOFILE] = "file not found",
	[SG_PF_SYNTAX] = "syntax error",
	[SG_PF_WORD] = "invalid verb or keyword",
	[SG_PF_RANGE] = "value out of range",
	[SG_PF_ACTION] = "invalid action for class",
	[SG_PF_CONTRADICTION] = "contradiction",
};

const char *sg_pf_err_name(enum sg_pf_err e)
{
	return (unsigned int)e < SG_PF_MAX ? pf_err_names[e] : "?";
}

struct pf_tok {
	const char *s;
	size_t len;
	unsigned int col;
};

#define PF_TOKS_MAX 64

struct pf {
	const char *name;
	struct sg_policy *p;
	struct sg_pf_error *e;
	unsigned int line;
	/* where each word was given, for late checks */
	unsigned int vline[SG_VERBS_MAX], vcol[SG_VERBS_MAX];
	unsigned int kline[SG_KEYWORDS_MAX], kcol[SG_KEYWORDS_MAX];
	unsigned int wline, wcol;	/* last word, for trie overflow */
};

static enum sg_pf_err pf_fail(struct pf *pf, enum sg_pf_err kind,
			      unsigned int line, unsigned int col,
			      const char *fmt, ...)
{
	va_list ap;
	int n;

	pf->e->kind = kind;
	pf->e->line = line;
	pf->e->col = col;
	n = snprintf(pf->e->msg, sizeof(pf->e->msg), "%s:%u:%u: ",
		     pf->name, line, col);
	if (n < 0 || (size_t)n >= sizeof(pf->e->msg))
		return kind;
	va_start(ap, fmt);
	vsnprintf(pf->e->msg + n, sizeof(pf->e->msg) - n, fmt, ap);
	va_end(ap);
	return kind;
}

static int tok_is(const struct pf_tok *t, const char *w)
{
	return strlen(w) == t->len && !memcmp(t->s, w, t->len);
}

/* Print at most 40 bytes of a token, escaping the unprintable. */
static const char *tok_show(const struct pf_tok *t, char *buf, size_t sz)
{
	size_t i, o = 0;

	for (i = 0; i < t->len && i < 40 && o + 5 < sz; i++) {
		unsigned char c = (unsigned char)t->s[i];

		if (c >= 0x20 && c < 0x7f)
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, sz - o, "\\x%02x", c);
	}
	if (i < t->len && o + 4 < sz) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = 0;
	return buf;
}

static int pf_lookup(const struct pf_tok *t, const char *(*name)(int), int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (tok_is(t, name(i)))
			return i;
	return -1;
}

static const char *cls_name(int i) { return sg_class_name(i); }
static const char *act_name(int i) { return sg_action_name(i); }
static const char *lim_name(int i) { return sg_limit_name(i); }

static int word_eq(const char *a, const char *b)
{
	return !strcmp(a, b);
}

static enum sg_pf_err pf_word(struct pf *pf, const struct pf_tok *t,
			      bool verb)
{
	struct sg_policy *p = pf->p;
	char w[SG_NAME_MAX + 1], show[200];
	u8 *n = verb ? &p->n_verbs : &p->n_keywords;
	char (*list)[SG_NAME_MAX + 1] = verb ? p->verbs : p->keywords;
	unsigned int max = verb ? SG_VERBS_MAX : SG_KEYWORDS_MAX;
	const char *what = verb ? "verb" : "keyword";
	size_t i;

	if (t->len > SG_NAME_MAX)
		return pf_fail(pf, SG_PF_WORD, pf->line, t->col,
			       "%s '%s' is longer than %d characters", what,
			       tok_show(t, show, sizeof(show)), SG_NAME_MAX);
	for (i = 0; i < t->len; i++) {
		unsigned char c = (unsigned char)t->s[i];

		if (!isalnum(c) || c >= 0x80) {
			if (c != '-')
				return pf_fail(pf, SG_PF_WORD, pf->line,
					       t->col + (unsigned int)i,
					       "invalid character in %s '%s' (allowed: A-Z 0-9 -)",
					       what,
					       tok_show(t, show, sizeof(show)));
		}
		w[i] = (char)toupper(c);
	}
	w[t->len] = 0;
	if (verb && (word_eq(w, "STARTTLS") || word_eq(w, "BDAT")))
		return pf_fail(pf, SG_PF_CONTRADICTION, pf->line, t->col,
			       "%s is governed by '%s allow|deny', not listed as a verb",
			       w, w[0] == 'S' ? "starttls" : "bdat");
	if (!verb && (word_eq(w, "STARTTLS") || word_eq(w, "CHUNKING")))
		return pf_fail(pf, SG_PF_CONTRADICTION, pf->line, t->col,
			       "%s is governed by '%s allow|deny', not listed as a keyword",
			       w, w[0] == 'S' ? "starttls" : "bdat");
	for (i = 0; i < *n; i++)
		if (word_eq(list[i], w))
			return pf_fail(pf, SG_PF_WORD, pf->line, t->col,
				       "duplicate %s %s", what, w);
	if (*n >= max)
		return pf_fail(pf, SG_PF_RANGE, pf->line, t->col,
			       "more than %u %ss", max, what);
	memset(list[*n], 0, SG_NAME_MAX + 1);
	memcpy(list[*n], w, t->len);
	if (verb) {
		pf->vline[*n] = pf->line;
		pf->vcol[*n] = t->col;
	} else {
		pf->kline[*n] = pf->line;
		pf->kcol[*n] = t->col;
	}
	pf->wline = pf->line;
	pf->wcol = t->col;
	(*n)++;
	return SG_PF_OK;
}

static enum sg_pf_err pf_char(struct pf *pf, const struct pf_tok *t, u8 *out)
{
	char show[200];
	unsigned int v;

	if (t->len == 1 && t->s[0] > 0x20 && t->s[0] < 0x7f) {
		v = (unsigned char)t->s[0];
	} else if (t->len == 4 && t->s[0] == '0' &&
		   (t->s[1] == 'x' || t->s[1] == 'X') &&
		   isxdigit((unsigned char)t->s[2]) &&
		   isxdigit((unsigned char)t->s[3])) {
		char hex[3] = { t->s[2], t->s[3], 0 };

		v = (unsigned int)strtoul(hex, NULL, 16);
	} else {
		return pf_fail(pf, SG_PF_SYNTAX, pf->line, t->col,
			       "expected one printable character or 0xHH, got '%s'",
			       tok_show(t, show, sizeof(show)));
	}
	if (v <= 0x20 || v >= 0x7f || v == '-')
		return pf_fail(pf, SG_PF_RANGE, pf->line, t->col,
			       "character must be printable ASCII other than '-'");
	*out = (u8)v;
	return SG_PF_OK;
}

static enum sg_pf_err pf_choice(struct pf *pf, const struct pf_tok *d,
				const struct pf_tok *t, int ntok,
				const char *a, const char *b, u8 *out)
{
	char show[200];

	if (ntok != 2)
		return pf_fail(pf, SG_PF_SYNTAX, pf->line,
			       ntok < 2 ? d->col + (unsigned int)d->len : t[1].col,
			       "'%.*s' takes exactly one value: %s or %s",
			       (int)d->len, d->s, a, b);
	if (tok_is(&t[0], a))
		*out = 0;
	else if (tok_is(&t[0], b))
		*out = 1;
	else
		return pf_fail(pf, SG_PF_SYNTAX, pf->line, t[0].col,
			       "'%.*s' must be %s or %s, not '%s'", (int)d->len,
			       d->s, a, b, tok_show(&t[0], show, sizeof(show)));
	return SG_PF_OK;
}

static enum sg_pf_err pf_line(struct pf *pf, struct pf_tok *t, int nt)
{
	struct sg_policy *p = pf->p;
	enum sg_pf_err r = SG_PF_OK;
	char show[200];
	int i, k;
	u8 v;

	if (tok_is(&t[0], "verbs") || tok_is(&t[0], "keywords")) {
		for (i = 1; i < nt && !r; i++)
			r = pf_word(pf, &t[i], t[0].s[0] == 'v');
		return r;
	}
	if (tok_is(&t[0], "banner")) {
		r = pf_choice(pf, &t[0], &t[1], nt, "pass", "mask", &v);
		if (!r)
			p->banner = v ? SG_BANNER_MASK : SG_BANNER_PASS;
		return r;
	}
	if (tok_is(&t[0], "starttls") || tok_is(&t[0], "bdat")) {
		r = pf_choice(pf, &t[0], &t[1], nt, "deny", "allow", &v);
		if (!r) {
			if (t[0].s[0] == 's')
				p->starttls = v;
			else
				p->bdat = v;
		}
		return r;
	}
	if (tok_is(&t[0], "pickup")) {
		r = pf_choice(pf, &t[0], &t[1], nt, "open", "reset", &v);
		if (!r)
			p->pickup = v ? SG_PICKUP_RESET : SG_PICKUP_OPEN;
		return r;
	}
	if (tok_is(&t[0], "mask-char") || tok_is(&t[0], "banner-char")) {
		if (nt != 2)
			return pf_fail(pf, SG_PF_SYNTAX, pf->line,
				       nt < 2 ? t[0].col + (unsigned int)t[0].len
					      : t[2].col,
				       "'%.*s' takes exactly one character",
				       (int)t[0].len, t[0].s);
		return pf_char(pf, &t[1], t[0].s[0] == 'm' ? &p->mask_char
							   : &p->banner_char);
	}
	if (tok_is(&t[0], "limit")) {
		unsigned long long val;
		char *end;

		if (nt != 3)
			return pf_fail(pf, SG_PF_SYNTAX, pf->line,
				       nt < 3 ? t[nt - 1].col +
						(unsigned int)t[nt - 1].len
					      : t[3].col,
				       "usage: limit NAME VALUE");
		k = pf_lookup(&t[1], lim_name, SG_L_MAX);
		if (k < 0)
			return pf_fail(pf, SG_PF_SYNTAX, pf->line, t[1].col,
				       "unknown limit '%s'",
				       tok_show(&t[1], show, sizeof(show)));
		for (i = 0; i < (int)t[2].len; i++)
			if (!isdigit((unsigned char)t[2].s[i]))
				return pf_fail(pf, SG_PF_SYNTAX, pf->line,
					       t[2].col,
					       "limit value '%s' is not a number",
					       tok_show(&t[2], show,
							sizeof(show)));
		errno = 0;
		val = t[2].len > 20 ? ~0ULL : strtoull(t[2].s, &end, 10);
		if (errno || val < 1 || val > sg_limit_max(k))
			return pf_fail(pf, SG_PF_RANGE, pf->line, t[2].col,
				       "limit %s must be 1..%u",
				       sg_limit_name(k), sg_limit_max(k));
		p->limit[k] = (u32)val;
		return SG_PF_OK;
	}
	if (tok_is(&t[0], "action")) {
		int a;

		if (nt != 3)
			return pf_fail(pf, SG_PF_SYNTAX, pf->line,
				       nt < 3 ? t[nt - 1].col +
						(unsigned int)t[nt - 1].len
					      : t[3].col,
				       "usage: action CLASS log|mask|drop|reset");
		k = pf_lookup(&t[1], cls_name, SG_C_MAX);
		if (k < 0)
			return pf_fail(pf, SG_PF_SYNTAX, pf->line, t[1].col,
				       "unknown class '%s'",
				       tok_show(&t[1], show, sizeof(show)));
		a = pf_lookup(&t[2], act_name, SG_A_MAX);
		if (a < 0)
			return pf_fail(pf, SG_PF_SYNTAX, pf->line, t[2].col,
				       "unknown action '%s' (log, mask, drop, reset)",
				       tok_show(&t[2], show, sizeof(show)));
		if (!sg_action_valid(k, a))
			return pf_fail(pf, SG_PF_ACTION, pf->line, t[2].col,
				       "action %s is not valid for class %s (mask only applies to verb, address-char and bdat)",
				       sg_action_name(a), sg_class_name(k));
		p->action[k] = (u8)a;
		return SG_PF_OK;
	}
	return pf_fail(pf, SG_PF_SYNTAX, pf->line, t[0].col,
		       "unknown directive '%s'",
		       tok_show(&t[0], show, sizeof(show)));
}

enum sg_pf_err sg_policy_parse_string(const char *name, const char *text,
				      struct sg_policy *p,
				      struct sg_pf_error *e)
{
	struct pf pf;
	const char *s = text, *err = NULL;
	enum sg_pf_err r;
	unsigned int i;

	memset(&pf, 0, sizeof(pf));
	memset(e, 0, sizeof(*e));
	pf.name = name;
	pf.p = p;
	pf.e = e;
	sg_policy_defaults(p);
	p->n_verbs = 0;
	p->n_keywords = 0;
	memset(p->verbs, 0, sizeof(p->verbs));
	memset(p->keywords, 0, sizeof(p->keywords));

	while (*s) {
		struct pf_tok t[PF_TOKS_MAX + 1];
		const char *ls = s;
		int nt = 0;

		pf.line++;
		while (*s && *s != '\n') {
			while (*s == ' ' || *s == '\t' || *s == '\r')
				s++;
			if (!*s || *s == '\n' || *s == '#')
				break;
			if (nt == PF_TOKS_MAX)
				return pf_fail(&pf, SG_PF_SYNTAX, pf.line,
					       (unsigned int)(s - ls) + 1,
					       "too many words on one line");
			t[nt].s = s;
			t[nt].col = (unsigned int)(s - ls) + 1;
			while (*s && *s != ' ' && *s != '\t' && *s != '\r' &&
			       *s != '\n')
				s++;
			t[nt].len = (size_t)(s - t[nt].s);
			nt++;
		}
		while (*s && *s != '\n')
			s++;
		if (*s == '\n')
			s++;
		if (!nt)
			continue;
		t[nt].s = "";
		t[nt].len = 0;
		t[nt].col = t[nt - 1].col + (unsigned int)t[nt - 1].len;
		r = pf_line(&pf, t, nt);
		if (r)
			return r;
	}
	/* late checks that depend on settings given in any order */
	for (i = 0; i < p->n_verbs; i++) {
		size_t n = strlen(p->verbs[i]);

		if ((u8)p->verbs[i][n - 1] == (u8)toupper(p->mask_char))
			return pf_fail(&pf, SG_PF_CONTRADICTION, pf.vline[i],
				       pf.vcol[i],
				       "verb %s ends with the mask character '%c': a masked verb could become it",
				       p->verbs[i], p->mask_char);
	}
	for (i = 0; i < p->n_keywords; i++) {
		size_t n = strlen(p->keywords[i]);

		if ((u8)p->keywords[i][n - 1] == (u8)toupper(p->mask_char))
			return pf_fail(&pf, SG_PF_CONTRADICTION, pf.kline[i],
				       pf.kcol[i],
				       "keyword %s ends with the mask character '%c': a masked keyword could become it",
				       p->keywords[i], p->mask_char);
	}
	if (sg_policy_compile(p, &err))
		return pf_fail(&pf, SG_PF_RANGE, pf.wline ? pf.wline : 1,
			       pf.wline ? pf.wcol : 1, "%s", err);
	return SG_PF_OK;
}

enum sg_pf_err sg_policy_parse_file(const char *path, struct sg_policy *p,
				    struct sg_pf_error *e)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0;
	enum sg_pf_err r;

	memset(e, 0, sizeof(*e));
	if (!f) {
		e->kind = SG_PF_NOFILE;
		snprintf(e->msg, sizeof(e->msg), "%s: %s", path,
			 strerror(errno));
		return SG_PF_NOFILE;
	}
	for (;;) {
		size_t n;

		if (cap - len < 4096) {
			char *nb = realloc(buf, cap ? cap * 2 : 8192);

			if (!nb)
				break;
			buf = nb;
			cap = cap ? cap * 2 : 8192;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
		if (len > (1u << 20))
			break;
	}
	if (!buf || ferror(f) || len > (1u << 20) || memchr(buf, 0, len)) {
		e->kind = SG_PF_NOFILE;
		snprintf(e->msg, sizeof(e->msg), "%s: %s", path,
			 !buf || ferror(f) ? "read error"
					   : "not a text policy file");
		free(buf);
		fclose(f);
		return SG_PF_NOFILE;
	}
	fclose(f);
	buf[len] = 0;
	r = sg_policy_parse_string(path, buf, p, e);
	free(buf);
	return r;
}

static void pf_put_char(FILE *f, const char *key, u8 c)
{
	if (c == '#' || c <= 0x20 || c >= 0x7f)
		fprintf(f, "%s 0x%02x\n", key, c);
	else
		fprintf(f, "%s %c\n", key, c);
}

int sg_policy_write(FILE *f, const struct sg_policy *p)
{
	unsigned int i;

	fprintf(f, "# smtpguard policy\n");
	fprintf(f, "verbs");
	for (i = 0; i < p->n_verbs && i < SG_VERBS_MAX; i++)
		fprintf(f, " %.*s", SG_NAME_MAX, p->verbs[i]);
	fprintf(f, "\nkeywords");
	for (i = 0; i < p->n_keywords && i < SG_KEYWORDS_MAX; i++)
		fprintf(f, " %.*s", SG_NAME_MAX, p->keywords[i]);
	fprintf(f, "\n");
	fprintf(f, "banner %s\n", p->banner == SG_BANNER_MASK ? "mask" : "pass");
	fprintf(f, "starttls %s\n", p->starttls ? "allow" : "deny");
	fprintf(f, "bdat %s\n", p->bdat ? "allow" : "deny");
	fprintf(f, "pickup %s\n",
		p->pickup == SG_PICKUP_RESET ? "reset" : "open");
	pf_put_char(f, "mask-char", p->mask_char);
	pf_put_char(f, "banner-char", p->banner_char);
	for (i = 0; i < SG_L_MAX; i++)
		fprintf(f, "limit %s %u\n", sg_limit_name(i), p->limit[i]);
	for (i = 0; i < SG_C_MAX; i++)
		fprintf(f, "action %s %s\n", sg_class_name(i),
			sg_action_name(p->action[i]));
	return ferror(f) ? -1 : 0;
}

char *sg_policy_to_string(const struct sg_policy *p)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	if (sg_policy_write(f, p)) {
		fclose(f);
		free(buf);
		return NULL;
	}
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

int sg_policy_equal(const struct sg_policy *a, const struct sg_policy *b)
{
	unsigned int i;

	if (a->n_verbs != b->n_verbs || a->n_keywords != b->n_keywords)
		return 0;
	for (i = 0; i < a->n_verbs; i++)
		if (strncmp(a->verbs[i], b->verbs[i], SG_NAME_MAX + 1))
			return 0;
	for (i = 0; i < a->n_keywords; i++)
		if (strncmp(a->keywords[i], b->keywords[i], SG_NAME_MAX + 1))
			return 0;
	return a->banner == b->banner && a->starttls == b->starttls &&
	       a->bdat == b->bdat && a->pickup == b->pickup &&
	       a->mask_char == b->mask_char &&
	       a->banner_char == b->banner_char &&
	       !memcmp(a->action, b->action, sizeof(a->action)) &&
	       !memcmp(a->limit, b->limit, sizeof(a->limit));
}
