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

	printf("%u passed, %u failed\n", passed, failed);
	return failed != 0;
}
