/* SPDX-License-Identifier: GPL-2.0 */
/*
 * smtpguard policy: what the engine allows, its limits and its actions.
 *
 * A policy is filled in field by field (from a policy file in userspace,
 * from netlink attributes in the kernel), then sg_policy_compile() checks
 * it and builds the lookup automata. After that it is read-only and shared
 * by every connection; the kernel swaps whole policies under RCU.
 */
#ifndef SMTPGUARD_POLICY_H
#define SMTPGUARD_POLICY_H

#include "shim.h"

#define SG_NAME_MAX		24	/* longest verb or EHLO keyword */
#define SG_VERBS_MAX		32
#define SG_KEYWORDS_MAX		32
#define SG_TRIE_NODES_MAX	254	/* node index is a u8; 255 = dead */
#define SG_TRIE_DEAD		255

/* Violation classes. Order is ABI: netlink and counters use these values. */
enum sg_class {
	SG_C_VERB,		/* command verb not in the allow-list */
	SG_C_COMMAND_LINE,	/* command line longer than limit */
	SG_C_REPLY_LINE,	/* server reply line longer than limit */
	SG_C_TEXT_LINE,		/* DATA text line longer than limit */
	SG_C_RECIPIENTS,	/* too many RCPT in one transaction */
	SG_C_ADDRESS_LENGTH,	/* MAIL FROM / RCPT TO path too long */
	SG_C_ADDRESS_CHAR,	/* forbidden byte in an address */
	SG_C_SMUGGLING,		/* bare CR or bare LF in a command or DATA */
	SG_C_STARTTLS_INJECTION,/* plaintext pipelined across STARTTLS */
	SG_C_BDAT,		/* malformed or oversized BDAT chunk size */
	SG_C_PIPELINE,		/* more commands in flight than tracked */
	SG_C_REWRITE_LIMIT,	/* more rewrites in flight than journaled */
	SG_C_PICKUP,		/* connection first seen mid-stream */
	SG_C_DESYNC,		/* peers' streams or re-sent bytes disagree with the model */
	SG_C_BARE_NEWLINE,	/* bare CR or LF inside a DATA line, no end of data */
	SG_C_MAX
};

enum sg_action {
	SG_A_LOG,		/* pass and report */
	SG_A_MASK,		/* overwrite offending bytes, same length */
	SG_A_DROP,		/* drop the segment */
	SG_A_RESET,		/* reset both ends and drop */
	SG_A_MAX
};

/* Numeric limits, each configurable; defaults from RFC 5321 and ASA. */
enum sg_limit {
	SG_L_COMMAND_LINE,	/* 512, including CRLF */
	SG_L_REPLY_LINE,	/* 512 */
	SG_L_TEXT_LINE,		/* 1000 */
	SG_L_RECIPIENTS,	/* 100 */
	SG_L_ADDRESS,		/* 256 */
	SG_L_BDAT_CHUNK,	/* largest accepted BDAT size */
	SG_L_MAX
};

enum sg_banner_mode { SG_BANNER_PASS, SG_BANNER_MASK };
enum sg_pickup_mode { SG_PICKUP_OPEN, SG_PICKUP_RESET };

/* One trie node of a compiled word list: first-child/next-sibling form. */
struct sg_trie_node {
	u8 ch;		/* uppercase byte on the edge into this node */
	u8 child;	/* first child, or SG_TRIE_DEAD */
	u8 sibling;	/* next sibling, or SG_TRIE_DEAD */
	u8 accept;	/* SG_TN_* bits (trie.h): live, allowed, cmd id */
};

struct sg_trie {
	u8 n_nodes;	/* node 0 is the root */
	struct sg_trie_node node[SG_TRIE_NODES_MAX];
};

struct sg_policy {
	/* Source fields: what a policy file or netlink sets. */
	u8 n_verbs;
	u8 n_keywords;
	char verbs[SG_VERBS_MAX][SG_NAME_MAX + 1];	 /* NUL-terminated */
	char keywords[SG_KEYWORDS_MAX][SG_NAME_MAX + 1]; /* EHLO keywords */
	u8 banner;		/* enum sg_banner_mode */
	u8 starttls;		/* 1: STARTTLS verb and keyword allowed */
	u8 bdat;		/* 1: BDAT verb and CHUNKING keyword allowed */
	u8 pickup;		/* enum sg_pickup_mode */
	u8 mask_char;		/* verbs and keywords, default 'X' */
	u8 banner_char;		/* banner text, default '*' */
	u8 action[SG_C_MAX];	/* enum sg_action per class */
	u32 limit[SG_L_MAX];
	/*
	 * Set by the policy's owner, not by a policy file: the kernel
	 * increments it every time it replaces a namespace's policy (so two
	 * policies in a row never share a value); userspace leaves it 0.
	 * The engine keeps its low 8 bits per connection: a connection in
	 * the middle of a verb or EHLO keyword when the generation changes
	 * finishes that token as ruled out (masked, like a disallowed one)
	 * and uses the new policy's word lists from its next line on; limits
	 * and actions of the new policy apply from its next byte.
	 */
	u32 generation;

	/* Compiled by sg_policy_compile(); never set by hand. */
	struct sg_trie verb_trie;
	struct sg_trie keyword_trie;
};

/* Fill @p with the built-in defaults (the esmtp preset's values). */
void sg_policy_defaults(struct sg_policy *p);

/*
 * Validate @p and build its automata. Returns 0, or -1 with *@err set to
 * a static message naming the problem (for extack or a file error).
 * STARTTLS, BDAT and CHUNKING may not appear in the word lists: the
 * starttls and bdat switches govern them, so a policy cannot contradict
 * itself.
 */
int sg_policy_compile(struct sg_policy *p, const char **err);

/* Actions each class accepts (SG_A_MASK only where masking has meaning). */
bool sg_action_valid(enum sg_class c, enum sg_action a);

/* Coarse verb classes, for the per-class "verbs masked" counters. */
enum sg_verb_class {
	SG_VC_BASIC,		/* RFC 821 minimum: HELO MAIL RCPT DATA RSET NOOP QUIT */
	SG_VC_ESMTP,		/* EHLO AUTH STARTTLS BDAT HELP and other RFC verbs */
	SG_VC_PROBE,		/* VRFY EXPN: address harvesting */
	SG_VC_TURN,		/* TURN ATRN ETRN: queue and role reversal */
	SG_VC_VENDOR,		/* X-LINK2STATE XEXCH50 and other X-verbs */
	SG_VC_UNKNOWN,		/* anything else */
	SG_VC_MAX
};

/* Class of a verb given its first SG_TOKEN_LEN uppercased bytes. */
enum sg_verb_class sg_verb_class_of(const char *token, u32 len);
const char *sg_verb_class_name(enum sg_verb_class vc);

/* Names used by the policy file, netlink and events. */
const char *sg_class_name(enum sg_class c);
const char *sg_action_name(enum sg_action a);
const char *sg_limit_name(enum sg_limit l);
u32 sg_limit_max(enum sg_limit l);	/* largest accepted value */

#endif /* SMTPGUARD_POLICY_H */
