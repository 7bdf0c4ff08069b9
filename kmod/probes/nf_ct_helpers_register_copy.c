// SPDX-License-Identifier: GPL-2.0
/* nf_conntrack_helpers_register(tmpl, n, ptrs) registers refcounted copies
 * of the templates and returns them in ptrs; unregister takes the ptrs (7.x).
 */
#include <net/netfilter/nf_conntrack_helper.h>

int probe(struct nf_conntrack_helper *h, struct nf_conntrack_helper **reg);
int probe(struct nf_conntrack_helper *h, struct nf_conntrack_helper **reg)
{
	int ret = nf_conntrack_helpers_register(h, 1, reg);

	nf_conntrack_helpers_unregister(reg, 1);
	return ret;
}
