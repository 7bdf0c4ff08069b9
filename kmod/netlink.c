// SPDX-License-Identifier: GPL-2.0
/*
 * smtpguard generic netlink family "smtpguard": policy, counters, events.
 * The wire format is kmod/uapi/smtpguard.h (and smtpguard.yaml).
 *
 * Only APIs common to 6.1 and 6.12 are used (struct genl_ops with per-op
 * policies, .resv_start_op, genl_has_listeners, genlmsg_multicast_netns),
 * so this file needs no compile probes.
 */
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/jiffies.h>
#include <linux/atomic.h>
#include <linux/socket.h>
#include <net/genetlink.h>
#include <net/netns/generic.h>
#include <net/netfilter/nf_conntrack.h>

#include "pernet.h"
#include "netlink.h"
#include "uapi/smtpguard.h"

/* Events per netns per second before dropping. */
#define SMTP_NL_EVENT_BURST	200

enum smtp_nl_mcgrp {
	SMTP_NL_MCGRP_EVENTS,
};

/* Per-netns event rate limit: a fixed one-second window, lockless. */
struct smtp_nl_net {
	unsigned long window;		/* jiffies at the window's start */
	atomic_t sent;			/* events in this window */
	atomic64_t dropped;		/* over the limit or out of memory */
};

static unsigned int smtp_nl_net_id __read_mostly;
static struct genl_family smtp_nl_family;

static struct smtp_nl_net *smtp_nl_net(const struct net *net)
{
	return net_generic(net, smtp_nl_net_id);
}

/*
 * Attribute policies: strict validation does the shape checks; the
 * policy compiler checks meaning.
 */

static const struct nla_policy smtp_nl_word_policy[SMTPGUARD_A_WORD_MAX + 1] = {
	[SMTPGUARD_A_WORD] = { .type = NLA_NUL_STRING, .len = SG_NAME_MAX },
};

static const struct nla_policy smtp_nl_limit_policy[SMTPGUARD_A_LIMIT_MAX + 1] = {
	[SMTPGUARD_A_LIMIT_COMMAND_LINE]	= { .type = NLA_U32 },
	[SMTPGUARD_A_LIMIT_REPLY_LINE]		= { .type = NLA_U32 },
	[SMTPGUARD_A_LIMIT_TEXT_LINE]		= { .type = NLA_U32 },
	[SMTPGUARD_A_LIMIT_RECIPIENTS]		= { .type = NLA_U32 },
	[SMTPGUARD_A_LIMIT_ADDRESS]		= { .type = NLA_U32 },
	[SMTPGUARD_A_LIMIT_BDAT_CHUNK]		= { .type = NLA_U32 },
};

#define SMTP_NL_ACTION NLA_POLICY_MAX(NLA_U8, SG_A_MAX - 1)
static const struct nla_policy smtp_nl_action_policy[SMTPGUARD_A_CLASS_MAX + 1] = {
	/* SMTPGUARD_A_CLASS_PAD stays NLA_UNSPEC: rejected in strict mode */
	[SMTPGUARD_A_CLASS_VERB]		= SMTP_NL_ACTION,
	[SMTPGUARD_A_CLASS_COMMAND_LINE]	= SMTP_NL_ACTION,
	[SMTPGUARD_A_CLASS_REPLY_LINE]		= SMTP_NL_ACTION,
	[SMTPGUARD_A_CLASS_TEXT_LINE]		= SMTP_NL_ACTION,
	[SMTPGUARD_A_CLASS_RECIPIENTS]		= SMTP_NL_ACTION,
	[SMTPGUARD_A_CLASS_ADDRESS_LENGTH]	= SMTP_NL_ACTION,
	[SMTPGUARD_A_CLASS_ADDRESS_CHAR]	= SMTP_NL_ACTION,
	[SMTPGUARD_A_CLASS_SMUGGLING]		= SMTP_NL_ACTION,
	[SMTPGUARD_A_CLASS_STARTTLS_INJECTION]	= SMTP_NL_ACTION,
	[SMTPGUARD_A_CLASS_BDAT]		= SMTP_NL_ACTION,
	[SMTPGUARD_A_CLASS_PIPELINE]		= SMTP_NL_ACTION,
	[SMTPGUARD_A_CLASS_REWRITE_LIMIT]	= SMTP_NL_ACTION,
	[SMTPGUARD_A_CLASS_PICKUP]		= SMTP_NL_ACTION,
	[SMTPGUARD_A_CLASS_DESYNC]		= SMTP_NL_ACTION,
};

static const struct nla_policy smtp_nl_policy_set_policy[SMTPGUARD_A_POLICY_MAX + 1] = {
	[SMTPGUARD_A_POLICY_VERBS]	 = NLA_POLICY_NESTED(smtp_nl_word_policy),
	[SMTPGUARD_A_POLICY_KEYWORDS]	 = NLA_POLICY_NESTED(smtp_nl_word_policy),
	[SMTPGUARD_A_POLICY_BANNER]	 = NLA_POLICY_MAX(NLA_U8, SMTPGUARD_BANNER_MASK),
	[SMTPGUARD_A_POLICY_STARTTLS]	 = NLA_POLICY_MAX(NLA_U8, 1),
	[SMTPGUARD_A_POLICY_BDAT]	 = NLA_POLICY_MAX(NLA_U8, 1),
	[SMTPGUARD_A_POLICY_PICKUP]	 = NLA_POLICY_MAX(NLA_U8, SMTPGUARD_PICKUP_RESET),
	[SMTPGUARD_A_POLICY_MASK_CHAR]	 = NLA_POLICY_RANGE(NLA_U8, 0x21, 0x7e),
	[SMTPGUARD_A_POLICY_BANNER_CHAR] = NLA_POLICY_RANGE(NLA_U8, 0x21, 0x7e),
	[SMTPGUARD_A_POLICY_LIMITS]	 = NLA_POLICY_NESTED(smtp_nl_limit_policy),
	[SMTPGUARD_A_POLICY_ACTIONS]	 = NLA_POLICY_NESTED(smtp_nl_action_policy),
};

/*
 * For requests that carry no attributes: type 1 is rejected outright,
 * anything above it is an "Unknown attribute type" in strict mode.
 */
static const struct nla_policy smtp_nl_noattr_policy[2] = {
	[1] = {
		.type = NLA_REJECT,
		.reject_message = "this command takes no attributes",
	},
};

static void smtp_nl_set_msg(struct netlink_ext_ack *extack, const char *msg)
{
	/* NL_SET_ERR_MSG wants a literal; @msg is a static engine string. */
	if (extack)
		extack->_msg = msg;
}

static int smtp_nl_parse_words(const struct nlattr *nest,
			       char (*words)[SG_NAME_MAX + 1], u8 *n,
			       unsigned int max, struct netlink_ext_ack *extack)
{
	const struct nlattr *a;
	int rem;

	*n = 0;
	nla_for_each_nested(a, nest, rem) {
		size_t len;

		if (nla_type(a) != SMTPGUARD_A_WORD)
			continue;	/* unreachable after strict validation */
		if (*n >= max) {
			NL_SET_ERR_MSG_ATTR(extack, a, "too many words in list (max 32)");
			return -E2BIG;
		}
		len = strnlen(nla_data(a), nla_len(a));
		if (!len || len > SG_NAME_MAX) {
			NL_SET_ERR_MSG_ATTR(extack, a, "empty or overlong word");
			return -EINVAL;
		}
		memcpy(words[*n], nla_data(a), len);
		words[*n][len] = '\0';
		(*n)++;
	}
	return 0;
}

static int smtp_nl_parse_limits(const struct nlattr *nest, struct sg_policy *p,
				struct netlink_ext_ack *extack)
{
	const struct nlattr *a;
	int rem;

	nla_for_each_nested(a, nest, rem) {
		int type = nla_type(a);
		enum sg_limit l;
		u32 v;

		if (type < SMTPGUARD_A_LIMIT_COMMAND_LINE || type > SMTPGUARD_A_LIMIT_MAX)
			continue;
		l = type - SMTPGUARD_A_LIMIT_COMMAND_LINE;
		v = nla_get_u32(a);
		if (v > sg_limit_max(l)) {
			NL_SET_ERR_MSG_ATTR(extack, a, "limit out of range");
			return -ERANGE;
		}
		p->limit[l] = v;
	}
	return 0;
}

static int smtp_nl_parse_actions(const struct nlattr *nest, struct sg_policy *p,
				 struct netlink_ext_ack *extack)
{
	const struct nlattr *a;
	int rem;

	nla_for_each_nested(a, nest, rem) {
		int type = nla_type(a);
		enum sg_class c;
		u8 act;

		if (type < SMTPGUARD_A_CLASS_FIRST || type > SMTPGUARD_A_CLASS_MAX)
			continue;
		c = type - SMTPGUARD_A_CLASS_FIRST;
		act = nla_get_u8(a);
		if (!sg_action_valid(c, act)) {
			NL_SET_ERR_MSG_ATTR(extack, a, "action not valid for this class");
			return -EINVAL;
		}
		p->action[c] = act;
	}
	return 0;
}

static int smtp_nl_policy_from_attrs(struct sg_policy *p, struct nlattr **tb,
				     struct netlink_ext_ack *extack)
{
	const char *err = NULL;
	int ret;

	sg_policy_defaults(p);

	if (tb[SMTPGUARD_A_POLICY_VERBS]) {
		ret = smtp_nl_parse_words(tb[SMTPGUARD_A_POLICY_VERBS], p->verbs,
					  &p->n_verbs, SG_VERBS_MAX, extack);
		if (ret)
			return ret;
	}
	if (tb[SMTPGUARD_A_POLICY_KEYWORDS]) {
		ret = smtp_nl_parse_words(tb[SMTPGUARD_A_POLICY_KEYWORDS], p->keywords,
					  &p->n_keywords, SG_KEYWORDS_MAX, extack);
		if (ret)
			return ret;
	}
	if (tb[SMTPGUARD_A_POLICY_BANNER])
		p->banner = nla_get_u8(tb[SMTPGUARD_A_POLICY_BANNER]);
	if (tb[SMTPGUARD_A_POLICY_STARTTLS])
		p->starttls = nla_get_u8(tb[SMTPGUARD_A_POLICY_STARTTLS]);
	if (tb[SMTPGUARD_A_POLICY_BDAT])
		p->bdat = nla_get_u8(tb[SMTPGUARD_A_POLICY_BDAT]);
	if (tb[SMTPGUARD_A_POLICY_PICKUP])
		p->pickup = nla_get_u8(tb[SMTPGUARD_A_POLICY_PICKUP]);
	if (tb[SMTPGUARD_A_POLICY_MASK_CHAR])
		p->mask_char = nla_get_u8(tb[SMTPGUARD_A_POLICY_MASK_CHAR]);
	if (tb[SMTPGUARD_A_POLICY_BANNER_CHAR])
		p->banner_char = nla_get_u8(tb[SMTPGUARD_A_POLICY_BANNER_CHAR]);
	if (tb[SMTPGUARD_A_POLICY_LIMITS]) {
		ret = smtp_nl_parse_limits(tb[SMTPGUARD_A_POLICY_LIMITS], p, extack);
		if (ret)
			return ret;
	}
	if (tb[SMTPGUARD_A_POLICY_ACTIONS]) {
		ret = smtp_nl_parse_actions(tb[SMTPGUARD_A_POLICY_ACTIONS], p, extack);
		if (ret)
			return ret;
	}

	if (sg_policy_compile(p, &err)) {
		smtp_nl_set_msg(extack, err ? err : "policy rejected by compiler");
		return -EINVAL;
	}
	return 0;
}

static int smtp_nl_policy_set(struct sk_buff *skb, struct genl_info *info)
{
	struct smtp_policy *sp;
	int ret;

	sp = kzalloc(sizeof(*sp), GFP_KERNEL);
	if (!sp)
		return -ENOMEM;

	ret = smtp_nl_policy_from_attrs(&sp->pol, info->attrs, info->extack);
	if (ret) {
		kfree(sp);
		return ret;
	}
	smtp_policy_replace(genl_info_net(info), sp);
	return 0;
}

static size_t smtp_nl_policy_size(void)
{
	size_t words = nla_total_size(SG_NAME_MAX + 1);

	return nla_total_size(0) + SG_VERBS_MAX * words +	/* VERBS */
	       nla_total_size(0) + SG_KEYWORDS_MAX * words +	/* KEYWORDS */
	       6 * nla_total_size(sizeof(u8)) +
	       nla_total_size(0) + SG_L_MAX * nla_total_size(sizeof(u32)) +
	       nla_total_size(0) + SG_C_MAX * nla_total_size(sizeof(u8));
}

static int smtp_nl_put_words(struct sk_buff *msg, int type,
			     const char (*words)[SG_NAME_MAX + 1], unsigned int n)
{
	struct nlattr *nest;
	unsigned int i;

	nest = nla_nest_start(msg, type);
	if (!nest)
		return -EMSGSIZE;
	for (i = 0; i < n; i++)
		if (nla_put_string(msg, SMTPGUARD_A_WORD, words[i]))
			return -EMSGSIZE;
	nla_nest_end(msg, nest);
	return 0;
}

static int smtp_nl_fill_policy(struct sk_buff *msg, const struct sg_policy *p)
{
	struct nlattr *nest;
	unsigned int i;

	if (smtp_nl_put_words(msg, SMTPGUARD_A_POLICY_VERBS, p->verbs,
			      min_t(unsigned int, p->n_verbs, SG_VERBS_MAX)) ||
	    smtp_nl_put_words(msg, SMTPGUARD_A_POLICY_KEYWORDS, p->keywords,
			      min_t(unsigned int, p->n_keywords, SG_KEYWORDS_MAX)) ||
	    nla_put_u8(msg, SMTPGUARD_A_POLICY_BANNER, p->banner) ||
	    nla_put_u8(msg, SMTPGUARD_A_POLICY_STARTTLS, p->starttls) ||
	    nla_put_u8(msg, SMTPGUARD_A_POLICY_BDAT, p->bdat) ||
	    nla_put_u8(msg, SMTPGUARD_A_POLICY_PICKUP, p->pickup) ||
	    nla_put_u8(msg, SMTPGUARD_A_POLICY_MASK_CHAR, p->mask_char) ||
	    nla_put_u8(msg, SMTPGUARD_A_POLICY_BANNER_CHAR, p->banner_char))
		return -EMSGSIZE;

	nest = nla_nest_start(msg, SMTPGUARD_A_POLICY_LIMITS);
	if (!nest)
		return -EMSGSIZE;
	for (i = 0; i < SG_L_MAX; i++)
		if (nla_put_u32(msg, SMTPGUARD_A_LIMIT_COMMAND_LINE + i, p->limit[i]))
			return -EMSGSIZE;
	nla_nest_end(msg, nest);

	nest = nla_nest_start(msg, SMTPGUARD_A_POLICY_ACTIONS);
	if (!nest)
		return -EMSGSIZE;
	for (i = 0; i < SG_C_MAX; i++)
		if (nla_put_u8(msg, SMTPGUARD_A_CLASS_FIRST + i, p->action[i]))
			return -EMSGSIZE;
	nla_nest_end(msg, nest);
	return 0;
}

static int smtp_nl_policy_get(struct sk_buff *skb, struct genl_info *info)
{
	struct net *net = genl_info_net(info);
	struct sk_buff *msg;
	void *hdr;
	int ret;

	msg = genlmsg_new(smtp_nl_policy_size(), GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &smtp_nl_family, 0,
				SMTPGUARD_CMD_POLICY_GET);
	if (!hdr) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}

	rcu_read_lock();
	ret = smtp_nl_fill_policy(msg, smtp_policy_get(smtp_pernet(net)));
	rcu_read_unlock();
	if (ret) {
		nlmsg_free(msg);
		return ret;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

static size_t smtp_nl_stats_size(void)
{
	size_t u64sz = nla_total_size_64bit(sizeof(u64));

	return 8 * u64sz +
	       nla_total_size(0) + SG_VC_MAX * u64sz +
	       nla_total_size(0) + SG_C_MAX * u64sz;
}

static int smtp_nl_fill_stats(struct sk_buff *msg, const struct smtp_stats *s,
			      u64 events_dropped)
{
	struct nlattr *nest;
	unsigned int i;

#define PUT64(type, val) \
	nla_put_u64_64bit(msg, type, val, SMTPGUARD_A_STATS_PAD)
	if (PUT64(SMTPGUARD_A_STATS_SESSIONS, s->sessions) ||
	    PUT64(SMTPGUARD_A_STATS_BYTES, s->bytes) ||
	    PUT64(SMTPGUARD_A_STATS_BANNERS_MASKED, s->banners_masked) ||
	    PUT64(SMTPGUARD_A_STATS_KEYWORDS_MASKED, s->keywords_masked) ||
	    PUT64(SMTPGUARD_A_STATS_HOLDS, s->holds) ||
	    PUT64(SMTPGUARD_A_STATS_DROPS, s->drops) ||
	    PUT64(SMTPGUARD_A_STATS_RESETS, s->resets) ||
	    PUT64(SMTPGUARD_A_STATS_EVENTS_DROPPED, events_dropped))
		return -EMSGSIZE;
#undef PUT64

	nest = nla_nest_start(msg, SMTPGUARD_A_STATS_VERBS_MASKED);
	if (!nest)
		return -EMSGSIZE;
	for (i = 0; i < SG_VC_MAX; i++)
		if (nla_put_u64_64bit(msg, SMTPGUARD_A_VCLASS_FIRST + i,
				      s->verbs_masked[i], SMTPGUARD_A_VCLASS_PAD))
			return -EMSGSIZE;
	nla_nest_end(msg, nest);

	nest = nla_nest_start(msg, SMTPGUARD_A_STATS_VIOLATIONS);
	if (!nest)
		return -EMSGSIZE;
	for (i = 0; i < SG_C_MAX; i++)
		if (nla_put_u64_64bit(msg, SMTPGUARD_A_CLASS_FIRST + i,
				      s->violations[i], SMTPGUARD_A_CLASS_PAD))
			return -EMSGSIZE;
	nla_nest_end(msg, nest);
	return 0;
}

static int smtp_nl_stats_get(struct sk_buff *skb, struct genl_info *info)
{
	struct net *net = genl_info_net(info);
	struct smtp_stats sum;
	struct sk_buff *msg;
	void *hdr;
	int ret;

	msg = genlmsg_new(smtp_nl_stats_size(), GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &smtp_nl_family, 0,
				SMTPGUARD_CMD_STATS_GET);
	if (!hdr) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	smtp_stats_read(net, &sum);
	ret = smtp_nl_fill_stats(msg, &sum,
				 atomic64_read(&smtp_nl_net(net)->dropped));
	if (ret) {
		nlmsg_free(msg);
		return ret;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

static int smtp_nl_stats_reset(struct sk_buff *skb, struct genl_info *info)
{
	struct net *net = genl_info_net(info);

	smtp_stats_reset(net);
	atomic64_set(&smtp_nl_net(net)->dropped, 0);
	return 0;
}

static const struct genl_ops smtp_nl_ops[] = {
	{
		.cmd		= SMTPGUARD_CMD_POLICY_SET,
		.doit		= smtp_nl_policy_set,
		.policy		= smtp_nl_policy_set_policy,
		.maxattr	= SMTPGUARD_A_POLICY_MAX,
		.flags		= GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd		= SMTPGUARD_CMD_POLICY_GET,
		.doit		= smtp_nl_policy_get,
		.policy		= smtp_nl_noattr_policy,
		.maxattr	= ARRAY_SIZE(smtp_nl_noattr_policy) - 1,
	},
	{
		.cmd		= SMTPGUARD_CMD_STATS_GET,
		.doit		= smtp_nl_stats_get,
		.policy		= smtp_nl_noattr_policy,
		.maxattr	= ARRAY_SIZE(smtp_nl_noattr_policy) - 1,
	},
	{
		.cmd		= SMTPGUARD_CMD_STATS_RESET,
		.doit		= smtp_nl_stats_reset,
		.policy		= smtp_nl_noattr_policy,
		.maxattr	= ARRAY_SIZE(smtp_nl_noattr_policy) - 1,
		.flags		= GENL_UNS_ADMIN_PERM,
	},
};

static const struct genl_multicast_group smtp_nl_mcgrps[] = {
	/* events carry addresses and verbs: CAP_NET_ADMIN to listen */
	[SMTP_NL_MCGRP_EVENTS] = {
		.name	= SMTPGUARD_MCGRP_EVENTS,
		.flags	= GENL_MCAST_CAP_NET_ADMIN,
	},
};

static struct genl_family smtp_nl_family __ro_after_init = {
	.name		= SMTPGUARD_GENL_NAME,
	.version	= SMTPGUARD_GENL_VERSION,
	.netnsok	= true,
	.parallel_ops	= true,	/* smtp_policy_replace() serialises writers */
	.module		= THIS_MODULE,
	.ops		= smtp_nl_ops,
	.n_ops		= ARRAY_SIZE(smtp_nl_ops),
	/*
	 * Commands below resv_start_op get legacy leniency (reserved header
	 * bits and unknown nlmsg_flags ignored). We have no legacy commands:
	 * every one is checked strictly.
	 */
	.resv_start_op	= SMTPGUARD_CMD_POLICY_SET,
	.mcgrps		= smtp_nl_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(smtp_nl_mcgrps),
};

/* Events */

#define SMTP_NL_EVENT_SIZE						\
	(4 * nla_total_size(sizeof(u8)) +	/* kind class action dir */	\
	 3 * nla_total_size(sizeof(u32)) +	/* value limit ct_id */	\
	 nla_total_size(SG_TOKEN_LEN + 1) +				\
	 nla_total_size(sizeof(u8)) +		/* l3proto */		\
	 2 * nla_total_size(16) +		/* saddr daddr */	\
	 2 * nla_total_size(sizeof(u16)))	/* sport dport */

static bool smtp_nl_ratelimit(struct smtp_nl_net *nn)
{
	unsigned long now = jiffies;

	/* Racy at the window edge, by a few events at most: fine. */
	if (time_after(now, READ_ONCE(nn->window) + HZ)) {
		WRITE_ONCE(nn->window, now);
		atomic_set(&nn->sent, 0);
	}
	return atomic_inc_return(&nn->sent) <= SMTP_NL_EVENT_BURST;
}

static int smtp_nl_fill_event(struct sk_buff *msg, const struct sg_event *ev,
			      const struct nf_conn *ct)
{
	size_t toklen = strnlen(ev->token, SG_TOKEN_LEN);

	if (nla_put_u8(msg, SMTPGUARD_A_EVENT_KIND, ev->kind) ||
	    nla_put_u8(msg, SMTPGUARD_A_EVENT_CLASS, ev->klass) ||
	    nla_put_u8(msg, SMTPGUARD_A_EVENT_ACTION, ev->action) ||
	    nla_put_u8(msg, SMTPGUARD_A_EVENT_DIR, ev->dir) ||
	    nla_put_u32(msg, SMTPGUARD_A_EVENT_VALUE, ev->value) ||
	    nla_put_u32(msg, SMTPGUARD_A_EVENT_LIMIT, ev->limit))
		return -EMSGSIZE;

	if (toklen) {
		char tok[SG_TOKEN_LEN + 1];

		memcpy(tok, ev->token, toklen);
		tok[toklen] = '\0';
		if (nla_put_string(msg, SMTPGUARD_A_EVENT_TOKEN, tok))
			return -EMSGSIZE;
	}

	/*
	 * CT_ID: ctnetlink sends nf_ct_get_id() as a be32 CTA_ID; report the
	 * number that "conntrack -L -o id" prints.
	 */
	if (ct) {
		const struct nf_conntrack_tuple *t =
			&ct->tuplehash[IP_CT_DIR_ORIGINAL].tuple;
		int alen = t->src.l3num == AF_INET6 ? 16 : 4;

		if (nla_put_u8(msg, SMTPGUARD_A_EVENT_L3PROTO, t->src.l3num) ||
		    nla_put(msg, SMTPGUARD_A_EVENT_SADDR, alen, &t->src.u3) ||
		    nla_put(msg, SMTPGUARD_A_EVENT_DADDR, alen, &t->dst.u3) ||
		    nla_put_u16(msg, SMTPGUARD_A_EVENT_SPORT, ntohs(t->src.u.tcp.port)) ||
		    nla_put_u16(msg, SMTPGUARD_A_EVENT_DPORT, ntohs(t->dst.u.tcp.port)) ||
		    nla_put_u32(msg, SMTPGUARD_A_EVENT_CT_ID,
				be32_to_cpu((__force __be32)nf_ct_get_id(ct))))
			return -EMSGSIZE;
	}
	return 0;
}

void smtp_nl_event(struct net *net, const struct sg_event *ev,
		   const struct nf_conn *ct)
{
	struct smtp_nl_net *nn;
	struct sk_buff *msg;
	void *hdr;

	if (!genl_has_listeners(&smtp_nl_family, net, SMTP_NL_MCGRP_EVENTS))
		return;

	nn = smtp_nl_net(net);
	if (!smtp_nl_ratelimit(nn))
		goto drop;

	msg = genlmsg_new(SMTP_NL_EVENT_SIZE, GFP_ATOMIC);
	if (!msg)
		goto drop;
	hdr = genlmsg_put(msg, 0, 0, &smtp_nl_family, 0, SMTPGUARD_CMD_EVENT);
	if (!hdr || smtp_nl_fill_event(msg, ev, ct)) {
		nlmsg_free(msg);
		goto drop;
	}
	genlmsg_end(msg, hdr);
	/* -ESRCH (listener left meanwhile) and -ENOBUFS are not ours to count */
	genlmsg_multicast_netns(&smtp_nl_family, net, msg, 0,
				SMTP_NL_MCGRP_EVENTS, GFP_ATOMIC);
	return;
drop:
	atomic64_inc(&nn->dropped);
}

static int __net_init smtp_nl_net_init(struct net *net)
{
	struct smtp_nl_net *nn = smtp_nl_net(net);

	nn->window = jiffies;
	atomic_set(&nn->sent, 0);
	atomic64_set(&nn->dropped, 0);
	return 0;
}

static struct pernet_operations smtp_nl_net_ops = {
	.init	= smtp_nl_net_init,
	.id	= &smtp_nl_net_id,
	.size	= sizeof(struct smtp_nl_net),
};

int smtp_nl_init(void)
{
	int ret;

	/* The UAPI mirrors the engine's enums: keep them in lockstep. */
	BUILD_BUG_ON(SMTPGUARD_A_LIMIT_MAX - SMTPGUARD_A_LIMIT_COMMAND_LINE + 1 != SG_L_MAX);
	BUILD_BUG_ON(SMTPGUARD_A_CLASS_MAX - SMTPGUARD_A_CLASS_FIRST + 1 != SG_C_MAX);
	BUILD_BUG_ON(SMTPGUARD_A_VCLASS_MAX - SMTPGUARD_A_VCLASS_FIRST + 1 != SG_VC_MAX);
	BUILD_BUG_ON((int)SMTPGUARD_ACTION_RESET + 1 != (int)SG_A_MAX);
	BUILD_BUG_ON((int)SMTPGUARD_ACTION_MASK != (int)SG_A_MASK);
	BUILD_BUG_ON((int)SMTPGUARD_BANNER_MASK != (int)SG_BANNER_MASK);
	BUILD_BUG_ON((int)SMTPGUARD_PICKUP_RESET != (int)SG_PICKUP_RESET);
	BUILD_BUG_ON((int)SMTPGUARD_EVENT_PICKUP != (int)SG_EV_PICKUP);
	BUILD_BUG_ON((int)SMTPGUARD_CLASS_PICKUP != (int)SG_C_PICKUP);
	BUILD_BUG_ON((int)SMTPGUARD_A_CLASS_PICKUP - SMTPGUARD_A_CLASS_FIRST != (int)SG_C_PICKUP);
	BUILD_BUG_ON((int)SMTPGUARD_DIR_SERVER != (int)SG_DIR_SERVER);
	BUILD_BUG_ON((int)SMTPGUARD_NAME_MAX != (int)SG_NAME_MAX);
	BUILD_BUG_ON((int)SMTPGUARD_WORDS_MAX != (int)SG_VERBS_MAX);
	BUILD_BUG_ON((int)SMTPGUARD_WORDS_MAX != (int)SG_KEYWORDS_MAX);
	BUILD_BUG_ON((int)SMTPGUARD_TOKEN_MAX != (int)SG_TOKEN_LEN);

	ret = register_pernet_subsys(&smtp_nl_net_ops);
	if (ret)
		return ret;
	ret = genl_register_family(&smtp_nl_family);
	if (ret)
		unregister_pernet_subsys(&smtp_nl_net_ops);
	return ret;
}

void smtp_nl_exit(void)
{
	genl_unregister_family(&smtp_nl_family);
	unregister_pernet_subsys(&smtp_nl_net_ops);
}
