// SPDX-License-Identifier: GPL-2.0
/*
 * smtpguard policy: defaults, validation, trie compilation and names.
 *
 * Freestanding: only "shim.h" and the engine headers, no libc.
 */
#include "shim.h"
#include "policy.h"
#include "trie.h"

/* ---- tiny freestanding helpers ---- */

static u32 sg_strnlen(const char *s, u32 max)
{
	u32 n = 0;

	while (n < max && s[n])
		n++;
	return n;
}

static u8 sg_upper(u8 c)
{
	return (c >= 'a' && c <= 'z') ? (u8)(c - 'a' + 'A') : c;
}

static bool sg_word_eq(const char *a, const char *b)
{
	u32 i;

	for (i = 0; i <= SG_NAME_MAX; i++) {
		if (a[i] != b[i])
			return false;
		if (!a[i])
			return true;
	}
	return true;
}

static void sg_word_set(char *dst, const char *src)
{
	u32 i;

	for (i = 0; i < SG_NAME_MAX && src[i]; i++)
		dst[i] = src[i];
	for (; i <= SG_NAME_MAX; i++)
		dst[i] = 0;
}

/* ---- names ---- */

static const char *const sg_class_names[SG_C_MAX] = {
	[SG_C_VERB]		= "verb",
	[SG_C_COMMAND_LINE]	= "command-line",
	[SG_C_REPLY_LINE]	= "reply-line",
	[SG_C_TEXT_LINE]	= "text-line",
	[SG_C_RECIPIENTS]	= "recipients",
	[SG_C_ADDRESS_LENGTH]	= "address-length",
	[SG_C_ADDRESS_CHAR]	= "address-char",
	[SG_C_SMUGGLING]	= "smuggling",
	[SG_C_STARTTLS_INJECTION] = "starttls-injection",
	[SG_C_BDAT]		= "bdat",
	[SG_C_PIPELINE]		= "pipeline",
	[SG_C_REWRITE_LIMIT]	= "rewrite-limit",
	[SG_C_PICKUP]		= "pickup",
	[SG_C_DESYNC]		= "desync",
};

static const char *const sg_action_names[SG_A_MAX] = {
	[SG_A_LOG]	= "log",
	[SG_A_MASK]	= "mask",
	[SG_A_DROP]	= "drop",
	[SG_A_RESET]	= "reset",
};

static const char *const sg_limit_names[SG_L_MAX] = {
	[SG_L_COMMAND_LINE]	= "command-line",
	[SG_L_REPLY_LINE]	= "reply-line",
	[SG_L_TEXT_LINE]	= "text-line",
	[SG_L_RECIPIENTS]	= "recipients",
	[SG_L_ADDRESS]		= "address",
	[SG_L_BDAT_CHUNK]	= "bdat-chunk",
};

static const char *const sg_vc_names[SG_VC_MAX] = {
	[SG_VC_BASIC]	= "basic",
	[SG_VC_ESMTP]	= "esmtp",
	[SG_VC_PROBE]	= "probe",
	[SG_VC_TURN]	= "turn",
	[SG_VC_VENDOR]	= "vendor",
	[SG_VC_UNKNOWN]	= "unknown",
};

const char *sg_class_name(enum sg_class c)
{
	return (unsigned int)c < SG_C_MAX ? sg_class_names[c] : "?";
}

const char *sg_action_name(enum sg_action a)
{
	return (unsigned int)a < SG_A_MAX ? sg_action_names[a] : "?";
}

const char *sg_limit_name(enum sg_limit l)
{
	return (unsigned int)l < SG_L_MAX ? sg_limit_names[l] : "?";
}

const char *sg_verb_class_name(enum sg_verb_class vc)
{
	return (unsigned int)vc < SG_VC_MAX ? sg_vc_names[vc] : "?";
}

u32 sg_limit_max(enum sg_limit l)
{
	switch (l) {
	case SG_L_COMMAND_LINE:
	case SG_L_REPLY_LINE:
	case SG_L_TEXT_LINE:
	case SG_L_ADDRESS:
	case SG_L_RECIPIENTS:
		return SG_LINE_LIMIT_MAX;
	case SG_L_BDAT_CHUNK:
		return 0xffffffffu;
	default:
		return 0;
	}
}

bool sg_action_valid(enum sg_class c, enum sg_action a)
{
	if ((unsigned int)c >= SG_C_MAX || (unsigned int)a >= SG_A_MAX)
		return false;
	if (a == SG_A_MASK)
		return c == SG_C_VERB || c == SG_C_ADDRESS_CHAR;
	return true;
}

/* ---- verb classes ---- */

struct sg_vc_word {
	const char *w;
	u8 vc;
};

static const struct sg_vc_word sg_vc_words[] = {
	{ "HELO", SG_VC_BASIC }, { "MAIL", SG_VC_BASIC },
	{ "RCPT", SG_VC_BASIC }, { "DATA", SG_VC_BASIC },
	{ "RSET", SG_VC_BASIC }, { "NOOP", SG_VC_BASIC },
	{ "QUIT", SG_VC_BASIC },
	{ "EHLO", SG_VC_ESMTP }, { "AUTH", SG_VC_ESMTP },
	{ "STARTTLS", SG_VC_ESMTP }, { "BDAT", SG_VC_ESMTP },
	{ "HELP", SG_VC_ESMTP }, { "SEND", SG_VC_ESMTP },
	{ "SOML", SG_VC_ESMTP }, { "SAML", SG_VC_ESMTP },
	{ "VERB", SG_VC_ESMTP }, { "LHLO", SG_VC_ESMTP },
	{ "VRFY", SG_VC_PROBE }, { "EXPN", SG_VC_PROBE },
	{ "TURN", SG_VC_TURN }, { "ATRN", SG_VC_TURN },
	{ "ETRN", SG_VC_TURN },
};

enum sg_verb_class sg_verb_class_of(const char *token, u32 len)
{
	u32 i, j, n;

	if (!token)
		return SG_VC_UNKNOWN;
	n = sg_strnlen(token, len < SG_NAME_MAX ? len : SG_NAME_MAX);
	if (!n)
		return SG_VC_UNKNOWN;
	for (i = 0; i < SG_ARRAY_SIZE(sg_vc_words); i++) {
		const char *w = sg_vc_words[i].w;

		for (j = 0; j < n && w[j]; j++)
			if (sg_upper((u8)token[j]) != (u8)w[j])
				break;
		if (j == n && !w[j])
			return (enum sg_verb_class)sg_vc_words[i].vc;
	}
	if (sg_upper((u8)token[0]) == 'X')
		return SG_VC_VENDOR;
	return SG_VC_UNKNOWN;
}

/* ---- defaults ---- */

static const char *const sg_default_verbs[] = {
	"HELO", "EHLO", "MAIL", "RCPT", "DATA", "RSET", "NOOP", "QUIT",
	"AUTH", "HELP",
};

static const char *const sg_default_keywords[] = {
	"SIZE", "PIPELINING", "8BITMIME", "SMTPUTF8", "DSN",
	"ENHANCEDSTATUSCODES", "AUTH", "BINARYMIME",
};

void sg_policy_defaults(struct sg_policy *p)
{
	u8 *b = (u8 *)p;
	u32 i;

	for (i = 0; i < sizeof(*p); i++)
		b[i] = 0;
	for (i = 0; i < SG_ARRAY_SIZE(sg_default_verbs); i++)
		sg_word_set(p->verbs[i], sg_default_verbs[i]);
	p->n_verbs = SG_ARRAY_SIZE(sg_default_verbs);
	for (i = 0; i < SG_ARRAY_SIZE(sg_default_keywords); i++)
		sg_word_set(p->keywords[i], sg_default_keywords[i]);
	p->n_keywords = SG_ARRAY_SIZE(sg_default_keywords);
	p->banner = SG_BANNER_PASS;
	p->starttls = 1;
	p->bdat = 1;
	p->pickup = SG_PICKUP_OPEN;
	p->mask_char = 'X';
	p->banner_char = '*';

	p->limit[SG_L_COMMAND_LINE] = 512;
	p->limit[SG_L_REPLY_LINE] = 512;
	p->limit[SG_L_TEXT_LINE] = 1000;
	p->limit[SG_L_RECIPIENTS] = 100;
	p->limit[SG_L_ADDRESS] = 256;
	p->limit[SG_L_BDAT_CHUNK] = SG_BDAT_CHUNK_DEFAULT;

	p->action[SG_C_VERB] = SG_A_MASK;
	p->action[SG_C_COMMAND_LINE] = SG_A_LOG;
	p->action[SG_C_REPLY_LINE] = SG_A_LOG;
	p->action[SG_C_TEXT_LINE] = SG_A_LOG;
	p->action[SG_C_RECIPIENTS] = SG_A_LOG;
	p->action[SG_C_ADDRESS_LENGTH] = SG_A_LOG;
	p->action[SG_C_ADDRESS_CHAR] = SG_A_MASK;
	p->action[SG_C_SMUGGLING] = SG_A_RESET;
	p->action[SG_C_STARTTLS_INJECTION] = SG_A_RESET;
	p->action[SG_C_BDAT] = SG_A_RESET;
	p->action[SG_C_PIPELINE] = SG_A_RESET;
	p->action[SG_C_REWRITE_LIMIT] = SG_A_RESET;
	p->action[SG_C_PICKUP] = SG_A_RESET;
	p->action[SG_C_DESYNC] = SG_A_RESET;
}

/* ---- trie compilation ---- */

/* Verbs the engine must recognise even when they are not allowed. */
static const struct {
	const char *w;
	u8 cmd;
} sg_known_verbs[] = {
	{ "HELO", SG_CMD_HELO }, { "EHLO", SG_CMD_EHLO },
	{ "MAIL", SG_CMD_MAIL }, { "RCPT", SG_CMD_RCPT },
	{ "DATA", SG_CMD_DATA }, { "BDAT", SG_CMD_BDAT },
	{ "RSET", SG_CMD_RSET }, { "AUTH", SG_CMD_AUTH },
	{ "STARTTLS", SG_CMD_STARTTLS },
};

static u8 sg_known_cmd(const char *w)
{
	u32 i;

	for (i = 0; i < SG_ARRAY_SIZE(sg_known_verbs); i++)
		if (sg_word_eq(w, sg_known_verbs[i].w))
			return sg_known_verbs[i].cmd;
	return SG_CMD_OTHER;
}

static void sg_trie_reset(struct sg_trie *t)
{
	u32 i;

	for (i = 0; i < SG_TRIE_NODES_MAX; i++) {
		t->node[i].ch = 0;
		t->node[i].child = SG_TRIE_DEAD;
		t->node[i].sibling = SG_TRIE_DEAD;
		t->node[i].accept = 0;
	}
	t->n_nodes = 1;
	t->node[0].accept = SG_TN_LIVE;
}

/* Insert @w (uppercase); @live marks the path as a prefix of an allowed
 * word; @end is OR-ed into the last node's accept byte.
 */
static int sg_trie_insert(struct sg_trie *t, const char *w, bool live, u8 end)
{
	u8 cur = 0;
	u32 i;

	for (i = 0; w[i]; i++) {
		u8 c = (u8)w[i];
		u8 n = t->node[cur].child;
		u8 prev = SG_TRIE_DEAD;

		while (n != SG_TRIE_DEAD && t->node[n].ch != c) {
			prev = n;
			n = t->node[n].sibling;
		}
		if (n == SG_TRIE_DEAD) {
			if (t->n_nodes >= SG_TRIE_NODES_MAX)
				return -1;
			n = t->n_nodes++;
			t->node[n].ch = c;
			if (prev == SG_TRIE_DEAD)
				t->node[cur].child = n;
			else
				t->node[prev].sibling = n;
		}
		if (live)
			t->node[n].accept |= SG_TN_LIVE;
		cur = n;
	}
	/* An allowed word's entry wins over a recognise-only one. */
	if ((end & SG_TN_ALLOWED) || !(t->node[cur].accept & SG_TN_ALLOWED))
		t->node[cur].accept = (u8)((t->node[cur].accept & SG_TN_LIVE) |
					   end);
	return 0;
}

static int sg_check_word(char *w, u8 mask_char, const char **err)
{
	u32 n = sg_strnlen(w, SG_NAME_MAX + 1);
	u32 i;

	if (n == 0) {
		*err = "empty verb or keyword";
		return -1;
	}
	if (n > SG_NAME_MAX) {
		*err = "verb or keyword longer than 24 characters";
		return -1;
	}
	for (i = 0; i < n; i++) {
		u8 c = sg_upper((u8)w[i]);

		if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-')) {
			*err = "verb or keyword with a character other than A-Z 0-9 -";
			return -1;
		}
		w[i] = (char)c;
	}
	for (; i <= SG_NAME_MAX; i++)
		w[i] = 0;
	if ((u8)w[n - 1] == sg_upper(mask_char)) {
		/* "EXPN" masked to "EXXX" must never be an allowed word */
		*err = "verb or keyword ends with the mask character";
		return -1;
	}
	return 0;
}

static bool sg_printable(u8 c)
{
	return c >= 0x21 && c <= 0x7e;
}

#define SG_ERR_VERB_SWITCH \
	"STARTTLS and BDAT are governed by the starttls and bdat switches, not the verb list"
#define SG_ERR_KEYWORD_SWITCH \
	"STARTTLS and CHUNKING are governed by the starttls and bdat switches, not the keyword list"

int sg_policy_compile(struct sg_policy *p, const char **err)
{
	const char *dummy;
	u32 i, j;

	if (!err)
		err = &dummy;
	*err = NULL;
	if (p->n_verbs > SG_VERBS_MAX) {
		*err = "too many verbs";
		return -1;
	}
	if (p->n_keywords > SG_KEYWORDS_MAX) {
		*err = "too many keywords";
		return -1;
	}
	if (p->banner > SG_BANNER_MASK) {
		*err = "invalid banner mode";
		return -1;
	}
	if (p->pickup > SG_PICKUP_RESET) {
		*err = "invalid pickup mode";
		return -1;
	}
	if (p->starttls > 1 || p->bdat > 1) {
		*err = "starttls and bdat are 0 or 1";
		return -1;
	}
	if (!sg_printable(p->mask_char) || !sg_printable(p->banner_char)) {
		*err = "mask and banner characters must be printable ASCII";
		return -1;
	}
	if (sg_upper(p->mask_char) == '-') {
		*err = "mask character cannot be '-'";
		return -1;
	}
	for (i = 0; i < SG_L_MAX; i++) {
		if (p->limit[i] < 1 || p->limit[i] > sg_limit_max(i)) {
			*err = "limit out of range";
			return -1;
		}
	}
	for (i = 0; i < SG_C_MAX; i++) {
		if (!sg_action_valid(i, p->action[i])) {
			*err = "action not valid for its class";
			return -1;
		}
	}
	for (i = 0; i < p->n_verbs; i++) {
		if (sg_check_word(p->verbs[i], p->mask_char, err))
			return -1;
		if (sg_word_eq(p->verbs[i], "STARTTLS") ||
		    sg_word_eq(p->verbs[i], "BDAT")) {
			*err = SG_ERR_VERB_SWITCH;
			return -1;
		}
		for (j = 0; j < i; j++)
			if (sg_word_eq(p->verbs[i], p->verbs[j])) {
				*err = "duplicate verb";
				return -1;
			}
	}
	for (i = 0; i < p->n_keywords; i++) {
		if (sg_check_word(p->keywords[i], p->mask_char, err))
			return -1;
		if (sg_word_eq(p->keywords[i], "STARTTLS") ||
		    sg_word_eq(p->keywords[i], "CHUNKING")) {
			*err = SG_ERR_KEYWORD_SWITCH;
			return -1;
		}
		for (j = 0; j < i; j++)
			if (sg_word_eq(p->keywords[i], p->keywords[j])) {
				*err = "duplicate keyword";
				return -1;
			}
	}
	/* Verb trie: allowed verbs, then the known verbs (recognised only). */
	sg_trie_reset(&p->verb_trie);
	for (i = 0; i < p->n_verbs; i++)
		if (sg_trie_insert(&p->verb_trie, p->verbs[i], true,
				   SG_TN_ALLOWED | sg_known_cmd(p->verbs[i])))
			goto full;
	if (p->starttls &&
	    sg_trie_insert(&p->verb_trie, "STARTTLS", true,
			   SG_TN_ALLOWED | SG_CMD_STARTTLS))
		goto full;
	if (p->bdat &&
	    sg_trie_insert(&p->verb_trie, "BDAT", true,
			   SG_TN_ALLOWED | SG_CMD_BDAT))
		goto full;
	for (i = 0; i < SG_ARRAY_SIZE(sg_known_verbs); i++)
		if (sg_trie_insert(&p->verb_trie, sg_known_verbs[i].w, false,
				   sg_known_verbs[i].cmd))
			goto full;

	sg_trie_reset(&p->keyword_trie);
	for (i = 0; i < p->n_keywords; i++)
		if (sg_trie_insert(&p->keyword_trie, p->keywords[i], true,
				   SG_TN_ALLOWED | SG_CMD_OTHER))
			goto full;
	if (p->starttls &&
	    sg_trie_insert(&p->keyword_trie, "STARTTLS", true,
			   SG_TN_ALLOWED | SG_CMD_OTHER))
		goto full;
	if (p->bdat &&
	    sg_trie_insert(&p->keyword_trie, "CHUNKING", true,
			   SG_TN_ALLOWED | SG_CMD_OTHER))
		goto full;
	return 0;
full:
	*err = "word lists too large for the lookup trie (254 nodes)";
	return -1;
}
