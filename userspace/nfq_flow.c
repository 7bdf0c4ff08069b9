// SPDX-License-Identifier: GPL-2.0
/* Fixed-size connection table of the NFQUEUE engine. */
#include <stdlib.h>
#include <string.h>
#include "nfq_flow.h"

#define PROBE_MAX 16

int nfq_flow_table_init(struct nfq_flow_table *t, uint32_t size,
			uint32_t idle_timeout)
{
	uint32_t n = 1;

	while (n < size && n < (1u << 24))
		n <<= 1;
	t->slot = calloc(n, sizeof(*t->slot));
	if (!t->slot)
		return -1;
	t->size = n;
	t->idle_timeout = idle_timeout;
	t->evictions = 0;
	return 0;
}

void nfq_flow_table_free(struct nfq_flow_table *t)
{
	free(t->slot);
	t->slot = NULL;
}

/* FNV-1a over the key's bytes. */
static uint32_t key_hash(const struct nfq_flow_key *k)
{
	const uint8_t *b = (const uint8_t *)k;
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < sizeof(*k); i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

struct nfq_flow *nfq_flow_get(struct nfq_flow_table *t,
			      const struct nfq_flow_key *key, uint64_t now,
			      bool *created)
{
	uint32_t h = key_hash(key), i;
	struct nfq_flow *victim = NULL;

	*created = false;
	for (i = 0; i < PROBE_MAX; i++) {
		struct nfq_flow *f = &t->slot[(h + i) & (t->size - 1)];

		if (f->used && !memcmp(&f->key, key, sizeof(*key))) {
			f->last_seen = now;
			return f;
		}
		if (!f->used) {
			if (!victim || victim->used)
				victim = f;
		} else if (now - f->last_seen > t->idle_timeout &&
			   (!victim || (victim->used &&
					f->last_seen < victim->last_seen))) {
			victim = f;
		}
	}
	if (!victim)
		return NULL;
	if (victim->used)
		t->evictions++;
	memset(victim, 0, sizeof(*victim));
	victim->key = *key;
	victim->used = true;
	victim->last_seen = now;
	*created = true;
	return victim;
}

void nfq_flow_del(struct nfq_flow_table *t, struct nfq_flow *f)
{
	(void)t;
	f->used = false;
}
