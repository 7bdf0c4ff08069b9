/* SPDX-License-Identifier: GPL-2.0 */
/* Per-network-namespace policy and counters of the smtp helper. */
#ifndef SMTPGUARD_PERNET_H
#define SMTPGUARD_PERNET_H

#include <linux/percpu.h>
#include <linux/rcupdate.h>
#include <linux/mutex.h>
#include <net/net_namespace.h>
#include "engine/policy.h"
#include "engine/engine.h"

/* A policy as published to the data path; freed after a grace period. */
struct smtp_policy {
	struct rcu_head rcu;
	struct sg_policy pol;
};

/* Counters, one copy per CPU; summed when read. */
struct smtp_stats {
	u64 sessions;
	u64 bytes;
	u64 verbs_masked[SG_VC_MAX];
	u64 banners_masked;
	u64 keywords_masked;
	u64 violations[SG_C_MAX];
	u64 holds;
	u64 drops;
	u64 resets;
};

struct smtp_net {
	struct smtp_policy __rcu *policy;	/* never NULL once set up */
	struct smtp_stats __percpu *stats;
	struct mutex policy_lock;		/* serialises writers */
	u32 generation;				/* of the last policy set */
};

struct smtp_net *smtp_pernet(const struct net *net);

/* Data path: caller holds rcu_read_lock(). */
static inline const struct sg_policy *smtp_policy_get(const struct smtp_net *sn)
{
	return &rcu_dereference(sn->policy)->pol;
}

/* Publish @p (compiled) for @net; takes ownership, frees the old one after
 * a grace period. Connections pick it up at their next segment; a new
 * generation tells the engine that trie state from the old one is stale.
 */
void smtp_policy_replace(struct net *net, struct smtp_policy *p);

void smtp_stats_read(struct net *net, struct smtp_stats *sum);
void smtp_stats_reset(struct net *net);

int smtp_pernet_init(void);
void smtp_pernet_exit(void);

#endif /* SMTPGUARD_PERNET_H */
