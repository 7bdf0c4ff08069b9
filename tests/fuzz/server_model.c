// SPDX-License-Identifier: GPL-2.0
/*
 * Server reading models (see server_model.h): Postfix's and Exim's view of
 * the client's bytes, for the fuzzer's invariant that no disallowed verb
 * starts a command in either view unless the engine reset first.
 */
#include <string.h>

#include "server_model.h"

enum { SM_M_CMD, SM_M_DATA, SM_M_BDAT, SM_M_AUTH, SM_M_TLS, SM_M_STOP };
enum { SM_W_NONE, SM_W_EHLO, SM_W_DATA, SM_W_AUTH, SM_W_TLS };

#define PF_LINE_LIMIT	2048	/* Postfix line_length_limit */
#define EXIM_CMD_BUF	16384	/* Exim SMTP_CMD_BUFFER_SIZE */

static uint8_t up(uint8_t c)
{
	return c >= 'a' && c <= 'z' ? (uint8_t)(c - 32) : c;
}

static bool word_is(const uint8_t *p, uint32_t n, const char *w)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (!w[i] || up(p[i]) != (uint8_t)w[i])
			return false;
	return !w[n];
}

static bool is_ws(uint8_t c)
{
	return c == ' ' || c == '\t';
}

void sm_init(struct sm_model *m, enum sm_kind kind, sm_verb_fn fn, void *ctx)
{
	memset(m, 0, sizeof(*m));
	m->kind = kind;
	m->mode = SM_M_CMD;
	m->owed = 1;		/* the greeting */
	m->verb_fn = fn;
	m->ctx = ctx;
}

/* Postfix: "BDAT size [LAST]" in SP/TAB separated tokens. */
static bool pf_bdat(const uint8_t *p, uint32_t n, uint32_t *size)
{
	const uint8_t *tok[4];
	uint32_t len[4], nt = 0, i = 0, v = 0;

	while (i < n && nt < 4) {
		while (i < n && is_ws(p[i]))
			i++;
		if (i == n)
			break;
		tok[nt] = p + i;
		while (i < n && !is_ws(p[i]))
			i++;
		len[nt] = (uint32_t)(p + i - tok[nt]);
		nt++;
	}
	while (i < n && is_ws(p[i]))
		i++;
	if (nt < 2 || nt > 3 || i < n)
		return false;
	for (i = 0; i < len[1]; i++) {
		if (tok[1][i] < '0' || tok[1][i] > '9' || v > 429496728u)
			return false;
		v = v * 10 + (tok[1][i] - '0');
	}
	if (nt == 3 && !word_is(tok[2], len[2], "LAST"))
		return false;
	*size = v;
	return true;
}

/* Exim: after "BDAT ", sscanf("%u"): white space, a sign, digits. */
static bool exim_bdat(const uint8_t *p, uint32_t n, uint32_t *size)
{
	uint32_t i = 5, v = 0;
	bool neg = false, any = false;

	while (i < n && (is_ws(p[i]) || p[i] == '\r'))
		i++;
	if (i < n && (p[i] == '+' || p[i] == '-'))
		neg = p[i++] == '-';
	for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
		v = v * 10 + (p[i] - '0');
		any = true;
	}
	if (!any)
		return false;
	*size = neg ? (uint32_t)-v : v;
	return true;
}

/* One command line p[0..n) (no LF, trailing CR kept) at client offset @off. */
static void sm_command(struct sm_model *m, const uint8_t *p, uint32_t n,
		       uint32_t off)
{
	uint32_t a = 0, e = n, v, size;

	if (m->kind == SM_EXIM) {
		/* trailing white space stripped; verb at column 0 */
		while (e > 0 && (is_ws(p[e - 1]) || p[e - 1] == '\r'))
			e--;
		for (v = 0; v < e && p[v] != ' '; v++)
			;
	} else {
		if (e > 0 && p[e - 1] == '\r')
			e--;
		while (a < e && is_ws(p[a]))
			a++;
		for (v = a; v < e && !is_ws(p[v]); v++)
			;
	}
	if (m->verb_fn)
		m->verb_fn(m->ctx, m->kind, p + a, v - a, off + a);
	if (word_is(p + a, v - a, "EHLO")) {
		m->wait = SM_W_EHLO;
	} else if (word_is(p + a, v - a, "HELO")) {
		m->ehlo = m->chunking = false;
		m->owed++;
	} else if (word_is(p + a, v - a, "DATA")) {
		m->wait = SM_W_DATA;
	} else if (word_is(p + a, v - a, "AUTH")) {
		m->wait = SM_W_AUTH;
	} else if (word_is(p + a, v - a, "STARTTLS")) {
		m->wait = SM_W_TLS;
	} else if (word_is(p + a, v - a, "BDAT")) {
		m->owed++;
		if (m->kind == SM_EXIM ?
		    m->ehlo && m->chunking && exim_bdat(p, e, &size) :
		    pf_bdat(p + a, e - a, &size)) {
			m->mode = SM_M_BDAT;
			m->bdat_left = size;
		}
	} else {
		m->owed++;
	}
}

/*
 * The next line from the client, or false if it is not complete yet.
 * @start, @len: its bytes without the LF; a line Exim splits ends after
 * EXIM_CMD_BUF octets and one lost (@split), the rest is the next line;
 * Postfix keeps
 * the first PF_LINE_LIMIT octets (@cut) and skips the rest.
 */
static bool sm_line(struct sm_model *m, uint32_t *start, uint32_t *len,
		    bool split, bool cut)
{
	const uint8_t *lf;
	uint32_t avail = m->cli_n - m->ci;

	*start = m->ci;
	m->overflow = false;
	lf = memchr(m->cli + m->ci, '\n', avail);
	if (split && (lf ? (uint32_t)(lf - (m->cli + m->ci)) : avail) >
		     EXIM_CMD_BUF) {
		/* the octet that found the buffer full is read and lost */
		*len = EXIM_CMD_BUF;
		m->ci += EXIM_CMD_BUF + 1;
		m->overflow = true;
		return true;
	}
	if (!lf)
		return false;
	*len = (uint32_t)(lf - (m->cli + m->ci));
	m->ci += *len + 1;
	if (cut && *len > PF_LINE_LIMIT)
		*len = PF_LINE_LIMIT;
	return true;
}

/* Read client bytes as far as the server would before waiting. */
static void sm_advance(struct sm_model *m)
{
	uint32_t s, n, k;
	bool exim = m->kind == SM_EXIM;

	while (!m->wait && m->ci < m->cli_n) {
		switch (m->mode) {
		case SM_M_CMD:
			if (!sm_line(m, &s, &n, exim, !exim))
				return;
			if (m->overflow)
				m->owed++;	/* 500: too long, no command */
			else
				sm_command(m, m->cli + s, n, s);
			break;
		case SM_M_DATA:
			if (!sm_line(m, &s, &n, false, false))
				return;
			if (n && m->cli[s + n - 1] == '\r')
				n--;
			if (n == 1 && m->cli[s] == '.') {
				m->mode = SM_M_CMD;
				m->owed++;	/* the message's reply */
			}
			break;
		case SM_M_BDAT:
			k = m->cli_n - m->ci;
			if (k > m->bdat_left)
				k = m->bdat_left;
			m->ci += k;
			m->bdat_left -= k;
			if (m->bdat_left)
				return;
			m->mode = SM_M_CMD;
			break;
		case SM_M_AUTH:
			if (!sm_line(m, &s, &n, exim, false))
				return;
			m->wait = SM_W_AUTH;	/* its reply: 334 again? */
			break;
		default:	/* TLS, or stopped: not read here */
			m->ci = m->cli_n;
			return;
		}
	}
}

void sm_client(struct sm_model *m, const uint8_t *cli, uint32_t n)
{
	m->cli = cli;
	m->cli_n = n;
	sm_advance(m);
}

/* A final reply line with @code ended. */
static void sm_reply(struct sm_model *m, unsigned int code, bool chunking)
{
	bool greeting = !m->greeted;

	m->greeted = true;
	/*
	 * A real server sends 354 only to DATA, 334 only in AUTH, 220 only
	 * as the greeting or to STARTTLS (Postfix's XCLIENT too, a verb
	 * every fuzzed policy masks) and an EHLO reply offering CHUNKING
	 * only to EHLO (Exim answers 500 to "EHLO<TAB>c" or " EHLO c",
	 * smtp_read_command() matching verbs at column 0 followed by SP):
	 * past any other, this reply stream is no server's, so stop reading.
	 */
	if ((code == 354 && (m->owed || m->wait != SM_W_DATA)) ||
	    (code == 334 && (m->owed || m->wait != SM_W_AUTH)) ||
	    (code == 220 && !greeting &&
	     (m->owed || m->wait != SM_W_TLS)) ||
	    (chunking && !greeting && (m->owed || m->wait != SM_W_EHLO))) {
		m->mode = SM_M_STOP;
		m->wait = SM_W_NONE;
		return;
	}
	if (m->owed) {
		m->owed--;
		return;
	}
	switch (m->wait) {
	case SM_W_EHLO:
		m->ehlo = code == 250;
		m->chunking = m->ehlo && chunking;
		break;
	case SM_W_DATA:
		if (code == 354)
			m->mode = SM_M_DATA;
		break;
	case SM_W_AUTH:
		m->mode = code == 334 ? SM_M_AUTH : SM_M_CMD;
		break;
	case SM_W_TLS:
		if (code == 220)
			m->mode = SM_M_TLS;
		break;
	default:
		return;		/* nothing outstanding: ignored */
	}
	m->wait = SM_W_NONE;
	sm_advance(m);
}

void sm_server(struct sm_model *m, const uint8_t *p, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		uint8_t c = p[i];
		unsigned int code = 0, k;

		if (c != '\n') {
			if (m->rlen < sizeof(m->rline))
				m->rline[m->rlen] = c;
			m->rlen++;
			continue;
		}
		/* a keyword line "250-CHUNKING" (as the engine reads one) */
		if (m->rlen >= 12 && word_is(m->rline + 4, 8, "CHUNKING") &&
		    (m->rlen == 12 || is_ws(m->rline[12]) ||
		     m->rline[12] == '\r' || m->rline[12] == '='))
			m->r_ehlo_chunking = true;
		if (m->rlen < 4 || m->rline[3] != '-') {
			for (k = 0; k < 3 && k < m->rlen; k++)
				if (m->rline[k] >= '0' && m->rline[k] <= '9')
					code = code * 10 + (m->rline[k] - '0');
			sm_reply(m, code, m->r_ehlo_chunking);
			m->r_ehlo_chunking = false;
		}
		m->rlen = 0;
	}
}
