/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Table-driven transcript tests: a case is a policy plus a list of TCP
 * segments; each segment states the verdict, the wire bytes after the
 * spans and the events it must produce.
 */
#ifndef SG_TEST_HARNESS_H
#define SG_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include "../../kmod/engine/engine.h"

enum { C = SG_DIR_CLIENT, S = SG_DIR_SERVER };

struct step {
	int dir;		/* C or S */
	const char *data;	/* payload; NULL with ackonly for a pure ACK */
	int len;		/* 0: strlen(data) */
	int at;			/* 0: next new byte; k: stream offset k-1 */
	int verdict;		/* expected enum sg_verdict */
	const char *out;	/* expected wire bytes; NULL: unchanged */
	const char *ev;		/* expected events; NULL: none; "*": any */
	int ackrel;		/* 0: ACK all the peer sent; k: ack offset k-1 */
	bool noack;		/* no ACK flag */
	bool ackonly;		/* zero-length pure ACK */
	int tcp;		/* more SG_TCP_* flags (SYN, FIN, RST) */
	unsigned int ts;	/* TCP timestamp value; 0: no TSopt */
	const char *pol;	/* policy for this segment; NULL: the case's
				 * (a policy swap: each policy has its own
				 * generation) */
};

#define STEPS_MAX 256

struct tcase {
	const char *name;
	const char *policy;	/* "@esmtp" etc., or inline policy text */
	bool pickup;		/* sg_conn_init(pickup) and no handshake */
	unsigned int isn_c, isn_s;	/* 0: defaults */
	struct step steps[STEPS_MAX];
};

/* Runs a case; prints one line; returns true if it passed. */
bool run_case(const struct tcase *tc);
bool run_steps(const char *name, const char *policy, bool pickup,
	       const struct step *steps, int n);
bool run_steps_isn(const char *name, const char *policy, bool pickup,
		   unsigned int isn_c, unsigned int isn_s,
		   const struct step *steps, int n);

/* Policy by preset name ("@esmtp") or inline text; aborts on error.
 * Each distinct policy gets its own generation (1, 2, ...), as the
 * kernel gives each policy it installs. */
const struct sg_policy *test_policy(const char *spec);

void test_ok(const char *name);
void test_fail(const char *name, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

extern int n_pass, n_fail;

#endif
