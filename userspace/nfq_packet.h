/* SPDX-License-Identifier: GPL-2.0 */
/* IPv4/IPv6 + TCP packets as NFQUEUE hands them over: parse and rewrite. */
#ifndef SMTPGUARD_NFQ_PACKET_H
#define SMTPGUARD_NFQ_PACKET_H

#include <stddef.h>
#include <stdint.h>
#include "../kmod/engine/engine.h"

struct nfq_tcp_pkt {
	uint8_t *data;		/* whole IP packet */
	size_t len;
	uint8_t family;		/* 4 or 6 */
	size_t l4off;		/* TCP header */
	size_t payoff;		/* TCP payload */
	uint8_t saddr[16], daddr[16];	/* v4 uses the first 4 bytes */
	uint16_t sport, dport;		/* host order */
	uint32_t seq, ack;
	uint8_t flags;		/* SG_TCP_* */
};

/* 0, or -1 if @data is not a well-formed TCP packet (then pass it). */
int nfq_tcp_parse(struct nfq_tcp_pkt *p, uint8_t *data, size_t len);

/* Apply the engine's spans, updating the TCP checksum incrementally. */
void nfq_tcp_rewrite(struct nfq_tcp_pkt *p, const struct sg_result *res);

/* Turn the packet into an RST for its receiver (keeps seq/ack). */
void nfq_tcp_make_rst(struct nfq_tcp_pkt *p);

/* Full TCP checksum over the packet as it is now (tests, RST building). */
uint16_t nfq_tcp_checksum(const struct nfq_tcp_pkt *p);

#endif /* SMTPGUARD_NFQ_PACKET_H */
