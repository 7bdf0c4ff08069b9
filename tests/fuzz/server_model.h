/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Server reading models for the fuzzer: how a real MTA behind the gateway
 * splits the client's bytes into command lines, and when it reads them as
 * something else (DATA text, a BDAT chunk, an AUTH response, TLS), driven
 * by the replies it sent.
 *
 *  - SM_POSTFIX (smtpd 3.7): lines end at LF (a CR before it is dropped);
 *    a line longer than line_length_limit (2048) is cut there and the rest
 *    up to the LF skipped; the verb is the first token after leading white
 *    space, tokens split at SP and TAB; BDAT is read whenever its syntax
 *    is "BDAT size [LAST]" in tokens.
 *  - SM_EXIM (4.96 smtp_read_command()): lines end at LF; after 16384
 *    octets the line is split (the octet after them is lost), the part
 *    answered 500, and the rest is the next command (the same
 *    in auth_get_data()); a verb matches only at column 0, followed by SP
 *    or the line's end; trailing white space is stripped; BDAT is read
 *    only in an EHLO session whose reply offered CHUNKING, with any size
 *    sscanf("%u") takes and "LAST" or else a non-last chunk.
 *  - Both: DATA after a 354 to it, until a line that is "." (a bare LF
 *    ends a line too); AUTH responses after each 334; after a 220 to
 *    STARTTLS the session is TLS and not read here.
 *
 * Replies are paired with the commands the model read, in order; a reply
 * with nothing outstanding is ignored (as the engine does). The model
 * waits at a command whose reply decides how the next bytes are read
 * (EHLO, DATA, AUTH, STARTTLS) until that reply arrives. A reply no real
 * server sends to the command the model read is where it stops reading:
 * a 354 to anything but DATA, a 334 outside AUTH, a 220 to anything but
 * the greeting or STARTTLS, an EHLO reply offering CHUNKING to anything
 * but EHLO. (The fuzzer's replies are random; the engine reads a
 * command the way one server does and may pair with it a reply only
 * that server sends, such as a 250 CHUNKING to "EHLO<TAB>c", which Exim
 * answers 500.)
 */
#ifndef SG_SERVER_MODEL_H
#define SG_SERVER_MODEL_H

#include <stdbool.h>
#include <stdint.h>

enum sm_kind { SM_POSTFIX, SM_EXIM };

/* Called at every command the model reads: @verb, @len bytes. */
typedef void (*sm_verb_fn)(void *ctx, enum sm_kind kind, const uint8_t *verb,
			   uint32_t len, uint32_t off);

struct sm_model {
	enum sm_kind kind;
	const uint8_t *cli;	/* the client bytes the server received */
	uint32_t cli_n;		/* how many are available */
	uint32_t ci;		/* next client byte to read */
	int mode;		/* SM_M_* */
	uint32_t bdat_left;
	bool ehlo;		/* the session's latest greeting was EHLO */
	bool chunking;		/* ... and its reply offered CHUNKING */
	uint8_t wait;		/* command whose reply decides: SM_W_* */
	uint32_t owed;		/* replies owed to earlier plain commands */
	bool greeted;		/* the greeting (the first reply) came */
	bool overflow;		/* the line read is the part Exim split off */
	/* reply parser */
	uint8_t rline[24];	/* first bytes of the current reply line */
	uint32_t rlen;
	bool r_ehlo_chunking;	/* CHUNKING seen in the reply being read */
	sm_verb_fn verb_fn;
	void *ctx;
};

void sm_init(struct sm_model *m, enum sm_kind kind, sm_verb_fn fn, void *ctx);
/* More client bytes: @cli[0 .. @n) is everything the server received. */
void sm_client(struct sm_model *m, const uint8_t *cli, uint32_t n);
/* Bytes the server sent (its replies, before the gateway). */
void sm_server(struct sm_model *m, const uint8_t *p, uint32_t n);

#endif
