/* SPDX-License-Identifier: GPL-2.0 */
/* The conntrack helper callbacks: run the engine on each segment. */
#ifndef SMTPGUARD_HELPER_H
#define SMTPGUARD_HELPER_H

#include <linux/skbuff.h>
#include <net/netfilter/nf_conntrack.h>

int smtp_help(struct sk_buff *skb, unsigned int protoff, struct nf_conn *ct,
	      enum ip_conntrack_info ctinfo);
int smtp_to_nlattr(struct sk_buff *skb, const struct nf_conn *ct);
int smtp_from_nlattr(struct nlattr *attr, struct nf_conn *ct);

#endif /* SMTPGUARD_HELPER_H */
