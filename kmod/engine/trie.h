/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Private to the engine and policy compiler: the meaning of the bits in
 * struct sg_trie_node.accept, the command ids the verb trie carries, and
 * a few internal constants. Not part of the netlink or file ABI.
 */
#ifndef SMTPGUARD_TRIE_H
#define SMTPGUARD_TRIE_H

#include "shim.h"

/*
 * accept byte of a trie node:
 *  SG_TN_LIVE	  the path to this node is a prefix of an allowed word
 *		  (the root is always live)
 *  SG_TN_ALLOWED an allowed word ends here
 *  low 4 bits	  command id (enum sg_cmd) of a word ending here; 0 if
 *		  no word ends here. In the keyword trie, CHUNKING carries
 *		  SG_CMD_BDAT (it is what makes BDAT usable). The verb trie also holds the verbs the
 *		  engine must recognise when they reach the server unmasked
 *		  (DATA, BDAT, STARTTLS...), without SG_TN_LIVE/ALLOWED.
 */
#define SG_TN_LIVE	0x80
#define SG_TN_ALLOWED	0x40
#define SG_TN_CMD_MASK	0x0f

enum sg_cmd {
	SG_CMD_NONE,		/* no word ends here / not a known command */
	SG_CMD_OTHER,		/* a listed word with no special meaning */
	SG_CMD_HELO,
	SG_CMD_EHLO,
	SG_CMD_MAIL,
	SG_CMD_RCPT,
	SG_CMD_DATA,
	SG_CMD_BDAT,
	SG_CMD_RSET,
	SG_CMD_AUTH,
	SG_CMD_STARTTLS,
};

/* Line lengths are counted in u16 and saturate, so limits stay below. */
#define SG_LINE_LIMIT_MAX	65000u
#define SG_BDAT_CHUNK_DEFAULT	104857600u	/* 100 MiB */
/* RFC 4954 section 4: an AUTH command line may be this long. */
#define SG_AUTH_LINE_MIN	12288u
/*
 * Room MAIL and RCPT lines get beyond the command-line limit for
 * extension parameters (RFC 5321 4.5.3.1.4): RCPT +500 for NOTIFY and
 * ORCPT (RFC 3461); MAIL +500 for AUTH= (RFC 4954), +100 for ENVID and
 * RET (RFC 3461), +26 for SIZE (RFC 1870), +26 for BODY and SMTPUTF8.
 */
#define SG_RCPT_PARAM_ROOM	500u
#define SG_MAIL_PARAM_ROOM	652u
/*
 * Hard bound on every client command line, AUTH line and AUTH
 * continuation, whatever the policy: past it the connection is reset.
 * Exim splits a longer line after 16384 octets and runs the rest as a new
 * command (smtp_read_command(), auth_get_data()); Postfix cuts at 2048
 * (line_length_limit) and skips the rest, which hides nothing.
 */
#define SG_CMD_LINE_HARD	16000u

#endif /* SMTPGUARD_TRIE_H */
