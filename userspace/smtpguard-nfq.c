// SPDX-License-Identifier: GPL-2.0
/*
 * smtpguard-nfq: the smtpguard engine over NFQUEUE, for hosts that cannot
 * load the kernel module. Same engine, same policy files, same verdicts:
 * the kernel queues each SMTP segment, this program inspects it and
 * returns it (possibly rewritten, same length), drops it, or turns it into
 * an RST.
 *
 *	nft add rule inet filter forward tcp dport 25 queue num 0
 *	nft add rule inet filter forward tcp sport 25 queue num 0
 *	smtpguard-nfq -q 0 -f esmtp
 *
 * With a queue range (queue num 0-3, no "fanout": the kernel then hashes
 * both directions of an address pair to the same queue) one engine thread
 * serves each queue with its own socket and connection table, so no lock
 * is taken on the packet path.
 */
#define _GNU_SOURCE	/* recvmmsg */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#include "../kmod/engine/engine.h"
#include "../kmod/engine/policy.h"
#include "nfq_flow.h"
#include "nfq_packet.h"
#include "nfq_queue.h"
#include "nfq_verdict.h"
#include "policy_file.h"
#include "policy_preset.h"

#define MAX_PORTS 8
/* Packets taken from the socket per recvmmsg(). */
#define RECV_BATCH 32
/* One queue message: headers and a whole 64 KiB packet. */
#define RECV_BUF_SIZE (0x10000 + 1024)

struct nfq_opts {
	uint16_t queue, n_queues;
	uint16_t ports[MAX_PORTS];
	unsigned int n_ports;
	const char *policy;
	uint32_t table_size;
	uint32_t idle_timeout;
	uint32_t maxlen;
	int rcvbuf;
	int verbose;
	int fail_open;
	int json;
};

/* queue_cb's reading of a packet: nfq_tcp_parse()'s, or this */
#define NFQ_TRUNCATED	(-100)	/* longer than the copy range */

/* Written by its queue's thread only, read by the stats dump. */
struct nfq_counters {
	uint64_t packets, bytes, sessions, passes, holds, drops, resets;
	uint64_t rewrites, untracked, events, truncated;
	uint64_t enobufs;	/* socket overruns we were told about */
	uint64_t recvs, verdict_sends;
};

struct nfq_worker {
	uint16_t queue;
	pthread_t thread;
	bool started;
	struct mnl_socket *nl;
	struct nfq_flow_table flows;
	struct nfq_counters c;
	struct nfq_verdicts verdicts;
	uint64_t now;			/* seconds, per receive batch */
	const struct sg_policy *pol;	/* per receive batch */
	unsigned long batch_seq;	/* odd while a batch uses @pol */
	char *rxbuf;			/* RECV_BATCH x RECV_BUF_SIZE */
	char *txbuf;			/* verdicts */
};

static volatile sig_atomic_t stop_requested, dump_requested, reload_requested;
static volatile sig_atomic_t queue_failed;	/* a queue thread gave up */
static struct sg_policy policy;
/* What the queue threads inspect with; a reload publishes a new one. */
static const struct sg_policy *active_policy = &policy;
static struct nfq_worker *workers;
static struct nfq_opts opts = {
	.queue = 0,
	.n_queues = 1,
	.ports = { 25 },
	.n_ports = 1,
	.policy = "esmtp",
	.table_size = 65536,
	.idle_timeout = 3600,
	.maxlen = 4096,
	.rcvbuf = 8 << 20,
};

/* Single writer: a plain add published with a relaxed store. */
#define CTR_ADD(w, field, n) \
	__atomic_store_n(&(w)->c.field, (w)->c.field + (n), __ATOMIC_RELAXED)
#define CTR_GET(w, field) __atomic_load_n(&(w)->c.field, __ATOMIC_RELAXED)

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		dump_requested = 1;
	else if (sig == SIGHUP)
		reload_requested = 1;
	else
		stop_requested = 1;
}

static uint64_t now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

static bool is_server_port(uint16_t port)
{
	unsigned int i;

	for (i = 0; i < opts.n_ports; i++)
		if (opts.ports[i] == port)
			return true;
	return false;
}

/* Counters of one queue, or of all of them (@w NULL). */
struct nfq_stats {
	struct nfq_counters c;
	uint64_t evictions;
	struct nfq_queue_stat k;	/* the kernel's */
	bool have_k;
};

static void collect(const struct nfq_worker *w, struct nfq_stats *s)
{
	const struct nfq_worker *from = w ? w : workers;
	const struct nfq_worker *to = w ? w + 1 : workers + opts.n_queues;
	struct nfq_queue_stat k;

	memset(s, 0, sizeof(*s));
	s->have_k = true;
	for (w = from; w < to; w++) {
#define SUM(f) (s->c.f += CTR_GET(w, f))
		SUM(packets); SUM(bytes); SUM(sessions); SUM(passes);
		SUM(holds); SUM(drops); SUM(resets); SUM(rewrites);
		SUM(untracked); SUM(events); SUM(truncated); SUM(enobufs);
		SUM(recvs); SUM(verdict_sends);
#undef SUM
		s->evictions += __atomic_load_n(&w->flows.evictions,
						__ATOMIC_RELAXED);
		if (nfq_queue_stat(w->queue, &k)) {
			s->have_k = false;
			continue;
		}
		s->k.queue_total += k.queue_total;
		s->k.dropped += k.dropped;
		s->k.user_dropped += k.user_dropped;
		s->k.id_sequence += k.id_sequence;
	}
}

/* Packets the kernel lost between the hook and us: queue full or socket
 * full. Both cost the sender a retransmission. */
static uint64_t queue_loss(const struct nfq_stats *s)
{
	if (!s->have_k)
		return s->c.enobufs;
	return (uint64_t)s->k.dropped + s->k.user_dropped;
}

/* The counters in the order both dumps print them. */
struct nfq_counter {
	const char *name;
	uint64_t value;
};

#define NFQ_COUNTERS	19

static void nfq_counters(const struct nfq_stats *s,
			 struct nfq_counter c[NFQ_COUNTERS])
{
	const struct nfq_counter all[NFQ_COUNTERS] = {
		{ "packets", s->c.packets },	{ "bytes", s->c.bytes },
		{ "sessions", s->c.sessions },	{ "pass", s->c.passes },
		{ "hold", s->c.holds },		{ "drop", s->c.drops },
		{ "reset", s->c.resets },	{ "rewrites", s->c.rewrites },
		{ "untracked", s->c.untracked }, { "events", s->c.events },
		{ "evictions", s->evictions },	{ "queue_loss", queue_loss(s) },
		{ "queue_dropped", s->k.dropped },
		{ "user_dropped", s->k.user_dropped },
		{ "enobufs", s->c.enobufs },	{ "truncated", s->c.truncated },
		{ "waiting", s->k.queue_total }, { "recvs", s->c.recvs },
		{ "verdict_sends", s->c.verdict_sends },
	};

	memcpy(c, all, sizeof(all));
}

static void dump_text(FILE *out, const char *prefix, const struct nfq_stats *s)
{
	struct nfq_counter c[NFQ_COUNTERS];
	int i;

	nfq_counters(s, c);
	fputs(prefix, out);
	for (i = 0; i < NFQ_COUNTERS; i++)
		fprintf(out, "%s%s %" PRIu64, i ? " " : "", c[i].name,
			c[i].value);
	fputc('\n', out);
}

static void dump_json_one(FILE *out, const struct nfq_stats *s)
{
	struct nfq_counter c[NFQ_COUNTERS];
	int i;

	nfq_counters(s, c);
	for (i = 0; i < NFQ_COUNTERS; i++)
		fprintf(out, "%s\"%s\":%" PRIu64, i ? "," : "", c[i].name,
			c[i].value);
}

/* Totals, then each queue when there are several; one JSON object with -j. */
static void dump_counters(FILE *out)
{
	struct nfq_stats s;
	char prefix[32];
	unsigned int i;

	collect(NULL, &s);
	if (opts.json) {
		fputc('{', out);
		dump_json_one(out, &s);
		fputs(",\"queues\":[", out);
		for (i = 0; i < opts.n_queues; i++) {
			collect(&workers[i], &s);
			fprintf(out, "%s{\"queue\":%u,", i ? "," : "",
				workers[i].queue);
			dump_json_one(out, &s);
			fputc('}', out);
		}
		fputs("]}\n", out);
	} else {
		dump_text(out, "", &s);
		for (i = 0; opts.n_queues > 1 && i < opts.n_queues; i++) {
			collect(&workers[i], &s);
			snprintf(prefix, sizeof(prefix), "queue %u: ",
				 workers[i].queue);
			dump_text(out, prefix, &s);
		}
	}
	fflush(out);
}

static void report_events(struct nfq_worker *w, const struct nfq_tcp_pkt *p,
			  const struct sg_result *res)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	int af = p->family == 4 ? AF_INET : AF_INET6;
	unsigned int i;

	CTR_ADD(w, events, res->n_events);
	if (!opts.verbose || !res->n_events)
		return;
	inet_ntop(af, p->saddr, src, sizeof(src));
	inet_ntop(af, p->daddr, dst, sizeof(dst));
	for (i = 0; i < res->n_events; i++) {
		const struct sg_event *ev = &res->events[i];

		printf("event kind %u class %s action %s dir %s token \"%.*s\""
		       " value %u limit %u flow %s:%u > %s:%u\n",
		       ev->kind,
		       ev->kind == SG_EV_VIOLATION ? sg_class_name(ev->klass) : "-",
		       sg_action_name(ev->action),
		       ev->dir == SG_DIR_CLIENT ? "client" : "server",
		       (int)strnlen(ev->token, SG_TOKEN_LEN), ev->token,
		       ev->value, ev->limit, src, p->sport, dst, p->dport);
	}
	fflush(stdout);
}

/* Inspect one packet; returns the NF_* verdict, payload edited in place. */
static int inspect(struct nfq_worker *w, struct nfq_tcp_pkt *p, bool *mangled)
{
	struct nfq_flow_key key;
	enum sg_dir dir;
	struct nfq_flow *f;
	struct sg_seg seg;
	bool created;
	int verdict;

	*mangled = false;
	memset(&key, 0, sizeof(key));
	key.family = p->family;
	if (is_server_port(p->dport)) {
		dir = SG_DIR_CLIENT;
		memcpy(key.client, p->saddr, 16);
		memcpy(key.server, p->daddr, 16);
		key.cport = p->sport;
		key.sport = p->dport;
	} else if (is_server_port(p->sport)) {
		dir = SG_DIR_SERVER;
		memcpy(key.client, p->daddr, 16);
		memcpy(key.server, p->saddr, 16);
		key.cport = p->dport;
		key.sport = p->sport;
	} else {
		CTR_ADD(w, untracked, 1);
		return NF_ACCEPT;
	}

	f = nfq_flow_get(&w->flows, &key, w->now, &created);
	if (!f) {
		CTR_ADD(w, untracked, 1);
		return opts.fail_open ? NF_ACCEPT : NF_DROP;
	}
	if (created) {
		/* Without the client's SYN we joined mid-stream. */
		uint32_t key = 0;

		sg_conn_init(&f->st, !(p->flags & SG_TCP_SYN) ||
				     dir != SG_DIR_CLIENT);
		/* the fingerprint key of uncopied command bytes */
		if (getrandom(&key, sizeof(key), GRND_NONBLOCK) != sizeof(key))
			key = (uint32_t)random();
		sg_conn_key(&f->st, key);
		CTR_ADD(w, sessions, 1);
	}

	sg_seg_begin(&seg, &f->st, w->pol, dir, p->seq,
		     (uint32_t)(p->len - p->payoff), p->ack, p->flags);
	if (p->has_ts)
		sg_seg_timestamp(&seg, p->tsval);
	sg_seg_feed(&seg, p->data + p->payoff, (uint32_t)(p->len - p->payoff));
	verdict = sg_seg_end(&seg);
	CTR_ADD(w, bytes, seg.res.new_bytes);
	report_events(w, p, &seg.res);

	/* TLS, or an RST the receiver accepts (RFC 5961: at the exact next
	 * sequence number; another leaves the connection up): stop tracking */
	if (sg_conn_opaque(&f->st) ||
	    ((p->flags & SG_TCP_RST) && sg_conn_rst_exact(&f->st, dir, p->seq)))
		nfq_flow_del(&w->flows, f);

	switch (verdict) {
	case SG_V_PASS:
		CTR_ADD(w, passes, 1);
		if (seg.res.n_spans) {
			nfq_tcp_rewrite(p, &seg.res);
			CTR_ADD(w, rewrites, 1);
			*mangled = true;
		}
		/* the receiver reads what the engine read: urgent byte
		 * inline, and nothing expires past the gateway */
		if (f->used && nfq_tcp_has_urg(p)) {
			nfq_tcp_clear_urg(p);
			*mangled = true;
		}
		if (f->used && nfq_ip_ttl_floor(p, 64))
			*mangled = true;
		return NF_ACCEPT;
	case SG_V_HOLD:
		CTR_ADD(w, holds, 1);
		return NF_DROP;
	case SG_V_DROP:
		CTR_ADD(w, drops, 1);
		return NF_DROP;
	default:
		/* The receiver gets this segment as an RST; the sender's
		 * next segment meets a reset connection there. */
		CTR_ADD(w, resets, 1);
		nfq_tcp_make_rst(p);
		*mangled = true;
		if (f->used)
			nfq_flow_del(&w->flows, f);
		return NF_ACCEPT;
	}
}

/* A packet queued with CHECKSUM_PARTIAL (NFQA_CFG_F_GSO skips completing
 * it) carries only the pseudo-header sum, and the kernel sends what we
 * return as it is: a packet we changed leaves with a full checksum. */
static void complete_checksum(struct nfq_tcp_pkt *p)
{
	uint16_t sum = nfq_tcp_checksum(p);

	p->data[p->l4off + 16] = (uint8_t)(sum >> 8);
	p->data[p->l4off + 17] = (uint8_t)sum;
}

static int queue_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nfq_worker *w = data;
	struct nlattr *attr[NFQA_MAX + 1] = { NULL };
	struct nfqnl_msg_packet_hdr *ph;
	struct nfq_tcp_pkt p;
	bool mangled = false;
	int verdict = NF_ACCEPT;
	uint32_t id, skbinfo = 0, len;
	int kind;

	if (nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR]) {
		fprintf(stderr, "smtpguard-nfq: malformed queue message\n");
		return MNL_CB_OK;
	}
	ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	id = ntohl(ph->packet_id);
	CTR_ADD(w, packets, 1);
	if (attr[NFQA_SKB_INFO])
		skbinfo = ntohl(mnl_attr_get_u32(attr[NFQA_SKB_INFO]));
	len = attr[NFQA_PAYLOAD] ? mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]) : 0;

	if (attr[NFQA_CAP_LEN] && ntohl(mnl_attr_get_u32(attr[NFQA_CAP_LEN])) > len)
		kind = NFQ_TRUNCATED;
	else if (attr[NFQA_PAYLOAD])
		kind = nfq_tcp_parse(&p, mnl_attr_get_payload(attr[NFQA_PAYLOAD]), len);
	else
		kind = NFQ_NOT_TCP;

	switch (kind) {
	case NFQ_TCP:
		verdict = inspect(w, &p, &mangled);
		if (mangled && (skbinfo & NFQA_SKB_CSUMNOTREADY))
			complete_checksum(&p);
		break;
	case NFQ_TRUNCATED:
		/* Larger than the copy range (a GRO or BIG TCP packet):
		 * the engine cannot see all of it, so it cannot pass. */
		CTR_ADD(w, truncated, 1);
		verdict = opts.fail_open ? NF_ACCEPT : NF_DROP;
		break;
	case NFQ_UNINSPECTABLE:
		CTR_ADD(w, drops, 1);	/* never pass what we cannot read */
		verdict = NF_DROP;
		break;
	default:
		CTR_ADD(w, untracked, 1);	/* not TCP: pass */
		break;
	}

	if (verdict == NF_ACCEPT && !mangled) {
		nfq_verdicts_accept(&w->verdicts, id);
		return MNL_CB_OK;
	}
	if (nfq_verdicts_one(&w->verdicts, id, verdict,
			     mangled ? p.data : NULL, mangled ? (uint32_t)p.len : 0)) {
		perror("smtpguard-nfq: verdict");
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

static int send_verdicts(void *ctx, const void *buf, size_t len)
{
	struct nfq_worker *w = ctx;

	CTR_ADD(w, verdict_sends, 1);
	return (int)mnl_socket_sendto(w->nl, buf, len);
}

/*
 * One queue: take whatever the socket holds (up to RECV_BATCH packets in
 * one recvmmsg), inspect each in order, then send all verdicts in one
 * message buffer. ENOBUFS means the kernel could not deliver packets to
 * us (they are counted in the queue's user_dropped): count and go on.
 */
static void *queue_loop(void *arg)
{
	struct nfq_worker *w = arg;
	struct mmsghdr msgs[RECV_BATCH];
	struct iovec iov[RECV_BATCH];
	unsigned int portid = mnl_socket_get_portid(w->nl);
	int fd = mnl_socket_get_fd(w->nl), i, n;

	for (i = 0; i < RECV_BATCH; i++) {
		iov[i].iov_base = w->rxbuf + (size_t)i * RECV_BUF_SIZE;
		iov[i].iov_len = RECV_BUF_SIZE;
	}
	while (!stop_requested) {
		memset(msgs, 0, sizeof(msgs));
		for (i = 0; i < RECV_BATCH; i++) {
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(fd, msgs, RECV_BATCH, MSG_WAITFORONE, NULL);
		if (n < 0) {
			if (errno == ENOBUFS) {
				if (!w->c.enobufs)
					fprintf(stderr, "smtpguard-nfq: queue %u: socket overrun, packets lost (TCP resends them); raise --rcvbuf\n",
						w->queue);
				CTR_ADD(w, enobufs, 1);
				continue;
			}
			if (errno == EINTR || errno == EAGAIN)
				continue;	/* stop check (SO_RCVTIMEO) */
			fprintf(stderr, "smtpguard-nfq: queue %u: recv: %s\n",
				w->queue, strerror(errno));
			break;
		}
		CTR_ADD(w, recvs, 1);
		w->now = now_seconds();
		__atomic_add_fetch(&w->batch_seq, 1, __ATOMIC_SEQ_CST);
		w->pol = __atomic_load_n(&active_policy, __ATOMIC_ACQUIRE);
		for (i = 0; i < n; i++) {
			if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
				fprintf(stderr, "smtpguard-nfq: queue %u: message truncated\n",
					w->queue);
				continue;
			}
			if (mnl_cb_run(iov[i].iov_base, msgs[i].msg_len, 0,
				       portid, queue_cb, w) < 0 &&
			    errno != EINTR)
				goto out;
		}
		__atomic_add_fetch(&w->batch_seq, 1, __ATOMIC_RELEASE);
		if (nfq_verdicts_flush(&w->verdicts)) {
			perror("smtpguard-nfq: verdict");
			break;
		}
	}
out:
	/* a broken queue stops the program rather than hold its packets */
	if (!stop_requested) {
		queue_failed = 1;
		stop_requested = 1;
		kill(getpid(), SIGTERM);
	}
	return NULL;
}

/*
 * SIGHUP: parse the policy file again into a new policy with the next
 * generation (connections in the middle of a word finish it, as in the
 * kernel helper), publish it, and free the one it replaces once no queue
 * thread is still in a batch that began with it. On failure the active
 * policy stays.
 */
static int reload_policy(void)
{
	const struct sg_policy *old = active_policy;
	struct sg_pf_error perr;
	char path[PATH_MAX];
	struct sg_policy *next;
	unsigned long *seen;
	unsigned int i;

	if (sg_policy_resolve(opts.policy, path, sizeof(path))) {
		fprintf(stderr, "smtpguard-nfq: %s: no such policy file or preset\n",
			opts.policy);
		return -1;
	}
	next = malloc(sizeof(*next));
	seen = calloc(opts.n_queues, sizeof(*seen));
	if (!next || !seen) {
		fprintf(stderr, "smtpguard-nfq: no memory for a new policy\n");
		free(next);
		free(seen);
		return -1;
	}
	if (sg_policy_parse_file(path, next, &perr) != SG_PF_OK) {
		fprintf(stderr, "smtpguard-nfq: %s (the active policy stays)\n",
			perr.msg);
		free(next);
		free(seen);
		return -1;
	}
	next->generation = old->generation + 1;
	__atomic_store_n(&active_policy, next, __ATOMIC_SEQ_CST);
	for (i = 0; i < opts.n_queues; i++)
		seen[i] = __atomic_load_n(&workers[i].batch_seq, __ATOMIC_SEQ_CST);
	for (i = 0; i < opts.n_queues; i++) {
		const struct timespec ms = { .tv_sec = 0, .tv_nsec = 1000000 };

		while ((seen[i] & 1) && !stop_requested &&
		       __atomic_load_n(&workers[i].batch_seq, __ATOMIC_ACQUIRE) == seen[i])
			nanosleep(&ms, NULL);
	}
	free(seen);
	if (old != &policy)
		free((void *)old);
	return 0;
}

static int worker_open(struct nfq_worker *w)
{
	struct nfq_queue_cfg cfg = {
		.queue = w->queue,
		.maxlen = opts.maxlen,
		/* the engine reads the whole payload; the kernel caps this
		 * at 65531 (NFQNL_MAX_COPY_RANGE) */
		.copy_range = 0xffff,
		.fail_open = opts.fail_open,
	};
	struct timeval tv = { .tv_sec = 0, .tv_usec = 250000 };
	bool gso;
	int fd, rcvbuf;

	if (nfq_flow_table_init(&w->flows, opts.table_size, opts.idle_timeout)) {
		fprintf(stderr, "smtpguard-nfq: no memory for %u flows\n",
			opts.table_size);
		return -1;
	}
	w->rxbuf = malloc((size_t)RECV_BATCH * RECV_BUF_SIZE);
	w->txbuf = malloc(2 * NFQ_VERDICT_BUF_MIN);
	if (!w->rxbuf || !w->txbuf) {
		fprintf(stderr, "smtpguard-nfq: no memory for queue buffers\n");
		return -1;
	}
	w->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!w->nl || mnl_socket_bind(w->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		perror("smtpguard-nfq: netlink");
		return -1;
	}
	fd = mnl_socket_get_fd(w->nl);
	/* Room for a burst before the kernel has to drop (ENOBUFS). */
	rcvbuf = nfq_set_rcvbuf(fd, opts.rcvbuf);
	if (nfq_queue_setup(w->nl, &cfg, &gso)) {
		fprintf(stderr, "smtpguard-nfq: cannot bind queue %u: %s%s\n",
			w->queue, strerror(errno),
			errno == EPERM ? " (needs CAP_NET_ADMIN)" :
			errno == EBUSY ? " (another program has it)" : "");
		return -1;
	}
	/* wake up now and then to notice a stop request */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	nfq_verdicts_init(&w->verdicts, w->queue, w->txbuf,
			  2 * NFQ_VERDICT_BUF_MIN, send_verdicts, w);
	w->pol = active_policy;
	fprintf(stderr, "smtpguard-nfq: queue %u: maxlen %u, socket buffer %d%s%s\n",
		w->queue, opts.maxlen, rcvbuf,
		rcvbuf < opts.rcvbuf ? " (less than asked: raise net.core.rmem_max)" : "",
		gso ? "" : ", no GSO (the kernel segments for us)");
	return 0;
}

static void worker_close(struct nfq_worker *w)
{
	if (w->nl)
		mnl_socket_close(w->nl);
	nfq_flow_table_free(&w->flows);
	free(w->rxbuf);
	free(w->txbuf);
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: smtpguard-nfq [-q QUEUE[-LAST]] [-p PORT[,PORT...]] [-f FILE|PRESET]\n"
		"                     [-n FLOWS] [-t IDLE_SECONDS] [-m MAXLEN] [-b BYTES]\n"
		"                     [-o] [-j] [-v]\n"
		"  -q  NFQUEUE number, or a range served by one thread each (default 0)\n"
		"  -p  SMTP server ports (default 25)\n"
		"  -f  policy file or preset name (default esmtp)\n"
		"  -n  connection table size, per queue (default 65536)\n"
		"  -t  idle timeout of a connection (default 3600)\n"
		"  -m, --maxlen   packets the kernel queues for us (default 4096)\n"
		"  -b, --rcvbuf   socket receive buffer in bytes (default 8388608)\n"
		"  -o  fail open: pass packets when the queue or table is full\n"
		"  -j, --json     counters as JSON\n"
		"  -v  print events on stdout\n"
		"  -h, --help     this text\n"
		"  -V, --version  print the version\n"
		"SIGUSR1 prints counters on stderr; SIGHUP reloads the policy file.\n");
}

static int parse_ports(const char *arg)
{
	char *copy = strdup(arg), *tok, *save = NULL, *end;

	if (!copy)
		return -1;
	opts.n_ports = 0;
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		unsigned long v = strtoul(tok, &end, 10);

		if (*end || v == 0 || v > 65535 || opts.n_ports == MAX_PORTS) {
			free(copy);
			return -1;
		}
		opts.ports[opts.n_ports++] = (uint16_t)v;
	}
	free(copy);
	return opts.n_ports ? 0 : -1;
}

static const struct option long_opts[] = {
	{ "maxlen", required_argument, NULL, 'm' },
	{ "rcvbuf", required_argument, NULL, 'b' },
	{ "json", no_argument, NULL, 'j' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

/* A decimal number in [min, max] into *out; -1 if it is not one. */
static int parse_u32(const char *arg, unsigned long min, unsigned long max,
		     uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (!*arg || *end || errno || v < min || v > max)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int parse_args(int argc, char **argv)
{
	uint32_t rcvbuf;
	int c;

	while ((c = getopt_long(argc, argv, "q:p:f:n:t:m:b:ojvhV",
				long_opts, NULL)) != -1) {
		switch (c) {
		case 'q':
			if (nfq_parse_queue_range(optarg, &opts.queue,
						  &opts.n_queues))
				goto bad;
			break;
		case 'p':
			if (parse_ports(optarg))
				goto bad;
			break;
		case 'f':
			opts.policy = optarg;
			break;
		case 'n':
			if (parse_u32(optarg, 16, 1ul << 24, &opts.table_size))
				goto bad;
			break;
		case 't':
			if (parse_u32(optarg, 1, 86400 * 7, &opts.idle_timeout))
				goto bad;
			break;
		case 'm':
			if (parse_u32(optarg, 16, 1ul << 20, &opts.maxlen))
				goto bad;
			break;
		case 'b':
			if (parse_u32(optarg, 1ul << 16, 1ul << 30, &rcvbuf))
				goto bad;
			opts.rcvbuf = (int)rcvbuf;
			break;
		case 'o':
			opts.fail_open = 1;
			break;
		case 'j':
			opts.json = 1;
			break;
		case 'v':
			opts.verbose = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("smtpguard-nfq %s\n", SMTPGUARD_VERSION);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc)
		goto bad_extra;
	return 0;
bad:
	fprintf(stderr, "smtpguard-nfq: invalid value for -%c: %s\n", c, optarg);
	return -1;
bad_extra:
	fprintf(stderr, "smtpguard-nfq: unexpected argument: %s\n", argv[optind]);
	return -1;
}

int main(int argc, char **argv)
{
	char path[PATH_MAX];
	struct sg_pf_error perr;
	struct sigaction sa;
	sigset_t block, old;
	unsigned int i;
	int ret = 0;

	if (parse_args(argc, argv))
		return 2;
	if (sg_policy_resolve(opts.policy, path, sizeof(path))) {
		fprintf(stderr, "smtpguard-nfq: %s: no such policy file or preset\n",
			opts.policy);
		return 3;
	}
	if (sg_policy_parse_file(path, &policy, &perr) != SG_PF_OK) {
		fprintf(stderr, "smtpguard-nfq: %s\n", perr.msg);
		return 3;
	}
	workers = calloc(opts.n_queues, sizeof(*workers));
	if (!workers) {
		fprintf(stderr, "smtpguard-nfq: no memory\n");
		return 1;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* Signals go to this thread only; the queue threads never stop
	 * for them. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &block, &old);

	for (i = 0; i < opts.n_queues; i++) {
		workers[i].queue = (uint16_t)(opts.queue + i);
		if (worker_open(&workers[i])) {
			ret = 1;
			goto out;
		}
	}
	for (i = 0; i < opts.n_queues; i++) {
		if (pthread_create(&workers[i].thread, NULL, queue_loop,
				   &workers[i])) {
			fprintf(stderr, "smtpguard-nfq: cannot start a thread\n");
			stop_requested = 1;
			ret = 1;
			break;
		}
		workers[i].started = true;
	}
	if (opts.n_queues > 1)
		fprintf(stderr, "smtpguard-nfq: queue %u-%u, policy %s, %u ports\n",
			opts.queue, opts.queue + opts.n_queues - 1, opts.policy,
			opts.n_ports);
	else
		fprintf(stderr, "smtpguard-nfq: queue %u, policy %s, %u ports\n",
			opts.queue, opts.policy, opts.n_ports);

	while (!stop_requested) {
		sigsuspend(&old);	/* signals unblocked only while waiting */
		if (dump_requested) {
			dump_requested = 0;
			dump_counters(stderr);
		}
		if (reload_requested) {
			reload_requested = 0;
			if (!reload_policy())
				fprintf(stderr, "smtpguard-nfq: policy %s reloaded\n",
					opts.policy);
		}
	}
	for (i = 0; i < opts.n_queues; i++)
		if (workers[i].started)
			pthread_join(workers[i].thread, NULL);
	dump_counters(stderr);
	if (queue_failed)
		ret = 1;
out:
	for (i = 0; i < opts.n_queues; i++)
		worker_close(&workers[i]);
	free(workers);
	return ret;
}
