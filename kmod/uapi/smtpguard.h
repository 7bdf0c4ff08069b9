/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * smtpguard generic netlink UAPI.
 *
 * Family "smtpguard", version 1, one multicast group "events".
 * Described machine-readably by smtpguard.yaml (YNL, genetlink-legacy).
 *
 * Every enum value below is ABI: values are never renumbered or reused,
 * new ones are only appended before the __*_MAX sentinel. Consumers must
 * ignore attributes they do not know.
 *
 * Messages:
 *
 * SMTPGUARD_CMD_POLICY_SET (do, needs CAP_NET_ADMIN over the netns)
 *	request: SMTPGUARD_A_POLICY_* attributes. The request describes a
 *	whole policy: an absent attribute (or an absent entry of the LIMITS
 *	and ACTIONS nests) takes its built-in default (the "esmtp" preset),
 *	never the value of the policy currently active. A present but empty
 *	VERBS/KEYWORDS nest is an empty list. The kernel compiles the new
 *	policy and publishes it atomically; on any error it replies with
 *	-EINVAL (or -E2BIG, -ERANGE) and an extack message, and the previous
 *	policy stays active.
 *	reply: none (ack only).
 *
 * SMTPGUARD_CMD_POLICY_GET (do, unprivileged)
 *	request: no attributes. reply: the active policy as a full set of
 *	SMTPGUARD_A_POLICY_* attributes (every one present).
 *
 * SMTPGUARD_CMD_STATS_GET (do, unprivileged)
 *	request: no attributes. reply: SMTPGUARD_A_STATS_* counters summed
 *	over all CPUs for the caller's network namespace.
 *
 * SMTPGUARD_CMD_STATS_RESET (do, needs CAP_NET_ADMIN over the netns)
 *	request: no attributes. reply: none (ack only). Zeroes the counters.
 *
 * SMTPGUARD_CMD_EVENT (notification, multicast group "events"; joining
 *	the group needs CAP_NET_ADMIN over the netns)
 *	SMTPGUARD_A_EVENT_* attributes. Events are rate limited per network
 *	namespace; those dropped are counted in SMTPGUARD_A_STATS_EVENTS_DROPPED.
 */
#ifndef _UAPI_LINUX_SMTPGUARD_H
#define _UAPI_LINUX_SMTPGUARD_H

#include <linux/types.h>

#define SMTPGUARD_GENL_NAME		"smtpguard"
#define SMTPGUARD_GENL_VERSION		1
#define SMTPGUARD_MCGRP_EVENTS		"events"

/* Longest verb or EHLO keyword, without the NUL (= SG_NAME_MAX). */
#define SMTPGUARD_NAME_MAX		24
/* Most entries in a VERBS or KEYWORDS list (= SG_VERBS_MAX, SG_KEYWORDS_MAX). */
#define SMTPGUARD_WORDS_MAX		32
/* Longest event token, without the NUL (= SG_TOKEN_LEN). */
#define SMTPGUARD_TOKEN_MAX		12

enum smtpguard_cmd {
	SMTPGUARD_CMD_UNSPEC,		/* 0 */
	SMTPGUARD_CMD_POLICY_SET,	/* 1 */
	SMTPGUARD_CMD_POLICY_GET,	/* 2 */
	SMTPGUARD_CMD_STATS_GET,	/* 3 */
	SMTPGUARD_CMD_STATS_RESET,	/* 4 */
	SMTPGUARD_CMD_EVENT,		/* 5: notification only */

	__SMTPGUARD_CMD_MAX,
	SMTPGUARD_CMD_MAX = __SMTPGUARD_CMD_MAX - 1
};

/* Top-level attributes of POLICY_SET and POLICY_GET. */
enum smtpguard_policy_attr {
	SMTPGUARD_A_POLICY_UNSPEC,	/* 0 */
	SMTPGUARD_A_POLICY_VERBS,	/* 1: nest of SMTPGUARD_A_WORD (allowed verbs) */
	SMTPGUARD_A_POLICY_KEYWORDS,	/* 2: nest of SMTPGUARD_A_WORD (allowed EHLO keywords) */
	SMTPGUARD_A_POLICY_BANNER,	/* 3: u8, enum smtpguard_banner */
	SMTPGUARD_A_POLICY_STARTTLS,	/* 4: u8, 0 or 1 */
	SMTPGUARD_A_POLICY_BDAT,	/* 5: u8, 0 or 1 */
	SMTPGUARD_A_POLICY_PICKUP,	/* 6: u8, enum smtpguard_pickup */
	SMTPGUARD_A_POLICY_MASK_CHAR,	/* 7: u8, printable ASCII */
	SMTPGUARD_A_POLICY_BANNER_CHAR,	/* 8: u8, printable ASCII */
	SMTPGUARD_A_POLICY_LIMITS,	/* 9: nest of SMTPGUARD_A_LIMIT_* */
	SMTPGUARD_A_POLICY_ACTIONS,	/* 10: nest of SMTPGUARD_A_CLASS_* (u8 actions) */

	__SMTPGUARD_A_POLICY_MAX,
	SMTPGUARD_A_POLICY_MAX = __SMTPGUARD_A_POLICY_MAX - 1
};

/* Entries of the VERBS and KEYWORDS nests: the attribute repeats. */
enum smtpguard_word_attr {
	SMTPGUARD_A_WORD_UNSPEC,	/* 0 */
	SMTPGUARD_A_WORD,		/* 1: NUL-terminated string, 1..SMTPGUARD_NAME_MAX */

	__SMTPGUARD_A_WORD_MAX,
	SMTPGUARD_A_WORD_MAX = __SMTPGUARD_A_WORD_MAX - 1
};

/* Banner modes (= enum sg_banner_mode). */
enum smtpguard_banner {
	SMTPGUARD_BANNER_PASS,		/* 0 */
	SMTPGUARD_BANNER_MASK,		/* 1 */
};

/* Pickup modes (= enum sg_pickup_mode). */
enum smtpguard_pickup {
	SMTPGUARD_PICKUP_OPEN,		/* 0 */
	SMTPGUARD_PICKUP_RESET,		/* 1 */
};

/*
 * Entries of the LIMITS nest, each a u32. Attribute type = 1 + enum
 * sg_limit value.
 */
enum smtpguard_limit_attr {
	SMTPGUARD_A_LIMIT_UNSPEC,	/* 0 */
	SMTPGUARD_A_LIMIT_COMMAND_LINE,	/* 1 */
	SMTPGUARD_A_LIMIT_REPLY_LINE,	/* 2 */
	SMTPGUARD_A_LIMIT_TEXT_LINE,	/* 3 */
	SMTPGUARD_A_LIMIT_RECIPIENTS,	/* 4 */
	SMTPGUARD_A_LIMIT_ADDRESS,	/* 5 */
	SMTPGUARD_A_LIMIT_BDAT_CHUNK,	/* 6 */

	__SMTPGUARD_A_LIMIT_MAX,
	SMTPGUARD_A_LIMIT_MAX = __SMTPGUARD_A_LIMIT_MAX - 1
};

/*
 * Violation classes, as attribute types of the ACTIONS nest (u8 enum
 * smtpguard_action each) and of the STATS_VIOLATIONS nest (u64 each).
 * Attribute type = 2 + enum sg_class value; 1 is the u64 padding type.
 */
enum smtpguard_class_attr {
	SMTPGUARD_A_CLASS_UNSPEC,		/* 0 */
	SMTPGUARD_A_CLASS_PAD,			/* 1 */
	SMTPGUARD_A_CLASS_VERB,			/* 2 */
	SMTPGUARD_A_CLASS_COMMAND_LINE,		/* 3 */
	SMTPGUARD_A_CLASS_REPLY_LINE,		/* 4 */
	SMTPGUARD_A_CLASS_TEXT_LINE,		/* 5 */
	SMTPGUARD_A_CLASS_RECIPIENTS,		/* 6 */
	SMTPGUARD_A_CLASS_ADDRESS_LENGTH,	/* 7 */
	SMTPGUARD_A_CLASS_ADDRESS_CHAR,		/* 8 */
	SMTPGUARD_A_CLASS_SMUGGLING,		/* 9 */
	SMTPGUARD_A_CLASS_STARTTLS_INJECTION,	/* 10 */
	SMTPGUARD_A_CLASS_BDAT,			/* 11 */
	SMTPGUARD_A_CLASS_PIPELINE,		/* 12 */
	SMTPGUARD_A_CLASS_REWRITE_LIMIT,	/* 13 */
	SMTPGUARD_A_CLASS_PICKUP,		/* 14 */
	SMTPGUARD_A_CLASS_DESYNC,		/* 15 */

	__SMTPGUARD_A_CLASS_MAX,
	SMTPGUARD_A_CLASS_MAX = __SMTPGUARD_A_CLASS_MAX - 1
};

#define SMTPGUARD_A_CLASS_FIRST		SMTPGUARD_A_CLASS_VERB

/* Violation classes (= enum sg_class), the value of SMTPGUARD_A_EVENT_CLASS. */
enum smtpguard_class {
	SMTPGUARD_CLASS_VERB,			/* 0 */
	SMTPGUARD_CLASS_COMMAND_LINE,		/* 1 */
	SMTPGUARD_CLASS_REPLY_LINE,		/* 2 */
	SMTPGUARD_CLASS_TEXT_LINE,		/* 3 */
	SMTPGUARD_CLASS_RECIPIENTS,		/* 4 */
	SMTPGUARD_CLASS_ADDRESS_LENGTH,		/* 5 */
	SMTPGUARD_CLASS_ADDRESS_CHAR,		/* 6 */
	SMTPGUARD_CLASS_SMUGGLING,		/* 7 */
	SMTPGUARD_CLASS_STARTTLS_INJECTION,	/* 8 */
	SMTPGUARD_CLASS_BDAT,			/* 9 */
	SMTPGUARD_CLASS_PIPELINE,		/* 10 */
	SMTPGUARD_CLASS_REWRITE_LIMIT,		/* 11 */
	SMTPGUARD_CLASS_PICKUP,			/* 12 */
	SMTPGUARD_CLASS_DESYNC,			/* 13 */
};

/* Actions (= enum sg_action). */
enum smtpguard_action {
	SMTPGUARD_ACTION_LOG,		/* 0 */
	SMTPGUARD_ACTION_MASK,		/* 1 */
	SMTPGUARD_ACTION_DROP,		/* 2 */
	SMTPGUARD_ACTION_RESET,		/* 3 */
};

/*
 * Verb classes, as attribute types of the STATS_VERBS_MASKED nest (u64
 * each). Attribute type = 2 + enum sg_verb_class value.
 */
enum smtpguard_vclass_attr {
	SMTPGUARD_A_VCLASS_UNSPEC,	/* 0 */
	SMTPGUARD_A_VCLASS_PAD,		/* 1 */
	SMTPGUARD_A_VCLASS_BASIC,	/* 2 */
	SMTPGUARD_A_VCLASS_ESMTP,	/* 3 */
	SMTPGUARD_A_VCLASS_PROBE,	/* 4 */
	SMTPGUARD_A_VCLASS_TURN,	/* 5 */
	SMTPGUARD_A_VCLASS_VENDOR,	/* 6 */
	SMTPGUARD_A_VCLASS_UNKNOWN,	/* 7 */

	__SMTPGUARD_A_VCLASS_MAX,
	SMTPGUARD_A_VCLASS_MAX = __SMTPGUARD_A_VCLASS_MAX - 1
};

#define SMTPGUARD_A_VCLASS_FIRST	SMTPGUARD_A_VCLASS_BASIC

/* Top-level attributes of the STATS_GET reply; all u64 except the nests. */
enum smtpguard_stats_attr {
	SMTPGUARD_A_STATS_UNSPEC,		/* 0 */
	SMTPGUARD_A_STATS_PAD,			/* 1 */
	SMTPGUARD_A_STATS_SESSIONS,		/* 2: connections inspected */
	SMTPGUARD_A_STATS_BYTES,		/* 3: payload bytes inspected */
	SMTPGUARD_A_STATS_VERBS_MASKED,		/* 4: nest of SMTPGUARD_A_VCLASS_* */
	SMTPGUARD_A_STATS_BANNERS_MASKED,	/* 5 */
	SMTPGUARD_A_STATS_KEYWORDS_MASKED,	/* 6 */
	SMTPGUARD_A_STATS_VIOLATIONS,		/* 7: nest of SMTPGUARD_A_CLASS_* */
	SMTPGUARD_A_STATS_HOLDS,		/* 8 */
	SMTPGUARD_A_STATS_DROPS,		/* 9 */
	SMTPGUARD_A_STATS_RESETS,		/* 10 */
	SMTPGUARD_A_STATS_EVENTS_DROPPED,	/* 11: events lost to the rate limit */

	__SMTPGUARD_A_STATS_MAX,
	SMTPGUARD_A_STATS_MAX = __SMTPGUARD_A_STATS_MAX - 1
};

/* Event kinds (= enum sg_event_kind). */
enum smtpguard_event_kind {
	SMTPGUARD_EVENT_VIOLATION,	/* 0: CLASS and ACTION say what happened */
	SMTPGUARD_EVENT_BANNER_MASKED,	/* 1 */
	SMTPGUARD_EVENT_KEYWORD_MASKED,	/* 2: TOKEN names the keyword */
	SMTPGUARD_EVENT_TLS_STARTED,	/* 3 */
	SMTPGUARD_EVENT_PICKUP,		/* 4: VALUE is the pickup mode */
};

/* Directions (= enum sg_dir). */
enum smtpguard_dir {
	SMTPGUARD_DIR_CLIENT,		/* 0: client to server */
	SMTPGUARD_DIR_SERVER,		/* 1: server to client */
};

/* Top-level attributes of an EVENT notification. */
enum smtpguard_event_attr {
	SMTPGUARD_A_EVENT_UNSPEC,	/* 0 */
	SMTPGUARD_A_EVENT_KIND,		/* 1: u8, enum smtpguard_event_kind */
	SMTPGUARD_A_EVENT_CLASS,	/* 2: u8, enum smtpguard_class */
	SMTPGUARD_A_EVENT_ACTION,	/* 3: u8, enum smtpguard_action */
	SMTPGUARD_A_EVENT_DIR,		/* 4: u8, enum smtpguard_dir */
	SMTPGUARD_A_EVENT_VALUE,	/* 5: u32, measured value */
	SMTPGUARD_A_EVENT_LIMIT,	/* 6: u32, limit broken, 0 if none */
	SMTPGUARD_A_EVENT_TOKEN,	/* 7: string, verb or keyword (may be absent) */
	SMTPGUARD_A_EVENT_L3PROTO,	/* 8: u8, AF_INET or AF_INET6 */
	SMTPGUARD_A_EVENT_SADDR,	/* 9: binary, 4 or 16 bytes, network order */
	SMTPGUARD_A_EVENT_DADDR,	/* 10: binary, 4 or 16 bytes, network order */
	SMTPGUARD_A_EVENT_SPORT,	/* 11: u16, host order */
	SMTPGUARD_A_EVENT_DPORT,	/* 12: u16, host order */
	SMTPGUARD_A_EVENT_CT_ID,	/* 13: u32, the id "conntrack -L -o id" prints */

	__SMTPGUARD_A_EVENT_MAX,
	SMTPGUARD_A_EVENT_MAX = __SMTPGUARD_A_EVENT_MAX - 1
};

/*
 * The tuple (L3PROTO, SADDR, DADDR, SPORT, DPORT) is the conntrack
 * original direction: SADDR/SPORT is the SMTP client, DADDR/DPORT the
 * server, whatever DIR the offending bytes travelled in.
 */

#endif /* _UAPI_LINUX_SMTPGUARD_H */
