// SPDX-License-Identifier: GPL-2.0
/*
 * smtpguard-nfq's queue plumbing without a kernel: the verdict batcher
 * must keep queue order (a run of plain accepts goes out as one batch
 * verdict before the packet that needs its own, never after it), carry the
 * packet only when asked, and split across sends only between messages;
 * queue ranges and the kernel's per-queue loss counters parse as the
 * kernel writes them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include "nfq_queue.h"
#include "nfq_verdict.h"

static unsigned int passed, failed;

static void expect(int cond, const char *what)
{
	if (cond) {
		passed++;
		return;
	}
	failed++;
	printf("not ok - %s\n", what);
}

/* What the kernel would have received, one entry per verdict message. */
struct seen {
	char type;		/* 'B' batch, 'V' single */
	uint32_t id;
	uint32_t verdict;
	uint32_t pkt_len;	/* 0: no NFQA_PAYLOAD */
	uint16_t queue;
	unsigned int send;	/* which send() carried it */
};

static struct seen log_[64];
static unsigned int n_log, n_sends, fail_send;

static int capture(void *ctx, const void *buf, size_t len)
{
	const struct nlmsghdr *nlh = buf;
	int rest = (int)len;

	(void)ctx;
	n_sends++;
	if (fail_send)
		return -1;
	while (mnl_nlmsg_ok(nlh, rest)) {
		struct nlattr *attr[NFQA_MAX + 1] = { NULL };
		const struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);
		struct seen *s = &log_[n_log++];
		struct nfqnl_msg_verdict_hdr *vh;

		s->type = (nlh->nlmsg_type & 0xff) == NFQNL_MSG_VERDICT_BATCH ? 'B' : 'V';
		s->queue = ntohs(nfg->res_id);
		s->send = n_sends;
		nfq_nlmsg_parse(nlh, attr);
		vh = mnl_attr_get_payload(attr[NFQA_VERDICT_HDR]);
		s->id = ntohl(vh->id);
		s->verdict = ntohl(vh->verdict);
		s->pkt_len = attr[NFQA_PAYLOAD] ?
			     mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]) : 0;
		nlh = mnl_nlmsg_next(nlh, &rest);
	}
	return 0;
}

static void reset_log(void)
{
	memset(log_, 0, sizeof(log_));
	n_log = n_sends = 0;
	fail_send = 0;
}

static void test_verdict_order(void)
{
	static char buf[4 * NFQ_VERDICT_BUF_MIN];
	static uint8_t pkt[60000];
	struct nfq_verdicts v;

	reset_log();
	nfq_verdicts_init(&v, 7, buf, sizeof(buf), capture, NULL);
	/* 1 2 accept, 3 rewritten, 4 accept, 5 drop, 6 7 accept */
	nfq_verdicts_accept(&v, 1);
	nfq_verdicts_accept(&v, 2);
	expect(!nfq_verdicts_one(&v, 3, NF_ACCEPT, pkt, 100), "rewrite queued");
	nfq_verdicts_accept(&v, 4);
	expect(!nfq_verdicts_one(&v, 5, NF_DROP, NULL, 0), "drop queued");
	nfq_verdicts_accept(&v, 6);
	nfq_verdicts_accept(&v, 7);
	expect(n_sends == 0, "nothing sent before flush");
	expect(!nfq_verdicts_flush(&v), "flush");
	expect(n_sends == 1, "one send for the whole receive batch");
	expect(n_log == 5, "five verdict messages");
	expect(log_[0].type == 'B' && log_[0].id == 2 && log_[0].verdict == NF_ACCEPT,
	       "accepts 1-2 as one batch first");
	expect(log_[1].type == 'V' && log_[1].id == 3 && log_[1].pkt_len == 100,
	       "then the rewritten packet with its payload");
	expect(log_[2].type == 'B' && log_[2].id == 4, "then accept 4");
	expect(log_[3].type == 'V' && log_[3].id == 5 && log_[3].verdict == NF_DROP &&
	       log_[3].pkt_len == 0, "then drop 5, without payload");
	expect(log_[4].type == 'B' && log_[4].id == 7, "then accepts 6-7");
	expect(log_[0].queue == 7 && log_[4].queue == 7, "queue number in every message");
	expect(v.batch_msgs == 3 && v.single_msgs == 2, "message counters");

	/* an empty flush sends nothing */
	reset_log();
	expect(!nfq_verdicts_flush(&v) && n_sends == 0, "empty flush sends nothing");

	/* only accepts: one message */
	reset_log();
	nfq_verdicts_accept(&v, 10);
	nfq_verdicts_accept(&v, 11);
	nfq_verdicts_accept(&v, 12);
	expect(!nfq_verdicts_flush(&v) && n_log == 1 && log_[0].id == 12 &&
	       log_[0].type == 'B', "a run of accepts is one batch verdict");
}

/* Rewritten 60 KB packets: the buffer fills, sends split between whole
 * messages and order holds across them. */
static void test_verdict_split(void)
{
	static char buf[2 * NFQ_VERDICT_BUF_MIN];
	static uint8_t pkt[60000];
	struct nfq_verdicts v;
	unsigned int i, ok = 1;

	reset_log();
	nfq_verdicts_init(&v, 1, buf, sizeof(buf), capture, NULL);
	for (i = 0; i < 6; i++) {
		nfq_verdicts_accept(&v, 2 * i + 1);
		expect(!nfq_verdicts_one(&v, 2 * i + 2, NF_ACCEPT, pkt, sizeof(pkt)),
		       "big rewrite queued");
	}
	expect(!nfq_verdicts_flush(&v), "flush");
	expect(n_log == 12, "twelve messages");
	expect(n_sends >= 3, "split over several sends");
	for (i = 0; i < n_log; i++) {
		ok &= log_[i].id == i + 1;
		ok &= log_[i].type == (i & 1 ? 'V' : 'B');
		ok &= !(i & 1) || log_[i].pkt_len == sizeof(pkt);
		ok &= !i || log_[i].send >= log_[i - 1].send;
	}
	expect(ok, "order and payloads kept across sends");

	reset_log();
	fail_send = 1;
	nfq_verdicts_accept(&v, 50);
	expect(nfq_verdicts_flush(&v) < 0, "a failed send is reported");
}

static void test_queue_range(void)
{
	uint16_t a = 0, n = 0;

	expect(!nfq_parse_queue_range("0", &a, &n) && a == 0 && n == 1, "single 0");
	expect(!nfq_parse_queue_range("65535", &a, &n) && a == 65535 && n == 1, "single max");
	expect(!nfq_parse_queue_range("4-7", &a, &n) && a == 4 && n == 4, "range 4-7");
	expect(!nfq_parse_queue_range("3-3", &a, &n) && a == 3 && n == 1, "range 3-3");
	expect(!nfq_parse_queue_range("0-63", &a, &n) && n == 64, "64 queues");
	expect(nfq_parse_queue_range("0-64", &a, &n), "65 queues refused");
	expect(nfq_parse_queue_range("7-4", &a, &n), "backwards refused");
	expect(nfq_parse_queue_range("65536", &a, &n), "too big refused");
	expect(nfq_parse_queue_range("", &a, &n), "empty refused");
	expect(nfq_parse_queue_range("-1", &a, &n), "negative refused");
	expect(nfq_parse_queue_range("1-", &a, &n), "open range refused");
	expect(nfq_parse_queue_range("1,2", &a, &n), "list refused");
	expect(nfq_parse_queue_range(" 1", &a, &n), "leading space refused");
}

static void test_queue_stat(void)
{
	/* /proc/net/netfilter/nfnetlink_queue as 6.1 and 6.12 print it */
	static const char proc[] =
		"    0 2170131842     0 2 65535     0     0       12  1\n"
		"    7  -4121667     3 2 65535    17    21   123456  1\n";
	struct nfq_queue_stat st;
	FILE *f;

	f = fmemopen((void *)proc, sizeof(proc) - 1, "r");
	memset(&st, 0, sizeof(st));
	expect(f && !nfq_queue_stat_read(f, 7, &st), "queue 7 found");
	expect(st.queue_total == 3 && st.dropped == 17 && st.user_dropped == 21 &&
	       st.id_sequence == 123456, "queue 7 counters");
	fclose(f);
	f = fmemopen((void *)proc, sizeof(proc) - 1, "r");
	expect(f && !nfq_queue_stat_read(f, 0, &st) && st.dropped == 0 &&
	       st.id_sequence == 12, "queue 0 counters");
	fclose(f);
	f = fmemopen((void *)proc, sizeof(proc) - 1, "r");
	expect(f && nfq_queue_stat_read(f, 3, &st) < 0, "unbound queue absent");
	fclose(f);
}

int main(void)
{
	test_verdict_order();
	test_verdict_split();
	test_queue_range();
	test_queue_stat();
	printf("%s - test_nfq_queue: %u passed, %u failed\n",
	       failed ? "not ok" : "ok", passed, failed);
	return failed ? 1 : 0;
}
