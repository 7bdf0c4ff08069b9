// SPDX-License-Identifier: GPL-2.0
/* inet_proto_csum_replace4(sum, skb, from, to, pseudohdr): stable since 4.x,
 * unlike inet_proto_csum_replace_by_diff whose signature moved in 2025.
 */
#include <linux/skbuff.h>
#include <net/checksum.h>

void probe(struct sk_buff *skb);
void probe(struct sk_buff *skb)
{
	__sum16 sum = 0;

	inet_proto_csum_replace4(&sum, skb, 0, 0, false);
}
