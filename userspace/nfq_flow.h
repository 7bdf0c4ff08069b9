/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The NFQUEUE engine's connection table: a fixed array allocated once,
 * open addressing, so the packet path never allocates. Entries expire
 * after an idle timeout or when the table needs room (oldest in the probe
 * window goes first).
 */
#ifndef SMTPGUARD_NFQ_FLOW_H
#define SMTPGUARD_NFQ_FLOW_H

#include <stdbool.h>
#include <stdint.h>
#include "../kmod/engine/engine.h"

struct nfq_flow_key {
	uint8_t family;
	uint8_t client[16], server[16];
	uint16_t cport, sport;
};

struct nfq_flow {
	struct nfq_flow_key key;
	bool used;
	uint64_t last_seen;	/* seconds, monotonic */
	struct sg_conn st;
};

struct nfq_flow_table {
	struct nfq_flow *slot;
	uint32_t size;		/* power of two */
	uint32_t idle_timeout;	/* seconds */
	uint64_t evictions;
};

int nfq_flow_table_init(struct nfq_flow_table *t, uint32_t size,
			uint32_t idle_timeout);
void nfq_flow_table_free(struct nfq_flow_table *t);

/* Find @key, or create it (then *@created is set). NULL: table full of
 * live flows within the probe window. */
struct nfq_flow *nfq_flow_get(struct nfq_flow_table *t,
			      const struct nfq_flow_key *key, uint64_t now,
			      bool *created);
void nfq_flow_del(struct nfq_flow_table *t, struct nfq_flow *f);

#endif /* SMTPGUARD_NFQ_FLOW_H */
