// SPDX-License-Identifier: GPL-2.0
/* Lifecycle of the per-connection engine state. */
#include <linux/percpu.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include <net/netfilter/nf_conntrack_helper.h>
#include "conn.h"

/* Orphans (helper removed through ctnetlink) are found within this. */
#define SMTP_CONN_SWEEP_PERIOD	(2 * HZ)

struct smtp_conn_list {
	spinlock_t lock;	/* protects head; taken with BH disabled */
	struct list_head head;
};

static struct kmem_cache *smtp_conn_cache __read_mostly;
static DEFINE_PER_CPU(struct smtp_conn_list, smtp_conn_lists);
static bool smtp_conn_closing;	/* module exit has begun */
static void smtp_conn_sweep(struct work_struct *work);
static DECLARE_DELAYED_WORK(smtp_conn_sweep_work, smtp_conn_sweep);

int smtp_conn_cache_init(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		struct smtp_conn_list *l = per_cpu_ptr(&smtp_conn_lists, cpu);

		spin_lock_init(&l->lock);
		INIT_LIST_HEAD(&l->head);
	}
	smtp_conn_cache = KMEM_CACHE(smtp_conn, 0);
	if (!smtp_conn_cache)
		return -ENOMEM;
	queue_delayed_work(system_power_efficient_wq, &smtp_conn_sweep_work,
			   SMTP_CONN_SWEEP_PERIOD);
	return 0;
}

void smtp_conn_cache_exit(void)
{
	cancel_delayed_work_sync(&smtp_conn_sweep_work);
	rcu_barrier();	/* wait for smtp_conn_free_rcu callbacks */
	kmem_cache_destroy(smtp_conn_cache);
}

static void smtp_conn_free_rcu(struct rcu_head *head)
{
	struct smtp_conn *c = container_of(head, struct smtp_conn, rcu);

	nf_ct_put(c->ct);
	kmem_cache_free(smtp_conn_cache, c);
}

/* @c has been unhooked from its entry's help area by whoever frees it. */
static void smtp_conn_free(struct smtp_conn *c)
{
	struct smtp_conn_list *l = per_cpu_ptr(&smtp_conn_lists, c->cpu);

	spin_lock_bh(&l->lock);
	list_del(&c->node);
	spin_unlock_bh(&l->lock);
	/* A CPU in smtp_help() may still hold the pointer: free after RCU. */
	call_rcu(&c->rcu, smtp_conn_free_rcu);
}

static void smtp_conn_put_data(struct smtp_help_data *hd)
{
	struct smtp_conn *c = xchg(&hd->conn, NULL);

	if (c)
		smtp_conn_free(c);
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
	sg_conn_key(st, get_random_u32());	/* before it is published */
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
	struct smtp_conn_list *l;

	*created = false;
	/* Acquire: pairs with the cmpxchg_release() that published it. */
	c = smp_load_acquire(&hd->conn);
	if (likely(c))
		return c;
	if (!nf_ct_is_confirmed(ct) || nf_ct_is_dying(ct) ||
	    test_bit(SMTP_HB_GONE, &hd->flags) ||
	    test_bit(SMTP_HB_OPAQUE, &hd->flags) ||
	    READ_ONCE(smtp_conn_closing))
		return NULL;

	c = kmem_cache_alloc(smtp_conn_cache, GFP_ATOMIC);
	if (!c)
		return NULL;
	spin_lock_init(&c->lock);
	smtp_conn_seed(hd, &c->st, pkt, seg, pol);
	c->ct = ct;
	c->cpu = smp_processor_id();	/* caller has BH disabled */
	/* Listed and holding the entry before anyone (.destroy) can see it */
	nf_conntrack_get(&ct->ct_general);
	l = this_cpu_ptr(&smtp_conn_lists);
	spin_lock(&l->lock);
	list_add(&c->node, &l->head);
	spin_unlock(&l->lock);

	/* Release: the state is initialised before others can see it. */
	old = cmpxchg_release(&hd->conn, NULL, c);
	if (old) {	/* the other direction's CPU won the race */
		spin_lock(&l->lock);
		list_del(&c->node);
		spin_unlock(&l->lock);
		nf_ct_put(ct);	/* not the last: the packet holds the entry */
		kmem_cache_free(smtp_conn_cache, c);
		/* Acquire: pairs with the winner's cmpxchg_release(). */
		return smp_load_acquire(&hd->conn);
	}
	*created = true;
	return c;
}

void smtp_conn_destroy(struct nf_conn *ct)
{
	smtp_conn_put_data(nfct_help_data(ct));
}

/*
 * Free the states on one CPU's list that @orphan selects, unhooking each
 * from its entry first (so .destroy, racing, frees it only once).
 */
static void smtp_conn_sweep_list(struct smtp_conn_list *l,
				 bool (*orphan)(const struct smtp_conn *c))
{
	struct smtp_conn *c, *tmp;
	LIST_HEAD(dead);

	rcu_read_lock();
	spin_lock_bh(&l->lock);
	list_for_each_entry_safe(c, tmp, &l->head, node) {
		struct smtp_help_data *hd;

		if (!orphan(c))
			continue;
		/* nfct_help(): the reference keeps the entry and its extensions */
		hd = nfct_help(c->ct) ? nfct_help_data(c->ct) : NULL;
		if (hd) {
			set_bit(SMTP_HB_GONE, &hd->flags);
			if (cmpxchg(&hd->conn, c, NULL) != c)
				continue;	/* .destroy has it */
		}
		list_move(&c->node, &dead);
	}
	spin_unlock_bh(&l->lock);
	rcu_read_unlock();

	list_for_each_entry_safe(c, tmp, &dead, node) {
		list_del(&c->node);
		call_rcu(&c->rcu, smtp_conn_free_rcu);
	}
}

/*
 * The entry lost the helper without .destroy (ctnetlink removed it), or is
 * dying and .destroy ran before this state was published.
 */
static bool smtp_conn_helper_gone(const struct smtp_conn *c)
{
	const struct nf_conn_help *help = nfct_help(c->ct);
	const struct nf_conntrack_helper *h;

	if (!help || nf_ct_is_dying(c->ct))
		return true;
	h = rcu_dereference(help->helper);
	return !h || h->me != THIS_MODULE;
}

static bool smtp_conn_any(const struct smtp_conn *c)
{
	return true;
}

static void smtp_conn_sweep(struct work_struct *work)
{
	int cpu;

	for_each_possible_cpu(cpu)
		smtp_conn_sweep_list(per_cpu_ptr(&smtp_conn_lists, cpu),
				     smtp_conn_helper_gone);
	if (!READ_ONCE(smtp_conn_closing))
		queue_delayed_work(system_power_efficient_wq,
				   &smtp_conn_sweep_work, SMTP_CONN_SWEEP_PERIOD);
}

void smtp_conn_release_all(void)
{
	int cpu;

	/*
	 * Helper unregistration only clears help->helper, so .destroy would
	 * never run for live connections and their state would leak. Stop
	 * allocating, let in-flight packets finish, then free every state;
	 * the connections go on uninspected.
	 */
	WRITE_ONCE(smtp_conn_closing, true);
	cancel_delayed_work_sync(&smtp_conn_sweep_work);
	synchronize_rcu();
	for_each_possible_cpu(cpu)
		smtp_conn_sweep_list(per_cpu_ptr(&smtp_conn_lists, cpu),
				     smtp_conn_any);
}
