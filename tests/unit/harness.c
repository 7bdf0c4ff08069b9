// SPDX-License-Identifier: GPL-2.0
/* Transcript runner for the table-driven unit tests. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "../../userspace/policy_file.h"

#ifndef SG_POLICY_DIR
#define SG_POLICY_DIR "../policy"
#endif

int n_pass, n_fail;

/* Feed chunk size for a second run of every case: 0 = whole segment. */
static unsigned int feed_chunk;

void test_ok(const char *name)
{
	n_pass++;
	printf("ok   %s\n", name);
}

void test_fail(const char *name, const char *fmt, ...)
{
	va_list ap;

	n_fail++;
	printf("FAIL %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

struct pcache {
	char *spec;
	struct sg_policy *p;
	struct pcache *next;
};

static struct pcache *pcache;
static unsigned int generation;

const struct sg_policy *test_policy(const char *spec)
{
	struct pcache *c;
	struct sg_pf_error e;
	struct sg_policy *p;
	enum sg_pf_err r;

	for (c = pcache; c; c = c->next)
		if (!strcmp(c->spec, spec))
			return c->p;
	p = calloc(1, sizeof(*p));
	if (spec[0] == '@') {
		char path[512];

		snprintf(path, sizeof(path), "%s/%s.conf", SG_POLICY_DIR,
			 spec + 1);
		r = sg_policy_parse_file(path, p, &e);
	} else {
		r = sg_policy_parse_string("inline", spec, p, &e);
	}
	if (r) {
		fprintf(stderr, "test policy: %s\n", e.msg);
		exit(2);
	}
	p->generation = ++generation;
	c = calloc(1, sizeof(*c));
	c->spec = strdup(spec);
	c->p = p;
	c->next = pcache;
	pcache = c;
	return p;
}

static void fmt_events(const struct sg_result *r, char *buf, size_t sz)
{
	size_t o = 0;
	unsigned int i;

	buf[0] = 0;
	for (i = 0; i < r->n_events && o < sz; i++) {
		const struct sg_event *ev = &r->events[i];
		const char *sep = i ? " " : "";

		switch (ev->kind) {
		case SG_EV_VIOLATION:
			o += snprintf(buf + o, sz - o, "%s%s/%s", sep,
				      sg_class_name(ev->klass),
				      sg_action_name(ev->action));
			if (ev->token[0] && o < sz)
				o += snprintf(buf + o, sz - o, ":%.*s",
					      SG_TOKEN_LEN, ev->token);
			break;
		case SG_EV_BANNER_MASKED:
			o += snprintf(buf + o, sz - o, "%sbanner", sep);
			break;
		case SG_EV_KEYWORD_MASKED:
			o += snprintf(buf + o, sz - o, "%skw:%.*s", sep,
				      SG_TOKEN_LEN, ev->token);
			break;
		case SG_EV_TLS_STARTED:
			o += snprintf(buf + o, sz - o, "%stls", sep);
			break;
		case SG_EV_PICKUP:
			o += snprintf(buf + o, sz - o, "%spickup:%u", sep,
				      ev->value);
			break;
		default:
			o += snprintf(buf + o, sz - o, "%s?", sep);
		}
	}
	if (r->events_lost && o < sz)
		snprintf(buf + o, sz - o, " +%u", r->events_lost);
}

static void show(char *dst, size_t sz, const char *s, size_t n)
{
	size_t i, o = 0;

	for (i = 0; i < n && o + 5 < sz; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r') {
			dst[o++] = '\\';
			dst[o++] = 'r';
		} else if (c == '\n') {
			dst[o++] = '\\';
			dst[o++] = 'n';
		} else if (c < 0x20 || c >= 0x7f) {
			o += snprintf(dst + o, sz - o, "\\x%02x", c);
		} else {
			dst[o++] = (char)c;
		}
	}
	dst[o] = 0;
}

static bool run_once(const char *name, const struct sg_policy *pol,
		     bool pickup, unsigned int isn_c, unsigned int isn_s,
		     const struct step *steps, int n, bool check_events)
{
	struct sg_conn conn;
	unsigned int isn[2] = { isn_c, isn_s };
	unsigned int sent[2] = { 0, 0 };	/* bytes passed per dir */
	int k;

	sg_conn_init(&conn, pickup);
	if (!pickup) {
		struct sg_seg seg;

		sg_seg_begin(&seg, &conn, pol, SG_DIR_CLIENT, isn[0], 0, 0, SG_TCP_SYN);
		sg_seg_end(&seg);
		sg_seg_begin(&seg, &conn, pol, SG_DIR_SERVER, isn[1], 0, isn[0] + 1,
			     SG_TCP_SYN | SG_TCP_ACK);
		sg_seg_end(&seg);
	}
	for (k = 0; k < n; k++) {
		const struct step *st = &steps[k];
		struct sg_seg seg;
		unsigned int len = st->data ? (st->len ? (unsigned int)st->len
					       : strlen(st->data)) : 0;
		unsigned int rel = st->at ? (unsigned int)st->at - 1
					  : sent[st->dir];
		unsigned int seq = isn[st->dir] + 1 + rel;
		int peer = st->dir ^ 1;
		unsigned int ack = isn[peer] + 1 +
			(st->ackrel ? (unsigned int)st->ackrel - 1 : sent[peer]);
		u8 flags = (st->noack ? 0 : SG_TCP_ACK) | (u8)st->tcp;
		char *buf = malloc(len + 1);
		char evs[1024], a[600], b[600];
		unsigned int i, pos;
		int v;

		if (pickup && !st->noack && !sent[peer] && !st->ackrel)
			flags = (u8)st->tcp;	/* nothing of the peer seen yet */
		if (st->tcp & SG_TCP_SYN)
			seq--;		/* the SYN occupies the byte before */
		memcpy(buf, st->data ? st->data : "", len);
		sg_seg_begin(&seg, &conn, st->pol ? test_policy(st->pol) : pol,
			     st->dir, seq, len, ack, flags);
		if (st->ts)
			sg_seg_timestamp(&seg, st->ts);
		pos = 0;
		while (pos < len) {
			unsigned int c = feed_chunk ? feed_chunk : len;

			if (c > len - pos)
				c = len - pos;
			sg_seg_feed(&seg, (const u8 *)buf + pos, c);
			pos += c;
		}
		v = sg_seg_end(&seg);
		fmt_events(&seg.res, evs, sizeof(evs));
		if (v != st->verdict) {
			test_fail(name, "step %d: verdict %d, expected %d (events: %s)",
				  k + 1, v, st->verdict, evs);
			free(buf);
			return false;
		}
		if (check_events && !(st->ev && !strcmp(st->ev, "*")) &&
		    strcmp(evs, st->ev ? st->ev : "")) {
			test_fail(name, "step %d: events '%s', expected '%s'",
				  k + 1, evs, st->ev ? st->ev : "");
			free(buf);
			return false;
		}
		for (i = 0; i < seg.res.n_spans; i++) {
			const struct sg_span *sp = &seg.res.spans[i];

			if (sp->off + sp->len > len) {
				test_fail(name, "step %d: span past the end",
					  k + 1);
				free(buf);
				return false;
			}
			memset(buf + sp->off, sp->ch, sp->len);
		}
		if (v == SG_V_PASS && st->out &&
		    (strlen(st->out) != len || memcmp(buf, st->out, len))) {
			show(a, sizeof(a), buf, len);
			show(b, sizeof(b), st->out, strlen(st->out));
			test_fail(name, "step %d: wire '%s', expected '%s'",
				  k + 1, a, b);
			free(buf);
			return false;
		}
		if (v == SG_V_PASS && !st->out && st->data &&
		    memcmp(buf, st->data, len)) {
			show(a, sizeof(a), buf, len);
			test_fail(name, "step %d: rewritten to '%s', expected unchanged",
				  k + 1, a);
			free(buf);
			return false;
		}
		if (v == SG_V_PASS && seg.res.new_bytes &&
		    rel + len > sent[st->dir])
			sent[st->dir] = rel + len;
		free(buf);
	}
	return true;
}

bool run_steps(const char *name, const char *policy, bool pickup,
	       const struct step *steps, int n)
{
	return run_steps_isn(name, policy, pickup, 1000, 5000, steps, n);
}

bool run_steps_isn(const char *name, const char *policy, bool pickup,
		   unsigned int isn_c, unsigned int isn_s,
		   const struct step *steps, int n)
{
	const struct sg_policy *pol = test_policy(policy);
	static const unsigned int chunks[] = { 1, 3 };
	unsigned int i;

	feed_chunk = 0;
	if (!run_once(name, pol, pickup, isn_c, isn_s, steps, n, true))
		return false;
	/* Same segments, payload fed in small chunks: same result. */
	for (i = 0; i < 2; i++) {
		feed_chunk = chunks[i];
		if (!run_once(name, pol, pickup, isn_c, isn_s, steps, n,
			      false)) {
			printf("     (with feed chunks of %u bytes)\n",
			       chunks[i]);
			feed_chunk = 0;
			return false;
		}
	}
	feed_chunk = 0;
	test_ok(name);
	return true;
}

bool run_case(const struct tcase *tc)
{
	int n = 0;

	while (n < STEPS_MAX && (tc->steps[n].data || tc->steps[n].ackonly))
		n++;
	return run_steps_isn(tc->name, tc->policy, tc->pickup,
			     tc->isn_c ? tc->isn_c : 1000,
			     tc->isn_s ? tc->isn_s : 5000, tc->steps, n);
}
