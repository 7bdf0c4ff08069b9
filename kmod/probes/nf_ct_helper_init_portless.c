// SPDX-License-Identifier: GPL-2.0
/* nf_ct_helper_init() without ports (7.3+): helpers have no port tuple and
 * are only assigned explicitly (nft ct helper, CT target), by name.
 */
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
	nf_ct_helper_init(h, AF_INET, IPPROTO_TCP, "x", pol, 0,
			  probe_help, NULL, THIS_MODULE);
}
