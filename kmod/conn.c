// SPDX-License-Identifier: GPL-2.0
/* Lifecycle of the per-connection engine state. */
#include <linux/random.h>
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

struct smtp_conn *smtp_conn_get(struct nf_conn *ct, bool syn, bool *created)
{
	struct smtp_help_data *hd = nfct_help_data(ct);
	struct smtp_conn *c, *old;

	*created = false;
	c = READ_ONCE(hd->conn);
	if (likely(c))
		return c;
	if (READ_ONCE(hd->flags) & (SMTP_HF_GONE | SMTP_HF_OPAQUE) ||
	    READ_ONCE(smtp_conn_closing))
		return NULL;

	c = kmem_cache_alloc(smtp_conn_cache, GFP_ATOMIC);
	if (!c)
		return NULL;
	spin_lock_init(&c->lock);
	/* Without the SYN we joined mid-stream; so did a conntrackd sync. */
	sg_conn_init(&c->st, !syn || (READ_ONCE(hd->flags) & SMTP_HF_PICKUP));
	sg_conn_key(&c->st, get_random_u32());	/* before it is published */

	old = cmpxchg(&hd->conn, NULL, c);
	if (old) {	/* the other direction's CPU won the race */
		kmem_cache_free(smtp_conn_cache, c);
		return old;
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

		WRITE_ONCE(hd->flags, hd->flags | SMTP_HF_GONE);
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
