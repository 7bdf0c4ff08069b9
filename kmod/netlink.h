/* SPDX-License-Identifier: GPL-2.0 */
/* smtpguard generic netlink family: policy, counters and events. */
#ifndef SMTPGUARD_NETLINK_H
#define SMTPGUARD_NETLINK_H

struct net;
struct nf_conn;
struct sg_event;

/*
 * Register the "smtpguard" family (and its per-netns event rate limit).
 * Call after smtp_pernet_init(): requests may arrive as soon as this
 * returns. smtp_nl_exit() before smtp_pernet_exit().
 */
int smtp_nl_init(void);
void smtp_nl_exit(void);

/*
 * Report @ev of connection @ct (may be NULL) to the "events" multicast
 * group of @net. Any context, including softirq; never sleeps. Cheap
 * when nobody listens; rate limited per netns, excess events are counted
 * and dropped.
 */
void smtp_nl_event(struct net *net, const struct sg_event *ev,
		   const struct nf_conn *ct);

#endif /* SMTPGUARD_NETLINK_H */
