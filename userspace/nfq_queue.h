/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One NFQUEUE as smtpguard-nfq binds it: the queue range on the command
 * line, the queue's configuration (whole packets, GSO super-packets kept
 * whole, queue length, fail-open) and its socket's receive buffer, and the
 * kernel's loss counters for it (/proc/net/netfilter/nfnetlink_queue).
 */
#ifndef SMTPGUARD_NFQ_QUEUE_H
#define SMTPGUARD_NFQ_QUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct mnl_socket;

#define NFQ_QUEUES_MAX 64

/* "N" or "A-B" (A <= B, at most NFQ_QUEUES_MAX queues); 0 or -1. */
int nfq_parse_queue_range(const char *arg, uint16_t *first, uint16_t *count);

struct nfq_queue_cfg {
	uint16_t queue;
	uint32_t maxlen;	/* packets the kernel holds for us */
	uint32_t copy_range;	/* bytes of each packet we get */
	bool fail_open;
};

/* Bind and configure the queue; -1 with errno. *@gso is false when the
 * kernel refused NFQA_CFG_F_GSO (then it segments super-packets for us). */
int nfq_queue_setup(struct mnl_socket *nl, const struct nfq_queue_cfg *cfg,
		    bool *gso);
/* Receive buffer of @fd: SO_RCVBUFFORCE, else SO_RCVBUF up to rmem_max.
 * Returns the size the kernel granted (it doubles the request). */
int nfq_set_rcvbuf(int fd, int bytes);

/* The kernel's counters of one queue. */
struct nfq_queue_stat {
	uint32_t queue_total;	/* waiting for a verdict now */
	uint32_t dropped;	/* queue full (maxlen) */
	uint32_t user_dropped;	/* netlink socket full (ENOBUFS) */
	uint32_t id_sequence;	/* packets queued so far */
};

/* Find @queue in an nfnetlink_queue proc file; 0, or -1 if absent. */
int nfq_queue_stat_read(FILE *f, uint16_t queue, struct nfq_queue_stat *st);
int nfq_queue_stat(uint16_t queue, struct nfq_queue_stat *st);

#endif /* SMTPGUARD_NFQ_QUEUE_H */
