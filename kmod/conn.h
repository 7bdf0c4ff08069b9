/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-connection state of the smtp helper.
 *
 * The engine's state (struct sg_conn, SG_CONN_SIZE_MAX bytes) does not fit
 * the helper's 32-byte area in nf_conn_help, so the area holds a pointer to
 * a slab object, allocated on the connection's first packet and freed by
 * the helper's .destroy (or at module unload, see smtp_conn_release_all).
 */
#ifndef SMTPGUARD_CONN_H
#define SMTPGUARD_CONN_H

#include <linux/spinlock.h>
#include <linux/rcupdate.h>
#include <net/netfilter/nf_conntrack.h>
#include <net/netfilter/nf_conntrack_helper.h>
#include "engine/engine.h"

struct smtp_conn {
	spinlock_t lock;	/* serialises the two directions' CPUs */
	struct sg_conn st;
	struct rcu_head rcu;
};

/* Lives in nf_conn_help->data (32 bytes). */
struct smtp_help_data {
	struct smtp_conn *conn;	/* NULL until the first packet */
	u32 flags;		/* SMTP_HF_* */
};

static_assert(sizeof(struct smtp_help_data) <=
	      sizeof_field(struct nf_conn_help, data));

#define SMTP_HF_PICKUP	0x1	/* injected by ctnetlink (conntrackd) */
#define SMTP_HF_OPAQUE	0x2	/* TLS started; never inspect again */
#define SMTP_HF_GONE	0x4	/* state released at unload: pass */

int smtp_conn_cache_init(void);
void smtp_conn_cache_exit(void);

/* Find or create the state of @ct; NULL means pass uninspected. */
struct smtp_conn *smtp_conn_get(struct nf_conn *ct, bool syn, bool *created);

/* helper .destroy */
void smtp_conn_destroy(struct nf_conn *ct);

/* Module exit: stop creating state, then free every connection's state. */
void smtp_conn_release_all(void);

#endif /* SMTPGUARD_CONN_H */
