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
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>
#include <arpa/inet.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#include "../kmod/engine/engine.h"
#include "../kmod/engine/policy.h"
#include "nfq_flow.h"
#include "nfq_packet.h"
#include "policy_file.h"
#include "policy_preset.h"

#define MAX_PORTS 8

struct nfq_opts {
	uint16_t queue;
	uint16_t ports[MAX_PORTS];
	unsigned int n_ports;
	const char *policy;
	uint32_t table_size;
	uint32_t idle_timeout;
	int verbose;
	int fail_open;
};

struct nfq_counters {
	uint64_t packets, bytes, sessions, passes, holds, drops, resets;
	uint64_t rewrites, untracked, events;
};

static volatile sig_atomic_t stop_requested, dump_requested;
static struct sg_policy policy;
static struct nfq_flow_table flows;
static struct nfq_counters counters;
static struct nfq_opts opts = {
	.queue = 0,
	.ports = { 25 },
	.n_ports = 1,
	.policy = "esmtp",
	.table_size = 65536,
	.idle_timeout = 3600,
};

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		dump_requested = 1;
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

static void dump_counters(FILE *out)
{
	fprintf(out,
		"packets %" PRIu64 " bytes %" PRIu64 " sessions %" PRIu64
		" pass %" PRIu64 " hold %" PRIu64 " drop %" PRIu64
		" reset %" PRIu64 " rewrites %" PRIu64 " untracked %" PRIu64
		" events %" PRIu64 " evictions %" PRIu64 "\n",
		counters.packets, counters.bytes, counters.sessions,
		counters.passes, counters.holds, counters.drops,
		counters.resets, counters.rewrites, counters.untracked,
		counters.events, flows.evictions);
	fflush(out);
}

static void report_events(const struct nfq_tcp_pkt *p,
			  const struct sg_result *res)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	int af = p->family == 4 ? AF_INET : AF_INET6;
	unsigned int i;

	counters.events += res->n_events;
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
static int inspect(struct nfq_tcp_pkt *p, bool *mangled)
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
		counters.untracked++;
		return NF_ACCEPT;
	}

	f = nfq_flow_get(&flows, &key, now_seconds(), &created);
	if (!f) {
		counters.untracked++;
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
		counters.sessions++;
	}

	sg_seg_begin(&seg, &f->st, &policy, dir, p->seq,
		     (uint32_t)(p->len - p->payoff), p->ack, p->flags);
	if (p->has_ts)
		sg_seg_timestamp(&seg, p->tsval);
	sg_seg_feed(&seg, p->data + p->payoff, (uint32_t)(p->len - p->payoff));
	verdict = sg_seg_end(&seg);
	counters.bytes += seg.res.new_bytes;
	report_events(p, &seg.res);

	/* TLS, or an RST the receiver accepts (RFC 5961: at the exact next
	 * sequence number; another leaves the connection up): stop tracking */
	if (sg_conn_opaque(&f->st) ||
	    ((p->flags & SG_TCP_RST) && sg_conn_rst_exact(&f->st, dir, p->seq)))
		nfq_flow_del(&flows, f);

	switch (verdict) {
	case SG_V_PASS:
		counters.passes++;
		if (seg.res.n_spans) {
			nfq_tcp_rewrite(p, &seg.res);
			counters.rewrites++;
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
		counters.holds++;
		return NF_DROP;
	case SG_V_DROP:
		counters.drops++;
		return NF_DROP;
	default:
		/* The receiver gets this segment as an RST; the sender's
		 * next segment meets a reset connection there. */
		counters.resets++;
		nfq_tcp_make_rst(p);
		*mangled = true;
		if (f->used)
			nfq_flow_del(&flows, f);
		return NF_ACCEPT;
	}
}

static int send_verdict(struct mnl_socket *nl, uint32_t id, int verdict,
			const struct nfq_tcp_pkt *p, bool mangled)
{
	char buf[MNL_SOCKET_BUFFER_SIZE + 0xffff];
	struct nlmsghdr *nlh;

	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_VERDICT, opts.queue);
	nfq_nlmsg_verdict_put(nlh, (int)id, verdict);
	if (mangled)
		nfq_nlmsg_verdict_put_pkt(nlh, p->data, (uint32_t)p->len);
	return (int)mnl_socket_sendto(nl, nlh, nlh->nlmsg_len);
}

static int queue_cb(const struct nlmsghdr *nlh, void *data)
{
	struct mnl_socket *nl = data;
	struct nlattr *attr[NFQA_MAX + 1] = { NULL };
	struct nfqnl_msg_packet_hdr *ph;
	struct nfq_tcp_pkt p;
	bool mangled = false;
	int verdict = NF_ACCEPT;
	uint32_t id;

	if (nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR]) {
		fprintf(stderr, "smtpguard-nfq: malformed queue message\n");
		return MNL_CB_OK;
	}
	ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	id = ntohl(ph->packet_id);
	counters.packets++;

	switch (attr[NFQA_PAYLOAD] ?
		nfq_tcp_parse(&p, mnl_attr_get_payload(attr[NFQA_PAYLOAD]),
			      mnl_attr_get_payload_len(attr[NFQA_PAYLOAD])) :
		NFQ_NOT_TCP) {
	case NFQ_TCP:
		verdict = inspect(&p, &mangled);
		break;
	case NFQ_UNINSPECTABLE:
		counters.drops++;	/* never pass what we cannot read */
		verdict = NF_DROP;
		break;
	default:
		counters.untracked++;	/* not TCP: pass */
		break;
	}

	if (send_verdict(nl, id, verdict, &p, mangled) < 0) {
		perror("smtpguard-nfq: verdict");
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

static int queue_config(struct mnl_socket *nl)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	uint32_t flags = opts.fail_open ? NFQA_CFG_F_FAIL_OPEN : 0;

	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, opts.queue);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -1;

	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, opts.queue);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, 0xffff);
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_FAIL_OPEN));
	return mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0 ? -1 : 0;
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: smtpguard-nfq [-q QUEUE] [-p PORT[,PORT...]] [-f FILE|PRESET]\n"
		"                     [-n FLOWS] [-t IDLE_SECONDS] [-o] [-v]\n"
		"  -q  NFQUEUE number (default 0)\n"
		"  -p  SMTP server ports (default 25)\n"
		"  -f  policy file or preset name (default esmtp)\n"
		"  -n  connection table size (default 65536)\n"
		"  -t  idle timeout of a connection (default 3600)\n"
		"  -o  fail open: pass packets when the queue or table is full\n"
		"  -v  print events on stdout\n"
		"SIGUSR1 prints counters on stderr.\n");
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

static int parse_args(int argc, char **argv)
{
	unsigned long v;
	char *end;
	int c;

	while ((c = getopt(argc, argv, "q:p:f:n:t:ovh")) != -1) {
		switch (c) {
		case 'q':
			v = strtoul(optarg, &end, 10);
			if (*end || v > 65535)
				goto bad;
			opts.queue = (uint16_t)v;
			break;
		case 'p':
			if (parse_ports(optarg))
				goto bad;
			break;
		case 'f':
			opts.policy = optarg;
			break;
		case 'n':
			v = strtoul(optarg, &end, 10);
			if (*end || v < 16 || v > (1ul << 24))
				goto bad;
			opts.table_size = (uint32_t)v;
			break;
		case 't':
			v = strtoul(optarg, &end, 10);
			if (*end || v == 0 || v > 86400 * 7)
				goto bad;
			opts.idle_timeout = (uint32_t)v;
			break;
		case 'o':
			opts.fail_open = 1;
			break;
		case 'v':
			opts.verbose = 1;
			break;
		case 'h':
			usage(stdout);
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
	char buf[MNL_SOCKET_BUFFER_SIZE + 0xffff];
	char path[PATH_MAX];
	struct sg_pf_error perr;
	struct mnl_socket *nl;
	struct sigaction sa;
	int ret;

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
	if (nfq_flow_table_init(&flows, opts.table_size, opts.idle_timeout)) {
		fprintf(stderr, "smtpguard-nfq: no memory for %u flows\n",
			opts.table_size);
		return 1;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);

	nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		perror("smtpguard-nfq: netlink");
		return 1;
	}
	if (queue_config(nl)) {
		fprintf(stderr, "smtpguard-nfq: cannot bind queue %u: %s%s\n",
			opts.queue, strerror(errno),
			errno == EPERM ? " (needs CAP_NET_ADMIN)" : "");
		mnl_socket_close(nl);
		return 1;
	}
	/* Queue overruns are reported as ENOBUFS; keep going. */
	ret = 1;
	setsockopt(mnl_socket_get_fd(nl), SOL_NETLINK, NETLINK_NO_ENOBUFS,
		   &ret, sizeof(ret));
	fprintf(stderr, "smtpguard-nfq: queue %u, policy %s, %u ports\n",
		opts.queue, opts.policy, opts.n_ports);

	while (!stop_requested) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));

		if (dump_requested) {
			dump_requested = 0;
			dump_counters(stderr);
		}
		if (n < 0) {
			if (errno == EINTR || errno == ENOBUFS)
				continue;
			perror("smtpguard-nfq: recv");
			break;
		}
		if (mnl_cb_run(buf, (size_t)n, 0, mnl_socket_get_portid(nl),
			       queue_cb, nl) < 0 && errno != EINTR)
			break;
	}
	dump_counters(stderr);
	mnl_socket_close(nl);
	nfq_flow_table_free(&flows);
	return 0;
}
