// SPDX-License-Identifier: GPL-2.0
/* nf_ct_helper_init() with from_nlattr and module arguments (4.x .. 6.12). */
#include <net/netfilter/nf_conntrack_helper.h>

static int probe_help(struct sk_buff *skb, unsigned int protoff,
		      struct nf_conn *ct, enum ip_conntrack_info ctinfo)
{
	return 0;
}

void probe(struct nf_conntrack_helper *h,
	   const struct nf_conntrack_expect_policy *pol);
void probe(struct nf_conntrack_helper *h,
	   const struct nf_conntrack_expect_policy *pol)
{
	nf_ct_helper_init(h, AF_INET, IPPROTO_TCP, "x", 25, 25, 0, pol, 0,
			  probe_help, NULL, THIS_MODULE);
}
