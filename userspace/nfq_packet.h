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
	uint8_t has_ts;		/* tsval holds a TCP timestamp (RFC 7323) */
	uint32_t tsval;
};

enum nfq_parse {
	NFQ_TCP = 0,		/* parsed: inspect it */
	NFQ_NOT_TCP = -1,	/* not TCP: pass it */
	NFQ_UNINSPECTABLE = -2,	/* TCP (or maybe TCP) that cannot be read
				 * whole: an IP fragment, an IPv6 extension
				 * header chain we do not walk, a truncated
				 * header; drop it, never pass it uninspected */
};

/* Parse @data; returns enum nfq_parse. */
int nfq_tcp_parse(struct nfq_tcp_pkt *p, uint8_t *data, size_t len);

/* Clear URG and the urgent pointer (checksum updated): the receiver then
 * reads the urgent byte inline, as the engine did. */
void nfq_tcp_clear_urg(struct nfq_tcp_pkt *p);
/* Whether URG or an urgent pointer is set. */
int nfq_tcp_has_urg(const struct nfq_tcp_pkt *p);

/* Raise the IPv4 TTL or IPv6 hop limit to @min (IPv4 checksum updated),
 * so the segment cannot expire between the gateway and the server.
 * Returns whether it changed the packet. */
int nfq_ip_ttl_floor(struct nfq_tcp_pkt *p, uint8_t min);

/* Apply the engine's spans, updating the TCP checksum incrementally. */
void nfq_tcp_rewrite(struct nfq_tcp_pkt *p, const struct sg_result *res);

/* Turn the packet into an RST for its receiver (keeps seq/ack). */
void nfq_tcp_make_rst(struct nfq_tcp_pkt *p);

/* Full TCP checksum over the packet as it is now (tests, RST building). */
uint16_t nfq_tcp_checksum(const struct nfq_tcp_pkt *p);

#endif /* SMTPGUARD_NFQ_PACKET_H */
