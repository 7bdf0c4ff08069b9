// SPDX-License-Identifier: GPL-2.0
/* Parse and rewrite IPv4/IPv6 TCP packets for the NFQUEUE engine. */
#include <string.h>
#include <arpa/inet.h>
#include "nfq_packet.h"

#define IPPROTO_TCP_NUM	6

static uint16_t rd16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static uint32_t rd32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	       (uint32_t)b[2] << 8 | b[3];
}

/* IPv6 extension headers walked to reach TCP (RFC 8200 4.1). */
#define IP6_HOPOPTS	0
#define IP6_ROUTING	43
#define IP6_FRAGMENT	44
#define IP6_DSTOPTS	60
#define IP6_EXT_MAX	8	/* more in a row: uninspectable */

/* TCP options: the TSval of a timestamp option. */
static void parse_tsopt(struct nfq_tcp_pkt *p, const uint8_t *o, size_t n)
{
	size_t i = 0;

	while (i < n) {
		if (o[i] == 0)		/* EOL */
			break;
		if (o[i] == 1) {	/* NOP */
			i++;
			continue;
		}
		if (i + 1 >= n || o[i + 1] < 2 || i + o[i + 1] > n)
			break;
		if (o[i] == 8 && o[i + 1] == 10) {
			p->has_ts = 1;
			p->tsval = rd32(o + i + 2);
			return;
		}
		i += o[i + 1];
	}
}

int nfq_tcp_parse(struct nfq_tcp_pkt *p, uint8_t *data, size_t len)
{
	size_t l4;
	uint8_t thl, fl;

	memset(p, 0, sizeof(*p));
	p->data = data;
	p->len = len;
	if (len < 20)
		return NFQ_NOT_TCP;
	if (data[0] >> 4 == 4) {
		size_t ihl = (size_t)(data[0] & 0xf) * 4;

		if (ihl < 20 || len < ihl || rd16(data + 2) != len)
			return NFQ_NOT_TCP;
		if (data[9] != IPPROTO_TCP_NUM)
			return NFQ_NOT_TCP;
		/* a fragment: conntrack defragments before the queue, so this
		 * is one it could not reassemble; never pass part of a
		 * segment uninspected */
		if (rd16(data + 6) & 0x3fff)
			return NFQ_UNINSPECTABLE;
		p->family = 4;
		memcpy(p->saddr, data + 12, 4);
		memcpy(p->daddr, data + 16, 4);
		l4 = ihl;
	} else if (data[0] >> 4 == 6) {
		uint8_t nh;
		int k;

		if (len < 40 || (size_t)rd16(data + 4) + 40 != len)
			return NFQ_NOT_TCP;
		nh = data[6];
		l4 = 40;
		for (k = 0; nh != IPPROTO_TCP_NUM; k++) {
			if (nh != IP6_HOPOPTS && nh != IP6_ROUTING &&
			    nh != IP6_DSTOPTS && nh != IP6_FRAGMENT)
				/* ESP, AH, no next header, or another
				 * protocol: not a TCP segment we can see */
				return k ? NFQ_UNINSPECTABLE : NFQ_NOT_TCP;
			if (k == IP6_EXT_MAX || len < l4 + 8)
				return NFQ_UNINSPECTABLE;
			if (nh == IP6_FRAGMENT) {
				/* offset or more-fragments: a real fragment */
				if (rd16(data + l4 + 2) & 0xfff9)
					return NFQ_UNINSPECTABLE;
				nh = data[l4];
				l4 += 8;
				continue;
			}
			nh = data[l4];
			l4 += ((size_t)data[l4 + 1] + 1) * 8;
			if (l4 > len)
				return NFQ_UNINSPECTABLE;
		}
		p->family = 6;
		memcpy(p->saddr, data + 8, 16);
		memcpy(p->daddr, data + 24, 16);
	} else {
		return NFQ_NOT_TCP;
	}
	if (len < l4 + 20)
		return NFQ_UNINSPECTABLE;
	thl = (uint8_t)((data[l4 + 12] >> 4) * 4);
	if (thl < 20 || len < l4 + thl)
		return NFQ_UNINSPECTABLE;
	p->l4off = l4;
	p->payoff = l4 + thl;
	p->sport = rd16(data + l4);
	p->dport = rd16(data + l4 + 2);
	p->seq = rd32(data + l4 + 4);
	p->ack = rd32(data + l4 + 8);
	fl = data[l4 + 13];
	p->flags = (uint8_t)((fl & 0x02 ? SG_TCP_SYN : 0) |
			     (fl & 0x10 ? SG_TCP_ACK : 0) |
			     (fl & 0x01 ? SG_TCP_FIN : 0) |
			     (fl & 0x04 ? SG_TCP_RST : 0));
	parse_tsopt(p, data + l4 + 20, thl - 20u);
	return NFQ_TCP;
}

/* One's complement sum of @n bytes that start at an even (@odd=0) or odd
 * offset of the TCP segment. */
static uint32_t sum_bytes(const uint8_t *b, size_t n, int odd, uint32_t s)
{
	size_t i;

	for (i = 0; i < n; i++)
		s += ((i + (size_t)odd) & 1) ? b[i] : (uint32_t)b[i] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m') */
static void csum_update(uint8_t *check, uint32_t old_sum, uint32_t new_sum)
{
	uint32_t hc = (uint32_t)(uint16_t)~rd16(check);

	hc += (uint16_t)~fold(old_sum);
	hc += fold(new_sum);
	hc = (uint16_t)~fold(hc);
	check[0] = (uint8_t)(hc >> 8);
	check[1] = (uint8_t)hc;
}

void nfq_tcp_rewrite(struct nfq_tcp_pkt *p, const struct sg_result *res)
{
	uint8_t *check = p->data + p->l4off + 16;
	unsigned int i;

	for (i = 0; i < res->n_spans; i++) {
		const struct sg_span *sp = &res->spans[i];
		size_t at = p->payoff + sp->off;
		int odd = (int)((at - p->l4off) & 1);
		uint32_t olds, news;

		if (sp->len == 0 || at + sp->len > p->len)
			continue;
		olds = sum_bytes(p->data + at, sp->len, odd, 0);
		memset(p->data + at, sp->ch, sp->len);
		news = sum_bytes(p->data + at, sp->len, odd, 0);
		csum_update(check, olds, news);
	}
}

void nfq_tcp_make_rst(struct nfq_tcp_pkt *p)
{
	uint8_t *fl = p->data + p->l4off + 13;
	uint8_t *check = p->data + p->l4off + 16;
	uint32_t olds = (uint32_t)*fl, news;

	/* flags are the odd byte of the doff/flags word */
	*fl = (uint8_t)((*fl & 0x10) | 0x04);	/* keep ACK, set RST */
	news = *fl;
	csum_update(check, olds, news);
}

int nfq_tcp_has_urg(const struct nfq_tcp_pkt *p)
{
	const uint8_t *th = p->data + p->l4off;

	return (th[13] & 0x20) || th[18] || th[19];
}

void nfq_tcp_clear_urg(struct nfq_tcp_pkt *p)
{
	uint8_t *th = p->data + p->l4off;
	uint32_t olds = sum_bytes(th + 12, 2, 0, 0) + sum_bytes(th + 18, 2, 0, 0);

	th[13] &= (uint8_t)~0x20;
	th[18] = 0;
	th[19] = 0;
	csum_update(th + 16, olds, sum_bytes(th + 12, 2, 0, 0));
}

int nfq_ip_ttl_floor(struct nfq_tcp_pkt *p, uint8_t min)
{
	uint8_t *ip = p->data;
	uint32_t olds;

	if (p->family == 6) {
		if (ip[7] >= min)
			return 0;
		ip[7] = min;
		return 1;
	}
	if (ip[8] >= min)
		return 0;
	olds = sum_bytes(ip + 8, 2, 0, 0);	/* ttl, protocol */
	ip[8] = min;
	csum_update(ip + 10, olds, sum_bytes(ip + 8, 2, 0, 0));
	return 1;
}

uint16_t nfq_tcp_checksum(const struct nfq_tcp_pkt *p)
{
	size_t tcplen = p->len - p->l4off;
	size_t alen = p->family == 4 ? 4 : 16;
	uint32_t s = 0;

	s = sum_bytes(p->saddr, alen, 0, s);
	s = sum_bytes(p->daddr, alen, 0, s);
	s += IPPROTO_TCP_NUM;
	s += (uint32_t)(tcplen & 0xffff) + (uint32_t)(tcplen >> 16);
	s = sum_bytes(p->data + p->l4off, 16, 0, s);	/* up to check */
	s = sum_bytes(p->data + p->l4off + 18, tcplen - 18, 0, s);
	return (uint16_t)~fold(s);
}
