// SPDX-License-Identifier: GPL-2.0
/* Per-network-namespace policy and counters. */
#include <linux/slab.h>
#include <net/netns/generic.h>
#include "pernet.h"

static unsigned int smtp_net_id __read_mostly;

struct smtp_net *smtp_pernet(const struct net *net)
{
	return net_generic(net, smtp_net_id);
}

void smtp_policy_replace(struct net *net, struct smtp_policy *p)
{
	struct smtp_net *sn = smtp_pernet(net);
	struct smtp_policy *old;

	mutex_lock(&sn->policy_lock);
	p->pol.generation = ++sn->generation;
	old = rcu_replace_pointer(sn->policy, p,
				  lockdep_is_held(&sn->policy_lock));
	mutex_unlock(&sn->policy_lock);
	if (old)
		kfree_rcu(old, rcu);
}

void smtp_stats_read(struct net *net, struct smtp_stats *sum)
{
	struct smtp_net *sn = smtp_pernet(net);
	int cpu;

	memset(sum, 0, sizeof(*sum));
	for_each_possible_cpu(cpu) {
		const u64 *src = (const u64 *)per_cpu_ptr(sn->stats, cpu);
		u64 *dst = (u64 *)sum;
		unsigned int i;

		/* Counters are u64 only; a torn read of one is acceptable. */
		for (i = 0; i < sizeof(*sum) / sizeof(u64); i++)
			dst[i] += READ_ONCE(src[i]);
	}
}

void smtp_stats_reset(struct net *net)
{
	struct smtp_net *sn = smtp_pernet(net);
	int cpu;

	for_each_possible_cpu(cpu)
		memset(per_cpu_ptr(sn->stats, cpu), 0, sizeof(struct smtp_stats));
}

static int __net_init smtp_net_init(struct net *net)
{
	struct smtp_net *sn = smtp_pernet(net);
	struct smtp_policy *p;
	const char *err;

	mutex_init(&sn->policy_lock);
	/* netns creation is open to user namespaces: charge their memcg */
	sn->stats = alloc_percpu_gfp(struct smtp_stats, GFP_KERNEL_ACCOUNT);
	if (!sn->stats)
		return -ENOMEM;

	p = kzalloc(sizeof(*p), GFP_KERNEL_ACCOUNT);
	if (!p)
		goto nomem;
	sg_policy_defaults(&p->pol);
	if (sg_policy_compile(&p->pol, &err)) {
		pr_err("smtpguard: built-in policy rejected: %s\n", err);
		kfree(p);
		free_percpu(sn->stats);
		return -EINVAL;
	}
	RCU_INIT_POINTER(sn->policy, p);
	return 0;
nomem:
	free_percpu(sn->stats);
	return -ENOMEM;
}

static void __net_exit smtp_net_exit(struct net *net)
{
	struct smtp_net *sn = smtp_pernet(net);

	/* No reader is left: the helper is unregistered or the netns is dead. */
	kfree(rcu_dereference_protected(sn->policy, true));
	free_percpu(sn->stats);
}

static struct pernet_operations smtp_net_ops = {
	.init = smtp_net_init,
	.exit = smtp_net_exit,
	.id   = &smtp_net_id,
	.size = sizeof(struct smtp_net),
};

int smtp_pernet_init(void)
{
	return register_pernet_subsys(&smtp_net_ops);
}

void smtp_pernet_exit(void)
{
	unregister_pernet_subsys(&smtp_net_ops);
}
