// SPDX-License-Identifier: GPL-2.0
/* Lifecycle of the per-connection engine state. */
#include <linux/slab.h>
#include <net/netfilter/nf_conntrack_helper.h>
#include "conn.h"

static struct kmem_cache *smtp_conn_cache __read_mostly;
static bool smtp_conn_closing;	/* module exit has begun */

int smtp_conn_cache_init(void)
{
	smtp_conn_cache = KMEM_CACHE(smtp_conn, 0);
	return smtp_conn_cache ? 0 : -ENOMEM;
}

void smtp_conn_cache_exit(void)
{
	rcu_barrier();	/* wait for smtp_conn_free_rcu callbacks */
	kmem_cache_destroy(smtp_conn_cache);
}

static void smtp_conn_free_rcu(struct rcu_head *head)
{
	kmem_cache_free(smtp_conn_cache, container_of(head, struct smtp_conn, rcu));
}

static void smtp_conn_put_data(struct smtp_help_data *hd)
{
	struct smtp_conn *c = xchg(&hd->conn, NULL);

	/* A CPU in smtp_help() may still hold the pointer: free after RCU. */
	if (c)
		call_rcu(&c->rcu, smtp_conn_free_rcu);
}

void smtp_conn_note_first(struct nf_conn *ct, const struct smtp_conn_pkt *pkt)
{
	struct smtp_help_data *hd = nfct_help_data(ct);

	/* Only the original direction's packets meet an unconfirmed entry. */
	if (!pkt->syn || pkt->dir != SG_DIR_CLIENT)
		return;
	hd->isn = pkt->seq;
	hd->syn_len = pkt->len;
	/* An unconfirmed entry is this CPU's alone; confirmation publishes it. */
	set_bit(SMTP_HB_ISN, &hd->flags);
}

/*
 * Mid-stream (no client SYN seen, or a conntrackd sync) the engine picks
 * up. So it does when the server has acknowledged SYN payload that was
 * judged without state (TFO accepted): the stream model restarts after it.
 * Otherwise the client's SYN is replayed into the fresh state; its payload,
 * if the server did not take it, comes again and is inspected in order.
 */
static void smtp_conn_seed(struct smtp_help_data *hd, struct sg_conn *st,
			   const struct smtp_conn_pkt *pkt, struct sg_seg *seg,
			   const struct sg_policy *pol)
{
	bool pickup = test_bit(SMTP_HB_PICKUP, &hd->flags) ||
		      !test_bit(SMTP_HB_ISN, &hd->flags);

	if (!pickup && hd->syn_len && pkt->dir == SG_DIR_SERVER && pkt->ack &&
	    pkt->ack_seq != hd->isn + 1)
		pickup = true;
	sg_conn_init(st, pickup);
	if (!pickup) {
		sg_seg_begin(seg, st, pol, SG_DIR_CLIENT, hd->isn, 0, 0,
			     SG_TCP_SYN);
		sg_seg_end(seg);
	}
}

struct smtp_conn *smtp_conn_get(struct nf_conn *ct,
				const struct smtp_conn_pkt *pkt,
				struct sg_seg *seg, const struct sg_policy *pol,
				bool *created)
{
	struct smtp_help_data *hd = nfct_help_data(ct);
	struct smtp_conn *c, *old;

	*created = false;
	c = smp_load_acquire(&hd->conn);
	if (likely(c))
		return c;
	if (!nf_ct_is_confirmed(ct) ||
	    test_bit(SMTP_HB_GONE, &hd->flags) ||
	    test_bit(SMTP_HB_OPAQUE, &hd->flags) ||
	    READ_ONCE(smtp_conn_closing))
		return NULL;

	c = kmem_cache_alloc(smtp_conn_cache, GFP_ATOMIC);
	if (!c)
		return NULL;
	spin_lock_init(&c->lock);
	smtp_conn_seed(hd, &c->st, pkt, seg, pol);

	/* Release: the state is initialised before others can see it. */
	old = cmpxchg_release(&hd->conn, NULL, c);
	if (old) {	/* the other direction's CPU won the race */
		kmem_cache_free(smtp_conn_cache, c);
		return smp_load_acquire(&hd->conn);
	}
	*created = true;
	return c;
}

void smtp_conn_destroy(struct nf_conn *ct)
{
	smtp_conn_put_data(nfct_help_data(ct));
}

static int smtp_conn_release(struct nf_conn *ct, void *data)
{
	struct nf_conn_help *help = nfct_help(ct);
	const struct nf_conntrack_helper *h;

	if (!help)
		return 0;
	h = rcu_dereference_raw(help->helper);
	if (h && h->me == THIS_MODULE) {
		struct smtp_help_data *hd = nfct_help_data(ct);

		set_bit(SMTP_HB_GONE, &hd->flags);
		smtp_conn_put_data(hd);
	}
	return 0;	/* keep the connection: it goes on uninspected */
}

void smtp_conn_release_all(void)
{
	/*
	 * Helper unregistration only clears help->helper, so .destroy would
	 * never run for live connections and their state would leak. Stop
	 * allocating, let in-flight packets finish, then free every state.
	 */
	WRITE_ONCE(smtp_conn_closing, true);
	synchronize_rcu();
	nf_ct_iterate_destroy(smtp_conn_release, NULL);
}
