// SPDX-License-Identifier: GPL-2.0
/*
 * Stream model transcripts (doc/stream-model.md): what the receiver
 * discards is never consumed, re-sent bytes must match what was
 * inspected (else desync), legitimate repacketisation passes untouched,
 * and journal capacity never decides whether real traffic passes.
 *
 * Offsets: after OPEN the client has sent 21 bytes ("EHLO client.example"),
 * so .at = 22 is the next new client byte.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define GREET		{ S, "220 mx.example.com ESMTP Postfix\r\n" }
#define OPEN		GREET, { C, "EHLO client.example\r\n" }, \
			{ S, "250-mx.example.com\r\n250-PIPELINING\r\n250 CHUNKING\r\n" }
#define C0		22	/* .at of the first client byte after OPEN */
#define TODATA		{ C, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n" }, \
			{ S, "250 a\r\n250 b\r\n354 go\r\n" }
#define D0		(C0 + 38)	/* .at of the first DATA byte */
#define ACK		{ S, NULL, .ackonly = true }

/* An Exchange 2019 hub transport's EHLO reply: 23 keywords. */
#define EXCHANGE_2019 \
	"250-mail.contoso.com Hello [192.0.2.1]\r\n250-SIZE 37748736\r\n" \
	"250-PIPELINING\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n" \
	"250-STARTTLS\r\n250-X-ANONYMOUSTLS\r\n250-AUTH NTLM LOGIN\r\n" \
	"250-X-EXPS GSSAPI NTLM\r\n250-8BITMIME\r\n250-BINARYMIME\r\n" \
	"250-CHUNKING\r\n250-XEXCH50\r\n250-XRDST\r\n250-XSHADOWREQUEST\r\n" \
	"250-XPROXY\r\n250-XPROXYFROM\r\n250-XPROXYTO\r\n" \
	"250-XSESSIONPARAMS\r\n250-XRSETPROXYTO\r\n250-XSYSPROBE\r\n" \
	"250-XLOOPDETECT\r\n250 X-LINK2STATE\r\n"
#define EXCHANGE_2019_ESMTP \
	"250-mail.contoso.com Hello [192.0.2.1]\r\n250-SIZE 37748736\r\n" \
	"250-PIPELINING\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n" \
	"250-STARTTLS\r\n250-XXXXXXXXXXXXXX\r\n250-AUTH NTLM LOGIN\r\n" \
	"250-XXXXXX GSSAPI NTLM\r\n250-8BITMIME\r\n250-BINARYMIME\r\n" \
	"250-CHUNKING\r\n250-XXXXXXX\r\n250-XXXXX\r\n250-XXXXXXXXXXXXXX\r\n" \
	"250-XXXXXX\r\n250-XXXXXXXXXX\r\n250-XXXXXXXX\r\n" \
	"250-XXXXXXXXXXXXXX\r\n250-XXXXXXXXXXXX\r\n250-XXXXXXXXX\r\n" \
	"250-XXXXXXXXXXX\r\n250 XXXXXXXXXXXX\r\n"

/* 8 pipelined RCPTs, 344 bytes: more than the copy holds */
#define RCPT42(n)	"RCPT TO:<recipient-number-" n "@example.com>\r\n"
#define RCPTS8		RCPT42("01") RCPT42("02") RCPT42("03") RCPT42("04") \
			RCPT42("05") RCPT42("06") RCPT42("07") RCPT42("08")
#define UV_PART_HOLD	{ C, RCPTS8 + 300, .at = C0 + 300, .verdict = SG_V_HOLD }
#define RCPTS8_VRFY	RCPT42("01") RCPT42("02") RCPT42("03") RCPT42("04") \
			RCPT42("05") RCPT42("06") RCPT42("07") \
			"VRFY TO:<recipient-number-08@example.com>\r\n"

/* a NOOP line of 400 NULs: every byte past the copy is zero (their
 * fingerprint sums to 0); the changed copy ends in 'Z' */
static const char noop_nuls[405] = "NOOP ";
static const char noop_nulz[405] = { 'N', 'O', 'O', 'P', ' ', [404] = 'Z' };

static const struct tcase stream_cases[] = {
/* ---- what the receiver never reads is never consumed ---- */
{ "SYN with payload in an established connection: dropped, not consumed", "@esmtp", .steps = {
	OPEN,
	{ C, "NOOP x\r\n", .tcp = SG_TCP_SYN, .verdict = SG_V_HOLD },
	{ C, "VRFY x\r\n", .out = "XXXX x\r\n", .ev = "verb/mask:VRFY" },
} },
{ "RST payload passes with the RST, never consumed", "@esmtp", .steps = {
	OPEN,
	{ C, "NOOP x\r\n", .tcp = SG_TCP_RST },
	{ C, "VRFY x\r\n", .out = "XXXX x\r\n", .ev = "verb/mask:VRFY" },
} },
{ "data past a FIN: dropped; the FIN's retransmission passes", "@esmtp", .steps = {
	OPEN,
	{ C, "QUIT\r\n", .tcp = SG_TCP_FIN },
	{ C, "VRFY x\r\n", .at = C0 + 6, .verdict = SG_V_HOLD },
	{ C, "QUIT\r\n", .at = C0, .tcp = SG_TCP_FIN },
	{ S, "221 bye\r\n" },
} },
/* ---- PAWS ---- */
{ "PAWS: a stale timestamp is dropped, never consumed", "@esmtp", .steps = {
	OPEN,
	{ C, "NOOP 1\r\n", .ts = 1000 },
	{ S, "250 ok\r\n", .ts = 7000 },
	{ C, "NOOP 2\r\n", .ts = 900, .verdict = SG_V_HOLD },
	{ C, "VRFY 2\r\n", .ts = 1001, .out = "XXXX 2\r\n", .ev = "verb/mask:VRFY" },
} },
{ "PAWS: one tick older passes (Linux's window); wrap-around", "@esmtp", .steps = {
	OPEN,
	{ C, "NOOP 1\r\n", .ts = 0xfffffff0u },
	{ S, "250 ok\r\n" },
	{ C, "NOOP 2\r\n", .ts = 0xffffffefu },
	{ S, "250 ok\r\n" },
	{ C, "NOOP 3\r\n", .ts = 5 },
	{ S, "250 ok\r\n" },
	{ C, "NOOP 4\r\n", .ts = 0xfffffff1u, .verdict = SG_V_HOLD },
} },
{ "PAWS: a pure ACK with an old timestamp passes but is not believed", "@esmtp", .steps = {
	OPEN,
	{ C, "NOOP 1\r\n", .ts = 1000 },
	{ S, "250 ok\r\n", .ts = 5000, .ackrel = C0 },
	{ S, NULL, .ackonly = true, .ts = 10 },
	{ C, "VRFY 1\r\n", .at = C0, .ts = 1001, .verdict = SG_V_RESET,
	  .ev = "desync/reset" },
} },
/* ---- re-sent bytes must be what was inspected ---- */
{ "desync: a different command at the same sequence number", "@esmtp", .steps = {
	OPEN,
	{ C, "NOOP x\r\n" },
	{ C, "VRFY x\r\n", .at = C0, .verdict = SG_V_RESET, .ev = "desync/reset" },
	{ C, "NOOP x\r\n", .at = C0 },
	{ S, "250 ok\r\n" },
} },
{ "desync: a partial overlap changing one byte", "@esmtp", .steps = {
	OPEN,
	{ C, "NOOP x\r\nNOOP y\r\n" },
	{ C, "OX y\r\nNOOP z\r\n", .at = C0 + 10, .verdict = SG_V_RESET,
	  .ev = "desync/reset" },
	{ C, "OP y\r\nNOOP z\r\n", .at = C0 + 10 },
	{ S, "250 a\r\n250 b\r\n250 c\r\n" },
} },
{ "desync with action log: reported, the copy's bytes still checked each time", "verbs EHLO NOOP\naction desync log\n", .steps = {
	GREET, { C, "EHLO client.example\r\n" }, { S, "250 mx\r\n" },
	{ C, "NOOP x\r\n" },
	{ C, "VRFY x\r\n", .at = C0, .ev = "desync/log" },
} },
{ "desync: BDAT size changed in a re-sent command", "@esmtp", .steps = {
	OPEN,
	{ C, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 10 LAST\r\n0123456789" },
	{ C, "BDAT 1 LAST\r\n", .at = C0 + 31, .verdict = SG_V_RESET,
	  .ev = "desync/reset" },
} },
{ "legit: duplicate, merged, split and trimmed retransmissions pass", "@esmtp", .steps = {
	OPEN,
	{ C, "MAIL FROM:<a@b>\r\n" },
	{ C, "RCPT TO:<c@d>\r\n" },
	{ C, "RCPT TO:<e@f>\r\n" },
	/* duplicate */
	{ C, "RCPT TO:<c@d>\r\n", .at = C0 + 17 },
	/* merged, with new bytes */
	{ C, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRCPT TO:<e@f>\r\nDATA\r\n", .at = C0 },
	/* split */
	{ C, "RCPT T", .at = C0 + 17 },
	{ C, "O:<c@d>\r\nRC", .at = C0 + 23 },
	/* the server acked MAIL: trimmed to start there */
	{ S, NULL, .ackonly = true, .ackrel = C0 + 17 },
	{ C, "RCPT TO:<c@d>\r\nRCPT TO:<e@f>\r\nDATA\r\n", .at = C0 + 17 },
	/* a copy from before the ACK still passes; its acked part is not checked */
	{ C, "MAIL FROM:<a@b>\r\nRCPT", .at = C0 },
	{ S, "250 a\r\n250 b\r\n250 c\r\n354 go\r\n" },
	{ C, "body\r\n.\r\n" },
	{ C, "body\r\n.\r\n", .at = C0 + 53 },
	{ S, "250 queued\r\n" },
} },
{ "legit: a masked verb re-sent, merged and split, gets the same mask", "@esmtp", .steps = {
	OPEN,
	{ C, "VRFY a\r\n", .out = "XXXX a\r\n", .ev = "verb/mask:VRFY" },
	{ C, "VRFY a\r\nNOOP\r\n", .at = C0, .out = "XXXX a\r\nNOOP\r\n" },
	{ C, "RFY a\r\nNO", .at = C0 + 1, .out = "XXX a\r\nNO" },
	{ S, "502 a\r\n250 b\r\n" },
} },
/* ---- DATA: re-sent bytes must not end or smuggle ---- */
{ "desync: re-sent DATA bytes with an end of data", "@esmtp", .steps = {
	OPEN, TODATA,
	{ C, "hello\r\nworld\r\nVRFY\r\n" },
	{ C, "hello\r\n.\r\nVRFY\r\n", .at = D0, .verdict = SG_V_RESET,
	  .ev = "desync/reset" },
	{ C, "hello\r\nworld\r\nVRFY\r\n", .at = D0 },
} },
{ "desync: re-sent DATA that ends at the body's first byte", "@esmtp", .steps = {
	OPEN, TODATA,
	{ C, "x\r\nmore\r\n" },
	{ C, ".\r\nmore\r\n", .at = D0, .verdict = SG_V_RESET, .ev = "desync/reset" },
} },
{ "re-sent DATA of a body begun mid-line (desync logged) is judged as its first copy", "verbs MAIL RCPT DATA\naction desync log\n", .steps = {
	{ S, "220 x\r\n" },
	/* the "2" past DATA makes the body's first line "2.\rB": its dot
	 * is no line start, on the first copy or a re-sent one */
	{ C, "MAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\n2",
	  .out = "MAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\nX", .ev = "verb/mask:2" },
	{ S, "250 a\r\n250 b\r\n354 go\r\n", .ev = "desync/log:DATA" },
	{ C, ".\rB", .ev = "bare-newline/log" },
	{ C, ".\rB", .at = 36 },
} },
{ "re-sent DATA with a smuggling shape is smuggling", "@esmtp", .steps = {
	OPEN, TODATA,
	{ C, "hello\r\nworld\r\n" },
	{ C, "hello\n.\nworld\r\n", .at = D0, .verdict = SG_V_RESET,
	  .ev = "smuggling/reset" },
} },
{ "legit: re-sent DATA with dot-stuffed lines and sentence ends passes", "@esmtp", .steps = {
	OPEN, TODATA,
	{ C, "Hi.\r\n..dotted\r\n.\r" },
	{ C, ".\r\n..dotted\r\n", .at = D0 + 2 },
	{ C, "Hi.\r\n..dotted\r\n.\r", .at = D0 },
	{ C, "\n" },
	{ S, "250 queued\r\n" },
} },
{ "legit: re-sent DATA ending on a held CR after a bare LF and a dot passes", "@esmtp", .steps = {
	/* the CR after "\n." is judged by the byte after it (CF_PREV_CR):
	 * the same bytes re-sent are judged no earlier */
	OPEN, TODATA,
	{ C, "hi\rzz\n.\r", .ev = "bare-newline/log" },
	{ C, "zz\n.\r", .at = D0 + 3 },
	{ C, "\n", .verdict = SG_V_RESET, .ev = "smuggling/reset" },
} },
/* ---- copies: bounded, hold while full, never deciding alone ---- */
{ "copies full of unacked command bytes: new commands wait for the ACK", "@esmtp", .steps = {
	OPEN,
	/* 3 x 77 bytes fit the copy (at least 256 bytes), 4 do not */
	{ C, "NOOP 0123456789012345678901234567890123456789012345678901234567890123456789\r\n"
	     "NOOP 0123456789012345678901234567890123456789012345678901234567890123456789\r\n" },
	{ C, "NOOP 0123456789012345678901234567890123456789012345678901234567890123456789\r\n" },
	{ C, "NOOP 0123456789012345678901234567890123456789012345678901234567890123456789\r\n",
	  .verdict = SG_V_HOLD },
	ACK,
	{ C, "NOOP 0123456789012345678901234567890123456789012345678901234567890123456789\r\n" },
} },
/* ---- commands past the copy: fingerprinted ---- */
{ "a command segment larger than the copy, lost and re-sent whole, passes", "@esmtp", .steps = {
	OPEN,
	{ C, RCPTS8 },
	{ C, RCPTS8, .at = C0 },
	/* collapsed with new commands */
	{ C, RCPTS8 "RCPT TO:<more@example.com>\r\n", .at = C0 },
	{ S, NULL, .ackonly = true },
	{ C, "NOOP\r\n" },
} },
/* the sequence numbers wrap inside the bytes past the copy (client byte
 * C0 + 300 is at 2^32): the fingerprint's blocks wrap with them */
{ "a command segment larger than the copy across the sequence wrap, extended and re-sent whole, passes", "@esmtp",
  .isn_c = 0xfffffebeu, .steps = {
	OPEN,
	{ C, RCPTS8 },
	{ C, RCPTS8 "RCPT TO:<more@example.com>\r\n", .at = C0 },
	{ C, RCPTS8 "RCPT TO:<more@example.com>\r\n", .at = C0 },
	{ S, NULL, .ackonly = true },
	{ C, "NOOP\r\n" },
} },
{ "desync: the same across the sequence wrap, re-sent changed", "@esmtp",
  .isn_c = 0xfffffebeu, .steps = {
	OPEN,
	{ C, RCPTS8 },
	{ C, RCPTS8 "RCPT TO:<more@example.com>\r\n", .at = C0 },
	{ C, RCPTS8 "VRFY TO:<more@example.com>\r\n", .at = C0,
	  .verdict = SG_V_RESET, .ev = "desync/reset" },
} },
/* the bytes past the copy sum to zero: still a fingerprint, checked */
{ "a command segment whose bytes past the copy are NULs, lost and re-sent whole, passes", "@esmtp", .steps = {
	OPEN,
	{ C, noop_nuls, .len = sizeof(noop_nuls) },
	{ C, noop_nuls, .len = sizeof(noop_nuls), .at = C0 },
	{ S, NULL, .ackonly = true },
	{ C, "\r\n", .ev = "*" },
} },
{ "desync: a command segment whose bytes past the copy are NULs, re-sent with one changed", "@esmtp", .steps = {
	OPEN,
	{ C, noop_nuls, .len = sizeof(noop_nuls) },
	{ C, noop_nulz, .len = sizeof(noop_nulz), .at = C0,
	  .verdict = SG_V_RESET, .ev = "desync/reset" },
} },
{ "desync: a command segment larger than the copy, re-sent changed past the copy", "@esmtp", .steps = {
	OPEN,
	{ C, RCPTS8 },
	{ C, RCPTS8_VRFY, .at = C0, .verdict = SG_V_RESET, .ev = "desync/reset" },
	{ C, RCPTS8, .at = C0 },
} },
/* issue 13: Postfix pipelines 50 RCPTs (5 KB, one GSO segment); a loaded
 * server's late ACK let a loss probe re-send the last MSS: reset */
{ "a command segment larger than the copy, re-sent in part before its ACK: held until the ACK", "@esmtp", .steps = {
	OPEN,
	{ C, RCPTS8 },
	/* a tail loss probe: the last bytes, all past the copy */
	{ C, RCPTS8 + 300, .at = C0 + 300, .verdict = SG_V_HOLD },
	/* a timeout: the first MSS, copied bytes and some past the copy */
	{ C, RCPTS8, .len = 310, .at = C0, .verdict = SG_V_HOLD },
	ACK,
	{ C, RCPTS8 + 300, .at = C0 + 300 },
	{ C, "NOOP\r\n" },
} },
{ "desync: a command segment re-sent in part more than SG_UV_HOLDS times, no ACK", "@esmtp", .steps = {
	OPEN,
	{ C, RCPTS8 },
	UV_PART_HOLD, UV_PART_HOLD, UV_PART_HOLD, UV_PART_HOLD,
	UV_PART_HOLD, UV_PART_HOLD, UV_PART_HOLD, UV_PART_HOLD,
	{ C, RCPTS8 + 300, .at = C0 + 300, .verdict = SG_V_RESET, .ev = "desync/reset" },
	/* re-sent whole, it is checked and passes */
	{ C, RCPTS8, .at = C0 },
} },
{ "desync: the rest of a command segment re-sent after the server ACKed part of it", "@esmtp", .steps = {
	OPEN,
	{ C, RCPTS8 },
	{ S, NULL, .ackonly = true, .ackrel = C0 + 310 },
	{ C, RCPTS8 + 320, .at = C0 + 320, .verdict = SG_V_RESET, .ev = "desync/reset" },
} },
/* ---- journal capacity (issue 13) ---- */
{ "Exchange 2019 EHLO reply: 23 keywords, 13 masked, passes", "@esmtp", .steps = {
	GREET, { C, "EHLO c\r\n" },
	{ S, EXCHANGE_2019, .out = EXCHANGE_2019_ESMTP, .ev = "*" },
	{ S, EXCHANGE_2019, .at = 35, .out = EXCHANGE_2019_ESMTP },
	{ C, "MAIL FROM:<a@b>\r\n" },
} },
{ "six | in addresses in one segment are masked", "@esmtp", .steps = {
	OPEN,
	{ C, "MAIL FROM:<a|b|c@d>\r\nRCPT TO:<e|f@g>\r\nRCPT TO:<h|i|j@k>\r\n",
	  .out = "MAIL FROM:<a b c@d>\r\nRCPT TO:<e f@g>\r\nRCPT TO:<h i j@k>\r\n",
	  .ev = "*" },
} },
};

/* Events of @r include a violation of class @klass with action @action. */
static bool has_violation(const struct sg_result *r, int klass, int action)
{
	unsigned int i;

	for (i = 0; i < r->n_events; i++)
		if (r->events[i].kind == SG_EV_VIOLATION &&
		    r->events[i].klass == klass &&
		    r->events[i].action == action)
			return true;
	return false;
}

static int one_seg(struct sg_conn *c, const struct sg_policy *p, int dir_,
		   unsigned int seq, const char *data, unsigned int ack,
		   struct sg_seg *seg)
{
	unsigned int len = (unsigned int)strlen(data);

	sg_seg_begin(seg, c, p, dir_ ? SG_DIR_SERVER : SG_DIR_CLIENT, seq, len,
		     ack, SG_TCP_ACK);
	sg_seg_feed(seg, (const u8 *)data, len);
	return sg_seg_end(seg);
}

/*
 * Journal capacity: 20 unacked client spans pass in separate segments,
 * the 21st waits for the ACK; 21 in one segment are a rewrite-limit;
 * more events than SG_EVENTS_MAX keep the reason for a reset.
 */
static void gen_capacity(void)
{
	const struct sg_policy *p = test_policy("@esmtp");
	char buf[512];
	unsigned int cs = 1001, ss = 5001, i;
	struct sg_conn c;
	struct sg_seg seg;
	int v;

	sg_conn_init(&c, false);
	sg_seg_begin(&seg, &c, p, SG_DIR_CLIENT, 1000, 0, 0, SG_TCP_SYN);
	sg_seg_end(&seg);
	sg_seg_begin(&seg, &c, p, SG_DIR_SERVER, 5000, 0, 1001, SG_TCP_SYN | SG_TCP_ACK);
	sg_seg_end(&seg);
	v = one_seg(&c, p, S, ss, "220 mx\r\n", cs, &seg);
	ss += 8;
	for (i = 0; i < 20 && v == SG_V_PASS; i++, cs += 8)
		v = one_seg(&c, p, C, cs, "VRFY 1\r\n", ss, &seg);
	if (v != SG_V_PASS) {
		test_fail("journal: 20 unacked client spans pass", "verdict %d at %u", v, i);
		return;
	}
	test_ok("journal: 20 unacked client spans pass");
	v = one_seg(&c, p, C, cs, "VRFY 1\r\n", ss, &seg);
	sg_seg_begin(&seg, &c, p, SG_DIR_SERVER, ss, 0, cs, SG_TCP_ACK);
	sg_seg_end(&seg);
	if (v != SG_V_HOLD ||
	    one_seg(&c, p, C, cs, "VRFY 1\r\n", ss, &seg) != SG_V_PASS)
		test_fail("journal: the 21st waits for the ACK, then passes", "verdict %d", v);
	else
		test_ok("journal: the 21st waits for the ACK, then passes");
	cs += 8;
	sg_seg_begin(&seg, &c, p, SG_DIR_SERVER, ss, 0, cs, SG_TCP_ACK);
	sg_seg_end(&seg);

	buf[0] = 0;
	for (i = 0; i < 21; i++)
		strcat(buf, "VRFY\r\n");
	v = one_seg(&c, p, C, cs, buf, ss, &seg);
	if (v != SG_V_RESET ||
	    !has_violation(&seg.res, SG_C_REWRITE_LIMIT, SG_A_RESET))
		test_fail("journal: 21 spans in one segment are a rewrite-limit",
			  "verdict %d", v);
	else
		test_ok("journal: 21 spans in one segment are a rewrite-limit");

	/* 18 masked verbs (18 events), then a bare LF: smuggling reset */
	buf[0] = 0;
	for (i = 0; i < 18; i++)
		strcat(buf, i & 1 ? "VRFY\r\n" : "EXPN\r\n");
	strcat(buf, "NOOP\n");
	v = one_seg(&c, p, C, cs, buf, ss, &seg);
	if (v != SG_V_RESET || seg.res.n_events != SG_EVENTS_MAX ||
	    !seg.res.events_lost ||
	    !has_violation(&seg.res, SG_C_SMUGGLING, SG_A_RESET))
		test_fail("events: past SG_EVENTS_MAX the reset's reason is kept",
			  "verdict %d, %u events, %u lost", v, seg.res.n_events,
			  seg.res.events_lost);
	else
		test_ok("events: past SG_EVENTS_MAX the reset's reason is kept");
}

/* Sequence numbers far apart (near 2^31) are still ordered right. */
static void gen_far_seq(void)
{
	const struct sg_policy *p = test_policy("@esmtp");
	struct sg_conn c;
	struct sg_seg seg;
	unsigned int cs = 0x7ffffff0u;

	sg_conn_init(&c, false);
	sg_seg_begin(&seg, &c, p, SG_DIR_CLIENT, cs - 1, 0, 0, SG_TCP_SYN);
	sg_seg_end(&seg);
	sg_seg_begin(&seg, &c, p, SG_DIR_SERVER, 9, 0, cs, SG_TCP_SYN | SG_TCP_ACK);
	sg_seg_end(&seg);
	one_seg(&c, p, S, 10, "220 mx\r\n", cs, &seg);
	one_seg(&c, p, C, cs, "NOOP x\r\n", 18, &seg);
	/* 2^31 - 1 behind: a retransmission of very old bytes, not new */
	if (one_seg(&c, p, C, cs + 8 - 0x7fffffffu, "VRFY x\r\n", 18, &seg) ==
	    SG_V_HOLD || seg.res.new_bytes)
		test_fail("sequence 2^31-1 behind is old, not new", "verdict %d",
			  seg.res.verdict);
	else
		test_ok("sequence 2^31-1 behind is old, not new");
	/* 2^31 - 1 ahead: a gap, held */
	if (one_seg(&c, p, C, cs + 8 + 0x7fffffffu, "VRFY x\r\n", 18, &seg) !=
	    SG_V_HOLD)
		test_fail("sequence 2^31-1 ahead is a gap", "verdict %d",
			  seg.res.verdict);
	else
		test_ok("sequence 2^31-1 ahead is a gap");
}

void run_stream_cases(void)
{
	unsigned int i;

	for (i = 0; i < sizeof(stream_cases) / sizeof(stream_cases[0]); i++)
		run_case(&stream_cases[i]);
	gen_capacity();
	gen_far_seq();
}
