// SPDX-License-Identifier: GPL-2.0
/* Bind and configure an NFQUEUE; its kernel counters (see nfq_queue.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include "nfq_queue.h"

static int parse_u16(const char *s, const char **end, uint16_t *v)
{
	char *e;
	unsigned long n;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	n = strtoul(s, &e, 10);
	if (errno || n > 65535)
		return -1;
	*v = (uint16_t)n;
	*end = e;
	return 0;
}

int nfq_parse_queue_range(const char *arg, uint16_t *first, uint16_t *count)
{
	const char *end;
	uint16_t a, b;

	if (parse_u16(arg, &end, &a))
		return -1;
	b = a;
	if (*end == '-' && parse_u16(end + 1, &end, &b))
		return -1;
	if (*end || b < a || b - a >= NFQ_QUEUES_MAX)
		return -1;
	*first = a;
	*count = (uint16_t)(b - a + 1);
	return 0;
}

/* A packet queued before the configuration's acknowledgement was read:
 * it cannot be inspected here, so drop it (TCP sends it again). */
static int drop_early_packet(const struct nlmsghdr *nlh, void *data)
{
	struct mnl_socket *nl = data;
	struct nlattr *attr[NFQA_MAX + 1] = { NULL };
	struct nfqnl_msg_packet_hdr *ph;
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);
	struct nlmsghdr *v;

	if (nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR])
		return MNL_CB_OK;
	ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	v = nfq_nlmsg_put(buf, NFQNL_MSG_VERDICT, ntohs(nfg->res_id));
	nfq_nlmsg_verdict_put(v, (int)ntohl(ph->packet_id), NF_DROP);
	mnl_socket_sendto(nl, v, v->nlmsg_len);
	return MNL_CB_OK;
}

/* Send one config message and wait for the kernel's acknowledgement. */
static int config_msg(struct mnl_socket *nl, struct nlmsghdr *nlh)
{
	char buf[MNL_SOCKET_BUFFER_SIZE + 0x10000];
	uint32_t seq = nlh->nlmsg_seq, portid = mnl_socket_get_portid(nl);
	ssize_t n;
	int ret;

	nlh->nlmsg_flags |= NLM_F_ACK;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	do {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0)
			return -1;
		ret = mnl_cb_run(buf, (size_t)n, seq, portid,
				 drop_early_packet, nl);
	} while (ret == MNL_CB_OK);
	return ret < 0 ? -1 : 0;
}

int nfq_queue_setup(struct mnl_socket *nl, const struct nfq_queue_cfg *cfg,
		    bool *gso)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	uint32_t flags = cfg->fail_open ? NFQA_CFG_F_FAIL_OPEN : 0;
	uint32_t mask = NFQA_CFG_F_FAIL_OPEN;

	/* Super-packets whole: no segmentation (and no checksum) for the
	 * queue's sake; a kernel without it refuses the flags up front. */
	for (*gso = true;; *gso = false) {
		nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, cfg->queue);
		nlh->nlmsg_seq = *gso ? 1 : 2;
		/* one message: no packet arrives half-configured */
		nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
		nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET,
					 (int)cfg->copy_range);
		nfq_nlmsg_cfg_put_qmaxlen(nlh, cfg->maxlen);
		mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS,
				 htonl(flags | (*gso ? NFQA_CFG_F_GSO : 0)));
		mnl_attr_put_u32(nlh, NFQA_CFG_MASK,
				 htonl(mask | (*gso ? NFQA_CFG_F_GSO : 0)));
		if (!config_msg(nl, nlh))
			return 0;
		if (errno != EOPNOTSUPP || !*gso)
			return -1;
	}
}

int nfq_set_rcvbuf(int fd, int bytes)
{
	socklen_t len = sizeof(bytes);

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
	if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, &len))
		return -1;
	return bytes;
}

/*
 * Each line: queue_number peer_portid queue_total copy_mode copy_range
 * queue_dropped queue_user_dropped id_sequence 1
 */
int nfq_queue_stat_read(FILE *f, uint16_t queue, struct nfq_queue_stat *st)
{
	unsigned int num, portid, total, mode, range, dropped, udropped, idseq;
	char line[256];

	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%u %u %u %u %u %u %u %u", &num, &portid,
			   &total, &mode, &range, &dropped, &udropped,
			   &idseq) != 8 || num != queue)
			continue;
		st->queue_total = total;
		st->dropped = dropped;
		st->user_dropped = udropped;
		st->id_sequence = idseq;
		return 0;
	}
	return -1;
}

int nfq_queue_stat(uint16_t queue, struct nfq_queue_stat *st)
{
	FILE *f = fopen("/proc/net/netfilter/nfnetlink_queue", "r");
	int ret;

	if (!f)
		return -1;
	ret = nfq_queue_stat_read(f, queue, st);
	fclose(f);
	return ret;
}
