/* SPDX-License-Identifier: GPL-2.0 */
/*
 * smtpguard inspection engine: a same-length rewriting model of one SMTP
 * session, fed TCP segments from both directions.
 *
 * Freestanding: no allocation, no libc, no kernel calls. The caller owns
 * all memory: a struct sg_conn per connection (see SG_CONN_SIZE_MAX) and
 * a struct sg_seg on its stack for each segment.
 *
 * Per segment:
 *	sg_seg_begin(&seg, conn, policy, dir, seq, len, ack, tcp_flags);
 *	sg_seg_timestamp(&seg, tsval);	   (if the segment has a TCP TSopt)
 *	sg_seg_feed(&seg, chunk, n);	   (repeat: consecutive payload chunks)
 *	verdict = sg_seg_end(&seg);
 * then apply seg.res.spans[] to the payload (offsets from the segment's
 * first payload byte) when the verdict is SG_V_PASS, and report
 * seg.res.events[]. Only SG_V_PASS commits the new state into @conn: a
 * held, dropped or reset segment leaves @conn as it was, so its
 * retransmission is judged afresh.
 *
 * Guarantees (proved by tests/fuzz; the stream model and its limits are
 * in doc/stream-model.md):
 *  - spans never change the length of the stream;
 *  - the bytes of the stream after rewriting are the same however the
 *    stream is cut into segments and whatever is retransmitted, as long
 *    as retransmitted bytes lie at or above the peer's last ACK;
 *  - a verb that the policy does not allow never reaches the server
 *    whole at the start of a command line;
 *  - payload a Linux receiver would discard (SYN and RST payload, data
 *    past a FIN, a segment PAWS rejects) is never consumed;
 *  - re-sent client command bytes that differ from the inspected copy,
 *    and re-sent DATA that forms an end-of-data shape, are a desync
 *    violation, never passed as inspected.
 *
 * The caller clears the urgent flag and pointer of every segment it
 * passes, so the receiver reads the urgent byte inline, as the engine did.
 */
#ifndef SMTPGUARD_ENGINE_H
#define SMTPGUARD_ENGINE_H

#include "shim.h"
#include "policy.h"

enum sg_dir {
	SG_DIR_CLIENT,		/* client to server: commands, DATA */
	SG_DIR_SERVER,		/* server to client: replies */
};

enum sg_verdict {
	SG_V_PASS,		/* forward, after applying spans */
	SG_V_HOLD,		/* drop now; the sender's retransmission will pass */
	SG_V_DROP,		/* drop: policy action */
	SG_V_RESET,		/* reset both ends: policy action */
};

/* tcp_flags for sg_seg_begin() */
#define SG_TCP_SYN	0x01
#define SG_TCP_ACK	0x02	/* @ack is valid */
#define SG_TCP_FIN	0x04
#define SG_TCP_RST	0x08

/* A same-length rewrite: payload[off .. off+len) all become @ch. */
struct sg_span {
	u32 off;
	u16 len;
	u8 ch;
	u8 pad;
};

#define SG_TOKEN_LEN	12	/* bytes of a verb/keyword kept for events */

/* A violation or a mask, for counters and the event stream. */
enum sg_event_kind {
	SG_EV_VIOLATION,	/* class/action say what happened */
	SG_EV_BANNER_MASKED,	/* a greeting line was masked */
	SG_EV_KEYWORD_MASKED,	/* an EHLO keyword was masked; token says which */
	SG_EV_TLS_STARTED,	/* stream is opaque from now on */
	SG_EV_PICKUP,		/* picked up mid-stream; value = mode */
};

struct sg_event {
	u8 kind;		/* enum sg_event_kind */
	u8 klass;		/* enum sg_class, for SG_EV_VIOLATION */
	u8 action;		/* enum sg_action taken */
	u8 dir;			/* enum sg_dir */
	u32 value;		/* measured value (line length, count...) */
	u32 limit;		/* the limit it broke, 0 if none */
	char token[SG_TOKEN_LEN];	/* verb or keyword, uppercased, NUL-padded */
};

#define SG_SPANS_MAX	32	/* rewrites reported for one segment */
/* Events reported for one segment; past it a drop or reset replaces the
 * newest other event.
 */
#define SG_EVENTS_MAX	16

struct sg_result {
	u8 verdict;		/* enum sg_verdict, valid after sg_seg_end() */
	u8 n_spans;
	u8 n_events;
	u8 events_lost;		/* events beyond SG_EVENTS_MAX */
	u32 new_bytes;		/* payload bytes seen for the first time */
	struct sg_span spans[SG_SPANS_MAX];
	struct sg_event events[SG_EVENTS_MAX];
};

/*
 * Per-connection state, both directions. Layout is private to engine.c;
 * its size is fixed here so callers can embed or slab-allocate it. The
 * first SG_STATE_SIZE bytes are the lexer state, copied per segment and
 * committed on SG_V_PASS; the rest (rewrite journal, copy of unacked
 * command bytes) is only written at commit, or in its free space.
 */
#define SG_CONN_SIZE_MAX	704
#define SG_STATE_SIZE		128
struct sg_conn {
	u64 opaque[SG_CONN_SIZE_MAX / 8];
};

struct sg_state {
	u64 opaque[SG_STATE_SIZE / 8];
};

/* Start a connection. @pickup: first seen mid-stream (e.g. synced by
 * conntrackd); the engine then resynchronises per policy->pickup.
 */
void sg_conn_init(struct sg_conn *conn, bool pickup);

/*
 * A secret per connection (from the caller's RNG): keys the fingerprint
 * of command bytes too many to copy, so a client cannot forge one.
 */
void sg_conn_key(struct sg_conn *conn, u32 key);

/* Whether the engine has stopped inspecting (TLS started, or given up). */
bool sg_conn_opaque(const struct sg_conn *conn);
/* Whether the connection is still resynchronising after a pickup. */
bool sg_conn_picking_up(const struct sg_conn *conn);
/*
 * Whether an RST at @seq from @dir is at the exact next sequence number,
 * so a Linux receiver accepts it (RFC 5961) and the connection is over.
 */
bool sg_conn_rst_exact(const struct sg_conn *conn, enum sg_dir dir, u32 seq);

struct sg_seg {
	struct sg_state work;	/* working copy; committed on SG_V_PASS */
	struct sg_conn *conn;
	const struct sg_policy *pol;
	u32 pos;		/* payload bytes fed so far */
	u32 len;		/* payload length announced to sg_seg_begin */
	u32 skip;		/* leading bytes that are retransmitted */
	u8 dir;
	u8 flags;
	/* private to engine.c */
	u8 sflags;		/* per-segment state bits */
	u8 n_replay;		/* leading spans replayed from the journal */
	u32 seq;		/* sequence number of payload byte 0 */
	u32 ack;		/* @ack of sg_seg_begin */
	u32 tsval;		/* TSopt value, with SEG_TS in sflags2 */
	u32 stage_seq;		/* sequence number of the first staged byte */
	u32 cmd_end;		/* after the last new command byte */
	u32 uv_cov;		/* re-sent bytes of the uncopied range */
	u64 uv_run, uv_snap;	/* fingerprint of bytes past the copy */
	u64 uv_chk;		/* fingerprint of the re-sent ones */
	u16 staged;		/* command bytes copied to the ring's free space */
	u8 sflags2;		/* more per-segment state bits */
	u8 rstate;		/* DATA guard over re-sent bytes */
	struct sg_result res;
};

void sg_seg_begin(struct sg_seg *seg, struct sg_conn *conn,
		  const struct sg_policy *pol, enum sg_dir dir,
		  u32 seq, u32 len, u32 ack, u8 tcp_flags);
/* The segment's TCP timestamp value (RFC 7323), for PAWS. */
void sg_seg_timestamp(struct sg_seg *seg, u32 tsval);
void sg_seg_feed(struct sg_seg *seg, const u8 *data, u32 n);
enum sg_verdict sg_seg_end(struct sg_seg *seg);

#endif /* SMTPGUARD_ENGINE_H */
