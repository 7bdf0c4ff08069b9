// SPDX-License-Identifier: GPL-2.0
/*
 * smtpguard inspection engine: a same-length rewriting model of one SMTP
 * session (see engine.h for the contract).
 *
 * Freestanding: only "shim.h" and the engine headers, no libc, no kernel
 * calls. Compiled into the kernel module and into the userspace tests,
 * fuzzer and benchmark.
 *
 * Overview
 *  - Each direction is a byte stream addressed by TCP sequence number.
 *    Bytes below next_seq are retransmissions: they get exactly the spans
 *    the journal recorded for them the first time, nothing else, and are
 *    checked against what was inspected (doc/stream-model.md): client
 *    command bytes against a copy kept until the server ACKs them, DATA
 *    against end-of-data shapes; a difference is a desync violation.
 *  - Client bytes run through a command-line lexer (verb trie walk,
 *    MAIL/RCPT address checks, BDAT size), a DATA scanner (fast skip to
 *    the next control byte) or a BDAT octet counter.
 *  - Fast paths (plain u64 SWAR, no SIMD, no floating point) take runs of
 *    bytes the per-byte lexers would only count: DATA text between line
 *    ends (a CR LF before an ordinary byte ends a line in place), reply
 *    text, command arguments, address bytes, live verb prefixes. They
 *    stop before any byte that could report, rewrite or change state --
 *    including the byte that would exceed a limit -- so the result is the
 *    per-byte result under any segmentation.
 *  - Trie node indices in the state belong to the policy whose generation
 *    the state records; a new generation rules out a token in progress.
 *    Every index is range-checked before use (sg_trie_acc/sg_trie_step).
 *  - Server bytes run through a reply-line lexer (codes, multi-line
 *    replies, banner and EHLO keyword masking).
 *  - Replies are paired with commands through a run-length queue of
 *    "special" expectations, each with a count of plain replies before it.
 *  - All state changes happen on seg->work; sg_seg_end() commits it only
 *    for SG_V_PASS.
 */
#include "shim.h"
#include "policy.h"
#include "engine.h"
#include "trie.h"

/* ------------------------------------------------------------------ */
/* Private per-connection state                                       */
/* ------------------------------------------------------------------ */

/*
 * Journal capacity: spans of unacknowledged rewrites. A Postfix EHLO reply
 * masks 2 keywords, an Exchange 2019 hub reply 13; a pipelined batch
 * masks a few verbs and '|' in addresses. Full with unacked spans, new
 * spans wait for the ACK (hold); only one segment with more spans than
 * the whole journal is a rewrite-limit violation.
 */
#define SG_J_CLI	20	/* journal entries, client direction */
#define SG_J_SRV	32	/* journal entries, server direction */
#define SG_J_TOTAL	(SG_J_CLI + SG_J_SRV)
#define SG_J_LEN_MAX	0x7fff	/* jlen bit 15 selects the second char */
#define SG_J_ALT	0x8000
#define SG_Q_MAX	4	/* special expectations in flight */
/*
 * Re-sends of only part of the command bytes past the copy held while
 * waiting for the ACK that makes them moot: a tail loss probe and the
 * timeouts of one stalled ACK (200 ms doubling: about 50 s).
 */
#define SG_UV_HOLDS	8

/* Conn flags (flags) */
#define F_OPAQUE	0x01	/* TLS started: never touched again */
#define F_STARTED_C	0x02	/* client direction has a next_seq */
#define F_STARTED_S	0x04	/* server direction has a next_seq */
#define F_PICKUP_S	0x08	/* pickup: server not yet at a safe point */
#define F_PICKUP_C	0x10	/* pickup: client not yet at a line start */
#define F_TLS_WAIT	0x20	/* 220 to STARTTLS seen, client not yet in TLS */
#define F_PICKUP_EV	0x40	/* SG_EV_PICKUP already reported */

/* Client flags (cflags) */
#define CF_PREV_CR	0x01	/* last client byte was CR */
#define CF_AUTH_CONT	0x02	/* next line answers a 334 */
#define CF_VERB_BAD	0x04	/* verb of this line already reported */
#define CF_MASKING	0x08	/* verb bytes are being masked */
#define CF_TLS_PENDING	0x10	/* STARTTLS sent, its reply not yet seen */
#define CF_INJ		0x20	/* client injection already reported */
#define CF_BOL		0x40	/* pickup: last client byte was LF */
#define CF_BDAT_BAD	0x80	/* BDAT arguments malformed */

/* Server flags (sflags) */
#define SF_CONT		0x01	/* inside a multi-line reply */
#define SF_MORE		0x02	/* this line ends with '-': not final */
#define SF_KW_BAD	0x04	/* keyword of this line already masked */
#define SF_INJ		0x08	/* server injection already reported */
#define SF_BADLINE	0x10	/* this line does not start with a code */
#define SF_PREV_CR	0x20	/* last server byte was CR */
#define SF_BANNER_EV	0x40	/* banner event sent for this line */
#define SF_CHUNKING	0x80	/* CHUNKING allowed in the EHLO reply being read */

/* Lexer flags (xflags). The *_REP bits: the current line/path was
 * already reported, so a limit is reported once per line even when a new
 * policy lowers it.
 */
#define X_CLINE_REP	0x01	/* client command or text line */
#define X_SLINE_REP	0x02	/* server reply line */
#define X_ADDR_REP	0x04	/* MAIL/RCPT path */
#define X_AQUOTE	0x08	/* MAIL/RCPT path: inside a quoted string */
#define X_AESC		0x10	/* MAIL/RCPT path: next byte is backslash-escaped */
#define X_BARE_REP	X_AQUOTE /* DATA mode (no path then): bare-newline reported */
#define X_CHUNKING	0x20	/* the latest EHLO reply advertised CHUNKING unmasked */
#define X_TLS_HDR	0xc0	/* TLS record header bytes seen after the 220 (0..2) */
#define X_TLS_ONE	0x40

/* Client modes (cmode) */
enum { CM_CMD, CM_DATA, CM_BDAT, CM_BDAT_LAST };

/* Client command-line lexer states (cst) */
enum {
	CS_BOL,		/* line start, or leading white space */
	CS_VERB,	/* in the verb */
	CS_ARGS,	/* arguments: nothing more to check */
	CS_A_PRE,	/* MAIL/RCPT: before the ':' */
	CS_A_WS,	/* MAIL/RCPT: after ':', before the path */
	CS_A_BR,	/* inside <...> */
	CS_A_BARE,	/* path without <> */
	CS_B_NUM,	/* BDAT: in the size (addr_len: digits) */
	CS_B_LAST,	/* BDAT: in "LAST" (addr_len: letters matched) */
	CS_CONT,	/* AUTH continuation line */
};

/*
 * DATA dot states (ds). A CR is held in CF_PREV_CR until the next byte
 * says whether it was bare; ds is the state before it. "L" states are
 * line starts only for a reader that ends lines on a bare CR or LF.
 */
enum { DS_MID, DS_BOL, DS_DOT, DS_LBOL, DS_LDOT };

/* Server reply-line lexer states (sst) */
enum { SS_SKIP, SS_BOL, SS_CODE, SS_SEP, SS_KW, SS_TEXT };

/* Expectation kinds (queue and rkind) */
enum { R_NONE, R_PLAIN, R_GREETING, R_EHLO, R_STARTTLS, R_DATA, R_AUTH,
	R_EHLO_OLD,	/* an EHLO reply to come, a newer greeting sent since */
};

struct sg_conn_state {
	u32 next_seq[2];	/*  8: next new byte, per direction */
	u32 bdat;		/*  4: BDAT size being parsed / octets left */
	u16 line_len[2];	/*  4: bytes of the current line, saturating */
	u16 addr_len;		/*  2: verb column / path length / BDAT digits */
	u16 rcpts;		/*  2: RCPTs in this transaction */
	u16 q_plain[SG_Q_MAX];	/*  8: plain replies before special i */
	u16 q_tail;		/*  2: plain replies after the last special */
	u16 code;		/*  2: reply code of the current server line */
	u8 q_kind[SG_Q_MAX];	/*  4: special expectation kinds */
	u8 q_n;			/*  1: specials queued */
	u8 flags;		/*  1: F_* */
	u8 cflags;		/*  1: CF_* */
	u8 sflags;		/*  1: SF_* */
	u8 cmode;		/*  1: CM_* */
	u8 cst;			/*  1: CS_* */
	u8 cnode;		/*  1: verb trie node, SG_TRIE_DEAD if off */
	u8 cmd;			/*  1: enum sg_cmd of the current line */
	u8 ds;			/*  1: DS_* */
	u8 sst;			/*  1: SS_* */
	u8 snode;		/*  1: keyword trie node */
	u8 rkind;		/*  1: R_* of the reply being read */
	u8 gen;			/*  1: low 8 bits of cnode/snode's policy generation */
	u8 xflags;		/*  1: X_*, lexer flags */
	/* stream model (doc/stream-model.md) */
	u8 stream;		/*  1: ST_* */
	u32 acked[2];		/*  8: highest ACK of each direction's bytes */
	u32 fin_seq[2];		/*  8: sequence number of the FIN, with ST_FIN_* */
	u32 ts_recent[2];	/*  8: newest in-order TSval, with ST_TS_* (PAWS) */
	u32 data_lo;		/*  4: first byte of the DATA body in progress */
};				/* 80 bytes */

/* Stream flags (stream) */
#define ST_FIN_C	0x01	/* client FIN passed at fin_seq[0] */
#define ST_FIN_S	0x02
#define ST_TS_C		0x04	/* ts_recent[0] valid */
#define ST_TS_S		0x08
#define ST_DATA_MID	0x10	/* DATA began mid-line (a desync logged) */

/*
 * Rewrite journal, both directions: span i of direction d starts at
 * base[d] + off[first(d) + i]. Outside the per-segment copy: written
 * only when a segment commits.
 */
struct sg_journal {
	u32 base[2];
	u32 floor[2];		/* spans below here were evicted */
	u8 n[2];		/* entries used per direction */
	u8 ch[2][2];		/* the two span chars per direction, 0=free */
	u16 off[SG_J_TOTAL];	/* span start - base */
	u16 len[SG_J_TOTAL];	/* span length | SG_J_ALT */
};

/*
 * Copy of the client's unacknowledged command bytes, as runs of
 * contiguous sequence numbers stored one after another in a circular
 * byte buffer. A new segment's command bytes are staged in the free
 * space while it is inspected and become a run when it commits.
 */
#define SG_RING_RUNS	6
#define SG_RING		(SG_CONN_SIZE_MAX - SG_STATE_SIZE - \
			 sizeof(struct sg_journal) - 4 * SG_RING_RUNS - \
			 2 * SG_RING_RUNS - 28)

struct sg_stream {
	struct sg_journal j;
	u32 run_seq[SG_RING_RUNS];
	u16 run_len[SG_RING_RUNS];
	u32 uv_lo, uv_hi;	/* command bytes not copied (uv_lo == uv_hi: none) */
	u32 key;		/* sg_conn_key() */
	u64 uv_hash;		/* their keyed fingerprint */
	u16 rhead;		/* ring index of the first stored byte */
	u16 rused;		/* bytes stored */
	u8 rn;			/* runs used */
	u8 uv_holds;		/* partial re-sends of uv_lo..uv_hi held */
	u8 uv_lost;		/* a partial ACK: the rest cannot be checked */
	u8 pad;
	u8 ring[SG_RING];
};

SG_STATIC_ASSERT(sizeof(struct sg_conn_state) <= SG_STATE_SIZE,
		 "engine state must fit in struct sg_state");
SG_STATIC_ASSERT(SG_STATE_SIZE + sizeof(struct sg_stream) <=
		 sizeof(struct sg_conn),
		 "engine state and stream copy must fit in struct sg_conn");
SG_STATIC_ASSERT(SG_RING >= 256 && SG_RING < 0x8000, "ring size");

/* Per-segment private flags (seg->sflags) */
#define SEG_GAP		0x01	/* starts after next_seq: hold */
#define SEG_STOP	0x02	/* drop/reset decided: stop inspecting */
#define SEG_OVERFLOW	0x04	/* more new spans than can be reported */
#define SEG_OPAQUE	0x08	/* nothing to inspect */
#define SEG_RWLIMIT	0x10	/* new spans did not fit the journal */
#define SEG_DESYNC	0x20	/* desync already reported */
#define SEG_NOFEED	0x40	/* payload never consumed (RST) */

/* More per-segment flags (seg->sflags2) */
#define SEG2_TS		0x01	/* tsval valid */
#define SEG2_PAWS	0x02	/* PAWS would discard it */
#define SEG2_STAGING	0x08	/* command bytes being staged */
#define SEG2_RING_OVER	0x10	/* staged bytes did not fit the ring */
#define SEG2_CMD	0x20	/* new command bytes; cmd_end valid */
#define SEG2_STARTED	0x40	/* the direction's first byte or SYN */

/* Values of a desync event: what could not be established. */
#define SG_DESYNC_CONTENT	1	/* re-sent command bytes differ */
#define SG_DESYNC_UNCOPIED	2	/* re-sent command bytes not kept */
#define SG_DESYNC_EOD		3	/* re-sent DATA ends DATA */
#define SG_DESYNC_MASKS		4	/* re-sent reply older than its masks */

static inline struct sg_conn_state *W(struct sg_seg *seg)
{
	return (struct sg_conn_state *)&seg->work;
}

static inline struct sg_stream *SM(const struct sg_seg *seg)
{
	return (struct sg_stream *)((u8 *)seg->conn + SG_STATE_SIZE);
}

static inline s32 sg_seq_diff(u32 a, u32 b)
{
	return (s32)(a - b);
}

static void sg_bzero(void *p, u32 n)
{
	u8 *b = p;

	while (n--)
		*b++ = 0;
}

static inline u8 sg_up(u8 c)
{
	return (c >= 'a' && c <= 'z') ? (u8)(c - 32) : c;
}

#define SG_ONES		0x0101010101010101ULL
#define SG_LOWS		0x7f7f7f7f7f7f7f7fULL
#define SG_HIGHS	0x8080808080808080ULL

/*
 * Word-at-a-time byte classes (SWAR on plain u64, no SIMD). Each helper
 * returns a word whose bytes have bit 7 set for the bytes of @v that are
 * NOT in the class; the tests are exact per byte (no borrow or carry
 * crosses a byte, since (x & 0x7f) + 0x7f <= 0xfe), so the flags can be
 * combined with & and the first clear one located on either endianness.
 *   sg_w_ge14: bytes >= 14 (so CR, LF, NUL and the other low control
 *		bytes are flagged by a clear bit)
 *   sg_w_ne:	bytes != @c
 */
static inline u64 sg_w_ge14(u64 v)
{
	return ((v & SG_LOWS) + 0x72 * SG_ONES) | v;
}

static inline u64 sg_w_ne(u64 v, u8 c)
{
	u64 y = v ^ (c * SG_ONES);

	return ((y & SG_LOWS) + SG_LOWS) | y;
}

static inline u64 sg_load64(const u8 *p)
{
	u64 v;

	__builtin_memcpy(&v, p, 8);	/* a plain unaligned load */
	return v;
}

static inline u16 sg_load16(const u8 *p)
{
	u16 v;

	__builtin_memcpy(&v, p, 2);
	return v;
}

/* CR LF as sg_load16() reads it */
static inline u16 sg_crlf16(void)
{
	u16 v;

	__builtin_memcpy(&v, "\r\n", 2);
	return v;
}

/* Bytes p[0..8) as a little-endian number, on either endianness. */
static inline u64 sg_load_le64(const u8 *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return __builtin_bswap64(sg_load64(p));
#else
	return sg_load64(p);
#endif
}

/* Index (0..7) of the first byte, in address order, flagged in @t. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
static inline u32 sg_first_flag(u64 t)
{
	return (u32)__builtin_ctzll(t) >> 3;
}
#else
static inline u32 sg_first_flag(u64 t)
{
	return (u32)__builtin_clzll(t) >> 3;
}
#endif

/*
 * Length of the leading run of p[0..n) with no byte below 14 and none
 * equal to @c1 .. @c5 (@nc of them, 0..5; a constant at every call
 * site, so the unused tests fold away).
 */
static inline u32 sg_scan(const u8 *p, u32 n, u32 nc, u8 c1, u8 c2, u8 c3,
			  u8 c4, u8 c5)
{
	u32 i = 0;

	for (; i + 8 <= n; i += 8) {
		u64 v = sg_load64(p + i);
		u64 m = sg_w_ge14(v);

		if (nc > 0)
			m &= sg_w_ne(v, c1);
		if (nc > 1)
			m &= sg_w_ne(v, c2);
		if (nc > 2)
			m &= sg_w_ne(v, c3);
		if (nc > 3)
			m &= sg_w_ne(v, c4);
		if (nc > 4)
			m &= sg_w_ne(v, c5);
		m = ~m & SG_HIGHS;
		if (m)
			return i + sg_first_flag(m);
	}
	for (; i < n; i++) {
		u8 c = p[i];

		if (c < 14 || (nc > 0 && c == c1) || (nc > 1 && c == c2) ||
		    (nc > 2 && c == c3) || (nc > 3 && c == c4) ||
		    (nc > 4 && c == c5))
			break;
	}
	return i;
}

static inline u32 sg_scan_ctl(const u8 *p, u32 n)
{
	return sg_scan(p, n, 0, 0, 0, 0, 0, 0);
}

/* ------------------------------------------------------------------ */
/* Connection                                                         */
/* ------------------------------------------------------------------ */

void sg_conn_init(struct sg_conn *conn, bool pickup)
{
	struct sg_conn_state *s = (struct sg_conn_state *)conn;

	sg_bzero(conn, sizeof(*conn));
	s->cnode = SG_TRIE_DEAD;
	s->cmode = CM_CMD;
	s->cst = CS_BOL;
	s->sst = SS_BOL;
	if (pickup) {
		s->flags = F_PICKUP_S | F_PICKUP_C;
		s->sst = SS_SKIP;
	} else {
		s->q_n = 1;
		s->q_kind[0] = R_GREETING;
	}
}

bool sg_conn_opaque(const struct sg_conn *conn)
{
	return ((const struct sg_conn_state *)conn)->flags & F_OPAQUE;
}

bool sg_conn_picking_up(const struct sg_conn *conn)
{
	return ((const struct sg_conn_state *)conn)->flags &
		(F_PICKUP_S | F_PICKUP_C);
}

void sg_conn_key(struct sg_conn *conn, u32 key)
{
	((struct sg_stream *)((u8 *)conn + SG_STATE_SIZE))->key = key;
}

bool sg_conn_rst_exact(const struct sg_conn *conn, enum sg_dir dir, u32 seq)
{
	const struct sg_conn_state *s = (const struct sg_conn_state *)conn;
	u8 started = dir == SG_DIR_CLIENT ? F_STARTED_C : F_STARTED_S;

	return (s->flags & started) && seq == s->next_seq[dir];
}

/* ------------------------------------------------------------------ */
/* Results: verdicts, events, spans                                   */
/* ------------------------------------------------------------------ */

static void sg_verdict(struct sg_seg *seg, u8 v)
{
	if (v > seg->res.verdict)
		seg->res.verdict = v;
	if (v >= SG_V_DROP)
		seg->sflags |= SEG_STOP;
}

static struct sg_event *sg_event(struct sg_seg *seg, u8 kind)
{
	struct sg_event *ev;

	if (seg->res.n_events >= SG_EVENTS_MAX) {
		if (seg->res.events_lost < 255)
			seg->res.events_lost++;
		return NULL;
	}
	ev = &seg->res.events[seg->res.n_events++];
	sg_bzero(ev, sizeof(*ev));
	ev->kind = kind;
	ev->dir = seg->dir;
	return ev;
}

/*
 * The events array is full and a drop or reset must be reported: it
 * replaces the newest event that is not itself a drop or reset, so the
 * reason for ending the connection is never the one lost.
 */
static struct sg_event *sg_event_evict(struct sg_seg *seg)
{
	u32 i = seg->res.n_events;
	struct sg_event *ev;

	while (i--) {
		ev = &seg->res.events[i];
		if (ev->kind == SG_EV_VIOLATION && ev->action >= SG_A_DROP)
			continue;
		sg_bzero(ev, sizeof(*ev));
		ev->kind = SG_EV_VIOLATION;
		ev->dir = seg->dir;
		return ev;
	}
	return NULL;
}

static inline u8 sg_action(const struct sg_seg *seg, u8 klass)
{
	u8 a = seg->pol->action[klass];

	return a < SG_A_MAX ? a : SG_A_RESET;
}

/* Report a violation of @klass handled with action @a; apply its verdict. */
static u8 sg_report(struct sg_seg *seg, u8 klass, u8 a, u32 value, u32 limit,
		    const char *tok, u32 toklen)
{
	struct sg_event *ev;
	u32 i;

	ev = sg_event(seg, SG_EV_VIOLATION);
	if (!ev && a >= SG_A_DROP)
		ev = sg_event_evict(seg);
	if (ev) {
		ev->klass = klass;
		ev->action = a;
		ev->value = value;
		ev->limit = limit;
		for (i = 0; i < toklen && i < SG_TOKEN_LEN - 1; i++)
			ev->token[i] = tok[i];
	}
	if (a == SG_A_DROP)
		sg_verdict(seg, SG_V_DROP);
	else if (a == SG_A_RESET)
		sg_verdict(seg, SG_V_RESET);
	return a;
}

/* Report a violation of @klass with the policy's action. Returns it. */
static u8 sg_violate(struct sg_seg *seg, u8 klass, u32 value, u32 limit,
		     const char *tok, u32 toklen)
{
	return sg_report(seg, klass, sg_action(seg, klass), value, limit, tok,
			 toklen);
}

/* Rewrite payload byte @off (segment offset) to @ch. */
static void sg_span(struct sg_seg *seg, u32 off, u8 ch)
{
	struct sg_result *r = &seg->res;
	struct sg_span *sp;

	if (r->n_spans > seg->n_replay) {
		sp = &r->spans[r->n_spans - 1];
		if (sp->ch == ch && sp->off + sp->len == off &&
		    sp->len < 0xffff) {
			sp->len++;
			return;
		}
	}
	if (r->n_spans >= SG_SPANS_MAX) {
		seg->sflags |= SEG_OVERFLOW;
		return;
	}
	if (r->n_spans - seg->n_replay >=
	    (seg->dir == SG_DIR_CLIENT ? SG_J_CLI : SG_J_SRV))
		seg->sflags |= SEG_OVERFLOW;
	sp = &r->spans[r->n_spans++];
	sp->off = off;
	sp->len = 1;
	sp->ch = ch;
	sp->pad = 0;
}

/*
 * Mask a word whose end is only known at its terminator: the @n bytes
 * before segment offset @end (letters, never the terminator: the engine
 * never writes CR, LF, SP or TAB). Only bytes new in this segment can
 * still be rewritten, and no span follows them yet. If some of them came
 * earlier, the word cannot be masked as it would be in one piece: report
 * a rewrite-limit (the rewrite came too late, which depends on
 * segmentation, never the bytes) and return false.
 */
static bool sg_mask_back(struct sg_seg *seg, s32 end, u32 n, u8 ch,
			 const char *tok, u32 toklen)
{
	s32 from = end - (s32)n;

	if (from < (s32)seg->skip) {
		seg->sflags |= SEG_RWLIMIT;
		sg_violate(seg, SG_C_REWRITE_LIMIT, n, 0, tok, toklen);
		return false;
	}
	for (; from < end; from++)
		sg_span(seg, (u32)from, ch);
	return true;
}

/*
 * Trie links are only followed when they point forward: the compiler
 * (policy.c) creates every child and sibling after the node that links
 * to it, so indices increase along every link. Anything else -- an index
 * at or past n_nodes or the array, a backward link from a corrupt policy,
 * a node index kept from another policy -- is dead. This bounds every
 * walk and every array access whatever the state and policy hold.
 */
static inline u32 sg_trie_nn(const struct sg_trie *t)
{
	return t->n_nodes < SG_TRIE_NODES_MAX ? t->n_nodes : SG_TRIE_NODES_MAX;
}

/* accept byte of @node, 0 for a dead or out-of-range node */
static inline u8 sg_trie_acc(const struct sg_trie *t, u8 node)
{
	return node < sg_trie_nn(t) ? t->node[node].accept : 0;
}

/* Path from the root to @target, uppercase: the prefix a node stands for. */
static u32 sg_trie_path(const struct sg_trie *t, u8 target, char *buf,
			u32 max)
{
	u8 stack[SG_NAME_MAX + 2];
	u32 depth = 0, i, n, nn = sg_trie_nn(t);
	u8 cur, nx;

	if (target == 0 || target >= nn)
		return 0;
	cur = t->node[0].child;
	while (cur < nn && cur > 0) {
		stack[depth] = cur;
		if (cur == target) {
			n = depth + 1 < max ? depth + 1 : max;
			for (i = 0; i < n; i++)
				buf[i] = (char)t->node[stack[i]].ch;
			return n;
		}
		nx = t->node[cur].child;
		if (nx < nn && nx > cur && depth + 1 < SG_ARRAY_SIZE(stack)) {
			depth++;
			cur = nx;
			continue;
		}
		for (;;) {
			nx = t->node[cur].sibling;
			if (nx < nn && nx > cur)
				break;
			if (depth == 0)
				return 0;
			cur = stack[--depth];
		}
		cur = nx;
	}
	return 0;
}

static inline bool sg_is_term(u8 c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Token for an event: the trie prefix of @node, then the bytes from
 * p[i] on in the current chunk, up to a terminator. Returns its length.
 */
static u32 sg_token(const struct sg_trie *t, u8 node, const u8 *p, u32 i,
		    u32 n, char *tok, bool kw)
{
	u32 len = 0;

	if (node != SG_TRIE_DEAD)
		len = sg_trie_path(t, node, tok, SG_TOKEN_LEN - 1);
	while (i < n && len < SG_TOKEN_LEN - 1) {
		u8 c = p[i++];

		if (sg_is_term(c) || (kw && c == '='))
			break;
		tok[len++] = (char)sg_up(c);
	}
	return len;
}

static inline u8 sg_trie_step(const struct sg_trie *t, u8 node, u8 c)
{
	u32 nn = sg_trie_nn(t);
	u8 x, prev;

	if (node >= nn)
		return SG_TRIE_DEAD;
	c = sg_up(c);
	prev = node;
	for (x = t->node[node].child; x < nn && x > prev;
	     x = t->node[x].sibling) {
		if (t->node[x].ch == c)
			return x;
		prev = x;
	}
	return SG_TRIE_DEAD;
}

/* ------------------------------------------------------------------ */
/* Reply/command pairing queue                                        */
/* ------------------------------------------------------------------ */

static void sg_q_push(struct sg_seg *seg, u8 kind)
{
	struct sg_conn_state *s = W(seg);

	if (kind == R_PLAIN) {
		if (s->q_tail == 0xffff) {
			sg_violate(seg, SG_C_PIPELINE, 0xffff, 0xffff, NULL, 0);
			return;
		}
		s->q_tail++;
		return;
	}
	if (s->q_n >= SG_Q_MAX) {
		sg_violate(seg, SG_C_PIPELINE, s->q_n + 1, SG_Q_MAX, NULL, 0);
		return;
	}
	s->q_plain[s->q_n] = s->q_tail;
	s->q_kind[s->q_n] = kind;
	s->q_n++;
	s->q_tail = 0;
}

static u8 sg_q_head(const struct sg_conn_state *s)
{
	if (s->q_n)
		return s->q_plain[0] ? R_PLAIN : s->q_kind[0];
	return s->q_tail ? R_PLAIN : R_NONE;
}

static void sg_q_pop(struct sg_conn_state *s)
{
	u32 i;

	if (s->q_n) {
		if (s->q_plain[0]) {
			s->q_plain[0]--;
			return;
		}
		for (i = 1; i < s->q_n; i++) {
			s->q_plain[i - 1] = s->q_plain[i];
			s->q_kind[i - 1] = s->q_kind[i];
		}
		s->q_n--;
		return;
	}
	if (s->q_tail)
		s->q_tail--;
}

/* ------------------------------------------------------------------ */
/* Client: command lines                                              */
/* ------------------------------------------------------------------ */

static void sg_cli_line_reset(struct sg_conn_state *s)
{
	s->line_len[SG_DIR_CLIENT] = 0;
	s->cst = CS_BOL;
	s->cmd = SG_CMD_NONE;
	s->cnode = SG_TRIE_DEAD;
	s->addr_len = 0;
	s->cflags &= (u8)(~(CF_VERB_BAD | CF_MASKING | CF_BDAT_BAD) & 0xff);
	s->xflags &= (u8)~(X_CLINE_REP | X_ADDR_REP | X_AQUOTE | X_AESC);
}

static void sg_smuggle(struct sg_seg *seg, u8 c)
{
	sg_violate(seg, SG_C_SMUGGLING, c, 0, NULL, 0);
}

/*
 * A BDAT whose chunk the engine will not count: mask its verb (the @n
 * bytes before segment offset @end), so that no server counts one either
 * and every reader takes the bytes that follow as commands. "log" masks
 * too: passing it whole would let the server and the engine part.
 */
static void sg_bdat_refuse(struct sg_seg *seg, s32 end, u32 n, u32 value,
			   u32 limit)
{
	u8 a = sg_action(seg, SG_C_BDAT);

	if (a == SG_A_LOG)
		a = SG_A_MASK;
	if (a == SG_A_MASK &&
	    !sg_mask_back(seg, end, n, seg->pol->mask_char, "BDAT", 4))
		return;
	sg_report(seg, SG_C_BDAT, a, value, limit, "BDAT", 4);
}

/*
 * BDAT line ended at the LF at segment offset @off: count its chunk only
 * for the strict form "BDAT" SP 1*DIGIT [SP "LAST"] CRLF, the one form
 * every server reads alike (the verb was checked at column 0 with SP and
 * CHUNKING advertised at its end).
 */
static void sg_cli_bdat_line(struct sg_seg *seg, u32 off)
{
	struct sg_conn_state *s = W(seg);
	const struct sg_policy *pol = seg->pol;
	/* the verb's end; before the segment if its line began there */
	s32 vend = (s32)(off + 1) - (s32)s->line_len[0] + 4;
	bool last = s->cst == CS_B_LAST && s->addr_len == 4;

	if ((s->cflags & CF_BDAT_BAD) ||
	    !((s->cst == CS_B_NUM && s->addr_len) || last)) {
		sg_bdat_refuse(seg, vend, 4, 0, 0);
		return;
	}
	if (s->bdat > pol->limit[SG_L_BDAT_CHUNK]) {
		if (sg_action(seg, SG_C_BDAT) == SG_A_MASK) {
			sg_bdat_refuse(seg, vend, 4, s->bdat,
				       pol->limit[SG_L_BDAT_CHUNK]);
			return;
		}
		sg_violate(seg, SG_C_BDAT, s->bdat,
			   pol->limit[SG_L_BDAT_CHUNK], "BDAT", 4);
	}
	/* The server counts exactly this many octets: so do we. */
	if (s->bdat)
		s->cmode = last ? CM_BDAT_LAST : CM_BDAT;
	else if (last)
		s->rcpts = 0;
}

/*
 * A greeting (HELO or EHLO) completed: CHUNKING holds only after the
 * reply to the latest one, so every EHLO reply still to come is stale.
 */
static void sg_greeting(struct sg_conn_state *s)
{
	u32 i;

	s->xflags &= (u8)~X_CHUNKING;
	for (i = 0; i < s->q_n && i < SG_Q_MAX; i++)
		if (s->q_kind[i] == R_EHLO)
			s->q_kind[i] = R_EHLO_OLD;
	if (s->rkind == R_EHLO)
		s->rkind = R_EHLO_OLD;
}

/* A command line (not a continuation) ended at the LF at offset @off. */
static void sg_cli_command_done(struct sg_seg *seg, u32 off)
{
	struct sg_conn_state *s = W(seg);
	const struct sg_policy *pol = seg->pol;
	u8 cmd = s->cmd;

	switch (cmd) {
	case SG_CMD_HELO:
		sg_greeting(s);
		fallthrough;
	case SG_CMD_MAIL:
	case SG_CMD_RSET:
		s->rcpts = 0;
		sg_q_push(seg, R_PLAIN);
		break;
	case SG_CMD_EHLO:
		sg_greeting(s);
		s->rcpts = 0;
		sg_q_push(seg, R_EHLO);
		break;
	case SG_CMD_RCPT:
		if (s->rcpts < 0xffff)
			s->rcpts++;
		/*
		 * Logged once a transaction: a list delivery's 400 excess
		 * RCPTs would be 400 events, enough to hit the event rate
		 * limit and hide other connections' resets. Dropped or
		 * reset, every one.
		 */
		if (s->rcpts > pol->limit[SG_L_RECIPIENTS] &&
		    (s->rcpts == pol->limit[SG_L_RECIPIENTS] + 1 ||
		     sg_action(seg, SG_C_RECIPIENTS) >= SG_A_DROP))
			sg_violate(seg, SG_C_RECIPIENTS, s->rcpts,
				   pol->limit[SG_L_RECIPIENTS], "RCPT", 4);
		sg_q_push(seg, R_PLAIN);
		break;
	case SG_CMD_DATA:
		sg_q_push(seg, R_DATA);
		break;
	case SG_CMD_AUTH:
		sg_q_push(seg, R_AUTH);
		break;
	case SG_CMD_STARTTLS:
		sg_q_push(seg, R_STARTTLS);
		s->cflags |= CF_TLS_PENDING;
		break;
	case SG_CMD_BDAT:
		sg_q_push(seg, R_PLAIN);
		sg_cli_bdat_line(seg, off);
		break;
	default:
		sg_q_push(seg, R_PLAIN);
		break;
	}
}

static void sg_cli_line_end(struct sg_seg *seg, u32 off)
{
	struct sg_conn_state *s = W(seg);

	/*
	 * After a 334 the server takes the next line as the response, a
	 * blank one too (an empty SASL response): never a command, or the
	 * line after it would pass as the response the server reads as a
	 * command. (CS_CONT comes only with CF_AUTH_CONT; a final reply
	 * that clears it mid-line answered no response, so the rest is
	 * what the server reads next: a command.)
	 */
	if (s->cflags & CF_AUTH_CONT)
		s->cflags &= (u8)~CF_AUTH_CONT;
	else
		sg_cli_command_done(seg, off);
	sg_cli_line_reset(s);
}

/*
 * The verb ended at terminator @c at segment offset @off. Its letters are
 * the bytes from column addr_len up to @off.
 */
static void sg_verb_end(struct sg_seg *seg, u32 off, u8 c)
{
	struct sg_conn_state *s = W(seg);
	const struct sg_trie *t = &seg->pol->verb_trie;
	u8 node = s->cnode;
	u8 acc = sg_trie_acc(t, node);
	u32 col = s->addr_len;
	u32 vlen = s->line_len[0] - 1 - col;
	char tok[SG_TOKEN_LEN];
	u32 tl;

	if (s->cflags & CF_MASKING) {
		s->cmd = SG_CMD_NONE;	/* the server sees garbage */
	} else if (acc & SG_TN_ALLOWED) {
		s->cmd = acc & SG_TN_CMD_MASK;
	} else if (!(s->cflags & CF_VERB_BAD)) {
		/*
		 * A proper prefix of an allowed verb, e.g. "MAI ", or a verb
		 * a new policy ruled out: known only now. Mask its letters.
		 */
		tl = sg_trie_path(t, node, tok, SG_TOKEN_LEN - 1);
		s->cflags |= CF_VERB_BAD;
		s->cmd = acc & SG_TN_CMD_MASK;
		if (sg_action(seg, SG_C_VERB) == SG_A_MASK) {
			s->cmd = SG_CMD_NONE;
			if (sg_mask_back(seg, (s32)off, vlen,
					 seg->pol->mask_char, tok, tl))
				sg_violate(seg, SG_C_VERB, 0, 0, tok, tl);
		} else {
			sg_violate(seg, SG_C_VERB, 0, 0, tok, tl);
		}
	} else {
		/* reported and let through (log): recognise it anyway */
		s->cmd = acc & SG_TN_CMD_MASK;
	}
	s->cflags &= (u8)~CF_MASKING;
	s->addr_len = 0;
	switch (s->cmd) {
	case SG_CMD_MAIL:
	case SG_CMD_RCPT:
		s->cst = CS_A_PRE;
		break;
	case SG_CMD_BDAT:
		/*
		 * Exim reads BDAT only at column 0 and followed by SP, and
		 * only after EHLO offered CHUNKING; elsewhere a server reads
		 * the chunk as commands (502/503) or counts it where another
		 * would not. Count nothing then, and mask the verb.
		 */
		if (!(s->xflags & X_CHUNKING) || col || c != ' ') {
			s->cmd = SG_CMD_NONE;
			s->cst = CS_ARGS;
			sg_bdat_refuse(seg, (s32)off, vlen, 0, 0);
			break;
		}
		s->cst = CS_B_NUM;
		s->bdat = 0;
		break;
	default:
		s->cst = CS_ARGS;
		break;
	}
}

static void sg_addr_byte(struct sg_seg *seg, u8 c, u32 off)
{
	struct sg_conn_state *s = W(seg);
	const struct sg_policy *pol = seg->pol;

	if (s->addr_len < 0xffff)
		s->addr_len++;
	if (s->addr_len > pol->limit[SG_L_ADDRESS] &&
	    !(s->xflags & X_ADDR_REP)) {
		s->xflags |= X_ADDR_REP;
		sg_violate(seg, SG_C_ADDRESS_LENGTH, s->addr_len,
			   pol->limit[SG_L_ADDRESS],
			   s->cmd == SG_CMD_MAIL ? "MAIL" : "RCPT", 4);
	}
	if (c == '|' || c == '`' || c == 0) {
		if (sg_violate(seg, SG_C_ADDRESS_CHAR, c, 0,
			       s->cmd == SG_CMD_MAIL ? "MAIL" : "RCPT", 4) ==
		    SG_A_MASK)
			sg_span(seg, off, ' ');
	}
}

/*
 * A path byte, in <...> (@br) or bare. Quoted strings and backslash
 * escapes (RFC 5321 4.1.2) hide '>' and white space from the path's end,
 * so "a>|b"@x is one path; an escape counts outside quotes too, as some
 * readers take it there. Every byte of the path is checked.
 */
static inline void sg_path_byte(struct sg_seg *seg, u8 c, u32 off, bool br)
{
	struct sg_conn_state *s = W(seg);

	if (c == '\r') {
		s->cst = CS_ARGS;
		return;
	}
	if (s->xflags & X_AESC) {
		s->xflags &= (u8)~X_AESC;
	} else if (c == '\\') {
		s->xflags |= X_AESC;
	} else if (c == '"') {
		s->xflags ^= X_AQUOTE;
	} else if (!(s->xflags & X_AQUOTE) &&
		   (br ? c == '>' : sg_is_term(c))) {
		s->cst = CS_ARGS;
		return;
	}
	sg_addr_byte(seg, c, off);
}

/*
 * Limit of the current command line: AUTH lines and AUTH continuations
 * may be longer (RFC 4954), MAIL and RCPT carry extension parameters
 * (RFC 5321 4.5.3.1.4).
 */
static inline u32 sg_cmd_lim(const struct sg_policy *pol,
			     const struct sg_conn_state *s)
{
	u32 lim = pol->limit[SG_L_COMMAND_LINE];

	if (s->cmd == SG_CMD_AUTH || (s->cflags & CF_AUTH_CONT))
		return lim < SG_AUTH_LINE_MIN ? SG_AUTH_LINE_MIN : lim;
	if (s->cmd == SG_CMD_MAIL)
		return lim + SG_MAIL_PARAM_ROOM;
	if (s->cmd == SG_CMD_RCPT)
		return lim + SG_RCPT_PARAM_ROOM;
	return lim;
}

static inline u32 sg_min(u32 a, u32 b)
{
	return a < b ? a : b;
}

/* Line length up to which bytes need no check: the limit, or the hard
 * bound once the limit was reported (or if it is higher).
 */
static inline u32 sg_bulk_lim(const struct sg_conn_state *s, u32 lim)
{
	if ((s->xflags & X_CLINE_REP) || lim > SG_CMD_LINE_HARD)
		return SG_CMD_LINE_HARD;
	return lim;
}

static inline u16 sg_sat_add(u16 a, u32 k)
{
	u32 v = (u32)a + k;

	return (u16)(v > 0xffff ? 0xffff : v);
}

/*
 * Verb bytes that just walk the trie: live prefixes of an allowed verb.
 * Stops before a byte <= ' ' (terminators, controls) and before the
 * byte that leaves the live set, which the per-byte path then reports.
 */
static inline u32 sg_verb_run(const struct sg_trie *t, struct sg_conn_state *s,
			      const u8 *p, u32 n)
{
	u8 node = s->cnode;
	u32 k;

	for (k = 0; k < n; k++) {
		u8 c = p[k], nx;

		if (c <= ' ')
			break;
		nx = sg_trie_step(t, node, c);
		if (!(sg_trie_acc(t, nx) & SG_TN_LIVE))
			break;
		node = nx;
	}
	s->cnode = node;
	return k;
}

/*
 * Bulk step of the command lexer: the number of bytes from p[0..n) that
 * the per-byte path would only count (line length, path length, a verb
 * trie step), already applied to the state. It never takes a byte that
 * could report, rewrite or end something: the byte past @blim (the line
 * limit, or the hard line bound once the limit was reported), CR, LF,
 * NUL, the bytes that end a state, quotes and escapes in a path. Called
 * only with no CR pending and no STARTTLS injection left to report.
 */
static inline u32 sg_cmd_bulk(struct sg_seg *seg, const u8 *p, u32 n,
			      u32 blim)
{
	struct sg_conn_state *s = W(seg);
	u32 k = 0, alim;

	n = sg_min(n, s->line_len[0] < blim ? blim - s->line_len[0] : 0);
	switch (s->cst) {
	case CS_ARGS:
	case CS_CONT:
		k = sg_scan_ctl(p, n);
		break;
	case CS_A_PRE:
		k = sg_scan(p, n, 1, ':', 0, 0, 0, 0);
		break;
	case CS_A_BR:
	case CS_A_BARE:
		if (s->xflags & X_AESC)
			break;
		alim = seg->pol->limit[SG_L_ADDRESS];
		if (!(s->xflags & X_ADDR_REP))
			n = sg_min(n, s->addr_len < alim ?
				   alim - s->addr_len : 0);
		k = sg_scan(p, n, 5, s->cst == CS_A_BR ? '>' : ' ', '|', '`',
			    '"', '\\');
		s->addr_len = sg_sat_add(s->addr_len, k);
		break;
	case CS_BOL:
		if (!n || p[0] <= ' ' || (s->cflags & CF_AUTH_CONT))
			break;
		s->cst = CS_VERB;
		s->cnode = 0;
		s->addr_len = s->line_len[0];	/* the verb's column */
		fallthrough;
	case CS_VERB:
		if (!(s->cflags & (CF_VERB_BAD | CF_MASKING)))
			k = sg_verb_run(&seg->pol->verb_trie, s, p, n);
		break;
	default:
		break;
	}
	s->line_len[0] = sg_sat_add(s->line_len[0], k);
	return k;
}

/*
 * Command mode: process p[i..n) until the line hands over to DATA or
 * BDAT mode. Returns the index of the first unprocessed byte.
 */
static u32 sg_cli_cmd(struct sg_seg *seg, const u8 *p, u32 i, u32 n,
		      u32 base)
{
	struct sg_conn_state *s = W(seg);
	const struct sg_policy *pol = seg->pol;
	const struct sg_trie *t = &pol->verb_trie;
	u32 lim, blim;
	u8 prev;

	lim = sg_cmd_lim(pol, s);
	blim = sg_bulk_lim(s, lim);
	for (; i < n; i++) {
		u8 c;
		u32 off;

		if (seg->sflags & SEG_STOP)
			return n;
		if (!(s->cflags & CF_PREV_CR) &&
		    (s->cflags & (CF_TLS_PENDING | CF_INJ)) != CF_TLS_PENDING) {
			i += sg_cmd_bulk(seg, p + i, n - i, blim);
			if (i == n)
				return n;
		}
		c = p[i];
		off = base + i;
		if ((s->cflags & CF_TLS_PENDING) && !(s->cflags & CF_INJ)) {
			s->cflags |= CF_INJ;
			sg_violate(seg, SG_C_STARTTLS_INJECTION, 0, 0, NULL, 0);
		}
		/* line length, including CRLF */
		if (s->line_len[0] < 0xffff)
			s->line_len[0]++;
		if (s->line_len[0] > blim) {
			if (s->line_len[0] > SG_CMD_LINE_HARD) {
				/* past it a server splits the line: never */
				sg_report(seg, SG_C_COMMAND_LINE, SG_A_RESET,
					  s->line_len[0], SG_CMD_LINE_HARD,
					  NULL, 0);
				return n;
			}
			if (!(s->xflags & X_CLINE_REP)) {
				s->xflags |= X_CLINE_REP;
				blim = SG_CMD_LINE_HARD;
				sg_violate(seg, SG_C_COMMAND_LINE,
					   s->line_len[0], lim, NULL, 0);
			}
		}
		if ((s->cflags & CF_PREV_CR) && c != '\n') {
			s->cflags |= CF_BDAT_BAD;
			sg_smuggle(seg, '\r');
		}
		if (c == '\n') {
			if (!(s->cflags & CF_PREV_CR)) {
				s->cflags |= CF_BDAT_BAD;
				sg_smuggle(seg, '\n');
			}
			s->cflags &= (u8)~CF_PREV_CR;
			if (s->cst == CS_VERB)
				sg_verb_end(seg, off, c);
			sg_cli_line_end(seg, off);
			if (s->cmode != CM_CMD)
				return i + 1;
			lim = sg_cmd_lim(pol, s);
			blim = sg_bulk_lim(s, lim);
			continue;
		}
		if (c == '\r')
			s->cflags |= CF_PREV_CR;
		else
			s->cflags &= (u8)~CF_PREV_CR;

		switch (s->cst) {
		case CS_BOL:
			if (c == ' ' || c == '\t' || c == '\r')
				break;
			if (s->cflags & CF_AUTH_CONT) {
				s->cst = CS_CONT;
				break;
			}
			s->cst = CS_VERB;
			s->cnode = 0;
			s->addr_len = s->line_len[0] - 1;	/* verb column */
			fallthrough;
		case CS_VERB:
			if (sg_is_term(c)) {
				sg_verb_end(seg, off, c);
				lim = sg_cmd_lim(pol, s);
				blim = sg_bulk_lim(s, lim);
				break;
			}
			prev = s->cnode;
			s->cnode = sg_trie_step(t, s->cnode, c);
			if (!(s->cflags & CF_VERB_BAD) &&
			    !(sg_trie_acc(t, s->cnode) & SG_TN_LIVE)) {
				char tok[SG_TOKEN_LEN];
				u32 tl;

				/* token: the live prefix, then what follows */
				tl = sg_token(t, prev, p, i, n, tok, false);
				s->cflags |= CF_VERB_BAD;
				if (sg_violate(seg, SG_C_VERB, 0, 0, tok, tl) ==
				    SG_A_MASK)
					s->cflags |= CF_MASKING;
			}
			if (s->cflags & CF_MASKING)
				sg_span(seg, off, pol->mask_char);
			break;
		case CS_A_PRE:
			if (c == ':')
				s->cst = CS_A_WS;
			break;
		case CS_A_WS:
			if (c == ' ' || c == '\t' || c == '\r')
				break;
			if (c == '<') {
				s->cst = CS_A_BR;
				break;
			}
			s->cst = CS_A_BARE;
			sg_path_byte(seg, c, off, false);
			break;
		case CS_A_BR:
			sg_path_byte(seg, c, off, true);
			break;
		case CS_A_BARE:
			sg_path_byte(seg, c, off, false);
			break;
		case CS_B_NUM:
			if (c >= '0' && c <= '9') {
				u32 d = c - '0';

				if (s->bdat > (0xffffffffu - d) / 10)
					s->cflags |= CF_BDAT_BAD;
				else
					s->bdat = s->bdat * 10 + d;
				s->addr_len = sg_sat_add(s->addr_len, 1);
			} else if (c == ' ' && s->addr_len) {
				s->cst = CS_B_LAST;
				s->addr_len = 0;	/* index into "LAST" */
			} else if (c != '\r') {
				s->cflags |= CF_BDAT_BAD;
			}
			break;
		case CS_B_LAST:
			if (s->addr_len < 4 &&
			    sg_up(c) == (u8)"LAST"[s->addr_len])
				s->addr_len++;
			else if (c != '\r')
				s->cflags |= CF_BDAT_BAD;
			break;
		default:
			break;
		}
	}
	return n;
}

/* ------------------------------------------------------------------ */
/* Client: DATA and BDAT                                              */
/* ------------------------------------------------------------------ */

static void sg_data_end(struct sg_seg *seg)
{
	struct sg_conn_state *s = W(seg);

	s->cmode = CM_CMD;
	s->rcpts = 0;
	sg_q_push(seg, R_PLAIN);	/* the 250 for the message */
	sg_cli_line_reset(s);
}

/* A text line reached length @ll (> the limit): report it once. */
static void sg_text_over(struct sg_seg *seg, u32 ll, u32 lim)
{
	struct sg_conn_state *s = W(seg);

	s->xflags |= X_CLINE_REP;
	sg_violate(seg, SG_C_TEXT_LINE, ll > 0xffff ? 0xffff : ll, lim,
		   NULL, 0);
}

/*
 * Flags of the DATA scan: bit 7 clear in each byte of @v that is below
 * 14, and possibly in a byte equal to 14 (a carry from the byte below
 * can only push 14 + 0x71 + 1 over 0x7f, never a smaller value); set in
 * every other byte. A full-width add, so one instruction (lea) and an
 * OR per word; a byte flagged by mistake is an ordinary control byte
 * the scan steps over.
 */
static inline u64 sg_w_data_k(u64 v, u64 k)
{
	return (v + k) | v;
}

static inline u64 sg_w_data(u64 v)
{
	return sg_w_data_k(v, 0x71 * SG_ONES);
}

/*
 * Not inlined: the DATA scan gets registers of its own (in its caller's
 * loop it lost some to spills). The kernel's noinline; in userspace GCC's
 * noipa, the same for this purpose (clang builds only tests: inlined).
 */
#ifdef __KERNEL__
#define SG_OUTLINE	noinline
#elif defined(__has_attribute) && !defined(__clang__)
#if __has_attribute(__noipa__)
#define SG_OUTLINE	__attribute__((__noipa__))
#endif
#endif
#ifndef SG_OUTLINE
#define SG_OUTLINE
#endif

/* Keep @v in a register: the compiler may no longer rebuild it. */
#define SG_HIDE(v)	__asm__("" : "+r"(v))

/*
 * The first byte of [q, e) that sg_w_data() flags, or e: words, then a
 * last word that ends at e and overlaps bytes already seen (their flags
 * masked off), so a chunk's tail costs no byte loop.
 */
static inline const u8 *sg_data_tail(const u8 *p, const u8 *q, const u8 *e)
{
	u64 m;

	for (; e - q >= 8; q += 8) {
		m = ~sg_w_data(sg_load64(q)) & SG_HIGHS;
		if (m)
			return q + sg_first_flag(m);
	}
	if (q == e)
		return e;
	if (e - p < 8) {
		while (q < e && *q >= 14)
			q++;
		return q;
	}
	m = ~sg_w_data(sg_load64(e - 8)) & SG_HIGHS;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	m &= ~0ull << (8 * (q - (e - 8)));
#else
	m &= ~0ull >> (8 * (q - (e - 8)));
#endif
	return m ? e - 8 + sg_first_flag(m) : e;
}

/*
 * The line from @ls went over its limit before @q or at the LF after it:
 * where the per-byte path must take over to report it, the byte that
 * takes it over -- no earlier than @from, where the scan began (the line
 * was over already), and no later than @q (when the LF takes it over).
 */
static inline const u8 *sg_data_over(const u8 *from, const u8 *q,
				     uintptr_t ls, uintptr_t lim)
{
	uintptr_t t = ls + lim;

	if (t < (uintptr_t)from)
		return from;
	return t < (uintptr_t)q ? (const u8 *)t : q;
}

/*
 * The DATA fast path, in the middle of a line after an ordinary byte
 * (DS_MID, no CR pending): 32 bytes per round, whose four words go
 * through sg_w_data() and are and-ed into one test; in a round with a
 * flag, the flags already computed give the first flagged byte, which is
 * looked at in place. Control bytes other than CR, LF and NUL (TAB...)
 * are ordinary; CR LF followed by a byte other than '.' just ends a line
 * (its length checked by distance) and the scan goes on after the LF.
 * Rounds stop 34 bytes before the end, so a flag found in a round has
 * the two bytes after it in the chunk; the rest goes by words.
 *
 * Scans [from, e), entered in a line of length @ll0 (reported already
 * if @rep0). Stops at the first byte the per-byte path must see: a bare
 * CR or LF, a NUL, a CR LF before '.' or at the end of the chunk, e -- or,
 * in a text line longer than @lim, the byte that takes it over (or the CR
 * of its CR LF, when that is the LF), which the per-byte path reports.
 * Returns the bytes taken, the line length there, and SG_DB_REP if that
 * is still the entry line and it was reported.
 */
#define SG_ROUND	32	/* bytes per round: four words */

#define SG_DB_LL_SHIFT	32
#define SG_DB_REP	0x1000000000000ull

static SG_OUTLINE u64 sg_data_bulk(const u8 *from, const u8 *e, u32 ll0,
				   bool rep0, uintptr_t lim)
{
	const u8 *q = from;
	/* rounds start below it */
	const u8 *rend = e - from >= SG_ROUND + 2 ? e - SG_ROUND - 1 : from;
	/*
	 * A line is over its limit where it reaches address @over: its start
	 * plus the limit, or none for the entry line if it was reported.
	 * Limits are at most 65000 (sg_limit_max) and line lengths saturate
	 * at 0xffff, so the clamp changes nothing; with it no address plus a
	 * limit reaches @none or wraps (no buffer ends within 64 KiB of the
	 * top of the address space).
	 */
	const uintptr_t none = ~(uintptr_t)0;
	uintptr_t over, ls, ll;
	/* in registers for the whole scan, never rebuilt at each entry */
	u64 k = 0x71 * SG_ONES, h = SG_HIGHS, m;

	SG_HIDE(k);
	SG_HIDE(h);
	if (lim > 0xffff)
		lim = 0xffff;
	over = rep0 ? none : (uintptr_t)from - ll0 + lim;

	if (q >= rend)
		goto tail;
round:
	do {
		u64 w0 = sg_w_data_k(sg_load64(q), k);
		u64 w1 = sg_w_data_k(sg_load64(q + 8), k);
		u64 w2 = sg_w_data_k(sg_load64(q + 16), k);
		u64 w3 = sg_w_data_k(sg_load64(q + 24), k);

		if ((w0 & w1 & w2 & w3 & h) != h) {
			/* the word, from the flags at hand */
			m = ~w0 & h;
			if (!m) {
				q += 8;
				m = ~w1 & h;
			}
			if (!m) {
				q += 8;
				m = ~w2 & h;
			}
			if (!m) {
				q += 8;
				m = ~w3 & h;
			}
			q += sg_first_flag(m);
			goto found;
		}
		q += SG_ROUND;
	} while (q < rend);
tail:
	q = sg_data_tail(from, q, e);
	if (q == e || e - q <= 2)
		goto stop;
found:
	if (sg_load16(q) == sg_crlf16() && q[2] != '.') {
		/* CR LF, then an ordinary line start */
		if ((uintptr_t)q + 2 > over)
			goto over;
		q += 2;
		over = (uintptr_t)q + lim;
		if (q < rend)
			goto round;
		goto tail;
	}
stop:
	if (q != e && *q != '\r' && *q != '\n' && *q) {
		q++;	/* TAB or another ordinary control */
		if (q < rend)
			goto round;
		goto tail;
	}
	if ((uintptr_t)q > over) {
over:
		q = sg_data_over(from, q, over - lim, lim);
	}
	ls = over == none ? (uintptr_t)from - ll0 : over - lim;
	ll = (uintptr_t)q - ls > 0xffff ? 0xffff : (uintptr_t)q - ls;
	return (u64)(q - from) | (u64)ll << SG_DB_LL_SHIFT |
	       (over == none ? SG_DB_REP : 0);
}

/*
 * A bare CR or LF in DATA. Next to a dot that some reader takes as alone
 * on its line (\n.\n, \r\n.\n, \n.\r\n, \r.\r\n, \r\n.\r ...) it
 * is an end-of-data shape: smuggling. Elsewhere it is sloppy but ends no
 * message on any server: bare-newline, reported once per message.
 */
static void sg_data_bare(struct sg_seg *seg, u8 ds, u8 c)
{
	struct sg_conn_state *s = W(seg);

	if (ds == DS_DOT || ds == DS_LDOT) {
		sg_smuggle(seg, c);
	} else if (!(s->xflags & X_BARE_REP)) {
		s->xflags |= X_BARE_REP;
		sg_violate(seg, SG_C_BARE_NEWLINE, c, 0, NULL, 0);
	}
}

/*
 * DATA mode: only CRLF "." CRLF ends it. Bare CR and LF are judged by
 * sg_data_bare(), a NUL is smuggling (\r\n\0.\r\n); nothing is ever
 * rewritten here. Returns the index of the first unprocessed byte.
 */
static u32 sg_cli_data(struct sg_seg *seg, const u8 *p, u32 i, u32 n)
{
	struct sg_conn_state *s = W(seg);
	u32 ll = s->line_len[0];
	u8 ds = s->ds;
	bool cr = s->cflags & CF_PREV_CR;
	u32 lim = seg->pol->limit[SG_L_TEXT_LINE];

	while (i < n) {
		u8 c;

		if (ds == DS_MID && !cr) {
			u64 r = sg_data_bulk(p + i, p + n, ll,
					     s->xflags & X_CLINE_REP, lim);

			i += (u32)r;
			ll = (u32)(r >> SG_DB_LL_SHIFT) & 0xffff;
			if (!(r & SG_DB_REP))
				s->xflags &= (u8)~X_CLINE_REP;
			if (i == n)
				break;
		}
		c = p[i++];
		if (ll < 0xffff)
			ll++;
		if (ll > lim && !(s->xflags & X_CLINE_REP))
			sg_text_over(seg, ll, lim);
		if (cr) {
			cr = false;
			if (c == '\n') {
				if (ds == DS_DOT) {
					s->cflags &= (u8)~CF_PREV_CR;
					s->ds = DS_MID;
					sg_data_end(seg);
					return i;
				}
				if (ds == DS_LDOT)	/* \n.\r\n, \r.\r\n */
					sg_smuggle(seg, '\r');
				ds = DS_BOL;
				ll = 0;
				s->xflags &= (u8)~X_CLINE_REP;
				goto next;
			}
			/* the CR before @c was bare */
			sg_data_bare(seg, ds, '\r');
			ds = DS_LBOL;
		}
		switch (c) {
		case '\r':
			cr = true;	/* judged by the next byte */
			break;
		case '\n':
			sg_data_bare(seg, ds, '\n');
			ds = DS_LBOL;
			ll = 0;
			s->xflags &= (u8)~X_CLINE_REP;
			break;
		case 0:
			sg_smuggle(seg, 0);
			ds = DS_MID;
			break;
		case '.':
			ds = ds == DS_BOL ? DS_DOT :
			     ds == DS_LBOL ? DS_LDOT : DS_MID;
			break;
		default:
			ds = DS_MID;
			break;
		}
next:
		if (seg->sflags & SEG_STOP)
			break;
	}
	s->line_len[0] = (u16)ll;
	s->ds = ds;
	if (cr)
		s->cflags |= CF_PREV_CR;
	else
		s->cflags &= (u8)~CF_PREV_CR;
	return n;
}

static u32 sg_cli_bdat(struct sg_seg *seg, const u8 *p, u32 i, u32 n)
{
	struct sg_conn_state *s = W(seg);
	u32 k = n - i;

	(void)p;
	if (k > s->bdat)
		k = s->bdat;
	s->bdat -= k;
	i += k;
	if (!s->bdat) {
		if (s->cmode == CM_BDAT_LAST)
			s->rcpts = 0;
		s->cmode = CM_CMD;
		sg_cli_line_reset(s);
	}
	return i;
}

/* Pickup: pass client bytes until the server gave a safe point and the
 * client is at a line start.
 */
static u32 sg_cli_pickup(struct sg_seg *seg, const u8 *p, u32 i, u32 n)
{
	struct sg_conn_state *s = W(seg);

	for (; i < n; i++) {
		if (!(s->flags & F_PICKUP_S) && (s->cflags & CF_BOL)) {
			s->flags &= (u8)~F_PICKUP_C;
			return i;
		}
		if (p[i] == '\n')
			s->cflags |= CF_BOL;
		else
			s->cflags &= (u8)~CF_BOL;
	}
	if (!(s->flags & F_PICKUP_S) && (s->cflags & CF_BOL))
		s->flags &= (u8)~F_PICKUP_C;
	return n;
}

/*
 * After the 220 to STARTTLS: the client's next bytes must open a TLS
 * handshake record, type 22 with version 3.0 to 3.4 (SSL 3.0 .. TLS 1.3
 * record layer); then the stream is opaque. Anything else is plaintext
 * where a server reads TLS: starttls-injection. If the action lets it
 * pass, inspection goes on in plaintext from that byte.
 */
static u32 sg_cli_tls_hello(struct sg_seg *seg, const u8 *p, u32 i, u32 n)
{
	struct sg_conn_state *s = W(seg);

	for (; i < n; i++) {
		u32 k = (s->xflags & X_TLS_HDR) / X_TLS_ONE;
		u8 c = p[i];
		bool ok = k == 0 ? c == 0x16 : k == 1 ? c == 0x03 : c <= 0x04;

		if (!ok) {
			s->flags &= (u8)~F_TLS_WAIT;
			s->xflags &= (u8)(~X_TLS_HDR & 0xff);
			sg_violate(seg, SG_C_STARTTLS_INJECTION, c, 0, NULL, 0);
			return i;
		}
		if (k < 2) {
			s->xflags = (u8)(s->xflags + X_TLS_ONE);
			continue;
		}
		/* the client speaks TLS now: hands off, both ways */
		s->xflags &= (u8)(~X_TLS_HDR & 0xff);
		s->flags = (u8)((s->flags & ~F_TLS_WAIT) | F_OPAQUE);
		sg_event(seg, SG_EV_TLS_STARTED);
		return n;
	}
	return n;
}

static void sg_ring_stage(struct sg_seg *seg, const u8 *p, u32 n, u32 seq);

static void sg_cli(struct sg_seg *seg, const u8 *p, u32 n, u32 base)
{
	struct sg_conn_state *s = W(seg);
	u32 i = 0, i0;

	while (i < n && !(seg->sflags & SEG_STOP)) {
		i0 = i;
		if (s->flags & F_TLS_WAIT) {
			i = sg_cli_tls_hello(seg, p, i, n);
			continue;
		}
		if (s->flags & F_OPAQUE)
			return;
		if (s->flags & F_PICKUP_C) {
			i = sg_cli_pickup(seg, p, i, n);
			continue;
		}
		switch (s->cmode) {
		case CM_DATA:
			i = sg_cli_data(seg, p, i, n);
			break;
		case CM_BDAT:
		case CM_BDAT_LAST:
			i = sg_cli_bdat(seg, p, i, n);
			break;
		default:
			i = sg_cli_cmd(seg, p, i, n, base);
			seg->cmd_end = seg->seq + base + i;
			seg->sflags2 |= SEG2_CMD | SEG2_STAGING;
			sg_ring_stage(seg, p + i0, i - i0, seg->seq + base + i0);
			seg->uv_snap = seg->uv_run;	/* up to cmd_end */
			continue;
		}
		/* what follows command bytes in this segment */
		if (seg->sflags2 & SEG2_STAGING)
			sg_ring_stage(seg, p + i0, i - i0, seg->seq + base + i0);
	}
}

/* ------------------------------------------------------------------ */
/* Server: replies                                                    */
/* ------------------------------------------------------------------ */

static void sg_enter_data(struct sg_conn_state *s)
{
	if (s->cmode != CM_CMD)
		return;
	s->cmode = CM_DATA;
	s->data_lo = s->next_seq[SG_DIR_CLIENT];
	s->ds = s->cst == CS_BOL && !s->line_len[0] ? DS_BOL : DS_MID;
	if (s->ds == DS_BOL)
		s->stream &= (u8)~ST_DATA_MID;
	else
		s->stream |= ST_DATA_MID;
	s->line_len[0] = 0;
	s->xflags &= (u8)~(X_CLINE_REP | X_BARE_REP | X_AESC);
}

/* A final reply line ended. */
static void sg_reply_done(struct sg_seg *seg)
{
	struct sg_conn_state *s = W(seg);
	u16 code = s->code;

	if (s->flags & F_PICKUP_S) {
		/* A well-formed final line: a safe point to resync. */
		if ((s->sflags & (SF_BADLINE | SF_PREV_CR)) != SF_PREV_CR ||
		    code < 200 || code > 599)
			return;
		s->flags &= (u8)~F_PICKUP_S;
		s->q_n = 0;
		s->q_tail = 0;
		s->cmode = CM_CMD;
		sg_cli_line_reset(s);
		s->cflags &= (u8)(CF_BOL | CF_PREV_CR);
		if (code == 354)
			sg_enter_data(s);
		if (s->cflags & CF_BOL)
			s->flags &= (u8)~F_PICKUP_C;
		return;
	}
	/* CHUNKING counts if the EHLO reply that offered it succeeded */
	if (s->rkind == R_EHLO && code == 250 && (s->sflags & SF_CHUNKING))
		s->xflags |= X_CHUNKING;
	s->sflags &= (u8)(~SF_CHUNKING & 0xff);
	/* Only an outstanding DATA is answered by 354: anything else would
	 * switch inspection off on the server's word alone.
	 */
	if (code == 354 && s->rkind != R_DATA)
		sg_violate(seg, SG_C_DESYNC, code, 0, NULL, 0);
	switch (s->rkind) {
	case R_AUTH:
		if (code != 334) {
			s->cflags &= (u8)~CF_AUTH_CONT;
			break;
		}
		/*
		 * The server reads the line right after the AUTH line (or the
		 * last response) as the response. If the client already sent
		 * more, the engine read that as commands and cannot tell
		 * which later line the server takes for what.
		 */
		if (s->q_n == 1 && !s->q_tail && s->cmode == CM_CMD &&
		    s->cst == CS_BOL && !s->line_len[0])
			s->cflags |= CF_AUTH_CONT;
		else
			sg_violate(seg, SG_C_DESYNC, code, 0, "AUTH", 4);
		return;	/* the AUTH exchange goes on */
	case R_DATA:
		if (code != 354)
			break;
		/*
		 * The server reads the message from the byte after the DATA
		 * line. Bytes the client sent past it before the 354 were
		 * read here as commands, so where the server's message ends
		 * is unknown (a "." line among them ends it there, and the
		 * commands after it would pass here as text).
		 */
		if (s->q_n != 1 || s->q_tail || s->cmode != CM_CMD ||
		    s->cst != CS_BOL || s->line_len[0])
			sg_violate(seg, SG_C_DESYNC, code, 0, "DATA", 4);
		sg_enter_data(s);
		break;
	case R_STARTTLS:
		s->cflags &= (u8)~CF_TLS_PENDING;
		if (code == 220)
			s->flags |= F_TLS_WAIT;
		break;
	default:
		break;
	}
	sg_q_pop(s);
}

static void sg_kw_mask_event(struct sg_seg *seg, u8 node, const u8 *p,
			     u32 i, u32 n)
{
	struct sg_event *ev = sg_event(seg, SG_EV_KEYWORD_MASKED);

	if (ev)
		sg_token(&seg->pol->keyword_trie, node, p, i, n, ev->token,
			 true);
}

/*
 * An EHLO keyword (from column 4) ended at the terminator p[i], at
 * segment offset @off and column @pos. A proper prefix of an allowed
 * keyword ("SIZ") is masked, letters only; an allowed CHUNKING is what
 * lets the client's BDAT be counted.
 */
static void sg_kw_end(struct sg_seg *seg, const u8 *p, u32 i, u32 n, u32 off,
		      u32 pos)
{
	struct sg_conn_state *s = W(seg);
	const struct sg_trie *t = &seg->pol->keyword_trie;
	u8 acc = sg_trie_acc(t, s->snode);

	s->sst = SS_TEXT;
	if ((s->sflags & SF_KW_BAD) || !s->snode)
		return;
	if (acc & SG_TN_ALLOWED) {
		if ((acc & SG_TN_CMD_MASK) == SG_CMD_BDAT)
			s->sflags |= SF_CHUNKING;
		return;
	}
	s->sflags |= SF_KW_BAD;
	sg_kw_mask_event(seg, s->snode, p, i, n);
	sg_mask_back(seg, (s32)off, pos - 4, seg->pol->mask_char, NULL, 0);
}

/* The byte after a reply code: what the rest of the line is. */
static void sg_reply_sep(struct sg_conn_state *s, u8 c)
{
	if (c == '-')
		s->sflags |= SF_MORE;
	else if (c != ' ' && c != '\r')
		s->sflags |= SF_BADLINE;
	s->sst = SS_TEXT;
	if ((s->rkind == R_EHLO || s->rkind == R_EHLO_OLD) &&
	    !(s->sflags & SF_CONT) &&
	    s->code != 250)
		s->rkind = R_PLAIN;
	if ((s->rkind == R_EHLO || s->rkind == R_EHLO_OLD) &&
	    (s->sflags & SF_CONT)) {
		s->sst = SS_KW;
		s->snode = 0;
	}
}

static inline bool sg_digit(u8 c)
{
	return (u8)(c - '0') <= 9;
}

static void sg_srv(struct sg_seg *seg, const u8 *p, u32 n, u32 base)
{
	struct sg_conn_state *s = W(seg);
	const struct sg_policy *pol = seg->pol;
	const struct sg_trie *t = &pol->keyword_trie;
	u32 lim = pol->limit[SG_L_REPLY_LINE];
	u32 i;

	for (i = 0; i < n; i++) {
		u8 c = p[i];
		u32 off = base + i;
		u32 pos;

		if (seg->sflags & SEG_STOP)
			return;
		if (s->sst == SS_TEXT && !(s->flags & F_TLS_WAIT) &&
		    !(s->rkind == R_GREETING && pol->banner == SG_BANNER_MASK)) {
			/* reply text: nothing to do until the line ends */
			u32 room = n - i, k;

			/* never past the byte that exceeds the limit */
			if (!(s->xflags & X_SLINE_REP))
				room = sg_min(room, s->line_len[1] < lim ?
					      lim - s->line_len[1] : 0);
			k = sg_scan_ctl(p + i, room);
			if (k) {
				s->line_len[1] = sg_sat_add(s->line_len[1], k);
				s->sflags &= (u8)~SF_PREV_CR;
				i += k;
				if (i == n)
					return;
				c = p[i];
				off = base + i;
			}
		}
		if (s->flags & F_TLS_WAIT) {
			if (!(s->sflags & SF_INJ)) {
				s->sflags |= SF_INJ;
				sg_violate(seg, SG_C_STARTTLS_INJECTION, 0, 0,
					   NULL, 0);
			}
			continue;
		}
		if (s->sst == SS_SKIP) {
			if (c == '\n')
				s->sst = SS_BOL;
			continue;
		}
		if (s->sst == SS_BOL) {
			s->line_len[1] = 0;
			s->xflags &= (u8)~X_SLINE_REP;
			s->code = 0;
			s->sflags &= (u8)~(SF_MORE | SF_KW_BAD | SF_BADLINE |
					   SF_BANNER_EV);
			if (!(s->sflags & SF_CONT))
				s->rkind = sg_q_head(s);
			s->sst = SS_CODE;
		}
		/*
		 * A whole code and its separator at a line start: the four
		 * bytes the per-byte path would take one by one (none can
		 * exceed a limit of 4 or more, end the line or be masked).
		 */
		if (s->sst == SS_CODE && !s->line_len[1] && n - i >= 4 &&
		    lim >= 4 && sg_digit(c) && sg_digit(p[i + 1]) &&
		    sg_digit(p[i + 2]) && (p[i + 3] == ' ' || p[i + 3] == '-')) {
			s->code = (u16)(c * 100 + p[i + 1] * 10 + p[i + 2] -
					'0' * 111);
			s->line_len[1] = 4;
			s->sflags &= (u8)~SF_PREV_CR;
			i += 3;
			sg_reply_sep(s, p[i]);
			continue;
		}
		pos = s->line_len[1];
		if (s->line_len[1] < 0xffff)
			s->line_len[1]++;
		if (s->line_len[1] > lim && !(s->xflags & X_SLINE_REP)) {
			s->xflags |= X_SLINE_REP;
			sg_violate(seg, SG_C_REPLY_LINE, s->line_len[1], lim,
				   NULL, 0);
		}
		if (c == '\n') {
			bool more = s->sflags & SF_MORE;

			if (s->sst == SS_KW)
				sg_kw_end(seg, p, i, n, off, pos);
			if (s->sst == SS_CODE && pos < 3)
				s->sflags |= SF_BADLINE;
			if (more) {
				s->sflags |= SF_CONT;
			} else {
				s->sflags &= (u8)~SF_CONT;
				sg_reply_done(seg);
			}
			s->sflags &= (u8)~SF_PREV_CR;
			s->sst = SS_BOL;
			continue;
		}
		if (c == '\r')
			s->sflags |= SF_PREV_CR;
		else
			s->sflags &= (u8)~SF_PREV_CR;

		if (s->sst == SS_CODE) {
			if (pos < 3) {
				if (c >= '0' && c <= '9')
					s->code = (u16)(s->code * 10 + c - '0');
				else
					s->sflags |= SF_BADLINE;
				continue;
			}
			sg_reply_sep(s, c);	/* pos 3 */
			continue;
		}
		if (s->rkind == R_GREETING && pol->banner == SG_BANNER_MASK &&
		    c != '\r') {
			if (!(s->sflags & SF_BANNER_EV)) {
				s->sflags |= SF_BANNER_EV;
				sg_event(seg, SG_EV_BANNER_MASKED);
			}
			sg_span(seg, off, pol->banner_char);
			continue;
		}
		if (s->sst != SS_KW)
			continue;
		if (sg_is_term(c) || c == '=') {
			sg_kw_end(seg, p, i, n, off, pos);
			continue;
		}
		{
			u8 prev = s->snode;

			s->snode = sg_trie_step(t, s->snode, c);
			if (!(s->sflags & SF_KW_BAD) &&
			    !(sg_trie_acc(t, s->snode) & SG_TN_LIVE)) {
				s->sflags |= SF_KW_BAD;
				sg_kw_mask_event(seg, prev, p, i, n);
			}
			if (s->sflags & SF_KW_BAD)
				sg_span(seg, off, pol->mask_char);
		}
	}
}

/* ------------------------------------------------------------------ */
/* Rewrite journal                                                    */
/* ------------------------------------------------------------------ */

static inline u32 sg_jfirst(u8 dir)
{
	return dir == SG_DIR_CLIENT ? 0 : SG_J_CLI;
}

static inline u32 sg_jcap(u8 dir)
{
	return dir == SG_DIR_CLIENT ? SG_J_CLI : SG_J_SRV;
}

static inline u32 sg_j_end(const struct sg_journal *j, u8 dir, u32 i)
{
	u32 f = sg_jfirst(dir);

	return j->base[dir] + j->off[f + i] + (j->len[f + i] & SG_J_LEN_MAX);
}

/*
 * Forget the leading spans of @dir that end at or below @upto (bytes
 * the peer acknowledged): only when room is needed, since a peer whose
 * ACK never reached the sender gets those bytes again. A re-sent byte
 * below floor may have lost its mask.
 */
static void sg_j_evict(struct sg_journal *j, u8 dir, u32 upto)
{
	u32 f = sg_jfirst(dir), k = 0, i, delta;
	u32 n = j->n[dir];

	while (k < n && sg_seq_diff(sg_j_end(j, dir, k), upto) <= 0)
		k++;
	if (!k)
		return;
	if (sg_seq_diff(sg_j_end(j, dir, k - 1), j->floor[dir]) > 0)
		j->floor[dir] = sg_j_end(j, dir, k - 1);
	n -= k;
	j->n[dir] = (u8)n;
	if (!n) {
		j->ch[dir][0] = 0;
		j->ch[dir][1] = 0;
		return;
	}
	delta = j->off[f + k];
	for (i = 0; i < n; i++) {
		j->off[f + i] = (u16)(j->off[f + k + i] - delta);
		j->len[f + i] = j->len[f + k + i];
	}
	j->base[dir] += delta;
}

/* Spans the journal recorded for the retransmitted bytes [seq, seq+len). */
static void sg_j_replay(struct sg_seg *seg, const struct sg_journal *j,
			u32 seq, u32 len)
{
	u8 dir = seg->dir;
	u32 f = sg_jfirst(dir), i;

	for (i = 0; i < j->n[dir]; i++) {
		u32 a = j->base[dir] + j->off[f + i];
		u32 l = j->len[f + i] & SG_J_LEN_MAX;
		s32 lo = sg_seq_diff(a, seq);
		s32 hi = sg_seq_diff(a + l, seq);	/* u32: no signed overflow */
		struct sg_span *sp;

		if (hi <= 0 || lo >= (s32)len)
			continue;
		if (lo < 0)
			lo = 0;
		if (hi > (s32)len)
			hi = (s32)len;
		if (seg->res.n_spans >= SG_SPANS_MAX)
			break;
		sp = &seg->res.spans[seg->res.n_spans++];
		sp->off = (u32)lo;
		sp->len = (u16)(hi - lo);
		sp->ch = j->ch[dir][(j->len[f + i] & SG_J_ALT) ? 1 : 0];
		sp->pad = 0;
	}
	seg->n_replay = seg->res.n_spans;
}

/* Record one new span; false if the journal cannot hold it. */
static bool sg_j_add1(struct sg_journal *j, u8 dir, u32 seq, u32 len, u8 ch)
{
	u32 f = sg_jfirst(dir);
	u32 n = j->n[dir];
	u32 o, slot;

	if (!n) {
		j->base[dir] = seq;
		j->ch[dir][0] = 0;
		j->ch[dir][1] = 0;
	}
	if (j->ch[dir][0] == ch || !j->ch[dir][0])
		slot = 0;
	else if (j->ch[dir][1] == ch || !j->ch[dir][1])
		slot = 1;
	else
		return false;
	if (sg_seq_diff(seq, j->base[dir]) < 0)
		return false;
	o = seq - j->base[dir];
	while (len) {
		u32 l = len > SG_J_LEN_MAX ? SG_J_LEN_MAX : len;
		u16 tag = slot ? SG_J_ALT : 0;

		if (n) {
			u32 lo = j->off[f + n - 1];
			u32 ll = j->len[f + n - 1] & SG_J_LEN_MAX;

			if ((j->len[f + n - 1] & SG_J_ALT) == tag &&
			    lo + ll == o && ll + l <= SG_J_LEN_MAX) {
				j->len[f + n - 1] = (u16)((ll + l) | tag);
				o += l;
				len -= l;
				continue;
			}
		}
		if (n >= sg_jcap(dir) || o + l > 0xffff)
			return false;
		j->off[f + n] = (u16)o;
		j->len[f + n] = (u16)(l | tag);
		n++;
		j->n[dir] = (u8)n;
		o += l;
		len -= l;
	}
	j->ch[dir][slot] = ch;
	return true;
}

/*
 * What sg_j_add1() may change in one direction: its count, base, chars
 * and the last entry (extended in place). Restoring this undoes a
 * partial add without a copy of the journal on the stack.
 */
struct sg_j_mark {
	u32 base;
	u16 last_len;
	u8 n;
	u8 ch[2];
};

static void sg_j_save(const struct sg_journal *j, u8 dir, struct sg_j_mark *mk)
{
	mk->base = j->base[dir];
	mk->n = j->n[dir];
	mk->ch[0] = j->ch[dir][0];
	mk->ch[1] = j->ch[dir][1];
	mk->last_len = mk->n ? j->len[sg_jfirst(dir) + mk->n - 1] : 0;
}

static void sg_j_restore(struct sg_journal *j, u8 dir,
			 const struct sg_j_mark *mk)
{
	j->base[dir] = mk->base;
	j->n[dir] = mk->n;
	j->ch[dir][0] = mk->ch[0];
	j->ch[dir][1] = mk->ch[1];
	if (mk->n)
		j->len[sg_jfirst(dir) + mk->n - 1] = mk->last_len;
}

/*
 * Record the segment's new spans in @j, all or none. Acknowledged spans
 * make room first (evicting them is final whatever the verdict: the
 * peer has those bytes). 0: recorded; 1: no room while unacked spans
 * remain (wait for the ACK); 2: no room at all.
 */
static int sg_j_add(struct sg_seg *seg, struct sg_journal *j, u32 acked)
{
	const struct sg_result *r = &seg->res;
	struct sg_j_mark mk;
	u8 dir = seg->dir;
	u32 i;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		sg_j_save(j, dir, &mk);
		for (i = seg->n_replay; i < r->n_spans; i++)
			if (!sg_j_add1(j, dir, seg->seq + r->spans[i].off,
				       r->spans[i].len, r->spans[i].ch))
				break;
		if (i == r->n_spans)
			return 0;
		sg_j_restore(j, dir, &mk);
		if (pass == 0)
			sg_j_evict(j, dir, acked);
	}
	return j->n[dir] ? 1 : 2;
}

/* ------------------------------------------------------------------ */
/* Copy of unacknowledged client command bytes                        */
/* ------------------------------------------------------------------ */

static inline u32 sg_ring_at(const struct sg_stream *m, u32 k)
{
	u32 i = (u32)m->rhead + k;

	return i >= SG_RING ? i - SG_RING : i;
}

/*
 * Keyed fingerprint of client bytes, summed mod 2^64 over 8-byte blocks
 * aligned on absolute sequence numbers. Block b gets two secret 32-bit
 * multipliers z = sg_fp_mix(key, b); its bytes, read little-endian as two
 * 32-bit halves (bytes outside the range as zero), are multiplied by
 * them. The sum is linear in each byte at its sequence number, so a range
 * cut anywhere sums to the same value. A client that does not know the
 * key changes it with probability at least 1 - 2^-32: for a half that
 * differs by X (0 < |X| < 2^32), X * z is one-to-one over the 2^32 values
 * of z mod 2^64, so one z at most cancels the rest of the difference.
 * One mix per 8 bytes instead of one per byte.
 */
static inline u64 sg_fp_mix(u64 k, u32 b)
{
	u64 x = k ^ ((u64)b * 0x9e3779b97f4a7c15ull);

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

static inline u64 sg_fp_block(u64 k, u32 b, u64 w)
{
	u64 z = sg_fp_mix(k, b);

	return (w & 0xffffffffu) * (z & 0xffffffffu) + (w >> 32) * (z >> 32);
}

/* The 64-bit key of the fingerprint, from the connection's secret. */
static inline u64 sg_fp_key(u32 key)
{
	return ((u64)key << 32 | key) * 0xd6e8feb86659fd93ull;
}

/*
 * Fingerprint of p[0..n) at sequence number @q. Blocks are numbered
 * q >> 3 with q a u32 that wraps as sequence numbers do, so a range
 * across 2^32 sums as its pieces on either side.
 */
static u64 sg_fp(u32 key, u32 q, const u8 *p, u32 n)
{
	u64 k = sg_fp_key(key), w, sum = 0;
	u32 o = q & 7, i;

	if (o) {	/* the head, in a block begun before @q */
		for (w = 0, i = 0; i < n && o + i < 8; i++)
			w |= (u64)p[i] << (8 * (o + i));
		sum += sg_fp_block(k, q >> 3, w);
		p += i;
		n -= i;
		q += i;
	}
	for (; n >= 8; n -= 8, p += 8, q += 8)
		sum += sg_fp_block(k, q >> 3, sg_load_le64(p));
	if (n) {	/* the tail, in a block that ends after the range */
		for (w = 0, i = 0; i < n; i++)
			w |= (u64)p[i] << (8 * i);
		sum += sg_fp_block(k, q >> 3, w);
	}
	return sum;
}

/* Copy new client bytes at @seq into the ring's free space. */
static void sg_ring_stage(struct sg_seg *seg, const u8 *p, u32 n, u32 seq)
{
	struct sg_stream *m = SM(seg);
	u32 room, k, at;

	if (seg->sflags2 & SEG2_RING_OVER) {
		seg->uv_run += sg_fp(m->key, seq, p, n);
		return;
	}
	if (!seg->staged)
		seg->stage_seq = seq;
	room = SG_RING - m->rused - seg->staged;
	if (n > room) {
		seg->sflags2 |= SEG2_RING_OVER;
		seg->uv_run += sg_fp(m->key, seq + room, p + room, n - room);
		n = room;
	}
	at = sg_ring_at(m, (u32)m->rused + seg->staged);
	k = SG_RING - at < n ? SG_RING - at : n;	/* up to the wrap */
	__builtin_memcpy(m->ring + at, p, k);
	__builtin_memcpy(m->ring, p + k, n - k);
	seg->staged = (u16)(seg->staged + n);
}

/* The server acknowledged client bytes below @ack: they need no copy. */
static void sg_ring_ack(struct sg_stream *m, u32 ack)
{
	u32 i, k;
	s32 d;

	while (m->rn) {
		d = sg_seq_diff(ack, m->run_seq[0]);
		if (d <= 0)
			break;
		k = (u32)d < m->run_len[0] ? (u32)d : m->run_len[0];
		m->rhead = (u16)sg_ring_at(m, k);
		m->rused = (u16)(m->rused - k);
		if (k < m->run_len[0]) {
			m->run_seq[0] += k;
			m->run_len[0] = (u16)(m->run_len[0] - k);
			break;
		}
		for (i = 1; i < m->rn; i++) {
			m->run_seq[i - 1] = m->run_seq[i];
			m->run_len[i - 1] = m->run_len[i];
		}
		m->rn--;
	}
	if (!m->rn)
		m->rhead = 0;
	if (m->uv_lo != m->uv_hi) {
		if (sg_seq_diff(ack, m->uv_hi) >= 0) {
			m->uv_lo = m->uv_hi;
		} else if (sg_seq_diff(ack, m->uv_lo) > 0) {
			m->uv_lo = ack;
			m->uv_lost = 1;	/* the rest cannot be checked */
		}
	}
}

/*
 * Whether the staged bytes can be committed: 0 yes; 1 they need room
 * that unacknowledged copies hold (wait for the server's ACK).
 */
static int sg_ring_check(const struct sg_seg *seg)
{
	const struct sg_stream *m = SM(seg);
	bool pending = m->rused || m->uv_lo != m->uv_hi;
	bool joins = m->rn && m->run_seq[m->rn - 1] + m->run_len[m->rn - 1] ==
			      seg->stage_seq;

	/*
	 * Full with unacknowledged copies: wait for the ACK, unless this
	 * segment re-sent all the uncopied bytes (checked) and continues
	 * them (a retransmission collapsed with new data): it extends them.
	 */
	if ((seg->sflags2 & SEG2_RING_OVER) && pending &&
	    !(m->uv_lo != m->uv_hi && !seg->staged &&
	      seg->stage_seq == m->uv_hi &&
	      seg->uv_cov == m->uv_hi - m->uv_lo &&
	      !(seg->sflags & SEG_DESYNC)))
		return 1;
	if (!joins && m->rn >= SG_RING_RUNS)
		return 1;
	return 0;
}

static void sg_ring_commit(struct sg_seg *seg)
{
	struct sg_stream *m = SM(seg);
	u32 end;

	if (!(seg->sflags2 & SEG2_STAGING))
		return;
	if (seg->staged) {
		if (m->rn && m->run_seq[m->rn - 1] + m->run_len[m->rn - 1] ==
			     seg->stage_seq) {
			m->run_len[m->rn - 1] =
				(u16)(m->run_len[m->rn - 1] + seg->staged);
		} else {
			m->run_seq[m->rn] = seg->stage_seq;
			m->run_len[m->rn] = seg->staged;
			m->rn++;
		}
		m->rused = (u16)(m->rused + seg->staged);
	}
	/* command bytes past the copy: their re-sent form cannot be checked */
	end = seg->stage_seq + seg->staged;
	if ((seg->sflags2 & (SEG2_RING_OVER | SEG2_CMD)) ==
	    (SEG2_RING_OVER | SEG2_CMD) &&
	    sg_seq_diff(seg->cmd_end, end) > 0) {
		if (m->uv_lo != m->uv_hi && end == m->uv_hi) {
			m->uv_hash += seg->uv_snap;	/* extended */
		} else {
			m->uv_lo = end;
			m->uv_hash = seg->uv_snap;
			m->uv_holds = 0;
			m->uv_lost = 0;
		}
		m->uv_hi = seg->cmd_end;
	}
}

/* ------------------------------------------------------------------ */
/* Re-sent bytes                                                      */
/* ------------------------------------------------------------------ */

static void sg_desync(struct sg_seg *seg, u32 why)
{
	if (seg->sflags & SEG_DESYNC)
		return;
	seg->sflags |= SEG_DESYNC;
	sg_violate(seg, SG_C_DESYNC, why, 0, NULL, 0);
}

/*
 * DATA guard states (seg->rstate); RG_ASSUMED: the line start is only
 * assumed, from a LF at the edge of the range.
 */
enum {
	RG_EDGE, RG_MID, RG_BREAK, RG_CR, RG_BOL, RG_DOT, RG_BOL_DOT,
	RG_BOL_DOT_CR, RG_DOT_CR
};

#define RG_ASSUMED	0x80

/*
 * Re-sent DATA body bytes, for which no copy is kept: they must not hold
 * an end of data (CRLF "." CRLF: desync) or another "." between
 * line-break bytes (smuggling), whatever the first copy held. A shape
 * cut by the edge of the re-sent range is not seen: the first copy may
 * have ended its segment there (the model's stated limit). A LF at the
 * edge may end a CRLF or be bare: an end of data from it is reported as
 * smuggling, the class both forms fall in when they are new.
 */
static void sg_resent_data(struct sg_seg *seg, const u8 *p, u32 n, u32 q)
{
	const struct sg_conn_state *s = W(seg);
	u8 st = seg->rstate & 0x7f, as = seg->rstate & RG_ASSUMED;
	u32 i;

	for (i = 0; i < n && !(seg->sflags & SEG_STOP); i++, q++) {
		u8 c = p[i];

		if (q == s->data_lo) {
			/*
			 * the body starts where the live scan started it:
			 * at a line start, unless bytes past DATA came
			 * before the 354 (a desync, logged)
			 */
			st = (s->stream & ST_DATA_MID) ? RG_MID : RG_BOL;
			as = 0;
		}
		if (st == RG_BOL_DOT_CR) {
			if (c == '\n' && !as)
				sg_desync(seg, SG_DESYNC_EOD);
			else
				sg_smuggle(seg, '.');
		} else if (st == RG_DOT_CR) {
			sg_smuggle(seg, '.');
			st = RG_CR;	/* then @c after that CR */
		} else if (st == RG_DOT && c == '\n') {
			sg_smuggle(seg, '.');
		} else if (st == RG_BOL_DOT && c == '\n') {
			sg_smuggle(seg, '.');
		}
		/*
		 * A CR after such a dot is judged by the next byte, as
		 * sg_cli_data() holds it: a copy that ends on it passed.
		 */
		if (c == '\r' && (st == RG_BOL_DOT || st == RG_DOT)) {
			st = st == RG_DOT ? RG_DOT_CR : RG_BOL_DOT_CR;
			continue;
		}
		if (c == '.' && st == RG_BOL) {
			st = RG_BOL_DOT;
			continue;
		}
		as = 0;
		if (c == '\r')
			st = RG_CR;
		else if (c == '\n' && st == RG_EDGE)
			st = RG_BOL, as = RG_ASSUMED;
		else if (c == '\n')
			st = st == RG_CR ? RG_BOL : RG_BREAK;
		else if (c == 0)
			st = RG_BREAK;
		else if (c == '.' && (st == RG_BREAK || st == RG_CR))
			st = RG_DOT;
		else
			st = RG_MID;
	}
	seg->rstate = st | as;
}

/*
 * Client bytes p[0..n) at @q, all below next_seq: bytes the server
 * acknowledged are its own business (it drops them); command bytes must
 * equal the copy; bytes never copied are a desync; DATA body bytes go
 * through sg_resent_data().
 */
static void sg_resent_cli(struct sg_seg *seg, const u8 *p, u32 n, u32 q)
{
	const struct sg_conn_state *s = W(seg);
	const struct sg_stream *m = SM(seg);
	u32 k, i, r, base;

	if (sg_seq_diff(q, s->acked[SG_DIR_CLIENT]) < 0) {
		k = (u32)sg_seq_diff(s->acked[SG_DIR_CLIENT], q);
		if (k >= n)
			return;
		p += k;
		n -= k;
		q += k;
		seg->rstate = RG_EDGE;
	}
	while (n && !(seg->sflags & SEG_STOP)) {
		u32 next = q + n;	/* end of this piece */

		for (r = 0, base = 0; r < m->rn; base += m->run_len[r], r++) {
			s32 lo = sg_seq_diff(q, m->run_seq[r]);

			if (lo >= 0 && lo < (s32)m->run_len[r])
				break;	/* q inside run r */
			if (lo < 0 && sg_seq_diff(m->run_seq[r], next) < 0)
				next = m->run_seq[r];
		}
		if (r < m->rn) {
			u32 lo = q - m->run_seq[r];

			k = m->run_len[r] - lo;
			if (k > n)
				k = n;
			for (i = 0; i < k; i++)
				if (m->ring[sg_ring_at(m, base + lo + i)] != p[i])
					break;
			if (i < k)
				sg_desync(seg, SG_DESYNC_CONTENT);
			seg->rstate = RG_EDGE;
		} else if (m->uv_lo != m->uv_hi &&
			   sg_seq_diff(q, m->uv_lo) >= 0 &&
			   sg_seq_diff(q, m->uv_hi) < 0) {
			/* not copied: summed, compared at the segment's end */
			k = m->uv_hi - q;
			if (k > n)
				k = n;
			seg->uv_chk += sg_fp(m->key, q, p, k);
			seg->uv_cov += k;
			seg->rstate = RG_EDGE;
		} else {
			if (m->uv_lo != m->uv_hi &&
			    sg_seq_diff(m->uv_lo, q) > 0 &&
			    sg_seq_diff(m->uv_lo, next) < 0)
				next = m->uv_lo;
			k = next - q;
			if (s->cmode == CM_DATA && !(s->flags & F_PICKUP_C) &&
			    sg_seq_diff(q, s->data_lo) >= 0)
				sg_resent_data(seg, p, k, q);
			else
				seg->rstate = RG_EDGE;
		}
		p += k;
		n -= k;
		q += k;
	}
}

static void sg_resent(struct sg_seg *seg, const u8 *p, u32 n, u32 off)
{
	const struct sg_conn_state *s = W(seg);
	u32 q = seg->seq + off;

	if ((seg->sflags & SEG_OPAQUE) || (s->flags & F_OPAQUE))
		return;
	if (seg->dir == SG_DIR_CLIENT) {
		sg_resent_cli(seg, p, n, q);
		return;
	}
	/* the server re-sends its own bytes; their masks must be known */
	if (sg_seq_diff(q, SM(seg)->j.floor[SG_DIR_SERVER]) < 0)
		sg_desync(seg, SG_DESYNC_MASKS);
}

/* ------------------------------------------------------------------ */
/* Segments                                                           */
/* ------------------------------------------------------------------ */

static void sg_dir_start(struct sg_conn_state *s, u8 dir, u32 seq)
{
	s->next_seq[dir] = seq;
	s->acked[dir] = seq;
	s->flags |= dir == SG_DIR_CLIENT ? F_STARTED_C : F_STARTED_S;
}

void sg_seg_begin(struct sg_seg *seg, struct sg_conn *conn,
		  const struct sg_policy *pol, enum sg_dir dir,
		  u32 seq, u32 len, u32 ack, u8 tcp_flags)
{
	struct sg_conn_state *s;
	struct sg_stream *m = (struct sg_stream *)((u8 *)conn + SG_STATE_SIZE);
	u8 started = dir == SG_DIR_CLIENT ? F_STARTED_C : F_STARTED_S;
	u8 fin = dir == SG_DIR_CLIENT ? ST_FIN_C : ST_FIN_S;
	s32 rel;

	__builtin_memcpy(&seg->work, conn, sizeof(struct sg_conn_state));
	seg->conn = conn;
	seg->pol = pol;
	seg->pos = 0;
	seg->len = len;
	seg->skip = 0;
	seg->dir = (u8)dir;
	seg->flags = tcp_flags;
	seg->sflags = 0;
	seg->sflags2 = 0;
	seg->rstate = RG_EDGE;
	seg->staged = 0;
	seg->stage_seq = 0;
	seg->cmd_end = 0;
	seg->uv_run = 0;
	seg->uv_snap = 0;
	seg->uv_chk = 0;
	seg->uv_cov = 0;
	seg->ack = ack;
	seg->tsval = 0;
	seg->n_replay = 0;
	/* spans and events are written whole when they are added */
	seg->res.verdict = SG_V_PASS;
	seg->res.n_spans = 0;
	seg->res.n_events = 0;
	seg->res.events_lost = 0;
	seg->res.new_bytes = 0;
	s = W(seg);

	/*
	 * A new policy: the trie node of a verb or keyword in progress
	 * indexes the old policy's trie. Never walk the new trie from it: the
	 * token is ruled out from here (its remaining bytes are masked, or
	 * its end, as for a disallowed word); the next line starts afresh at
	 * the root, which every trie shares.
	 */
	if (s->gen != (u8)pol->generation) {
		s->gen = (u8)pol->generation;
		if (s->cst == CS_VERB && s->cnode)
			s->cnode = SG_TRIE_DEAD;
		if (s->sst == SS_KW && s->snode)
			s->snode = SG_TRIE_DEAD;
	}

	seg->seq = seq;
	/* A receiver never reads RST payload (RFC 5961, RFC 9293 3.5.3). */
	if (tcp_flags & SG_TCP_RST) {
		seg->sflags |= SEG_NOFEED;
		return;
	}
	if (tcp_flags & SG_TCP_SYN) {
		seq++;		/* payload (TFO) follows the SYN */
		seg->seq = seq;
		if (len) {
			/*
			 * SYN payload: discarded in an established connection
			 * (challenge ACK) and by a server without a Fast Open
			 * cookie; never consumed. The SYN is dropped: a Fast
			 * Open client sends it again without data.
			 */
			seg->sflags |= SEG_GAP;
			sg_verdict(seg, SG_V_HOLD);
			return;
		}
		if (!(s->flags & started)) {
			sg_dir_start(s, (u8)dir, seq);
			seg->sflags2 |= SEG2_STARTED;
		}
	}
	if (!len)
		return;
	if (!(s->flags & started)) {
		/* First bytes of a direction whose SYN we did not see. */
		sg_dir_start(s, (u8)dir, seq);
		seg->sflags2 |= SEG2_STARTED;
	}
	if ((s->flags & (F_PICKUP_S | F_PICKUP_C)) &&
	    !(s->flags & F_PICKUP_EV)) {
		struct sg_event *ev;

		s->flags |= F_PICKUP_EV;
		ev = sg_event(seg, SG_EV_PICKUP);
		if (ev)
			ev->value = pol->pickup;
		if (pol->pickup == SG_PICKUP_RESET)
			sg_violate(seg, SG_C_PICKUP, 0, 0, NULL, 0);
	}
	rel = sg_seq_diff(seq, s->next_seq[dir]);
	/* Bytes past a FIN: a receiver that took the FIN drops them. */
	if ((s->stream & fin) && !(s->flags & F_OPAQUE) &&
	    sg_seq_diff(seq + len, s->fin_seq[dir]) > 0) {
		seg->sflags |= SEG_GAP;
		sg_verdict(seg, SG_V_HOLD);
		return;
	}
	if (rel > 0) {
		/* a gap: held; in TLS passed, but never counted as new */
		seg->sflags |= SEG_GAP;
		if (!(s->flags & F_OPAQUE))
			sg_verdict(seg, SG_V_HOLD);
		return;
	}
	if (rel < 0) {
		seg->skip = -(u32)rel < len ? -(u32)rel : len;	/* rel may be INT_MIN */
		sg_j_replay(seg, &m->j, seq, seg->skip);
	}
	if (s->flags & F_OPAQUE)
		seg->sflags |= SEG_OPAQUE;
}

/*
 * PAWS (RFC 7323 5.3, as Linux's tcp_paws_discard() with its 1-tick
 * window): a TSval older than the newest one seen in order means the
 * receiver discards the segment, so it is neither consumed nor passed.
 * ts_recent is at least the receiver's, so this drops a superset of what
 * the receiver drops; a sender's own TSvals only grow, so its segments
 * are never dropped. A pure ACK passes (reordered ACKs carry old
 * TSvals), but its ACK is not believed.
 */
void sg_seg_timestamp(struct sg_seg *seg, u32 tsval)
{
	const struct sg_conn_state *s = W(seg);
	u8 has = seg->dir == SG_DIR_CLIENT ? ST_TS_C : ST_TS_S;

	seg->tsval = tsval;
	seg->sflags2 |= SEG2_TS;
	if ((seg->flags & (SG_TCP_RST | SG_TCP_SYN)) || !(s->stream & has) ||
	    (s->flags & F_OPAQUE) ||
	    sg_seq_diff(s->ts_recent[seg->dir], tsval) <= 1)
		return;
	seg->sflags2 |= SEG2_PAWS;
	if (seg->len) {
		seg->sflags |= SEG_GAP;
		sg_verdict(seg, SG_V_HOLD);
	}
}

void sg_seg_feed(struct sg_seg *seg, const u8 *data, u32 n)
{
	struct sg_conn_state *s = W(seg);
	u32 start = seg->pos;

	if (n > seg->len - seg->pos)
		n = seg->len - seg->pos;	/* never past the announced end */
	seg->pos += n;
	if (seg->sflags & (SEG_GAP | SEG_STOP | SEG_NOFEED))
		return;
	if (start < seg->skip) {
		u32 k = seg->skip - start;

		sg_resent(seg, data, k < n ? k : n, start);
		if (k >= n || (seg->sflags & SEG_STOP))
			return;
		data += k;
		n -= k;
		start += k;
	}
	s->next_seq[seg->dir] += n;
	seg->res.new_bytes += n;
	if ((seg->sflags & SEG_OPAQUE) || (s->flags & F_OPAQUE))
		return;
	if (seg->dir == SG_DIR_CLIENT)
		sg_cli(seg, data, n, start);
	else
		sg_srv(seg, data, n, start);
}

/*
 * Whether a passed segment needs more than its ACK recorded: flags other
 * than ACK, a timestamp, staged bytes, a new direction, an ACK that
 * releases copies of client bytes, or a peer direction not started.
 */
static inline bool unlikely_stream(const struct sg_seg *seg)
{
	const struct sg_conn_state *s = (const struct sg_conn_state *)&seg->work;
	u8 pstarted = seg->dir == SG_DIR_CLIENT ? F_STARTED_S : F_STARTED_C;

	return seg->flags != SG_TCP_ACK || seg->sflags2 ||
	       seg->dir == SG_DIR_SERVER || !(s->flags & pstarted);
}

/* What a passed segment teaches about the other direction and itself. */
static void sg_seg_commit_stream(struct sg_seg *seg)
{
	struct sg_conn_state *s = W(seg);
	struct sg_stream *m = SM(seg);
	u8 dir = seg->dir, peer = dir ^ 1;
	u8 pstarted = peer == SG_DIR_CLIENT ? F_STARTED_C : F_STARTED_S;
	u8 started = dir == SG_DIR_CLIENT ? F_STARTED_C : F_STARTED_S;
	u8 ts = dir == SG_DIR_CLIENT ? ST_TS_C : ST_TS_S;
	u8 fin = dir == SG_DIR_CLIENT ? ST_FIN_C : ST_FIN_S;
	u32 a = seg->ack;

	if (seg->flags & SG_TCP_RST)
		return;
	/* nothing before a direction's first byte was ever masked */
	if ((seg->sflags2 & SEG2_STARTED) && !m->j.n[dir])
		m->j.floor[dir] = s->next_seq[dir] - seg->res.new_bytes;
	/*
	 * The ACK: the peer's bytes below it need no copy and may lose
	 * their journal entries when room is needed.
	 */
	if ((seg->flags & SG_TCP_ACK) && !(seg->sflags2 & SEG2_PAWS) &&
	    (s->flags & pstarted)) {
		if (sg_seq_diff(a, s->next_seq[peer]) > 0)
			a = s->next_seq[peer];
		if (sg_seq_diff(a, s->acked[peer]) > 0) {
			s->acked[peer] = a;
			if (peer == SG_DIR_CLIENT)
				sg_ring_ack(m, a);
		}
	}
	if ((seg->sflags2 & (SEG2_TS | SEG2_PAWS)) == SEG2_TS &&
	    (!(s->stream & ts) ||
	     sg_seq_diff(seg->tsval, s->ts_recent[dir]) > 0)) {
		s->ts_recent[dir] = seg->tsval;
		s->stream |= ts;
	}
	if ((seg->flags & SG_TCP_FIN) && !(s->stream & fin) &&
	    (s->flags & started)) {
		s->fin_seq[dir] = seg->seq + seg->len;
		s->stream |= fin;
	}
	if (dir == SG_DIR_CLIENT)
		sg_ring_commit(seg);
}

enum sg_verdict sg_seg_end(struct sg_seg *seg)
{
	struct sg_conn_state *s = W(seg);
	struct sg_stream *m = SM(seg);
	struct sg_result *r = &seg->res;
	u8 dir = seg->dir;
	int ok;

	/*
	 * Re-sent uncopied command bytes: all of them, as fingerprinted. A
	 * re-send of some of them (a loss probe or a timeout re-sends one
	 * MSS of a large segment whose ACK is late) cannot be checked: it
	 * waits for that ACK (hold), SG_UV_HOLDS times at most. After a
	 * partial ACK the rest can never be checked: desync.
	 */
	if (seg->uv_cov && r->verdict == SG_V_PASS) {
		bool whole = seg->uv_cov == m->uv_hi - m->uv_lo;

		if (m->uv_lost || (whole ? seg->uv_chk != m->uv_hash :
					    m->uv_holds >= SG_UV_HOLDS)) {
			sg_desync(seg, SG_DESYNC_UNCOPIED);
		} else if (!whole) {
			m->uv_holds++;
			sg_verdict(seg, SG_V_HOLD);
		}
	}
	if (r->verdict == SG_V_PASS && (seg->sflags2 & SEG2_STAGING) &&
	    sg_ring_check(seg))
		sg_verdict(seg, SG_V_HOLD);	/* copies full: wait for ACKs */
	if (r->verdict == SG_V_PASS && r->n_spans > seg->n_replay) {
		/* in place: a failed add leaves the journal as it was */
		if (seg->sflags & SEG_OVERFLOW) {
			sg_j_evict(&m->j, dir, s->acked[dir]);
			ok = m->j.n[dir] ? 1 : 2;
		} else {
			ok = sg_j_add(seg, &m->j, s->acked[dir]);
		}
		if (ok == 1) {
			seg->sflags |= SEG_RWLIMIT;
			sg_verdict(seg, SG_V_HOLD);
		} else if (ok == 2) {
			seg->sflags |= SEG_RWLIMIT;
			sg_violate(seg, SG_C_REWRITE_LIMIT,
				   r->n_spans - seg->n_replay, sg_jcap(dir),
				   NULL, 0);
		}
	}
	if (r->verdict == SG_V_PASS) {
		if (unlikely_stream(seg)) {
			sg_seg_commit_stream(seg);
		} else if (sg_seq_diff(seg->ack, s->acked[dir ^ 1]) > 0 &&
			   sg_seq_diff(seg->ack, s->next_seq[dir ^ 1]) <= 0) {
			/* the common case: an in-order data segment's ACK */
			s->acked[dir ^ 1] = seg->ack;
		}
		__builtin_memcpy(seg->conn, &seg->work, sizeof(struct sg_conn_state));
	} else {
		r->new_bytes = 0;
	}
	return (enum sg_verdict)r->verdict;
}
