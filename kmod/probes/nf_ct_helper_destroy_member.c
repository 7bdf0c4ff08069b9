// SPDX-License-Identifier: GPL-2.0
/* struct nf_conntrack_helper has .destroy and .to_nlattr callbacks. */
#include <net/netfilter/nf_conntrack_helper.h>

void probe(struct nf_conntrack_helper *h);
void probe(struct nf_conntrack_helper *h)
{
	h->destroy = NULL;
	h->to_nlattr = NULL;
}
