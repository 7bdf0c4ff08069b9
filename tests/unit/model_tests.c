// SPDX-License-Identifier: GPL-2.0
/*
 * The issue-10 cases against the fuzzer's server reading models
 * (tests/fuzz/server_model.c): each session is run once straight into the
 * model (control: the server runs the hidden VRFY) and once through the
 * engine (the VRFY never starts a command in the model's view). The
 * long-line cases are here because the fuzzer's inputs stay below 16384.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "../fuzz/server_model.h"

struct turn { int dir; const char *p; int len; };

static int seen_vrfy;

static void on_verb(void *ctx, enum sm_kind kind, const uint8_t *v,
		    uint32_t n, uint32_t off)
{
	(void)ctx;
	(void)kind;
	(void)off;
	if (n == 4 && !strncasecmp((const char *)v, "VRFY", 4))
		seen_vrfy++;
}

/*
 * Run @t through the engine under @policy (NULL: no engine) into a model
 * of @kind. Returns how many VRFY the model read at a command start.
 */
static int run_model(enum sm_kind kind, const char *policy,
		     const struct turn *t, int nt)
{
	static uint8_t cli[65536];
	const struct sg_policy *p = policy ? test_policy(policy) : NULL;
	unsigned int seq[2] = { 1000, 5000 }, sent[2] = { 0, 0 };
	struct sm_model m;
	struct sg_conn c;
	uint32_t cn = 0;
	int i;

	seen_vrfy = 0;
	sm_init(&m, kind, on_verb, NULL);
	sg_conn_init(&c, false);
	for (i = 0; i < nt; i++) {
		const char *d = t[i].p;
		uint32_t len = t[i].len ? (uint32_t)t[i].len : strlen(d), o;

		for (o = 0; o < len; o += 1400) {
			uint32_t k = len - o < 1400 ? len - o : 1400, j;
			uint8_t buf[1400];
			struct sg_seg seg;
			int dir = t[i].dir;

			memcpy(buf, d + o, k);
			if (p) {
				sg_seg_begin(&seg, &c, p, dir, seq[dir] + sent[dir],
					     k, seq[dir ^ 1] + sent[dir ^ 1],
					     SG_TCP_ACK);
				sg_seg_feed(&seg, buf, k);
				if (sg_seg_end(&seg) != SG_V_PASS)
					return seen_vrfy;	/* reset or drop */
				for (j = 0; j < seg.res.n_spans; j++)
					memset(buf + seg.res.spans[j].off,
					       seg.res.spans[j].ch,
					       seg.res.spans[j].len);
			}
			sent[dir] += k;
			if (dir == C) {
				memcpy(cli + cn, buf, k);
				cn += k;
				sm_client(&m, cli, cn);
			} else {
				/* the model reads what the server sent */
				sm_server(&m, (const uint8_t *)d + o, k);
			}
		}
	}
	return seen_vrfy;
}

static char *long_line(const char *head, int fill, const char *tail)
{
	size_t h = strlen(head), tl = strlen(tail);
	char *b = malloc(h + fill + tl + 1);

	memcpy(b, head, h);
	memset(b + h, 'a', fill);
	memcpy(b + h + fill, tail, tl + 1);
	return b;
}

#define GREET	{ S, "220 mx ESMTP\r\n" }
#define EHLO_C	{ C, "EHLO c\r\n" }, \
		{ S, "250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n" }
#define TXN	{ C, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n" }, \
		{ S, "250 ok\r\n250 ok\r\n" }

static void expect(const char *name, enum sm_kind kind, const char *policy,
		   const struct turn *t, int nt, int want_raw)
{
	char full[200];
	int raw = run_model(kind, NULL, t, nt);
	int eng = run_model(kind, policy, t, nt);

	snprintf(full, sizeof(full), "%s model, %s: %s",
		 kind == SM_EXIM ? "Exim" : "Postfix", policy, name);
	if (raw != want_raw)
		test_fail(full, "control: the model read %d VRFY, want %d",
			  raw, want_raw);
	else if (eng)
		test_fail(full, "through the engine the model read %d VRFY", eng);
	else
		test_ok(full);
}

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

void run_model_tests(void)
{
	char *l = long_line("NOOP ", 16380, "VRFY root\r\n");
	char *a = long_line("AUTH PLAIN ", 16374, "VRFY root\r\n");
	char *r = long_line("", 16385, "VRFY root\r\n");
	const struct turn split[] = { GREET, EHLO_C, { C, l } };
	const struct turn auth[] = { GREET, EHLO_C, { C, a } };
	const struct turn cont[] = {
		GREET, EHLO_C, { C, "AUTH LOGIN\r\n" }, { S, "334 VXNlcm5hbWU6\r\n" },
		{ C, r }, { S, "535 no\r\n" } };
	const struct turn nochunk[] = {
		GREET, { C, "EHLO c\r\n" }, { S, "250-mx\r\n250 PIPELINING\r\n" },
		TXN, { C, "BDAT 9\r\nVRFY root\r\n" } };
	const struct turn helo[] = {
		GREET, { C, "HELO c\r\n" }, { S, "250 mx\r\n" }, TXN,
		{ C, "BDAT 11\r\nVRFY root\r\n" } };
	const struct turn lead[] = {
		GREET, EHLO_C, TXN, { C, " BDAT 11\r\nVRFY root\r\n" } };
	const struct turn tab[] = {
		GREET, EHLO_C, TXN, { C, "BDAT\t11\r\nVRFY root\r\n" } };
	const struct turn lastx[] = {
		GREET, EHLO_C, TXN, { C, "BDAT 11 LASTX\r\nVRFY root\r\n" } };
	const struct turn early[] = {
		GREET, EHLO_C, { C, "AUTH LOGIN\r\nVRFY x\r\n" },
		{ S, "334 VXNlcm5hbWU6\r\n" }, { S, "501 bad\r\n" },
		{ C, "VRFY root\r\n" } };
	const struct turn blank[] = {
		GREET, EHLO_C, { C, "AUTH PLAIN\r\n" }, { S, "334 \r\n" },
		{ C, "\r\nVRFY root\r\n" }, { S, "535 no\r\n" } };
	const struct turn pastdata[] = {
		GREET, EHLO_C, TXN, { C, "DATA\r\nBDAT 14\r\n.\r\nVRFY root\r\n" },
		{ S, "354 go\r\n250 queued\r\n" } };

	/* Exim splits at 16384 and runs the rest; Postfix cuts and skips */
	expect("NOOP + 16380 a + VRFY root", SM_EXIM, "@esmtp", split, N(split), 1);
	expect("NOOP + 16380 a + VRFY root", SM_POSTFIX, "@esmtp", split, N(split), 0);
	expect("AUTH line of 16400 octets", SM_EXIM, "@esmtp", auth, N(auth), 1);
	expect("AUTH continuation of 16400 octets", SM_EXIM, "@esmtp", cont, N(cont), 1);
	/* a BDAT the server does not take: the chunk is commands */
	expect("BDAT without CHUNKING offered", SM_EXIM, "@esmtp", nochunk, N(nochunk), 1);
	expect("BDAT in a HELO session", SM_EXIM, "@esmtp", helo, N(helo), 1);
	expect("BDAT at column 1", SM_EXIM, "@esmtp", lead, N(lead), 1);
	expect("BDAT and TAB", SM_EXIM, "@esmtp", tab, N(tab), 1);
	/* Exim counts 11 octets (not LAST), Postfix answers 501 */
	expect("BDAT 11 LASTX", SM_POSTFIX, "@esmtp", lastx, N(lastx), 1);
	expect("BDAT 11 LASTX", SM_EXIM, "@esmtp", lastx, N(lastx), 0);
	expect("AUTH response before the 334", SM_POSTFIX, "@esmtp", early, N(early), 1);
	expect("AUTH response before the 334", SM_EXIM, "@esmtp", early, N(early), 1);
	/* an empty AUTH response, then a command after the 535 */
	expect("blank line after a 334", SM_POSTFIX, "@esmtp", blank, N(blank), 1);
	expect("blank line after a 334", SM_EXIM, "@esmtp", blank, N(blank), 1);
	/* the message ends before the 354 reaches the client, in bytes the
	 * engine took for a BDAT chunk */
	expect("message sent before the 354", SM_POSTFIX, "@esmtp", pastdata, N(pastdata), 1);
	expect("message sent before the 354", SM_EXIM, "@esmtp", pastdata, N(pastdata), 1);
	free(l);
	free(a);
	free(r);
}
