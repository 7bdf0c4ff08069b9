/* SPDX-License-Identifier: GPL-2.0 */
/* TCP payload access for the smtp helper: read, rewrite in place, reset. */
#ifndef SMTPGUARD_PAYLOAD_H
#define SMTPGUARD_PAYLOAD_H

#include <linux/skbuff.h>
#include "engine/engine.h"

/* Feed payload bytes [dataoff, skb->len) to @seg without linearizing. */
void smtp_payload_feed(struct sk_buff *skb, unsigned int dataoff,
		       struct sg_seg *seg);

/*
 * Apply @res's spans to the payload at @dataoff, fixing the TCP checksum
 * for every ip_summed mode. Only the bytes that change are written, in
 * place; data shared with another skb or with page cache is copied first.
 * Returns 0 or a negative errno (no memory for that copy: the caller drops,
 * the sender retransmits).
 */
int smtp_payload_rewrite(struct sk_buff *skb, unsigned int protoff,
			 unsigned int dataoff, const struct sg_result *res);

/*
 * Reset both ends: an RST to the sender of @skb, and @skb itself turned
 * into an RST (payload dropped by the receiver) for the other end. The
 * sender's RST needs @skb's route; without one (bridge, OVS, tc act_ct)
 * only the receiver is reset, and the sender stalls as after a drop.
 * @hooknum NF_INET_POST_ROUTING: the segment is routed and conntrack has
 * validated its checksum.
 */
void smtp_payload_reset(struct net *net, struct sk_buff *skb,
			unsigned int protoff, u8 family, unsigned int hooknum);

#endif /* SMTPGUARD_PAYLOAD_H */
