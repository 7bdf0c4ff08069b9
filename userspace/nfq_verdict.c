// SPDX-License-Identifier: GPL-2.0
/* Batched NFQUEUE verdicts, in queue order (see nfq_verdict.h). */
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include "nfq_verdict.h"

/* A verdict message without packet: header, nfgenmsg, verdict attribute. */
#define VERDICT_MSG_MAX 64

void nfq_verdicts_init(struct nfq_verdicts *v, uint16_t queue, char *buf,
		       size_t cap, nfq_verdict_send_fn send, void *ctx)
{
	*v = (struct nfq_verdicts){
		.queue = queue, .buf = buf, .cap = cap, .send = send, .ctx = ctx,
	};
}

static int send_buf(struct nfq_verdicts *v)
{
	int ret;

	if (!v->len)
		return 0;
	ret = v->send(v->ctx, v->buf, v->len);
	v->len = 0;
	v->sends++;
	return ret < 0 ? -1 : 0;
}

/* Make room for @need bytes at the end of the buffer. */
static int reserve(struct nfq_verdicts *v, size_t need)
{
	if (v->len + need <= v->cap)
		return 0;
	return send_buf(v);
}

static int put_batch(struct nfq_verdicts *v)
{
	struct nlmsghdr *nlh;

	if (!v->accept_pending)
		return 0;
	if (reserve(v, VERDICT_MSG_MAX))
		return -1;
	nlh = nfq_nlmsg_put(v->buf + v->len, NFQNL_MSG_VERDICT_BATCH, v->queue);
	nfq_nlmsg_verdict_put(nlh, (int)v->accept_upto, NF_ACCEPT);
	v->len += NLMSG_ALIGN(nlh->nlmsg_len);
	v->accept_pending = false;
	v->batch_msgs++;
	return 0;
}

void nfq_verdicts_accept(struct nfq_verdicts *v, uint32_t id)
{
	v->accept_upto = id;
	v->accept_pending = true;
}

int nfq_verdicts_one(struct nfq_verdicts *v, uint32_t id, int verdict,
		     const void *pkt, uint32_t pkt_len)
{
	struct nlmsghdr *nlh;
	int ret = put_batch(v);

	if (ret || reserve(v, VERDICT_MSG_MAX + (pkt ? MNL_ALIGN(pkt_len) + 4 : 0)))
		return -1;
	nlh = nfq_nlmsg_put(v->buf + v->len, NFQNL_MSG_VERDICT, v->queue);
	nfq_nlmsg_verdict_put(nlh, (int)id, verdict);
	if (pkt)
		nfq_nlmsg_verdict_put_pkt(nlh, pkt, pkt_len);
	v->len += NLMSG_ALIGN(nlh->nlmsg_len);
	v->single_msgs++;
	return 0;
}

int nfq_verdicts_flush(struct nfq_verdicts *v)
{
	if (put_batch(v))
		return -1;
	return send_buf(v);
}
