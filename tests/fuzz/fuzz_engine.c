// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: segmentation invariance of the smtpguard engine.
 *
 * Input: byte 0 picks a policy, byte 1 seeds the schedule, the rest is a
 * transcript of turns separated by 0xFE; turn 0 is the server's, then
 * they alternate (client, server, ...).
 *
 * Reference run: each turn is one segment, preceded by a pure ACK from
 * the peer of everything it received.
 * Test runs: (a) every byte its own segment; (b) random segment sizes
 * with random retransmissions of unacked bytes (bytes at or above the
 * peer's last ACK, possibly overlapping new data) and random partial
 * pure ACKs.
 *
 * Invariants (abort on failure):
 *  1. spans stay inside their segment; output length == input length;
 *  2. output bytes of both directions equal the reference, up to the
 *     first turn the reference does not pass; retransmitted bytes equal
 *     the reference output at their offsets;
 *  3. the test run passes every turn the reference passes, and fails
 *     (DROP or RESET, no more severe than the reference) in the turn
 *     the reference fails -- unless a rewrite-limit decided it, which
 *     depends on segmentation by definition (a journal too small for a
 *     segment's spans, or a word whose end came after its letters had
 *     left: the test run may then fail in that turn or earlier);
 *  4. HOLD happens only when new spans meet a journal of unacked spans:
 *     after a full ACK from the peer the retry must not HOLD;
 *  5. (byte run) at every client command-line start in command mode
 *     (at its verb's first byte, past leading blanks), no disallowed
 *     verb from a dictionary of real verbs reaches the server whole,
 *     when the policy masks verbs.
 *  6. (reference run) the same at every command start of the Postfix and
 *     the Exim reading model (server_model.h), driven by the server's
 *     replies, for the bytes the engine passed before any reset -- when
 *     the policy masks verbs and logs none of the classes that let the
 *     engine's reading and a server's part.
 *
 * Attacker run (doc/stream-model.md): client segments are sometimes lost
 * past the gateway (as a TTL expiry or loss would make the server discard
 * them) and re-sent with other bytes (a verb, an end of data); SYN and
 * RST segments carry payload; segments come with sequence numbers about
 * 2^31 away. A receiver model rebuilds what the server reads, by Linux's
 * rules: no SYN or RST payload, in-order bytes from rcv_nxt on, bytes out
 * of order may be replaced by a later copy until the hole is filled.
 * The server replies only to what it read: before each server turn the
 * lost bytes are re-sent from rcv_nxt on.
 *  7. a SYN with payload is held, an RST's payload never consumed, a
 *     segment 2^31-1 ahead held, one 2^31-1 behind never consumed;
 *  8. the server's view, lexed by a fresh engine one byte per segment
 *     with the transcript's replies, never has a disallowed dictionary
 *     verb at a command-line start, unless the gateway reset first (then
 *     the view ends there).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* White box: the invariant 5 check reads the engine's private state. */
#include "../../kmod/engine/engine.c"
#include "../../kmod/engine/policy.c"
#include "../../userspace/policy_file.h"
#include "server_model.h"

#ifndef SG_POLICY_DIR
#define SG_POLICY_DIR "../policy"
#endif

#define MAX_TURNS 64
#define FAIL(...) do { fprintf(stderr, "INVARIANT: " __VA_ARGS__); \
		       fprintf(stderr, "\n"); abort(); } while (0)

static const char *const policies[] = {
	"@esmtp", "@rfc821", "@strict",
	/* everything logged: violations never stop the session */
	"verbs HELO EHLO MAIL RCPT DATA RSET NOOP QUIT AUTH\n"
	"keywords SIZE PIPELINING 8BITMIME DSN\n"
	"banner mask\n"
	"action command-line log\naction reply-line log\naction text-line log\n"
	"action recipients log\naction address-length log\n"
	"action smuggling log\naction starttls-injection log\naction bdat log\n"
	"action pipeline log\naction rewrite-limit reset\n"
	"action desync log\naction bare-newline log\n",
	/* tiny limits, logged */
	"verbs HELO EHLO MAIL RCPT DATA RSET NOOP QUIT\n"
	"keywords SIZE PIPELINING\nbanner mask\nmask-char 0x23\nbanner-char .\n"
	"limit command-line 20\nlimit reply-line 20\nlimit text-line 30\n"
	"limit recipients 2\nlimit address 5\nlimit bdat-chunk 50\n"
	"action command-line log\naction reply-line log\naction text-line log\n"
	"action recipients log\naction address-length log\n"
	"action smuggling log\naction bdat log\naction pipeline log\n"
	"action desync log\n",
};
#define NPOL (sizeof(policies) / sizeof(policies[0]))

static struct sg_policy pol[NPOL];

static const char *const dict[] = {
	"VRFY", "EXPN", "TURN", "ETRN", "ATRN", "X-LINK2STATE", "XEXCH50",
	"KILL", "WIZ", "DEBUG", "VERB", "SAML", "SEND", "SOML", "ONEX",
	"XUSR", "BDAT", "STARTTLS", "AUTH", "EHLO", "HELP", "XADR", "XGEN",
	"XCIR", "XSTA", "XTRN", "X-EXPS", "LHLO", "XCLIENT", "XFORWARD",
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	unsigned int i;

	(void)argc;
	(void)argv;
	for (i = 0; i < NPOL; i++) {
		struct sg_pf_error e;
		enum sg_pf_err r;

		if (policies[i][0] == '@') {
			char path[256];

			snprintf(path, sizeof(path), "%s/%s.conf",
				 SG_POLICY_DIR, policies[i] + 1);
			r = sg_policy_parse_file(path, &pol[i], &e);
		} else {
			r = sg_policy_parse_string("fuzz", policies[i], &pol[i],
						   &e);
		}
		if (r) {
			fprintf(stderr, "fuzz policy %u: %s\n", i, e.msg);
			exit(1);
		}
		/* pairs share a generation: the swap run also meets node
		 * indices of another policy's trie (an owner that did not
		 * bump the generation), which must stay in bounds */
		pol[i].generation = i / 2 + 1;
	}
	return 0;
}

struct turn {
	int dir;
	const u8 *p;
	u32 len;
	u32 base;		/* stream offset of its first byte */
};

struct run {
	const struct sg_policy *pol;
	struct sg_conn conn;
	u32 isn[2];
	u32 passed[2];		/* contiguous bytes passed per direction */
	u32 acked[2];		/* last ACK the peer sent for each dir */
	u8 *out[2];		/* output stream per direction */
	u32 cap[2];
	const u32 *srv_read;	/* attacker run: the server ACKs only this */
};

static u64 rng;

static u32 rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (u32)(rng >> 11);
}

static void run_init(struct run *r, const struct sg_policy *p, u32 total[2])
{
	struct sg_seg seg;

	memset(r, 0, sizeof(*r));
	r->pol = p;
	r->isn[0] = 0xfffffe00u;
	r->isn[1] = 12345;
	r->cap[0] = total[0] + 1;
	r->cap[1] = total[1] + 1;
	r->out[0] = calloc(1, r->cap[0]);
	r->out[1] = calloc(1, r->cap[1]);
	sg_conn_init(&r->conn, false);
	sg_seg_begin(&seg, &r->conn, p, SG_DIR_CLIENT, r->isn[0], 0, 0,
		     SG_TCP_SYN);
	sg_seg_end(&seg);
	sg_seg_begin(&seg, &r->conn, p, SG_DIR_SERVER, r->isn[1], 0,
		     r->isn[0] + 1, SG_TCP_SYN | SG_TCP_ACK);
	sg_seg_end(&seg);
}

static void run_free(struct run *r)
{
	free(r->out[0]);
	free(r->out[1]);
}

/* Pure ACK from @from of the peer's stream up to offset @off. */
static void ack(struct run *r, int from, u32 off)
{
	struct sg_seg seg;
	int to = from ^ 1;

	sg_seg_begin(&seg, &r->conn, r->pol, from,
		     r->isn[from] + 1 + r->passed[from], 0,
		     r->isn[to] + 1 + off, SG_TCP_ACK);
	if (sg_seg_end(&seg) != SG_V_PASS)
		FAIL("pure ACK not passed");
	if (off > r->acked[to])
		r->acked[to] = off;
}

static bool has_rewrite_limit(const struct sg_result *res)
{
	unsigned int i;

	for (i = 0; i < res->n_events; i++)
		if (res->events[i].kind == SG_EV_VIOLATION &&
		    res->events[i].klass == SG_C_REWRITE_LIMIT)
			return true;
	return false;
}

/*
 * Send stream bytes [off, off+len) of @dir (taken from @src, the whole
 * input stream). Returns the verdict; on PASS, writes the output.
 * @ref: the reference output to check retransmitted bytes against.
 */
static int send_seg(struct run *r, int dir, const u8 *src, u32 off, u32 len,
		    const u8 *ref, bool *rwlimit)
{
	struct sg_seg seg;
	u8 buf[4096 + 64];
	u8 *b = len <= sizeof(buf) ? buf : malloc(len);
	int peer = dir ^ 1, v, tries;
	u32 i;

	for (tries = 0; tries < 2; tries++) {
		u32 a = r->passed[peer];

		if (dir == SG_DIR_SERVER && r->srv_read)
			a = *r->srv_read;
		memcpy(b, src + off, len);
		sg_seg_begin(&seg, &r->conn, r->pol, dir,
			     r->isn[dir] + 1 + off, len,
			     r->isn[peer] + 1 + a, SG_TCP_ACK);
		/* feed in two chunks when possible */
		if (len > 2) {
			sg_seg_feed(&seg, b, len / 2);
			sg_seg_feed(&seg, b + len / 2, len - len / 2);
		} else {
			sg_seg_feed(&seg, b, len);
		}
		v = sg_seg_end(&seg);
		if (r->passed[peer] > r->acked[peer])
			r->acked[peer] = r->passed[peer];
		if (v != SG_V_HOLD)
			break;
		if (tries)
			FAIL("HOLD after a full ACK (dir %d off %u len %u)",
			     dir, off, len);
		ack(r, peer, r->passed[dir]);
	}
	if (rwlimit)
		*rwlimit = has_rewrite_limit(&seg.res) ||
			   (seg.sflags & SEG_RWLIMIT);
	if (v == SG_V_PASS) {
		for (i = 0; i < seg.res.n_spans; i++) {
			const struct sg_span *sp = &seg.res.spans[i];

			if (sp->off + sp->len > len || !sp->len)
				FAIL("span outside its segment");
			memset(b + sp->off, sp->ch, sp->len);
		}
		for (i = 0; i < len; i++) {
			u32 o = off + i;

			if (o < r->passed[dir]) {
				/* retransmitted: the first copy's bytes */
				if (ref && o >= r->acked[dir] &&
				    b[i] != r->out[dir][o])
					FAIL("retransmitted byte %u of dir %d differs",
					     o, dir);
			} else {
				r->out[dir][o] = b[i];
			}
		}
		if (off + len > r->passed[dir])
			r->passed[dir] = off + len;
	}
	if (b != buf)
		free(b);
	return v;
}

/* Invariant 5: at a client command-line start, check the output. */
static void check_verb(const struct run *r, const struct sg_policy *p,
		       const u8 *out, u32 off, u32 total)
{
	const struct sg_conn_state *s = (const void *)&r->conn;
	char tok[32];
	u32 i = off, n = 0, k;

	if (p->action[SG_C_VERB] != SG_A_MASK)
		return;
	if ((s->flags & (F_OPAQUE | F_TLS_WAIT | F_PICKUP_C)) ||
	    s->cmode != CM_CMD || s->cst != CS_BOL ||
	    (s->cflags & CF_AUTH_CONT))
		return;
	/*
	 * Checked at the verb's first byte, not at the line start: a 354
	 * that comes after leading blanks makes the rest of the line
	 * message text for the server too (and the engine a desync).
	 */
	if (i < total && (out[i] == ' ' || out[i] == '\t'))
		return;
	while (i < total && n < sizeof(tok) - 1 && out[i] != ' ' &&
	       out[i] != '\t' && out[i] != '\r' && out[i] != '\n')
		tok[n++] = (char)sg_up(out[i++]);
	if (i >= total)
		return;		/* verb not terminated in the stream */
	tok[n] = 0;
	for (k = 0; k < SG_ARRAY_SIZE(dict); k++) {
		u8 node = 0;
		u32 j;

		if (strcmp(tok, dict[k]))
			continue;
		for (j = 0; j < n && node != SG_TRIE_DEAD; j++)
			node = sg_trie_step(&p->verb_trie, node, (u8)tok[j]);
		if (node != SG_TRIE_DEAD &&
		    (p->verb_trie.node[node].accept & SG_TN_ALLOWED))
			continue;
		FAIL("disallowed verb %s reached the server at offset %u",
		     tok, off);
	}
}

/* Invariant 6: the server models' command starts. */
static bool models_apply(const struct sg_policy *p)
{
	static const u8 keep[] = { SG_C_SMUGGLING, SG_C_STARTTLS_INJECTION,
				   SG_C_PIPELINE, SG_C_REWRITE_LIMIT,
				   SG_C_DESYNC };
	unsigned int i;

	if (p->action[SG_C_VERB] != SG_A_MASK)
		return false;
	for (i = 0; i < sizeof(keep); i++)
		if (p->action[keep[i]] == SG_A_LOG)
			return false;
	return true;
}

static void model_verb(void *ctx, enum sm_kind kind, const u8 *v, u32 n,
		       u32 off)
{
	const struct sg_policy *p = ctx;
	char tok[32];
	u32 i, k;

	if (n >= sizeof(tok))
		return;
	for (i = 0; i < n; i++)
		tok[i] = (char)sg_up(v[i]);
	tok[n] = 0;
	for (k = 0; k < SG_ARRAY_SIZE(dict); k++) {
		u8 node = 0;

		if (strcmp(tok, dict[k]))
			continue;
		for (i = 0; i < n && node != SG_TRIE_DEAD; i++)
			node = sg_trie_step(&p->verb_trie, node, (u8)tok[i]);
		if (node != SG_TRIE_DEAD &&
		    (p->verb_trie.node[node].accept & SG_TN_ALLOWED))
			continue;
		FAIL("%s model: disallowed verb %s at a command start, offset %u",
		     kind == SM_EXIM ? "Exim" : "Postfix", tok, off);
	}
}

static void check_models(const struct sg_policy *p, const struct turn *t,
			 int nt, const u8 *srv, const struct run *ref)
{
	struct sm_model m;
	int k, i;

	if (!models_apply(p))
		return;
	for (k = SM_POSTFIX; k <= SM_EXIM; k++) {
		sm_init(&m, (enum sm_kind)k, model_verb, (void *)p);
		for (i = 0; i < nt; i++) {
			u32 end = t[i].base + t[i].len;
			u32 pass = ref->passed[t[i].dir];

			if (end > pass)
				end = pass;
			if (t[i].dir == SG_DIR_CLIENT)
				sm_client(&m, ref->out[0], end);
			else if (end > t[i].base)
				sm_server(&m, srv + t[i].base, end - t[i].base);
		}
	}
}

/* ---- attacker run: receiver model ---- */

struct rcv {
	u8 *buf;		/* what the server reads, by stream offset */
	u8 *have;		/* byte present (in order or out of order) */
	u32 nxt;		/* rcv_nxt, as an offset */
	u32 cap;
};

/* A segment the server gets: bytes below rcv_nxt are final; later ones
 * may be replaced by a later copy until the hole before them is filled. */
static void rcv_deliver(struct rcv *rv, u32 off, const u8 *b, u32 len)
{
	u32 i;

	for (i = 0; i < len && off + i < rv->cap; i++) {
		if (off + i < rv->nxt)
			continue;
		rv->buf[off + i] = b[i];
		rv->have[off + i] = 1;
	}
	while (rv->nxt < rv->cap && rv->have[rv->nxt])
		rv->nxt++;
}

enum { ATK_DELIVER, ATK_LOST };

/* One client segment of the attacker (@how it reaches the server):
 * returns the verdict. */
static int atk_send(struct run *r, struct rcv *rv, const u8 *b, u32 off,
		    u32 len, u8 flags, int how)
{
	struct sg_seg seg;
	u8 buf[4096 + 64];
	u32 i, seq = r->isn[0] + 1 + off;
	int v;

	if (len > sizeof(buf))
		len = sizeof(buf);
	memcpy(buf, b, len);
	if (flags & SG_TCP_SYN)
		seq--;
	sg_seg_begin(&seg, &r->conn, r->pol, SG_DIR_CLIENT, seq, len,
		     r->isn[1] + 1 + r->passed[1], flags | SG_TCP_ACK);
	sg_seg_feed(&seg, buf, len);
	v = sg_seg_end(&seg);
	if ((flags & SG_TCP_SYN) && len && v != SG_V_HOLD)
		FAIL("SYN with payload not held");
	if ((flags & SG_TCP_RST) && seg.res.new_bytes)
		FAIL("RST payload consumed");
	if (v != SG_V_PASS)
		return v;
	for (i = 0; i < seg.res.n_spans; i++) {
		const struct sg_span *sp = &seg.res.spans[i];

		if (sp->off + sp->len > len)
			FAIL("span outside its segment");
		memset(buf + sp->off, sp->ch, sp->len);
	}
	if (off + len > r->passed[0] && seg.res.new_bytes)
		r->passed[0] = off + len;
	if (how != ATK_LOST && !(flags & (SG_TCP_SYN | SG_TCP_RST)))
		rcv_deliver(rv, off, buf, len);
	return v;
}

/* Far-away sequence numbers: held ahead, never consumed behind. */
static void atk_far(struct run *r)
{
	static const u8 b[] = "VRFY far\r\n";
	struct sg_seg seg;
	u32 next = r->isn[0] + 1 + r->passed[0];
	int v;

	sg_seg_begin(&seg, &r->conn, r->pol, SG_DIR_CLIENT,
		     next + 0x7fffffffu, sizeof(b) - 1, 0, 0);
	sg_seg_feed(&seg, b, sizeof(b) - 1);
	v = sg_seg_end(&seg);
	if (v != SG_V_HOLD && !(sg_conn_opaque(&r->conn) && v == SG_V_PASS))
		FAIL("segment 2^31-1 ahead not held (verdict %d)", v);
	sg_seg_begin(&seg, &r->conn, r->pol, SG_DIR_CLIENT,
		     next - 0x7fffffffu, sizeof(b) - 1, 0, 0);
	sg_seg_feed(&seg, b, sizeof(b) - 1);
	sg_seg_end(&seg);
	if (seg.res.new_bytes)
		FAIL("segment 2^31-1 behind consumed");
}

/* Invariant 7: lex the server's view with a fresh engine. */
static void check_server_view(const struct sg_policy *p, const struct turn *t,
			      int nt, u8 *stream[2], u32 total[2],
			      const struct rcv *rv)
{
	struct run fr;
	int i;

	run_init(&fr, p, total);
	for (i = 0; i < nt; i++) {
		int d = t[i].dir;
		u32 k;

		ack(&fr, d ^ 1, fr.passed[d]);
		if (d == SG_DIR_SERVER) {
			if (t[i].len && send_seg(&fr, d, stream[d], t[i].base,
						 t[i].len, NULL, NULL) != SG_V_PASS)
				break;
			continue;
		}
		for (k = 0; k < t[i].len; k++) {
			u32 off = t[i].base + k;

			if (off >= rv->nxt)
				goto out;
			check_verb(&fr, p, rv->buf, off, rv->nxt);
			if (send_seg(&fr, d, rv->buf, off, 1, NULL, NULL) !=
			    SG_V_PASS)
				goto out;
		}
	}
out:
	run_free(&fr);
}

static const char *const atk_bytes[] = {
	"VRFY root\r\n", "\r\n.\r\nVRFY x\r\n", "EXPN a\r\n", ".\r\n",
	"\r\n", "BDAT 1\r\n", "X-LINK2STATE\r\n", "\n.\n", "DATA\r\n",
};

static void atk_mutate(u8 *b, u32 len)
{
	const char *m = atk_bytes[rnd() % SG_ARRAY_SIZE(atk_bytes)];
	u32 ml = (u32)strlen(m), at, i;

	if (!len)
		return;
	if (rnd() % 4 == 0) {
		b[rnd() % len] = (u8)rnd();
		return;
	}
	at = rnd() % len;
	for (i = 0; i < ml && at + i < len; i++)
		b[at + i] = (u8)m[i];
}

static void attacker_run(const struct sg_policy *p, const struct turn *t,
			 int nt, u8 *stream[2], u32 total[2])
{
	struct run ar;
	struct rcv rv;
	u8 mut[4096];
	int i, v = SG_V_PASS;

	run_init(&ar, p, total);
	ar.srv_read = &rv.nxt;
	rv.cap = total[0];
	rv.buf = calloc(1, rv.cap + 1);
	rv.have = calloc(1, rv.cap + 1);
	rv.nxt = 0;
	for (i = 0; i < nt && v == SG_V_PASS; i++) {
		int d = t[i].dir;
		u32 pos = 0;

		/* the server acks what it read, not what passed */
		ack(&ar, d ^ 1, d == SG_DIR_CLIENT ? rv.nxt : ar.passed[d]);
		if (d == SG_DIR_SERVER) {
			/*
			 * A server replies only to commands it read, and its
			 * reply ACKs them: before it, the client's timeout
			 * re-sends what was lost, from rcv_nxt on. Linux
			 * takes that in-order copy and drops the out-of-order
			 * data it covers. (Replies to bytes the server never
			 * read let the engine take a 220 to a STARTTLS that
			 * was lost for TLS, and a changed re-send of it pass
			 * unlexed.)
			 */
			while (rv.nxt < ar.passed[0]) {
				u32 from = rv.nxt, rl = ar.passed[0] - from;

				if (rl > sizeof(mut))
					rl = sizeof(mut);
				v = atk_send(&ar, &rv, stream[0] + from, from, rl,
					     0, ATK_DELIVER);
				if (v == SG_V_HOLD) {
					ack(&ar, 1, rv.nxt);
					v = atk_send(&ar, &rv, stream[0] + from,
						     from, rl, 0, ATK_DELIVER);
				}
				if (v != SG_V_PASS)
					goto done;
			}
			if (t[i].len)
				v = send_seg(&ar, d, stream[d], t[i].base,
					     t[i].len, NULL, NULL);
			continue;
		}
		while (pos < t[i].len && v == SG_V_PASS) {
			u32 off = t[i].base + pos, room = t[i].len - pos;
			u32 len = 1 + rnd() % (room < 32 ? room : 32);
			u32 from, rl;

			switch (rnd() % 10) {
			case 0:		/* RST with payload */
				atk_send(&ar, &rv, stream[0] + off, off, len,
					 SG_TCP_RST, ATK_DELIVER);
				break;
			case 1:		/* SYN with payload */
				atk_send(&ar, &rv, stream[0] + off, off, len,
					 SG_TCP_SYN, ATK_DELIVER);
				break;
			case 2:		/* far sequence numbers */
				atk_far(&ar);
				break;
			case 3:		/* re-send passed bytes, changed */
				if (ar.passed[0] <= rv.nxt)
					break;
				from = rv.nxt + rnd() % (ar.passed[0] - rv.nxt);
				rl = ar.passed[0] - from;
				if (rl > sizeof(mut))
					rl = sizeof(mut);
				memcpy(mut, stream[0] + from, rl);
				atk_mutate(mut, rl);
				v = atk_send(&ar, &rv, mut, from, rl, 0,
					     ATK_DELIVER);
				if (v == SG_V_HOLD)
					v = SG_V_PASS;
				break;
			default:	/* new bytes, lost past the gateway 1 in 3 */
				v = atk_send(&ar, &rv, stream[0] + off, off, len,
					     0, rnd() % 3 == 0 ? ATK_LOST :
					     ATK_DELIVER);
				if (v == SG_V_HOLD) {
					/* copies full: repair what was lost,
					 * the server acks, then again */
					rl = ar.passed[0] - rv.nxt;
					if (rl > 4096)
						rl = 4096;
					if (rl)
						atk_send(&ar, &rv, stream[0] + rv.nxt,
							 rv.nxt, rl, 0, ATK_DELIVER);
					ack(&ar, 1, rv.nxt);
					v = atk_send(&ar, &rv, stream[0] + off, off,
						     len, 0, ATK_DELIVER);
					if (v == SG_V_HOLD)
						goto done;
				}
				if (v == SG_V_PASS)
					pos += len;
				break;
			}
		}
	}
done:
	/* a policy that only logs desync or smuggling lets changed bytes in */
	if (models_apply(p))
		check_server_view(p, t, nt, stream, total, &rv);
	free(rv.buf);
	free(rv.have);
	run_free(&ar);
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	struct turn t[MAX_TURNS];
	u8 *stream[2];
	u32 total[2] = { 0, 0 };
	int nt = 0, i, ref_fail = -1, ref_verdict = SG_V_PASS;
	bool ref_rwlimit = false;
	const struct sg_policy *p;
	struct run ref, tr;
	size_t k, start;
	int mode;

	if (size < 2 || size > 8192)
		return 0;
	p = &pol[data[0] % NPOL];
	rng = 0x9e3779b97f4a7c15ULL ^ ((u64)data[1] << 32) ^ size;

	/* split into turns */
	start = 2;
	for (k = 2; k <= size && nt < MAX_TURNS; k++) {
		if (k == size || data[k] == 0xfe) {
			int dir = (nt & 1) ? SG_DIR_CLIENT : SG_DIR_SERVER;

			t[nt].dir = dir;
			t[nt].p = data + start;
			t[nt].len = (u32)(k - start);
			t[nt].base = total[dir];
			total[dir] += t[nt].len;
			nt++;
			start = k + 1;
		}
	}
	stream[0] = malloc(total[0] + 1);
	stream[1] = malloc(total[1] + 1);
	for (i = 0; i < nt; i++)
		memcpy(stream[t[i].dir] + t[i].base, t[i].p, t[i].len);

	/* reference */
	run_init(&ref, p, total);
	for (i = 0; i < nt; i++) {
		int d = t[i].dir, v;

		ack(&ref, d ^ 1, ref.passed[d]);
		if (!t[i].len)
			continue;
		v = send_seg(&ref, d, stream[d], t[i].base, t[i].len, NULL,
			     &ref_rwlimit);
		if (v == SG_V_HOLD)
			FAIL("reference run held turn %d", i);
		if (v != SG_V_PASS) {
			ref_fail = i;
			ref_verdict = v;
			break;
		}
	}

	check_models(p, t, nt, stream[1], &ref);

	for (mode = 0; mode < 2; mode++) {
		int fail_turn = -1, fail_v = SG_V_PASS, cmp_end = nt;
		bool fail_rw = false;

		run_init(&tr, p, total);
		for (i = 0; i < nt && fail_turn < 0; i++) {
			int d = t[i].dir;
			u32 pos = 0;

			ack(&tr, d ^ 1, tr.passed[d]);
			while (pos < t[i].len) {
				u32 off = t[i].base + pos, len, v;

				if (mode == 0) {
					len = 1;
					if (d == SG_DIR_CLIENT)
						check_verb(&tr, p, ref.out[0],
							   off, ref.passed[0]);
				} else {
					u32 room = t[i].len - pos;

					len = 1 + rnd() % (room < 48 ? room : 48);
					/* retransmit old unacked bytes first */
					if (off > tr.acked[d] && rnd() % 3 == 0) {
						u32 from = tr.acked[d] +
							rnd() % (off - tr.acked[d]);
						u32 rl = off - from +
							(rnd() % 2 ? rnd() % (len + 1) : 0);

						v = send_seg(&tr, d, stream[d], from,
							     rl, ref.out[d], &fail_rw);
						if (v != SG_V_PASS) {
							/* new bytes in it failed */
							if (from + rl <= off)
								FAIL("retransmission not passed");
							fail_turn = i;
							fail_v = v;
							break;
						}
						pos = tr.passed[d] - t[i].base;
						if (pos >= t[i].len)
							break;
						off = t[i].base + pos;
						room = t[i].len - pos;
						len = 1 + rnd() % (room < 48 ? room : 48);
					}
					if (rnd() % 5 == 0 && tr.passed[d] > tr.acked[d])
						ack(&tr, d ^ 1, tr.acked[d] + rnd() %
						    (tr.passed[d] - tr.acked[d] + 1));
				}
				v = send_seg(&tr, d, stream[d], off, len,
					     ref.out[d], &fail_rw);
				if (v != SG_V_PASS) {
					fail_turn = i;
					fail_v = v;
					break;
				}
				pos += len;
			}
		}
		/* invariant 3 */
		if (fail_turn >= 0 && fail_rw) {
			if (ref_fail >= 0 && !ref_rwlimit &&
			    fail_turn > ref_fail)
				FAIL("mode %d failed turn %d after the reference (%d)",
				     mode, fail_turn, ref_fail);
			cmp_end = fail_turn;
		} else if (ref_fail >= 0 && ref_rwlimit) {
			if (fail_turn >= 0 && fail_turn < ref_fail)
				FAIL("mode %d failed turn %d before the reference (%d)",
				     mode, fail_turn, ref_fail);
		} else if (fail_turn != ref_fail) {
			FAIL("mode %d: first failing turn %d, reference %d",
			     mode, fail_turn, ref_fail);
		} else if (fail_turn >= 0 &&
			   (fail_v == SG_V_HOLD || fail_v > ref_verdict)) {
			FAIL("mode %d: verdict %d, reference %d", mode, fail_v,
			     ref_verdict);
		}
		/* invariant 2: outputs of all turns before the failure */
		for (i = 0; i < cmp_end && (ref_fail < 0 || i < ref_fail); i++) {
			int d = t[i].dir;

			if (t[i].len && memcmp(tr.out[d] + t[i].base,
					       ref.out[d] + t[i].base,
					       t[i].len))
				FAIL("mode %d: output of turn %d differs", mode, i);
		}
		run_free(&tr);
	}
	attacker_run(p, t, nt, stream, total);
	/*
	 * Policy swaps: every segment under a policy picked at random, as
	 * the kernel may replace it between any two segments. No output
	 * invariant (the policy changes what is rewritten), only memory
	 * safety and termination under the sanitizers.
	 */
	run_init(&tr, p, total);
	for (i = 0; i < nt; i++) {
		int d = t[i].dir;
		u32 pos = 0;

		tr.pol = &pol[rnd() % NPOL];
		ack(&tr, d ^ 1, tr.passed[d]);
		while (pos < t[i].len) {
			u32 room = t[i].len - pos;
			u32 len = 1 + rnd() % (room < 16 ? room : 16);

			tr.pol = &pol[rnd() % NPOL];
			if (send_seg(&tr, d, stream[d], t[i].base + pos, len,
				     NULL, NULL) != SG_V_PASS)
				break;
			pos += len;
		}
		if (pos < t[i].len)
			break;
	}
	run_free(&tr);
	run_free(&ref);
	free(stream[0]);
	free(stream[1]);
	return 0;
}
