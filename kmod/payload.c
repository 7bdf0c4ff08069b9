// SPDX-License-Identifier: GPL-2.0
/* TCP payload access: walk, same-length rewrite, reset. */
#include <linux/tcp.h>
#include <net/checksum.h>
#include <net/netfilter/ipv4/nf_reject.h>
#include <net/netfilter/ipv6/nf_reject.h>
#include "compat.h"
#include "payload.h"

void smtp_payload_feed(struct sk_buff *skb, unsigned int dataoff,
		       struct sg_seg *seg)
{
	struct skb_seq_state st;
	unsigned int consumed = 0, n;
	const u8 *data;

	if (skb->len <= dataoff)
		return;
	/* Maps one linear area or page fragment at a time: no copy. */
	skb_prepare_seq_read(skb, dataoff, skb->len, &st);
	while ((n = skb_seq_read(consumed, &data, &st)) != 0) {
		sg_seg_feed(seg, data, n);
		consumed += n;
	}
}

/* Overwrite @len bytes at @off with @ch, wherever they lie (head, frags). */
static void smtp_payload_fill(struct sk_buff *skb, unsigned int off,
			      unsigned int len, u8 ch)
{
	u8 fill[64];
	unsigned int n;

	memset(fill, ch, min_t(unsigned int, len, sizeof(fill)));
	for (; len; off += n, len -= n) {
		n = min_t(unsigned int, len, sizeof(fill));
		/* cannot fail: the span lies inside skb->len */
		WARN_ON_ONCE(skb_store_bits(skb, off, fill, n));
	}
}

int smtp_payload_rewrite(struct sk_buff *skb, unsigned int protoff,
			 unsigned int dataoff, const struct sg_result *res)
{
	unsigned int end = 0, i;
	struct tcphdr *th;

	for (i = 0; i < res->n_spans; i++)
		end = max(end, res->spans[i].off + res->spans[i].len);
	if (!end)
		return 0;
	/*
	 * A private copy of the bytes up to the last span, pulled into the
	 * head; what follows (a GRO/TSO or BIG TCP super-packet's frags)
	 * is left alone. Frags are never written where they lie: over veth
	 * or loopback they can be the sending socket's own pages, with the
	 * skb neither cloned nor marked as having shared frags, and writing
	 * there rewrote the sender's retransmissions (evasion_netem.sh).
	 */
	if (skb_ensure_writable(skb, dataoff + end))
		return -ENOMEM;
	th = (struct tcphdr *)(skb->data + protoff);	/* may have moved */

	for (i = 0; i < res->n_spans; i++) {
		const struct sg_span *sp = &res->spans[i];
		unsigned int off = dataoff + sp->off;
		int tcpoff = dataoff - protoff + sp->off;
		__wsum from, to;

		if (sp->len == 0)
			continue;
		/* Checksums of the bytes at their parity inside the segment. */
		from = csum_block_add(0, skb_checksum(skb, off, sp->len, 0), tcpoff);
		smtp_payload_fill(skb, off, sp->len, sp->ch);
		to = csum_block_add(0, skb_checksum(skb, off, sp->len, 0), tcpoff);
		/*
		 * Payload bytes are not in the pseudo-header: CHECKSUM_PARTIAL
		 * needs nothing (the device sums later); NONE and COMPLETE get
		 * th->check adjusted, and skb->csum stays right because the
		 * data change and the check change cancel out.
		 */
		inet_proto_csum_replace4(&th->check, skb, (__force __be32)from,
					 (__force __be32)to, false);
	}
	return 0;
}

void smtp_payload_reset(struct net *net, struct sk_buff *skb,
			unsigned int protoff, u8 family, unsigned int hooknum)
{
	struct tcphdr *th;
	__be16 old_word, new_word;

	/*
	 * The sender: a fresh RST answering this segment, routed back the way
	 * the segment came. Without a route (bridge with nf_conntrack_bridge,
	 * OVS or tc act_ct call helpers on unrouted skbs) nf_send_reset()
	 * would dereference a NULL rtable: only the receiver is reset there;
	 * the sender's retransmissions become RSTs as well, so it stalls
	 * until its own timeout, as with drop.
	 */
	if (skb_dst(skb)) {
		if (family == NFPROTO_IPV4)
			nf_send_reset(net, skb->sk, skb, hooknum);
		else
			nf_send_reset6(net, skb->sk, skb, hooknum);
	}

	/* The receiver: this very segment, with RST set, is in its window. */
	if (skb_ensure_writable(skb, protoff + sizeof(*th)))
		return;
	th = (struct tcphdr *)(skb->data + protoff);
	old_word = ((__be16 *)th)[6];	/* doff, flags */
	th->rst = 1;
	th->psh = 0;
	th->fin = 0;
	th->syn = 0;
	new_word = ((__be16 *)th)[6];
	inet_proto_csum_replace2(&th->check, skb, old_word, new_word, false);
}
