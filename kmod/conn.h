/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-connection state of the smtp helper.
 *
 * The engine's state (struct sg_conn, SG_CONN_SIZE_MAX bytes) does not fit
 * the helper's 32-byte area in nf_conn_help, so the area holds a pointer to
 * a slab object, freed by the helper's .destroy (or at module unload, see
 * smtp_conn_release_all).
 *
 * The object is allocated only once the conntrack entry is confirmed: an
 * unconfirmed entry can still be dropped (by this helper, by a later hook,
 * on an insert clash or an extension generation bump) and is then freed
 * without .destroy, so whatever it pointed to would leak. Until then the
 * help area keeps the client's initial sequence number, which is all the
 * engine needs from the SYN.
 *
 * ctnetlink can also remove the helper from a live entry (CTA_HELP with an
 * empty name): help->helper becomes NULL and .destroy never runs. So every
 * state is also on a per-CPU list with a reference on its entry, and a
 * periodic sweep frees the state of entries that lost the helper.
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
	struct nf_conn *ct;	/* owner; holds a reference */
	struct list_head node;	/* on smtp_conn_lists[cpu] */
	int cpu;
	struct rcu_head rcu;
};

/* Lives in nf_conn_help->data (32 bytes, 8-aligned). */
struct smtp_help_data {
	/* NULL until confirmed; published with release, read with acquire */
	struct smtp_conn *conn;
	unsigned long flags;	/* SMTP_HB_* bits: set_bit()/test_bit() only */
	u32 isn;		/* client SYN's sequence number (SMTP_HB_ISN) */
	u32 syn_len;		/* payload bytes that SYN carried (TFO) */
};

static_assert(sizeof(struct smtp_help_data) <=
	      sizeof_field(struct nf_conn_help, data));

/* Bit numbers in smtp_help_data.flags. */
enum {
	SMTP_HB_PICKUP,		/* injected by ctnetlink (conntrackd) */
	SMTP_HB_OPAQUE,		/* TLS started; never inspect again */
	SMTP_HB_GONE,		/* state released at unload: pass */
	SMTP_HB_ISN,		/* isn/syn_len hold the client's SYN */
	SMTP_HB_LOGGED,		/* this connection has had its log line */
};

/* The OPAQUE bit as sent in CTA_HELP_INFO (wire value 0x2). */
#define SMTP_HF_OPAQUE	BIT(SMTP_HB_OPAQUE)

int smtp_conn_cache_init(void);
void smtp_conn_cache_exit(void);

/* What smtp_conn_get needs of the segment that finds no state. */
struct smtp_conn_pkt {
	u8 dir;			/* enum sg_dir */
	bool syn;
	bool ack;
	u32 seq;
	u32 ack_seq;
	u32 len;		/* payload bytes */
};

/*
 * The state of @ct, created on a confirmed entry's first segment (engine
 * @seg as scratch and @pol to seed it). NULL: pass uninspected, or, if the
 * entry is unconfirmed, judge the segment from a fresh state and keep
 * nothing (smtp_conn_note_first has noted what is needed).
 */
struct smtp_conn *smtp_conn_get(struct nf_conn *ct,
				const struct smtp_conn_pkt *pkt,
				struct sg_seg *seg, const struct sg_policy *pol,
				bool *created);

/* Unconfirmed entry: remember the client's SYN in the help area. */
void smtp_conn_note_first(struct nf_conn *ct, const struct smtp_conn_pkt *pkt);

/* helper .destroy */
void smtp_conn_destroy(struct nf_conn *ct);

/* Module exit: stop creating state, then free every connection's state. */
void smtp_conn_release_all(void);

#endif /* SMTPGUARD_CONN_H */
