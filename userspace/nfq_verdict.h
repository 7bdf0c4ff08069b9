/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Verdicts of one NFQUEUE, batched. A plain accept (nothing rewritten) is
 * only remembered; the run of them goes out as one NFQNL_MSG_VERDICT_BATCH
 * ("accept every id up to N") when a packet needs its own verdict (drop,
 * rewritten payload) or at flush. That keeps the order in which the kernel
 * reinjects a flow's packets, so a rewritten segment never overtakes the
 * accepted ones queued before it. The messages collect in one buffer and
 * go to the kernel in one send.
 */
#ifndef SMTPGUARD_NFQ_VERDICT_H
#define SMTPGUARD_NFQ_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Hands a buffer of netlink messages to the kernel; <0 on error. */
typedef int (*nfq_verdict_send_fn)(void *ctx, const void *buf, size_t len);

struct nfq_verdicts {
	uint16_t queue;
	char *buf;		/* caller's, NFQ_VERDICT_BUF_MIN or more */
	size_t cap, len;
	uint32_t accept_upto;	/* highest deferred plain accept */
	bool accept_pending;
	nfq_verdict_send_fn send;
	void *ctx;
	uint64_t batch_msgs;	/* NFQNL_MSG_VERDICT_BATCH sent */
	uint64_t single_msgs;	/* NFQNL_MSG_VERDICT sent */
	uint64_t sends;		/* buffers handed to send() */
};

/* Room for a verdict that carries a whole (64 KiB) packet back. */
#define NFQ_VERDICT_BUF_MIN (0x10000 + 512)

void nfq_verdicts_init(struct nfq_verdicts *v, uint16_t queue, char *buf,
		       size_t cap, nfq_verdict_send_fn send, void *ctx);
/* Accept @id unchanged: deferred into the next batch verdict. */
void nfq_verdicts_accept(struct nfq_verdicts *v, uint32_t id);
/* Its own verdict for @id (NF_*), with the packet when @pkt is not NULL;
 * the pending accepts before it go first. <0 if a send failed. */
int nfq_verdicts_one(struct nfq_verdicts *v, uint32_t id, int verdict,
		     const void *pkt, uint32_t pkt_len);
/* Send everything pending. <0 if a send failed. */
int nfq_verdicts_flush(struct nfq_verdicts *v);

#endif /* SMTPGUARD_NFQ_VERDICT_H */
