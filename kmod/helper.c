// SPDX-License-Identifier: GPL-2.0
/* The data path: one engine pass per TCP segment of a helped connection. */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt
#include <linux/tcp.h>
#include <linux/netfilter.h>
#include <linux/net.h>
#include <linux/percpu.h>
#include <linux/string_helpers.h>
#include <linux/ipv6.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <net/checksum.h>
#include <net/ip.h>
#include <net/netlink.h>
#include <net/tcp.h>
#include <net/netfilter/nf_conntrack_helper.h>
#include <net/netfilter/nf_conntrack_ecache.h>
#include <net/netfilter/nf_log.h>
#include "conn.h"
#include "helper.h"
#include "netlink.h"
#include "payload.h"
#include "pernet.h"

/* Attribute inside CTA_HELP_INFO, for conntrackd failover. */
enum {
	SMTP_HELP_INFO_UNSPEC,
	SMTP_HELP_INFO_FLAGS,	/* u32: SMTP_HF_OPAQUE */
};

/*
 * The engine's per-segment scratch (struct sg_seg, ~650 bytes): per CPU
 * rather than on a stack that may already be deep (tunnels, OVS) or in
 * every connection. Used with BH disabled only, so one segment at a time
 * per CPU; a reset's RST re-enters the hooks only after the last use.
 */
struct smtp_scratch {
	struct sg_seg seg;
	struct sg_conn conn;	/* state of an unconfirmed entry's segment */
};

static DEFINE_PER_CPU(struct smtp_scratch, smtp_scratch);

/* Per-CPU counters; this_cpu ops because the output path is preemptible. */
static void smtp_count_events(struct smtp_net *sn, const struct sg_result *r)
{
	struct smtp_stats __percpu *s = sn->stats;
	enum sg_verb_class vc;
	unsigned int i;

	for (i = 0; i < r->n_events; i++) {
		const struct sg_event *ev = &r->events[i];

		switch (ev->kind) {
		case SG_EV_VIOLATION:
			if (ev->klass < SG_C_MAX)
				this_cpu_inc(s->violations[ev->klass]);
			if (ev->klass == SG_C_VERB && ev->action == SG_A_MASK) {
				vc = sg_verb_class_of(ev->token, SG_TOKEN_LEN);
				this_cpu_inc(s->verbs_masked[vc]);
			}
			break;
		case SG_EV_BANNER_MASKED:
			this_cpu_inc(s->banners_masked);
			break;
		case SG_EV_KEYWORD_MASKED:
			this_cpu_inc(s->keywords_masked);
			break;
		default:
			break;
		}
	}
}

/*
 * Kernel log: drops and resets only, one line per connection at most and
 * within net_ratelimit(); from other namespaces only if
 * net.netfilter.nf_log_all_netns is set, as for nf_log. The token is
 * attacker bytes: non-ASCII and control bytes become \xNN. The netlink
 * event stream carries everything.
 */
static void smtp_log(struct nf_conn *ct, const struct sg_event *ev)
{
	const struct nf_conntrack_tuple *t = &ct->tuplehash[IP_CT_DIR_ORIGINAL].tuple;
	struct smtp_help_data *hd = nfct_help_data(ct);
	struct net *net = nf_ct_net(ct);
	char tok[SG_TOKEN_LEN * 4 + 1];	/* every byte may become \xNN */
	int n;

	if (ev->action != SG_A_DROP && ev->action != SG_A_RESET)
		return;
	if (!net_eq(net, &init_net) && !READ_ONCE(sysctl_nf_log_all_netns))
		return;
	if (test_and_set_bit(SMTP_HB_LOGGED, &hd->flags) || !net_ratelimit())
		return;
	/* %pE leaves bytes >= 0xa0 alone (Latin-1 "printable"): hex them too */
	n = string_escape_mem(ev->token, strnlen(ev->token, SG_TOKEN_LEN), tok,
			      sizeof(tok) - 1, ESCAPE_HEX | ESCAPE_NAP, NULL);
	tok[min_t(int, n, sizeof(tok) - 1)] = '\0';
	if (t->src.l3num == AF_INET6)
		pr_info("%pI6c.%u > %pI6c.%u: %s violation (%s), action %s\n",
			&t->src.u3.in6, ntohs(t->src.u.tcp.port),
			&t->dst.u3.in6, ntohs(t->dst.u.tcp.port),
			sg_class_name(ev->klass), tok, sg_action_name(ev->action));
	else
		pr_info("%pI4:%u > %pI4:%u: %s violation (%s), action %s\n",
			&t->src.u3.ip, ntohs(t->src.u.tcp.port),
			&t->dst.u3.ip, ntohs(t->dst.u.tcp.port),
			sg_class_name(ev->klass), tok, sg_action_name(ev->action));
}

static void smtp_report(struct sk_buff *skb, struct nf_conn *ct,
			const struct sg_result *r)
{
	unsigned int i;

	for (i = 0; i < r->n_events; i++) {
		const struct sg_event *ev = &r->events[i];

		if (ev->kind == SG_EV_VIOLATION)
			smtp_log(ct, ev);
		smtp_nl_event(nf_ct_net(ct), ev, ct);
	}
}

/* The TSval of a TCP timestamp option (RFC 7323), for PAWS. */
static bool smtp_tcp_tsval(const struct sk_buff *skb, unsigned int protoff,
			   const struct tcphdr *th, u32 *tsval)
{
	unsigned int optlen = th->doff * 4 - sizeof(*th), i = 0;
	u8 _opt[MAX_TCP_OPTION_SPACE];
	const u8 *opt;

	if (!optlen)
		return false;
	opt = skb_header_pointer(skb, protoff + sizeof(*th), optlen, _opt);
	if (!opt)
		return false;
	while (i < optlen) {
		if (opt[i] == TCPOPT_EOL)
			break;
		if (opt[i] == TCPOPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= optlen || opt[i + 1] < 2 || i + opt[i + 1] > optlen)
			break;
		if (opt[i] == TCPOPT_TIMESTAMP && opt[i + 1] == TCPOLEN_TIMESTAMP) {
			*tsval = get_unaligned_be32(opt + i + 2);
			return true;
		}
		i += opt[i + 1];
	}
	return false;
}

/*
 * Clear the urgent flag and pointer, fixing the checksum: the receiver
 * then reads the urgent byte inline, as the engine did, whether or not
 * it sets SO_OOBINLINE. Returns false if the header cannot be written.
 */
static bool smtp_tcp_clear_urg(struct sk_buff *skb, unsigned int protoff)
{
	struct tcphdr *th;
	__be16 old_word;

	if (skb_ensure_writable(skb, protoff + sizeof(*th)))
		return false;
	th = (struct tcphdr *)(skb->data + protoff);
	old_word = ((__be16 *)th)[6];	/* doff, flags */
	th->urg = 0;
	inet_proto_csum_replace2(&th->check, skb, old_word, ((__be16 *)th)[6],
				 false);
	inet_proto_csum_replace2(&th->check, skb, th->urg_ptr, 0, false);
	th->urg_ptr = 0;
	return true;
}

/*
 * A TTL (hop limit) that expires past the gateway makes the server drop
 * bytes the engine inspected, so a different copy could follow. Raised
 * to this floor on helped connections, segments reach a server fewer
 * than this many hops away.
 */
#define SMTP_TTL_MIN	64

static bool smtp_ip_ttl_floor(struct sk_buff *skb, u16 l3num)
{
	unsigned int end = skb_network_offset(skb);

	if (l3num == NFPROTO_IPV4) {
		struct iphdr *iph = ip_hdr(skb);
		__be16 old;

		if (iph->ttl >= SMTP_TTL_MIN)
			return true;
		if (skb_ensure_writable(skb, end + sizeof(*iph)))
			return false;
		iph = ip_hdr(skb);
		old = ((__be16 *)iph)[4];	/* ttl, protocol */
		iph->ttl = SMTP_TTL_MIN;
		csum_replace2(&iph->check, old, ((__be16 *)iph)[4]);
		return true;
	}
	if (ipv6_hdr(skb)->hop_limit >= SMTP_TTL_MIN)
		return true;
	if (skb_ensure_writable(skb, end + sizeof(struct ipv6hdr)))
		return false;
	ipv6_hdr(skb)->hop_limit = SMTP_TTL_MIN;
	return true;
}

/* Act on the engine's verdict; @seg is the per-CPU scratch (BH disabled). */
static int smtp_verdict(struct sk_buff *skb, unsigned int protoff,
			unsigned int dataoff, struct nf_conn *ct,
			struct smtp_net *sn, const struct sg_seg *seg, int verdict,
			bool opaque)
{
	const struct tcphdr *th;
	struct tcphdr _th;

	this_cpu_add(sn->stats->bytes, seg->res.new_bytes);
	smtp_count_events(sn, &seg->res);
	smtp_report(skb, ct, &seg->res);

	switch (verdict) {
	case SG_V_PASS:
		/*
		 * Without memory to rewrite, drop: the state has advanced,
		 * but the spans are journaled and the bytes copied, so the
		 * retransmission gets the same treatment.
		 */
		if (unlikely(seg->res.n_spans) &&
		    smtp_payload_rewrite(skb, protoff, dataoff, &seg->res)) {
			this_cpu_inc(sn->stats->drops);
			return NF_DROP;
		}
		/* the receiver must read the stream the engine read */
		th = skb_header_pointer(skb, protoff, sizeof(_th), &_th);
		if (!opaque && th && (((th->urg || th->urg_ptr) &&
				       !smtp_tcp_clear_urg(skb, protoff)) ||
				      !smtp_ip_ttl_floor(skb, nf_ct_l3num(ct)))) {
			this_cpu_inc(sn->stats->drops);
			return NF_DROP;
		}
		return NF_ACCEPT;
	case SG_V_HOLD:
		this_cpu_inc(sn->stats->holds);
		return NF_DROP;
	case SG_V_DROP:
		this_cpu_inc(sn->stats->drops);
		return NF_DROP;
	case SG_V_RESET:
		this_cpu_inc(sn->stats->resets);
		smtp_payload_reset(nf_ct_net(ct), skb, protoff, nf_ct_l3num(ct),
				   NF_INET_POST_ROUTING);
		return NF_ACCEPT;	/* now an RST for the receiver */
	}
	return NF_ACCEPT;
}

/* One engine pass over the segment's payload; returns the verdict. */
static int smtp_inspect(struct sk_buff *skb, unsigned int dataoff,
			struct sg_seg *seg, struct sg_conn *st,
			const struct sg_policy *pol, enum sg_dir dir,
			const struct tcphdr *th, unsigned int datalen, u8 flags,
			bool has_ts, u32 tsval)
{
	sg_seg_begin(seg, st, pol, dir, ntohl(th->seq), datalen,
		     ntohl(th->ack_seq), flags);
	if (has_ts)
		sg_seg_timestamp(seg, tsval);
	smtp_payload_feed(skb, dataoff, seg);
	return sg_seg_end(seg);
}

int smtp_help(struct sk_buff *skb, unsigned int protoff, struct nf_conn *ct,
	      enum ip_conntrack_info ctinfo)
{
	struct smtp_net *sn = smtp_pernet(nf_ct_net(ct));
	enum sg_dir dir = CTINFO2DIR(ctinfo) == IP_CT_DIR_ORIGINAL ?
			  SG_DIR_CLIENT : SG_DIR_SERVER;
	unsigned int dataoff, datalen;
	struct tcphdr _th;
	const struct tcphdr *th;
	struct smtp_conn_pkt pkt;
	struct smtp_conn *c;
	struct sg_conn *st;
	struct sg_seg *seg;
	bool created, opaque, has_ts;
	u8 flags = 0;
	u32 tsval = 0;
	int verdict, ret;

	/*
	 * Only the connection's own TCP segments: an ICMP error quoting one
	 * (IP_CT_RELATED) has no TCP header at protoff and no stream bytes.
	 */
	if (ctinfo != IP_CT_ESTABLISHED && ctinfo != IP_CT_ESTABLISHED_REPLY &&
	    ctinfo != IP_CT_NEW)
		return NF_ACCEPT;

	th = skb_header_pointer(skb, protoff, sizeof(_th), &_th);
	if (!th)
		return NF_ACCEPT;	/* conntrack already validated TCP */
	dataoff = protoff + th->doff * 4;
	if (dataoff > skb->len)
		return NF_ACCEPT;
	datalen = skb->len - dataoff;

	pkt = (struct smtp_conn_pkt){
		.dir = dir, .syn = th->syn, .ack = th->ack,
		.seq = ntohl(th->seq), .ack_seq = ntohl(th->ack_seq),
		.len = datalen,
	};
	local_bh_disable();
	seg = &this_cpu_ptr(&smtp_scratch)->seg;
	c = smtp_conn_get(ct, &pkt, seg, smtp_policy_get(sn), &created);
	if (c) {
		st = &c->st;
	} else if (!nf_ct_is_confirmed(ct)) {
		/* Nothing is allocated before confirmation (see conn.h). */
		smtp_conn_note_first(ct, &pkt);
		if (!datalen) {
			local_bh_enable();
			return NF_ACCEPT;
		}
		/* TFO or a mid-stream start: judge it from a fresh state */
		st = &this_cpu_ptr(&smtp_scratch)->conn;
		sg_conn_init(st, !th->syn);
	} else {
		local_bh_enable();
		return NF_ACCEPT;	/* TLS, unloading, or no memory */
	}

	if (created)
		this_cpu_inc(sn->stats->sessions);

	if (th->syn)
		flags |= SG_TCP_SYN;
	if (th->ack)
		flags |= SG_TCP_ACK;
	if (th->fin)
		flags |= SG_TCP_FIN;
	if (th->rst)
		flags |= SG_TCP_RST;
	has_ts = smtp_tcp_tsval(skb, protoff, th, &tsval);

	if (c) {
		spin_lock(&c->lock);
		verdict = smtp_inspect(skb, dataoff, seg, st, smtp_policy_get(sn),
				       dir, th, datalen, flags, has_ts, tsval);
		opaque = sg_conn_opaque(st);
		spin_unlock(&c->lock);
	} else {
		verdict = smtp_inspect(skb, dataoff, seg, st, smtp_policy_get(sn),
				       dir, th, datalen, flags, has_ts, tsval);
		opaque = false;
	}

	if (opaque) {
		struct smtp_help_data *hd = nfct_help_data(ct);

		/*
		 * TLS: nothing is inspected again, so the state can go now.
		 * ctnetlink listeners (conntrackd) must learn it at once, or a
		 * failover would take the session as plaintext.
		 */
		if (!test_and_set_bit(SMTP_HB_OPAQUE, &hd->flags))
			nf_conntrack_event_cache(IPCT_HELPER, ct);
		smtp_conn_destroy(ct);
	}

	ret = smtp_verdict(skb, protoff, dataoff, ct, sn, seg, verdict, opaque);
	local_bh_enable();
	return ret;
}

/* ctnetlink has opened CTA_HELP and put the name; ours goes in CTA_HELP_INFO. */
int smtp_to_nlattr(struct sk_buff *skb, const struct nf_conn *ct)
{
	const struct smtp_help_data *hd = nfct_help_data(ct);
	struct nlattr *nest;

	nest = nla_nest_start(skb, CTA_HELP_INFO);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u32(skb, SMTP_HELP_INFO_FLAGS,
			test_bit(SMTP_HB_OPAQUE, &hd->flags) ? SMTP_HF_OPAQUE : 0)) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

static const struct nla_policy smtp_help_info_policy[SMTP_HELP_INFO_FLAGS + 1] = {
	[SMTP_HELP_INFO_FLAGS] = { .type = NLA_U32 },
};

int smtp_from_nlattr(struct nlattr *attr, struct nf_conn *ct)
{
	struct nlattr *tb[SMTP_HELP_INFO_FLAGS + 1];
	struct smtp_help_data *hd = nfct_help_data(ct);

	/*
	 * Injected by ctnetlink, typically conntrackd on a backup gateway:
	 * the engine has seen nothing of this stream, so it must pick up
	 * mid-stream; a stream already in TLS stays opaque. The _deprecated
	 * parser because libnetfilter_conntrack sends CTA_HELP_INFO without
	 * NLA_F_NESTED.
	 */
	set_bit(SMTP_HB_PICKUP, &hd->flags);
	if (attr &&
	    !nla_parse_nested_deprecated(tb, SMTP_HELP_INFO_FLAGS, attr,
					 smtp_help_info_policy, NULL) &&
	    tb[SMTP_HELP_INFO_FLAGS] &&
	    (nla_get_u32(tb[SMTP_HELP_INFO_FLAGS]) & SMTP_HF_OPAQUE))
		set_bit(SMTP_HB_OPAQUE, &hd->flags);
	return 0;
}
