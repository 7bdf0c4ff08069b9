// SPDX-License-Identifier: GPL-2.0
/*
 * The NFQUEUE engine's incremental TCP checksum update must equal a full
 * recomputation for every span position (odd and even offsets), length
 * and family, and an RST conversion must keep the checksum valid.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nfq_packet.h"

static unsigned int passed, failed;

static void expect(int cond, const char *what, unsigned int iter)
{
	if (cond) {
		passed++;
		return;
	}
	failed++;
	printf("not ok - %s (iteration %u)\n", what, iter);
}

static size_t build(uint8_t *b, int family, size_t paylen, unsigned int seed)
{
	size_t l4 = family == 4 ? 20 : 40, len = l4 + 20 + paylen, i;

	srand(seed);
	for (i = 0; i < len; i++)
		b[i] = (uint8_t)rand();
	if (family == 4) {
		b[0] = 0x45;
		b[2] = (uint8_t)(len >> 8);
		b[3] = (uint8_t)len;
		b[6] = 0x40;	/* DF, no fragment offset */
		b[7] = 0;
		b[9] = 6;
	} else {
		b[0] = 0x60;
		b[4] = (uint8_t)((len - 40) >> 8);
		b[5] = (uint8_t)(len - 40);
		b[6] = 6;
	}
	b[l4 + 12] = 5 << 4;	/* doff 5 */
	b[l4 + 13] = 0x18;	/* PSH ACK */
	return len;
}

int main(void)
{
	static uint8_t buf[2048];
	unsigned int iter;

	for (iter = 0; iter < 4000; iter++) {
		int family = iter & 1 ? 6 : 4;
		size_t paylen = 1 + (size_t)(iter * 7919u % 1400);
		struct nfq_tcp_pkt p;
		struct sg_result res;
		uint16_t c;
		size_t len = build(buf, family, paylen, iter);
		unsigned int i;

		if (nfq_tcp_parse(&p, buf, len)) {
			expect(0, "parse", iter);
			continue;
		}
		c = nfq_tcp_checksum(&p);
		buf[p.l4off + 16] = (uint8_t)(c >> 8);
		buf[p.l4off + 17] = (uint8_t)c;

		memset(&res, 0, sizeof(res));
		res.n_spans = (uint8_t)(1 + iter % 4);
		for (i = 0; i < res.n_spans; i++) {
			uint32_t off = (uint32_t)rand() % (uint32_t)paylen;
			uint32_t room = (uint32_t)paylen - off;

			res.spans[i].off = off;
			res.spans[i].len = (uint16_t)(1 + (uint32_t)rand() % room);
			res.spans[i].ch = i & 1 ? '*' : 'X';
		}
		nfq_tcp_rewrite(&p, &res);
		c = nfq_tcp_checksum(&p);
		expect(buf[p.l4off + 16] == (uint8_t)(c >> 8) &&
		       buf[p.l4off + 17] == (uint8_t)c, "rewrite checksum", iter);

		/* URG and the urgent pointer cleared, checksum still right */
		buf[p.l4off + 13] |= 0x20;
		buf[p.l4off + 18] = (uint8_t)(iter >> 3);
		buf[p.l4off + 19] = (uint8_t)(iter | 1);
		c = nfq_tcp_checksum(&p);
		buf[p.l4off + 16] = (uint8_t)(c >> 8);
		buf[p.l4off + 17] = (uint8_t)c;
		expect(nfq_tcp_has_urg(&p), "urg seen", iter);
		nfq_tcp_clear_urg(&p);
		c = nfq_tcp_checksum(&p);
		expect(buf[p.l4off + 16] == (uint8_t)(c >> 8) &&
		       buf[p.l4off + 17] == (uint8_t)c, "urg clear checksum", iter);
		expect(!nfq_tcp_has_urg(&p) && !(buf[p.l4off + 13] & 0x20),
		       "urg cleared", iter);

		nfq_tcp_make_rst(&p);
		c = nfq_tcp_checksum(&p);
		expect(buf[p.l4off + 16] == (uint8_t)(c >> 8) &&
		       buf[p.l4off + 17] == (uint8_t)c, "rst checksum", iter);
		expect((buf[p.l4off + 13] & 0x04) != 0, "rst flag", iter);
	}

	/* Malformed packets are refused, not read past their end. */
	{
		struct nfq_tcp_pkt p;
		size_t len = build(buf, 4, 10, 1);

		expect(nfq_tcp_parse(&p, buf, 19) != 0, "short packet", 0);
		buf[0] = 0x4f;	/* ihl 60 > what is left */
		expect(nfq_tcp_parse(&p, buf, 50) != 0, "bad ihl", 0);
		buf[0] = 0x45;
		expect(nfq_tcp_parse(&p, buf, len - 1) != 0, "length mismatch", 0);
		buf[20 + 12] = 0xf0;	/* doff 60 beyond packet */
		expect(nfq_tcp_parse(&p, buf, len) != 0, "bad doff", 0);
	}

	/* Fragments and IPv6 extension headers: inspected or dropped. */
	{
		struct nfq_tcp_pkt p;
		size_t len = build(buf, 4, 10, 2);

		buf[6] = 0x20;	/* more fragments */
		expect(nfq_tcp_parse(&p, buf, len) == NFQ_UNINSPECTABLE,
		       "IPv4 first fragment dropped", 0);
		buf[6] = 0;
		buf[7] = 8;	/* offset 64 */
		expect(nfq_tcp_parse(&p, buf, len) == NFQ_UNINSPECTABLE,
		       "IPv4 later fragment dropped", 0);
		buf[9] = 17;
		expect(nfq_tcp_parse(&p, buf, len) == NFQ_NOT_TCP,
		       "IPv4 UDP passes", 0);
	}
	{
		/* IPv6 + hop-by-hop (8) + destination options (16) + TCP */
		struct nfq_tcp_pkt p;
		size_t len = 40 + 8 + 16 + 32 + 5;
		unsigned int i;

		memset(buf, 0, sizeof(buf));
		buf[0] = 0x60;
		buf[4] = (uint8_t)((len - 40) >> 8);
		buf[5] = (uint8_t)(len - 40);
		buf[6] = 0;		/* hop-by-hop */
		buf[40] = 60;		/* next: destination options */
		buf[41] = 0;
		buf[48] = 6;		/* next: TCP */
		buf[49] = 1;		/* 16 bytes */
		buf[64 + 12] = 8 << 4;	/* doff 8: 12 option bytes */
		buf[64 + 13] = 0x18;
		buf[64 + 20] = 1;	/* NOP NOP TS */
		buf[64 + 21] = 1;
		buf[64 + 22] = 8;
		buf[64 + 23] = 10;
		buf[64 + 24] = 0x12;
		buf[64 + 25] = 0x34;
		buf[64 + 26] = 0x56;
		buf[64 + 27] = 0x78;
		for (i = 0; i < 5; i++)
			buf[96 + i] = (uint8_t)"VRFY "[i];
		expect(nfq_tcp_parse(&p, buf, len) == NFQ_TCP && p.l4off == 64 &&
		       p.payoff == 96, "IPv6 extension headers walked", 0);
		expect(p.has_ts && p.tsval == 0x12345678, "TSval parsed", 0);
		buf[48] = 44;		/* next: fragment header */
		buf[49] = 0;
		buf[58] = 0;
		buf[59] = 1;		/* more fragments */
		expect(nfq_tcp_parse(&p, buf, len) == NFQ_UNINSPECTABLE,
		       "IPv6 fragment dropped", 0);
		buf[48] = 50;		/* ESP after a hop-by-hop header */
		expect(nfq_tcp_parse(&p, buf, len) == NFQ_UNINSPECTABLE,
		       "IPv6 ESP behind an extension header dropped", 0);
	}

	/* TTL floor: IPv4 header checksum stays right */
	{
		struct nfq_tcp_pkt p;
		size_t len = build(buf, 4, 10, 3);
		uint32_t s = 0;
		unsigned int i;

		buf[8] = 3;
		buf[10] = buf[11] = 0;
		for (i = 0; i < 20; i += 2)
			s += (uint32_t)buf[i] << 8 | buf[i + 1];
		while (s >> 16)
			s = (s & 0xffff) + (s >> 16);
		buf[10] = (uint8_t)(~s >> 8);
		buf[11] = (uint8_t)~s;
		nfq_tcp_parse(&p, buf, len);
		expect(nfq_ip_ttl_floor(&p, 64) && buf[8] == 64, "ttl raised", 0);
		for (s = 0, i = 0; i < 20; i += 2)
			s += (uint32_t)buf[i] << 8 | buf[i + 1];
		while (s >> 16)
			s = (s & 0xffff) + (s >> 16);
		expect(s == 0xffff, "ip checksum after ttl", 0);
		expect(!nfq_ip_ttl_floor(&p, 64), "ttl 64 kept", 0);
	}

	printf("%u passed, %u failed\n", passed, failed);
	return failed != 0;
}
