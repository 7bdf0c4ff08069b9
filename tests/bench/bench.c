// SPDX-License-Identifier: GPL-2.0
/*
 * smtpguard engine benchmark.
 *   bench speed		MB/s of each workload, engine and baselines
 *   bench one WORKLOAD WHO	one pass, for callgrind (WORKLOAD: data|cmd,
 *				WHO: engine|scan); prints the byte count
 * Workloads: "data" is a DATA phase body (base64 attachment plus text),
 * "cmd" is pipelined RSET/MAIL/RCPT command traffic with its replies.
 * Both are fed in 1448-byte segments, as on the wire. The data body is
 * 3/4 base64 lines of 76 characters (RFC 2045) and 1/4 text; in the
 * command traffic most client bytes go past the copy of unacknowledged
 * command bytes, so they are fingerprinted (the fingerprint's worst case).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../kmod/engine/engine.h"
#include "../../userspace/policy_file.h"

#define SEG 1448
#define DATA_BYTES (32u << 20)
#define CMD_TX 60000

static struct sg_policy pol;
static u8 *data_buf, *cmd_c, *cmd_s;
static size_t data_len, cmd_c_len, cmd_s_len;

static void build(void)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static const char *text =
		"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed\r\n"
		"do eiusmod tempor incididunt ut labore et dolore magna aliqua.\r\n"
		"\tUt enim ad minim veniam, quis nostrud exercitation ullamco\r\n"
		"\r\n";
	size_t o = 0, i, tl = strlen(text);
	unsigned int x = 1;

	data_buf = malloc(DATA_BYTES + 4096);
	while (o < DATA_BYTES) {
		if ((o / 4096) % 4 == 0) {	/* 1/4 text */
			memcpy(data_buf + o, text, tl);
			o += tl;
			continue;
		}
		for (i = 0; i < 76; i++) {
			x = x * 1103515245u + 12345u;
			data_buf[o++] = (u8)b64[(x >> 16) & 63];
		}
		data_buf[o++] = '\r';
		data_buf[o++] = '\n';
	}
	data_len = o;

	cmd_c = malloc((size_t)CMD_TX * 160);
	cmd_s = malloc((size_t)CMD_TX * 80);
	for (i = 0, o = 0; i < CMD_TX; i++)
		o += (size_t)sprintf((char *)cmd_c + o,
			"RSET\r\nMAIL FROM:<sender%zu@example.org> SIZE=1000\r\n"
			"RCPT TO:<rcpt%zu@example.com>\r\n", i, i);
	cmd_c_len = o;
	for (i = 0, o = 0; i < CMD_TX; i++)
		o += (size_t)sprintf((char *)cmd_s + o,
			"250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n");
	cmd_s_len = o;
}

static void seg(struct sg_conn *c, int dir, u32 seq, const u8 *p, u32 n,
		u32 ack)
{
	struct sg_seg s;

	sg_seg_begin(&s, c, &pol, dir, seq, n, ack, SG_TCP_ACK);
	sg_seg_feed(&s, p, n);
	if (sg_seg_end(&s) != SG_V_PASS) {
		fprintf(stderr, "bench: unexpected verdict\n");
		exit(1);
	}
}

static void to_data(struct sg_conn *c, u32 *cs, u32 *ss)
{
	static const char *cl = "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n";
	static const char *sv[] = { "220 mx ESMTP\r\n",
		"250-mx\r\n250 PIPELINING\r\n250 ok\r\n250 ok\r\n354 go\r\n" };

	sg_conn_init(c, false);
	*cs = 1;
	*ss = 1;
	seg(c, SG_DIR_SERVER, *ss, (const u8 *)sv[0], strlen(sv[0]), *cs);
	*ss += strlen(sv[0]);
	seg(c, SG_DIR_CLIENT, *cs, (const u8 *)cl, strlen(cl), *ss);
	*cs += strlen(cl);
	seg(c, SG_DIR_SERVER, *ss, (const u8 *)sv[1], strlen(sv[1]), *cs);
	*ss += strlen(sv[1]);
}

__attribute__((noinline)) void bench_engine_data(void)
{
	struct sg_conn c;
	u32 cs, ss;
	size_t o;

	to_data(&c, &cs, &ss);
	for (o = 0; o < data_len; o += SEG) {
		u32 n = data_len - o < SEG ? (u32)(data_len - o) : SEG;

		seg(&c, SG_DIR_CLIENT, cs, data_buf + o, n, ss);
		cs += n;
	}
}

__attribute__((noinline)) void bench_engine_cmd(void)
{
	struct sg_conn c;
	u32 cs = 1, ss = 1;
	size_t oc = 0, os = 0;

	sg_conn_init(&c, false);
	seg(&c, SG_DIR_SERVER, ss, (const u8 *)"220 mx\r\n", 8, cs);
	ss += 8;
	while (oc < cmd_c_len) {
		u32 n = cmd_c_len - oc < SEG ? (u32)(cmd_c_len - oc) : SEG;
		u32 k;

		seg(&c, SG_DIR_CLIENT, cs, cmd_c + oc, n, ss);
		cs += n;
		oc += n;
		/* the replies so far, in proportion */
		k = (u32)((double)oc / cmd_c_len * cmd_s_len) - (u32)os;
		while (k) {
			u32 m = k < SEG ? k : SEG;

			seg(&c, SG_DIR_SERVER, ss, cmd_s + os, m, cs);
			ss += m;
			os += m;
			k -= m;
		}
	}
}

static volatile size_t sink;

/* Baseline: a plain byte loop to the next CR or LF, per segment. */
__attribute__((noinline)) void bench_scan(const u8 *b, size_t len)
{
	size_t o, lines = 0;

	for (o = 0; o < len; o += SEG) {
		const u8 *p = b + o, *e = b + (len - o < SEG ? len : o + SEG);

		while (p < e) {
			while (p < e && *p != '\r' && *p != '\n')
				p++;
			if (p < e) {
				lines++;
				p++;
			}
		}
	}
	sink = lines;
}

/* Baseline: libc memchr for LF, per segment (speed only). */
__attribute__((noinline)) void bench_memchr(const u8 *b, size_t len)
{
	size_t o, lines = 0;

	for (o = 0; o < len; o += SEG) {
		const u8 *p = b + o, *e = b + (len - o < SEG ? len : o + SEG);

		while ((p = memchr(p, '\n', (size_t)(e - p))) != NULL) {
			lines++;
			p++;
		}
	}
	sink = lines;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double mbps(void (*fn)(void), size_t bytes)
{
	double best = 0;
	int r;

	for (r = 0; r < 5; r++) {
		double t = now(), v;

		fn();
		t = now() - t;
		v = bytes / t / 1e6;
		if (v > best)
			best = v;
	}
	return best;
}

static void scan_data(void) { bench_scan(data_buf, data_len); }
static void memchr_data(void) { bench_memchr(data_buf, data_len); }
static void scan_cmd(void)
{
	bench_scan(cmd_c, cmd_c_len);
	bench_scan(cmd_s, cmd_s_len);
}
static void memchr_cmd(void)
{
	bench_memchr(cmd_c, cmd_c_len);
	bench_memchr(cmd_s, cmd_s_len);
}

int main(int argc, char **argv)
{
	struct sg_pf_error e;

	if (sg_policy_parse_file(SG_POLICY_DIR "/esmtp.conf", &pol, &e)) {
		fprintf(stderr, "%s\n", e.msg);
		return 1;
	}
	build();
	if (argc == 4 && !strcmp(argv[1], "one")) {
		int data = !strcmp(argv[2], "data");
		int eng = !strcmp(argv[3], "engine");

		if (data)
			eng ? bench_engine_data() : bench_scan(data_buf, data_len);
		else if (eng)
			bench_engine_cmd();
		else
			scan_cmd();
		printf("%zu\n", data ? data_len : cmd_c_len + cmd_s_len);
		return 0;
	}
	printf("workload      bytes  engine MB/s  byte-scan MB/s  memchr MB/s\n");
	printf("data   %12zu  %11.0f  %14.0f  %11.0f\n", data_len,
	       mbps(bench_engine_data, data_len), mbps(scan_data, data_len),
	       mbps(memchr_data, data_len));
	printf("cmd    %12zu  %11.0f  %14.0f  %11.0f\n", cmd_c_len + cmd_s_len,
	       mbps(bench_engine_cmd, cmd_c_len + cmd_s_len),
	       mbps(scan_cmd, cmd_c_len + cmd_s_len),
	       mbps(memchr_cmd, cmd_c_len + cmd_s_len));
	return 0;
}
