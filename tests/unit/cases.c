// SPDX-License-Identifier: GPL-2.0
/*
 * Transcript cases. Each step: {dir, bytes, ...expectations}. Unless a
 * step says otherwise it carries an ACK of everything the peer sent, its
 * verdict is PASS, its wire bytes are unchanged and it has no events.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* the server ACKs all the client sent (frees the engine's command copy) */
#define SACK		{ S, NULL, .ackonly = true }
#define GREET		{ S, "220 mx.example.com ESMTP Postfix\r\n" }
#define EHLO_SHORT	{ C, "EHLO client.example\r\n" }, \
			{ S, "250-mx.example.com\r\n250-PIPELINING\r\n250 8BITMIME\r\n" }
#define OPEN		GREET, EHLO_SHORT
#define EHLO_CH		{ C, "EHLO client.example\r\n" }, \
			{ S, "250-mx.example.com\r\n250-PIPELINING\r\n250 CHUNKING\r\n" }
#define OPEN_CH		GREET, EHLO_CH
#define MAILRCPT	{ C, "MAIL FROM:<a@example.org>\r\n" }, \
			{ S, "250 2.1.0 Ok\r\n" }, \
			{ C, "RCPT TO:<b@example.com>\r\n" }, \
			{ S, "250 2.1.5 Ok\r\n" }
#define TODATA		MAILRCPT, { C, "DATA\r\n" }, \
			{ S, "354 End data with <CR><LF>.<CR><LF>\r\n" }

#define POSTFIX_EHLO \
	"250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n" \
	"250-VRFY\r\n250-ETRN\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n" \
	"250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n"
#define POSTFIX_EHLO_ESMTP \
	"250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n" \
	"250-XXXX\r\n250-EXXX\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n" \
	"250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n"
#define POSTFIX_EHLO_STRICT \
	"250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n" \
	"250-XXXX\r\n250-EXXX\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n" \
	"250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 XXXXXXXX\r\n"

#define EXCHANGE_EHLO \
	"250-mail.contoso.com Hello [192.0.2.1]\r\n250-SIZE 37748736\r\n" \
	"250-PIPELINING\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n" \
	"250-STARTTLS\r\n250-X-ANONYMOUSTLS\r\n250-AUTH NTLM\r\n" \
	"250-X-EXPS GSSAPI NTLM\r\n250-8BITMIME\r\n250-BINARYMIME\r\n" \
	"250-CHUNKING\r\n250-XEXCH50\r\n250-XRDST\r\n" \
	"250-XSHADOWREQUEST\r\n250 X-LINK2STATE\r\n"
#define EXCHANGE_EHLO_ESMTP \
	"250-mail.contoso.com Hello [192.0.2.1]\r\n250-SIZE 37748736\r\n" \
	"250-PIPELINING\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n" \
	"250-STARTTLS\r\n250-XXXXXXXXXXXXXX\r\n250-AUTH NTLM\r\n" \
	"250-XXXXXX GSSAPI NTLM\r\n250-8BITMIME\r\n250-BINARYMIME\r\n" \
	"250-CHUNKING\r\n250-XXXXXXX\r\n250-XXXXX\r\n" \
	"250-XXXXXXXXXXXXXX\r\n250 XXXXXXXXXXXX\r\n"
#define EXCHANGE_EHLO_STRICT \
	"250-mail.contoso.com Hello [192.0.2.1]\r\n250-SIZE 37748736\r\n" \
	"250-PIPELINING\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n" \
	"250-STARTTLS\r\n250-XXXXXXXXXXXXXX\r\n250-XXXX NTLM\r\n" \
	"250-XXXXXX GSSAPI NTLM\r\n250-8BITMIME\r\n250-XXXXXXXXXX\r\n" \
	"250-XXXXXXXX\r\n250-XXXXXXX\r\n250-XXXXX\r\n" \
	"250-XXXXXXXXXXXXXX\r\n250 XXXXXXXXXXXX\r\n"

#define A10 "aaaaaaaaaa"
#define A100 A10 A10 A10 A10 A10 A10 A10 A10 A10 A10
#define A1000 A100 A100 A100 A100 A100 A100 A100 A100 A100 A100
#define LONG_A500 A100 A100 A100 A100 A100
/* NOOP + 16380 a + VRFY root: 16400 octets */
#define LONG_NOOP "NOOP " A1000 A1000 A1000 A1000 A1000 A1000 A1000 A1000 \
	A1000 A1000 A1000 A1000 A1000 A1000 A1000 A1000 A100 A100 A100 \
	A10 A10 A10 A10 A10 A10 A10 A10 "VRFY root\r\n"
#define LONG_AUTH "AUTH " A1000 A1000 A1000 A1000 A1000 A1000 A1000 A1000 \
	A1000 A1000 A1000 A1000 A1000 A1000 A1000 A1000
#define RCPT_ORCPT "RCPT TO:<b@example.com> NOTIFY=SUCCESS,FAILURE " \
	"ORCPT=rfc822;" A100 A100 A100 A100 A10 A10 A10 A10 A10 A10 A10 \
	"@example.com\r\n"
#define R10(d) "RCPT TO:<u" d "0@x>\r\nRCPT TO:<u" d "1@x>\r\n" \
	"RCPT TO:<u" d "2@x>\r\nRCPT TO:<u" d "3@x>\r\nRCPT TO:<u" d "4@x>\r\n" \
	"RCPT TO:<u" d "5@x>\r\nRCPT TO:<u" d "6@x>\r\nRCPT TO:<u" d "7@x>\r\n" \
	"RCPT TO:<u" d "8@x>\r\nRCPT TO:<u" d "9@x>\r\n"
#define RCPT100 "MAIL FROM:<a@b>\r\n" R10("") R10("1") R10("2") R10("3") \
	R10("4") R10("5") R10("6") R10("7") R10("8") R10("9")

#define LOGSMUG "verbs HELO EHLO MAIL RCPT DATA RSET NOOP QUIT\n" \
		"action smuggling log\n"

static const struct tcase cases[] = {
{ "esmtp: clean session with a Postfix EHLO reply", "@esmtp", .steps = {
	GREET,
	{ C, "EHLO client.example\r\n" },
	{ S, POSTFIX_EHLO, .out = POSTFIX_EHLO_ESMTP, .ev = "kw:VRFY kw:ETRN" },
	TODATA,
	{ C, "Subject: hi\r\n\r\nVRFY is text here\r\n.\r\n" },
	{ S, "250 2.0.0 Ok: queued\r\n" },
	{ C, "QUIT\r\n" }, { S, "221 2.0.0 Bye\r\n" },
} },
{ "strict: Postfix EHLO reply masks CHUNKING too", "@strict", .steps = {
	{ S, "220 mx\r\n", .out = "220 **\r\n", .ev = "banner" },
	{ C, "EHLO c\r\n" },
	{ S, POSTFIX_EHLO, .out = POSTFIX_EHLO_STRICT,
	  .ev = "kw:VRFY kw:ETRN kw:CHUNKING" },
} },
{ "esmtp: Exchange EHLO reply", "@esmtp", .steps = {
	GREET, { C, "EHLO c\r\n" },
	{ S, EXCHANGE_EHLO, .out = EXCHANGE_EHLO_ESMTP,
	  .ev = "kw:X-ANONYMOUS kw:X-EXPS kw:XEXCH50 kw:XRDST kw:XSHADOWREQU kw:X-LINK2STAT" },
	{ C, "X-LINK2STATE LAST CHUNK=1\r\n", .out = "XXXXXXXXXXXX LAST CHUNK=1\r\n",
	  .ev = "verb/mask:X-LINK2STAT" },
	{ C, "XEXCH50 2 2\r\n", .out = "XXXXXXX 2 2\r\n", .ev = "verb/mask:XEXCH50" },
} },
{ "strict: Exchange EHLO reply, 9 keywords masked", "@strict", .steps = {
	{ S, "220 x\r\n", .out = "220 *\r\n", .ev = "banner" },
	{ C, "EHLO c\r\n" },
	{ S, EXCHANGE_EHLO, .out = EXCHANGE_EHLO_STRICT, .ev = "*" },
} },
{ "EHLO reply one byte per segment", "@esmtp", .steps = {
	GREET, { C, "EHLO c\r\n" },
	{ S, "250-h\r\n2" }, { S, "5" }, { S, "0" }, { S, "-" },
	{ S, "V", .out = "X", .ev = "kw:V" }, { S, "R", .out = "X" },
	{ S, "F", .out = "X" }, { S, "Y", .out = "X" }, { S, "\r\n250-S" },
	{ S, "IZ" }, { S, "E 100\r\n250 E" },
	{ S, "X", .out = "X", .ev = "kw:EX" }, { S, "PN\r\n", .out = "XX\r\n" },
	{ C, "MAIL FROM:<a@b>\r\n" },
} },
{ "EHLO keyword that is a proper prefix is masked at its end", "@esmtp", .steps = {
	GREET, { C, "EHLO c\r\n" },
	{ S, "250-h\r\n250-SIZ 1\r\n250-AUTH=LOGIN PLAIN\r\n250 DS\r\n",
	  .out = "250-h\r\n250-XXX 1\r\n250-AUTH=LOGIN PLAIN\r\n250 XX\r\n",
	  .ev = "kw:SIZ kw:DS" },
	{ C, "EHLO d\r\n" },
	{ S, "250-h\r\n250-" },
	{ S, "SIZ\r\n250 8BITMIM", .out = "XXX\r\n250 8BITMIM", .ev = "kw:SIZ" },
	{ S, "E\n" },
	{ C, "EHLO e\r\n" },
	{ S, "250-h\r\n250-SIZ" },
	{ S, "\r\n", .verdict = SG_V_RESET, .ev = "kw:SIZ rewrite-limit/reset" },
} },
{ "EHLO error reply is not parsed for keywords", "@esmtp", .steps = {
	GREET, { C, "EHLO c\r\n" },
	{ S, "502-no\r\n502 VRFY\r\n" },
	{ C, "HELO c\r\n" }, { S, "250 h\r\n" },
} },
{ "verbs masked: VRFY EXPN TURN ETRN ATRN, case and white space", "@esmtp", .steps = {
	OPEN,
	{ C, "VRFY root\r\n", .out = "XXXX root\r\n", .ev = "verb/mask:VRFY" },
	{ S, "502 5.5.1 VRFY command is disabled\r\n" },
	{ C, "expn staff\r\n", .out = "eXXX staff\r\n", .ev = "verb/mask:EXPN" },
	{ S, "502 5.5.2 Error: command not recognized\r\n" },
	{ C, "TURN\r\nETRN x\r\nATRN y\r\n", .out = "XXXX\r\nEXXX x\r\nAXXX y\r\n",
	  .ev = "verb/mask:TURN verb/mask:ETRN verb/mask:ATRN" },
	{ S, "502 a\r\n502 b\r\n502 c\r\n" },
	{ C, " \tVrFy x\r\n", .out = " \tXXXX x\r\n", .ev = "verb/mask:VRFY" },
	{ S, "502 a\r\n" },
	{ C, "Mail From:<a@b>\r\n" }, { S, "250 ok\r\n" },
	{ C, "\r\n" }, { S, "500 empty\r\n" },
	{ C, "QUITX\r\n", .out = "QUITX\r\n", .ev = "verb/mask:QUITX" },
} },
{ "proper prefix of an allowed verb: its letters masked, never CR LF SP TAB", "@esmtp", .steps = {
	OPEN,
	{ C, "MAI FROM:<a@b>\r\n", .out = "XXX FROM:<a@b>\r\n", .ev = "verb/mask:MAI" },
	{ S, "500 5.5.2 Error: command not recognized\r\n" },
	{ C, "RCP\r\n", .out = "XXX\r\n", .ev = "verb/mask:RCP" },
	{ S, "500 x\r\n" },
	{ C, "HEL\tfoo\r\n", .out = "XXX\tfoo\r\n", .ev = "verb/mask:HEL" },
	{ S, "500 x\r\n" },
	{ C, "  MAI\r\n", .out = "  XXX\r\n", .ev = "verb/mask:MAI" },
	{ S, "500 x\r\n" },
} },
{ "proper prefix split from its end: too late to mask, reset", "@esmtp", .steps = {
	OPEN,
	{ C, "RC" }, { C, "P TO:<a>\r\n", .verdict = SG_V_RESET, .ev = "rewrite-limit/reset:RCP" },
	/* its retransmission: the letters left unmasked the first time */
	{ C, "RCP TO:<a>\r\n", .at = 1 + 21, .verdict = SG_V_RESET,
	  .ev = "rewrite-limit/reset:RCP" },
} },
{ "one byte per segment: VRFY, EXPN, MAIL, MAI", "@esmtp", .steps = {
	OPEN,
	{ C, "V", .out = "X", .ev = "verb/mask:V" }, { C, "R", .out = "X" },
	{ C, "F", .out = "X" }, { C, "Y", .out = "X" }, { C, " " },
	{ C, "x" }, { C, "\r" }, { C, "\n" },
	{ S, "502 no\r\n" },
	{ C, "E" }, { C, "X", .out = "X", .ev = "verb/mask:EX" },
	{ C, "P", .out = "X" }, { C, "N", .out = "X" }, { C, "\r\n" },
	{ S, "502 no\r\n" },
	{ C, "M" }, { C, "A" }, { C, "I" }, { C, "L" }, { C, " " },
	{ C, "FROM:<a@b>\r\n" }, { S, "250 ok\r\n" },
	{ C, "R" }, { C, "C" }, { C, "P" },
	{ C, " ", .verdict = SG_V_RESET, .ev = "rewrite-limit/reset:RCP" },
} },
{ "verb action log, drop and reset", "verbs HELO MAIL\naction verb log\n", .steps = {
	{ S, "220 x\r\n" },
	{ C, "VRFY x\r\n", .ev = "verb/log:VRFY" },
} },
{ "verb action drop", "verbs HELO MAIL\naction verb drop\n", .steps = {
	{ S, "220 x\r\n" },
	{ C, "VRFY x\r\n", .verdict = SG_V_DROP, .ev = "verb/drop:VRFY" },
	{ C, "VRFY x\r\n", .verdict = SG_V_DROP, .ev = "verb/drop:VRFY" },
	{ C, "HELO x\r\n", .at = 1 },
} },
{ "verb action reset", "verbs HELO MAIL\naction verb reset\n", .steps = {
	{ S, "220 x\r\n" },
	{ C, "HELO a\r\nVRFY x\r\n", .verdict = SG_V_RESET, .ev = "verb/reset:VRFY" },
} },
{ "rfc821: EHLO, STARTTLS, BDAT masked, banner masked", "@rfc821", .steps = {
	{ S, "220-mx.example.com ESMTP\r\n220 hi\r\n",
	  .out = "220-********************\r\n220 **\r\n", .ev = "banner banner" },
	{ C, "EHLO c\r\n", .out = "XXXX c\r\n", .ev = "verb/mask:EHLO" },
	{ S, "500 unknown\r\n" },
	{ C, "HELO c\r\n" }, { S, "250 mx\r\n" },
	{ C, "STARTTLS\r\n", .out = "XXXXXXXX\r\n", .ev = "verb/mask:STARTTLS" },
	{ S, "500 unknown\r\n" },
	{ C, "BDAT 5\r\nVRFY\r\n", .out = "XXXX 5\r\nXXXX\r\n",
	  .ev = "verb/mask:BDAT verb/mask:VRFY" },
} },
{ "banner: multi-line greeting, one byte per segment", "@strict", .steps = {
	{ S, "2" }, { S, "20" }, { S, "-" }, { S, "a", .out = "*", .ev = "banner" },
	{ S, "bc\r", .out = "**\r" }, { S, "\n220" }, { S, " ", .out = " " },
	{ S, "x\r\n", .out = "*\r\n", .ev = "banner" },
	{ C, "EHLO c\r\n" },
} },
{ "banner pass in esmtp", "@esmtp", .steps = {
	{ S, "220-mx.example.com ESMTP\r\n220 hi\r\n" },
} },
{ "AUTH LOGIN with 334 continuations", "@esmtp", .steps = {
	OPEN,
	{ C, "AUTH LOGIN\r\n" }, { S, "334 VXNlcm5hbWU6\r\n" },
	{ C, "dXNlcm5hbWU=\r\n" }, { S, "334 UGFzc3dvcmQ6\r\n" },
	{ C, "cGFzc3dvcmQ=\r\n" }, { S, "235 2.7.0 Authentication successful\r\n" },
	{ C, "VRFY x\r\n", .out = "XXXX x\r\n", .ev = "verb/mask:VRFY" },
} },
{ "AUTH PLAIN initial response, and cancel with *", "@esmtp", .steps = {
	OPEN,
	{ C, "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n" }, { S, "535 5.7.8 failed\r\n" },
	{ C, "AUTH LOGIN\r\n" }, { S, "334 VXNlcm5hbWU6\r\n" },
	{ C, "*\r\n" }, { S, "501 5.7.0 cancelled\r\n" },
	{ C, "dXNlcg==\r\n", .out = "dXXXXXXX\r\n", .ev = "verb/mask:DXNLCG==" },
} },
{ "AUTH pipelined after MAIL: continuation is not a command", "@esmtp", .steps = {
	OPEN,
	{ C, "RSET\r\nAUTH LOGIN\r\n" }, { S, "250 ok\r\n334 VXNlcm5hbWU6\r\n" },
	{ C, "VlJGWQ==\r\n" }, { S, "334 UGFzc3dvcmQ6\r\n" },
	{ C, "VRFY\r\n" }, { S, "235 ok\r\n" },
	{ C, "VRFY\r\n", .out = "XXXX\r\n", .ev = "verb/mask:VRFY" },
} },
{ "AUTH: a blank line answers the 334 (an empty response), not a command", "@esmtp", .steps = {
	OPEN,
	/* the server reads the empty line as the response and answers
	 * 535; the line after it is a command again */
	{ C, "AUTH PLAIN\r\n" }, { S, "334 \r\n" },
	{ C, "\r\nVRFY x\r\n", .out = "\r\nXXXX x\r\n", .ev = "verb/mask:VRFY" },
	{ S, "535 5.7.8 failed\r\n502 no\r\n" },
	{ C, "AUTH LOGIN\r\n" }, { S, "334 VXNlcm5hbWU6\r\n" },
	{ C, " \t\r\n" }, { S, "334 UGFzc3dvcmQ6\r\n" },
	{ C, "VRFY\r\n" }, { S, "535 5.7.8 failed\r\n" },
	{ C, "VRFY\r\n", .out = "XXXX\r\n", .ev = "verb/mask:VRFY" },
} },
{ "AUTH response sent before the 334: desync, never a later line as response", "@esmtp", .steps = {
	OPEN,
	/* the server takes "XXXX x" as the response and answers 501; the
	 * engine must not take the next line, VRFY root, as one */
	{ C, "AUTH LOGIN\r\nVRFY x\r\n", .out = "AUTH LOGIN\r\nXXXX x\r\n", .ev = "verb/mask:VRFY" },
	{ S, "334 VXNlcm5hbWU6\r\n", .verdict = SG_V_RESET, .ev = "desync/reset:AUTH" },
} },
{ "AUTH response sent before the 334, desync logged: lines stay commands", "verbs EHLO AUTH\naction desync log\n", .steps = {
	{ S, "220 x\r\n" },
	{ C, "AUTH LOGIN\r\nVRFY x\r\n", .out = "AUTH LOGIN\r\nXXXX x\r\n", .ev = "verb/mask:VRFY" },
	{ S, "334 VXNlcm5hbWU6\r\n", .ev = "desync/log:AUTH" },
	{ S, "501 cancelled\r\n" },
	{ C, "VRFY root\r\n", .out = "XXXX root\r\n", .ev = "verb/mask:VRFY" },
} },
{ "strict: AUTH masked", "@strict", .steps = {
	{ S, "220 x\r\n", .out = "220 *\r\n", .ev = "banner" },
	{ C, "AUTH LOGIN\r\n", .out = "XXXX LOGIN\r\n", .ev = "verb/mask:AUTH" },
	{ S, "502 no\r\n" },
	{ C, "dXNlcg==\r\n", .out = "dXXXXXXX\r\n", .ev = "verb/mask:DXNLCG==" },
} },
{ "DATA mode only after 354 (CVE-2000-1022)", "@esmtp", .steps = {
	OPEN, MAILRCPT,
	{ C, "DATA\r\nVRFY x\r\n", .out = "DATA\r\nXXXX x\r\n", .ev = "verb/mask:VRFY" },
	{ S, "554 5.5.1 Error: no valid recipients\r\n502 no\r\n" },
	{ C, "DATA\r\n" }, { S, "503 bad sequence\r\n" },
	{ C, "EXPN x\r\n", .out = "EXXX x\r\n", .ev = "verb/mask:EXPN" },
	{ S, "502 no\r\n" },
	{ C, "DATA\r\n" }, { S, "354 go\r\n" },
	{ C, "EXPN x\r\nVRFY y\r\n..\r\n" },
	{ C, ".\r\n" }, { S, "250 queued\r\n" },
	{ C, "VRFY x\r\n", .out = "XXXX x\r\n", .ev = "verb/mask:VRFY" },
} },
{ "bytes past DATA before its 354: desync (the server's message end is unknown)", "@esmtp", .steps = {
	OPEN_CH, MAILRCPT,
	/* the server reads "BDAT 14" and "." as the message, then runs
	 * VRFY root; the engine took those 14 octets for a BDAT chunk */
	{ C, "DATA\r\nBDAT 14\r\n.\r\nVRFY root\r\n" },
	{ S, "354 go\r\n", .verdict = SG_V_RESET, .ev = "desync/reset:DATA" },
} },
{ "lines past DATA before its 354: desync", "@esmtp", .steps = {
	OPEN, MAILRCPT,
	{ C, "DATA\r\nhi\r\n.\r\nVRFY x\r\n", .out = "DATA\r\nhX\r\nX\r\nXXXX x\r\n",
	  .ev = "verb/mask:HI verb/mask:. verb/mask:VRFY" },
	{ S, "354 go\r\n", .verdict = SG_V_RESET, .ev = "desync/reset:DATA" },
} },
{ "a blank past DATA before its 354: desync", "@esmtp", .steps = {
	OPEN, MAILRCPT,
	{ C, "DATA\r\n" }, { C, "\t" },
	{ S, "354 go\r\n", .verdict = SG_V_RESET, .ev = "desync/reset:DATA" },
} },
{ "end of data split over segments", "@esmtp", .steps = {
	OPEN, TODATA,
	{ C, "body\r" }, { C, "\n" }, { C, "." }, { C, "\r" }, { C, "\n" },
	{ S, "250 ok\r\n" },
	{ C, "VRFY x\r\n", .out = "XXXX x\r\n", .ev = "verb/mask:VRFY" },
} },
{ "empty message: . right after 354", "@esmtp", .steps = {
	OPEN, TODATA, { C, ".\r\n" }, { S, "250 ok\r\n" },
	{ C, "VRFY\r\n", .out = "XXXX\r\n", .ev = "verb/mask:VRFY" },
} },
{ "smuggling \\n.\\n is a violation (reset)", "@esmtp", .steps = {
	OPEN, TODATA,
	{ C, "a\n.\nMAIL FROM:<x>\r\n", .verdict = SG_V_RESET,
	  .ev = "bare-newline/log smuggling/reset" },
} },
#define SMUG(name, seq, evs) \
{ "smuggling " name ": violation, not end of data", LOGSMUG, .steps = { \
	{ S, "220 x\r\n" }, \
	{ C, "MAIL FROM:<a>\r\n" }, { S, "250 ok\r\n" }, \
	{ C, "RCPT TO:<b>\r\n" }, { S, "250 ok\r\n" }, \
	{ C, "DATA\r\n" }, { S, "354 go\r\n" }, \
	{ C, "x" seq "VRFY y\r\n", .len = sizeof("x" seq "VRFY y\r\n") - 1, \
	  .ev = "*" }, \
	{ C, "VRFY z\r\n.\r\n" }, { S, "250 ok\r\n" }, \
	{ C, "VRFY z\r\n", .out = "XXXX z\r\n", .ev = "verb/mask:VRFY" }, \
} }, \
{ "smuggling " name ": reset", "@esmtp", .steps = { \
	GREET, TODATA, \
	{ C, "x" seq "VRFY y\r\n", .len = sizeof("x" seq "VRFY y\r\n") - 1, \
	  .verdict = SG_V_RESET, .ev = evs }, \
} }
/* a bare CR or LF before the dot is reported as it comes (bare-newline,
 * logged in esmtp); the dot's end makes the shape smuggling */
#define BN "bare-newline/log smuggling/reset"
SMUG("\\n.\\n", "\n.\n", BN),
SMUG("\\r.\\r", "\r.\r", BN),
SMUG("\\r.\\n", "\r.\n", BN),
SMUG("\\n.\\r", "\n.\r", BN),
SMUG("\\n.\\r\\n", "\n.\r\n", BN),
SMUG("\\r\\n.\\n", "\r\n.\n", "smuggling/reset"),
SMUG("\\r.\\r\\n", "\r.\r\n", BN),
SMUG("\\r\\n.\\r", "\r\n.\r", "smuggling/reset"),
SMUG("\\r\\n\\x00.\\r\\n", "\r\n\0.\r\n", "smuggling/reset"),
SMUG("\\r\\n.\\r\\r\\n", "\r\n.\r\r\n", "smuggling/reset"),
{ "smuggling in a command line: bare LF, bare CR", "@esmtp", .steps = {
	OPEN,
	{ C, "NOOP\n", .verdict = SG_V_RESET, .ev = "smuggling/reset" },
	{ C, "NO\rOP\r\n", .verdict = SG_V_RESET, .ev = "verb/mask:NO smuggling/reset" },
	{ C, "NOOP\r" }, { C, "X\n", .verdict = SG_V_RESET, .ev = "smuggling/reset" },
	{ C, "\n" }, { S, "250 ok\r\n" },
} },
{ "BDAT chunk with VRFY text is not inspected", "@esmtp", .steps = {
	OPEN_CH, MAILRCPT,
	{ C, "BDAT 18 LAST\r\nVRFY x\r\nEXPN y\r\n\n\r" },
	{ C, "VRFY z\r\n", .out = "XXXX z\r\n", .ev = "verb/mask:VRFY" },
	{ S, "250 ok\r\n502 no\r\n" },
} },
{ "BDAT chunks split across segments", "@esmtp", .steps = {
	OPEN_CH, MAILRCPT,
	{ C, "BDAT 10\r\nVRFY" }, { C, " 1234" }, { C, "\r" },
	{ C, "BDAT 6 last\r\n" }, { C, "EXPN\r\nV", .out = "EXPN\r\nX", .ev = "verb/mask:V" },
	{ C, "RFY\r\n", .out = "XXX\r\n" },
	{ S, "250 a\r\n250 b\r\n502 c\r\n" },
	{ C, "BDAT" }, { C, " 3 " }, { C, "LAST\r\n" }, { C, "abc" },
	{ C, "VRFY\r\n", .out = "XXXX\r\n", .ev = "verb/mask:VRFY" },
} },
{ "BDAT 0 LAST; a malformed BDAT is masked, its chunk read as commands", "@esmtp", .steps = {
	OPEN_CH, MAILRCPT,
	{ C, "BDAT 0 LAST\r\n" }, { S, "250 ok\r\n" },
	{ C, "BDAT x12\r\n", .out = "XXXX x12\r\n", .ev = "bdat/mask:BDAT" },
	{ S, "500 x\r\n" },
	{ C, "BDAT 99999999999\r\n", .out = "XXXX 99999999999\r\n", .ev = "bdat/mask:BDAT" },
	{ S, "500 x\r\n" },
	/* Exim counts 12 octets here (not LAST); Postfix answers 501 */
	{ C, "BDAT 12 LASTX\r\nVRFY root\r\n", .out = "XXXX 12 LASTX\r\nXXXX root\r\n",
	  .ev = "bdat/mask:BDAT verb/mask:VRFY" },
	{ S, "500 x\r\n" },
	{ C, "BDAT\r\n", .out = "XXXX\r\n", .ev = "bdat/mask:BDAT" },
	{ S, "500 x\r\n" },
	{ C, "BDAT 5 \r\n", .out = "XXXX 5 \r\n", .ev = "bdat/mask:BDAT" },
	{ S, "500 x\r\n" },
	{ C, "BDAT  5\r\n", .out = "XXXX  5\r\n", .ev = "bdat/mask:BDAT" },
	{ S, "500 x\r\n" },
	{ C, "BDAT +5\r\n", .out = "XXXX +5\r\n", .ev = "bdat/mask:BDAT" },
	{ S, "500 x\r\n" },
	{ C, "BDAT 5 LAST \r\n", .out = "XXXX 5 LAST \r\n", .ev = "bdat/mask:BDAT" },
	{ S, "500 x\r\n" },
	{ C, "BDAT 5 LAS\r\n", .out = "XXXX 5 LAS\r\n", .ev = "bdat/mask:BDAT" },
	{ S, "500 x\r\n" },
	/* the verb's letters in an earlier segment: too late to mask */
	{ C, "BDAT 7" }, { C, " x\r\n", .verdict = SG_V_RESET, .ev = "rewrite-limit/reset:BDAT" },
} },
{ "BDAT without CHUNKING offered (Sendmail, old Postfix, qmail): masked", "@esmtp", .steps = {
	OPEN, MAILRCPT,
	{ C, "BDAT 23\r\nVRFY root\r\nVRFY admin\r\n",
	  .out = "XXXX 23\r\nXXXX root\r\nXXXX admin\r\n",
	  .ev = "bdat/mask:BDAT verb/mask:VRFY verb/mask:VRFY" },
	{ S, "502 a\r\n502 b\r\n502 c\r\n" },
} },
{ "BDAT in a HELO session (Exim: 503, chunk read as commands): masked", "@esmtp", .steps = {
	GREET, EHLO_CH,
	{ C, "HELO client.example\r\n" }, { S, "250 mx\r\n" },
	MAILRCPT,
	{ C, "BDAT 11\r\nVRFY root\r\n", .out = "XXXX 11\r\nXXXX root\r\n",
	  .ev = "bdat/mask:BDAT verb/mask:VRFY" },
} },
{ "BDAT pipelined behind EHLO, before the reply: masked", "@esmtp", .steps = {
	GREET,
	{ C, "EHLO c\r\nBDAT 5\r\n", .out = "EHLO c\r\nXXXX 5\r\n", .ev = "bdat/mask:BDAT" },
	{ S, "250-mx\r\n250 CHUNKING\r\n500 no\r\n" },
	{ C, "BDAT 6 LAST\r\nVRFY\r\n" },
	{ S, "250 ok\r\n" },
	/* a second EHLO whose reply has no CHUNKING */
	{ C, "EHLO c\r\n" }, { S, "250-mx\r\n250 8BITMIME\r\n" },
	{ C, "BDAT 5\r\n", .out = "XXXX 5\r\n", .ev = "bdat/mask:BDAT" },
} },
{ "BDAT after a second EHLO whose reply is still to come: masked", "@esmtp", .steps = {
	GREET,
	{ C, "EHLO c\r\n" }, { S, "250-mx\r\n250-CHUNKING\r\n" },
	{ C, "EHLO c\r\n" }, { S, "250 8BITMIME\r\n" },
	{ C, "BDAT 6 LAST\r\nVRFY\r\n", .out = "XXXX 6 LAST\r\nXXXX\r\n",
	  .ev = "bdat/mask:BDAT verb/mask:VRFY" },
	{ S, "250-mx\r\n250 8BITMIME\r\n" },
	{ C, "BDAT 5\r\n", .out = "XXXX 5\r\n", .ev = "bdat/mask:BDAT" },
} },
{ "BDAT after an EHLO reply that failed: masked", "@esmtp", .steps = {
	GREET,
	{ C, "EHLO c\r\n" }, { S, "250-mx\r\n250-CHUNKING\r\n554 8BITMIME\r\n" },
	{ C, "BDAT 5\r\n", .out = "XXXX 5\r\n", .ev = "bdat/mask:BDAT" },
} },
{ "BDAT not at column 0 or not followed by SP (Exim reads no BDAT): masked", "@esmtp", .steps = {
	OPEN_CH, MAILRCPT,
	{ C, " BDAT 11\r\nVRFY root\r\n", .out = " XXXX 11\r\nXXXX root\r\n",
	  .ev = "bdat/mask:BDAT verb/mask:VRFY" },
	{ C, "BDAT\t17\r\nVRFY root\r\n", .out = "XXXX\t17\r\nXXXX root\r\n",
	  .ev = "bdat/mask:BDAT verb/mask:VRFY" },
	{ C, "bdat 3\r\nabc" },
} },
{ "BDAT with a bare LF or CR: smuggling, and never counted", LOGSMUG "bdat allow\n", .steps = {
	{ S, "220 x\r\n" }, { C, "EHLO c\r\n" }, { S, "250-x\r\n250 CHUNKING\r\n" },
	{ C, "BDAT 5\nVRFY x\r\n", .out = "XXXX 5\nXXXX x\r\n",
	  .ev = "smuggling/log bdat/mask:BDAT verb/mask:VRFY" },
	{ C, "BDAT 5\r7\r\nVRFY x\r\n", .out = "XXXX 5\r7\r\nXXXX x\r\n",
	  .ev = "smuggling/log bdat/mask:BDAT verb/mask:VRFY" },
} },
{ "BDAT larger than the bdat-chunk limit: masked (mask), counted (log)", "verbs MAIL RCPT EHLO\nlimit bdat-chunk 10\naction bdat mask\n", .steps = {
	{ S, "220 x\r\n" }, { C, "EHLO c\r\n" }, { S, "250-x\r\n250 CHUNKING\r\n" },
	{ C, "BDAT 10\r\n0123456789" },
	{ C, "BDAT 11\r\nMAIL FROM:<a>\r\n", .out = "XXXX 11\r\nMAIL FROM:<a>\r\n",
	  .ev = "bdat/mask:BDAT" },
} },
{ "BDAT larger than the bdat-chunk limit, action log: counted", "verbs MAIL RCPT EHLO\nlimit bdat-chunk 10\naction bdat log\n", .steps = {
	{ S, "220 x\r\n" }, { C, "EHLO c\r\n" }, { S, "250-x\r\n250 CHUNKING\r\n" },
	{ C, "BDAT 11\r\nVRFY 56789a", .ev = "bdat/log:BDAT" },
	{ C, "BDAT 1x\r\n", .out = "XXXX 1x\r\n", .ev = "bdat/mask:BDAT" },
} },
{ "BDAT larger than the bdat-chunk limit, action reset", "verbs MAIL RCPT EHLO\nlimit bdat-chunk 10\naction bdat reset\n", .steps = {
	{ S, "220 x\r\n" }, { C, "EHLO c\r\n" }, { S, "250-x\r\n250 CHUNKING\r\n" },
	{ C, "BDAT 11\r\n", .verdict = SG_V_RESET, .ev = "bdat/reset:BDAT" },
} },
{ "strict: masked BDAT, chunk parsed as commands", "@strict", .steps = {
	{ S, "220 x\r\n", .out = "220 *\r\n", .ev = "banner" },
	{ C, "BDAT 14 LAST\r\nVRFY x\r\nEXPN\r\n",
	  .out = "XXXX 14 LAST\r\nXXXX x\r\nEXXX\r\n",
	  .ev = "verb/mask:BDAT verb/mask:VRFY verb/mask:EXPN" },
} },
{ "STARTTLS: stream opaque after 220", "@esmtp", .steps = {
	OPEN,
	{ C, "STARTTLS\r\n" }, { S, "220 2.0.0 Ready to start TLS\r\n" },
	{ C, "\x16\x03\x01\x02\x00VRFY\r\n", .ev = "tls" },
	{ S, "\x16\x03\x03\x00\x7a\x02\r\n250-VRFY\r\n" },
	{ C, "VRFY x\r\n" },
} },
{ "STARTTLS refused: still inspected", "@esmtp", .steps = {
	OPEN,
	{ C, "STARTTLS\r\n" }, { S, "454 4.7.0 TLS not available\r\n" },
	{ C, "VRFY x\r\n", .out = "XXXX x\r\n", .ev = "verb/mask:VRFY" },
} },
{ "STARTTLS injection by the client", "@esmtp", .steps = {
	OPEN,
	{ C, "STARTTLS\r\nRSET\r\n", .verdict = SG_V_RESET,
	  .ev = "starttls-injection/reset" },
	{ C, "STARTTLS\r\n" },
	{ C, "RSET\r\n", .verdict = SG_V_RESET, .ev = "starttls-injection/reset" },
} },
{ "STARTTLS injection by the server", "@esmtp", .steps = {
	OPEN,
	{ C, "STARTTLS\r\n" },
	{ S, "220 go ahead\r\n250 injected\r\n", .verdict = SG_V_RESET,
	  .ev = "starttls-injection/reset" },
	{ S, "220 go ahead\r\n" },
	{ S, "250 injected\r\n", .verdict = SG_V_RESET,
	  .ev = "starttls-injection/reset" },
} },
{ "STARTTLS injection with action log", "verbs EHLO MAIL\naction starttls-injection log\n", .steps = {
	{ S, "220 x\r\n" },
	{ C, "STARTTLS\r\nMAIL FROM:<a>\r\n", .ev = "starttls-injection/log" },
	{ S, "220 go\r\n250 x\r\n", .ev = "starttls-injection/log" },
	{ C, "\x16\x03\x01", .ev = "tls" },
} },
{ "354 with no DATA outstanding: desync, DATA mode not entered", "@esmtp", .steps = {
	OPEN,
	{ S, "354 go ahead\r\n", .verdict = SG_V_RESET, .ev = "desync/reset" },
	{ C, "MAIL FROM:<a>\r\nRCPT TO:<b>\r\n" },
	{ S, "250 ok\r\n354 go\r\n", .verdict = SG_V_RESET, .ev = "desync/reset" },
	{ S, "250 ok\r\n250 ok\r\n" },
	{ C, "DATA\r\n" }, { S, "354 go\r\n" },
	{ C, "VRFY is text\r\n.\r\n" },
} },
{ "354 with no DATA outstanding, action log: still commands", "verbs EHLO MAIL RCPT DATA\naction desync log\n", .steps = {
	{ S, "220 x\r\n" },
	{ C, "MAIL FROM:<a>\r\n" },
	{ S, "354 go\r\n", .ev = "desync/log" },
	{ C, "VRFY x\r\n", .out = "XXXX x\r\n", .ev = "verb/mask:VRFY" },
	{ S, "354-a\r\n354 b\r\n", .ev = "desync/log" },
} },
{ "quoted local parts and escapes: | checked inside, > and SP do not end the path", "@esmtp", .steps = {
	OPEN,
	{ C, "RCPT TO:<\"a>|b\"@mx.test>\r\n", .out = "RCPT TO:<\"a> b\"@mx.test>\r\n",
	  .ev = "address-char/mask:RCPT" },
	{ S, "250 ok\r\n" },
	{ C, "RCPT TO:\"x y|z\"@mx.test\r\n", .out = "RCPT TO:\"x y z\"@mx.test\r\n",
	  .ev = "address-char/mask:RCPT" },
	{ S, "250 ok\r\n" },
	{ C, "RCPT TO:<a\\>|b@x>\r\n", .out = "RCPT TO:<a\\> b@x>\r\n",
	  .ev = "address-char/mask:RCPT" },
	{ S, "250 ok\r\n" },
	{ C, "RCPT TO:<\"a\\\"|b\"@x> NOTIFY=NEVER|X\r\n",
	  .out = "RCPT TO:<\"a\\\" b\"@x> NOTIFY=NEVER|X\r\n",
	  .ev = "address-char/mask:RCPT" },
	{ S, "250 ok\r\n" },
	{ C, "MAIL FROM:<\"" }, { C, "a b\\" }, { C, "\"" },
	{ C, "|\">\r\n", .out = " \">\r\n", .ev = "address-char/mask:MAIL" },
	{ S, "250 ok\r\n" },
} },
{ "quoted local part: the whole path counts for the length limit", "verbs MAIL RCPT\nlimit address 10\naction address-length reset\n", .steps = {
	{ S, "220 x\r\n" },
	{ C, "RCPT TO:<\"1 3>5\"@x>\r\n" }, { S, "250 ok\r\n" },
	{ C, "RCPT TO:<\"1>3|5789\"@x>\r\n", .verdict = SG_V_RESET,
	  .ev = "address-char/mask:RCPT address-length/reset:RCPT" },
	{ C, "RCPT TO:\"1 3 5 7 9 1\"@x\r\n", .verdict = SG_V_RESET,
	  .ev = "address-length/reset:RCPT" },
} },
{ "STARTTLS: plaintext after the 220 is injection", "@esmtp", .steps = {
	OPEN,
	{ C, "STARTTLS\r\n" }, { S, "220 2.0.0 Ready to start TLS\r\n" },
	{ C, "EHLO x\r\n", .verdict = SG_V_RESET, .ev = "starttls-injection/reset" },
	{ C, "\x16\x03\x05", .verdict = SG_V_RESET, .ev = "starttls-injection/reset" },
	{ C, "\x17\x03\x03", .verdict = SG_V_RESET, .ev = "starttls-injection/reset" },
	{ C, "\x16" }, { C, "\x03" }, { C, "\x03\x01\x00VRFY\r\n", .ev = "tls" },
	{ C, "VRFY\r\n" }, { S, "\x16\x03\x03VRFY\r\n" },
} },
{ "STARTTLS: plaintext after the 220, action log: inspected as commands", "verbs EHLO MAIL\naction starttls-injection log\n", .steps = {
	{ S, "220 x\r\n" },
	{ C, "STARTTLS\r\n" }, { S, "220 go\r\n" },
	{ C, "VRFY x\r\n", .out = "XXXX x\r\n", .ev = "starttls-injection/log verb/mask:VRFY" },
	{ S, "502 no\r\n" },
} },
{ "hard line bound: a command line past 16000 octets resets, whatever the action", "@esmtp", .steps = {
	OPEN,
	/* Exim would split it at 16384 and run the rest as a command */
	{ C, LONG_NOOP, .len = 15000, .ev = "command-line/log" }, SACK,
	{ C, LONG_NOOP + 15000, .len = 1000 }, SACK,
	{ C, LONG_NOOP + 16000, .verdict = SG_V_RESET, .ev = "command-line/reset" },
} },
{ "hard line bound: AUTH line and AUTH continuation", "@esmtp", .steps = {
	OPEN,
	{ C, LONG_AUTH, .len = 12288 }, SACK,
	{ C, LONG_AUTH + 12288, .len = 3712, .ev = "command-line/log" }, SACK,
	{ C, "a", .verdict = SG_V_RESET, .ev = "command-line/reset" },
} },
{ "hard line bound: AUTH continuation", "@esmtp", .steps = {
	OPEN,
	{ C, "AUTH LOGIN\r\n" }, { S, "334 VXNlcm5hbWU6\r\n" },
	{ C, LONG_AUTH + 5, .len = 12288 }, SACK,
	{ C, "a", .ev = "command-line/log" }, SACK,
	{ C, LONG_AUTH + 5, .len = 3711 }, SACK,
	{ C, "a", .verdict = SG_V_RESET, .ev = "command-line/reset" },
} },
{ "AUTH continuation of 2 KB (XOAUTH2) passes; the next line is a command again", "@esmtp", .steps = {
	OPEN,
	{ C, "AUTH XOAUTH2\r\n" }, { S, "334 \r\n" },
	{ C, LONG_AUTH + 5, .len = 2046 }, SACK, { C, "\r\n" }, { S, "235 ok\r\n" },
	{ C, "VRFY\r\n", .out = "XXXX\r\n", .ev = "verb/mask:VRFY" },
} },
{ "strict: a RCPT with a 470-octet ORCPT passes (RFC 3461: +500)", "@strict", .steps = {
	{ S, "220 x\r\n", .out = "220 *\r\n", .ev = "banner" },
	{ C, "MAIL FROM:<a@example.org> SIZE=1000 BODY=8BITMIME\r\n" }, { S, "250 ok\r\n" },
	{ C, RCPT_ORCPT }, { S, "250 ok\r\n" },
	{ C, "NOOP " LONG_A500 A10 "\r\n", .verdict = SG_V_RESET, .ev = "command-line/reset" },
} },
{ "rfc821 and strict: the 101st RCPT is logged, not reset", "@strict", .steps = {
	{ S, "220 x\r\n", .out = "220 *\r\n", .ev = "banner" },
	{ C, RCPT100 }, SACK,
	{ C, "RCPT TO:<u100@x>\r\n", .ev = "recipients/log:RCPT" },
} },
{ "a logged recipient limit: one event a transaction, again after MAIL", "@esmtp", .steps = {
	OPEN, { C, RCPT100 }, SACK,
	{ C, "RCPT TO:<u100@x>\r\n", .ev = "recipients/log:RCPT" },
	{ C, "RCPT TO:<u101@x>\r\nRCPT TO:<u102@x>\r\n" }, SACK,
	{ C, "RSET\r\n" }, { S, "250 ok\r\n" },
	{ C, RCPT100 }, SACK,
	{ C, "RCPT TO:<u100@x>\r\nRCPT TO:<u101@x>\r\n", .ev = "recipients/log:RCPT" },
} },
{ "bare LF in a body line: bare-newline, once per message (esmtp log)", "@esmtp", .steps = {
	OPEN, TODATA,
	{ C, "line one\nline two\r\nthree\rfour\r\n", .ev = "bare-newline/log" },
	{ C, ".\r\n" }, { S, "250 ok\r\n" },
	{ C, "DATA\r\n" }, { S, "354 go\r\n" },
	{ C, "a\r" }, { C, "b\r\n", .ev = "bare-newline/log" },
	{ C, "\n.\r\n", .verdict = SG_V_RESET, .ev = "smuggling/reset" },
} },
{ "bare LF in a body line: strict resets", "@strict", .steps = {
	{ S, "220 x\r\n", .out = "220 *\r\n", .ev = "banner" }, TODATA,
	{ C, "line one\nline two\r\n", .verdict = SG_V_RESET, .ev = "bare-newline/reset" },
} },
{ "command line limit, reset", "verbs NOOP\nlimit command-line 10\naction command-line reset\n", .steps = {
	{ S, "220 x\r\n" },
	{ C, "NOOP 123\r\n" }, { S, "250 ok\r\n" },
	{ C, "NOOP 12345" }, { C, "\r\n", .verdict = SG_V_RESET, .ev = "command-line/reset" },
} },
{ "AUTH line may reach 12288 octets (RFC 4954)", "verbs AUTH\nlimit command-line 10\naction command-line reset\n", .steps = {
	{ S, "220 x\r\n" },
	{ C, "AUTH XOAUTH2 dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==\r\n" },
} },
{ "reply line limit", "verbs HELO\nlimit reply-line 12\n", .steps = {
	{ S, "220 123456789\r\n", .ev = "reply-line/log" },
	{ S, "250-12345\r\n250 12345\r\n" },
} },
{ "address characters: | ` NUL masked to space, UTF-8 passes", "@esmtp", .steps = {
	OPEN,
	{ C, "MAIL FROM:<a|b`c@d>\r\n", .out = "MAIL FROM:<a b c@d>\r\n",
	  .ev = "address-char/mask:MAIL address-char/mask:MAIL" },
	{ S, "250 ok\r\n" },
	{ C, "RCPT TO:<x\0y@z>\r\n", .len = 17, .out = "RCPT TO:<x y@z>\r\n",
	  .ev = "address-char/mask:RCPT" },
	{ S, "250 ok\r\n" },
	{ C, "RCPT TO:<j\xc3\xb6rg@b\xc3\xbc" "cher.example>\r\n" },
	{ S, "250 ok\r\n" },
	{ C, "RCPT TO: b|x@y NOTIFY=NEVER|X\r\n", .out = "RCPT TO: b x@y NOTIFY=NEVER|X\r\n",
	  .ev = "address-char/mask:RCPT" },
} },
{ "address length limit", "verbs MAIL RCPT\nlimit address 10\naction address-length reset\n", .steps = {
	{ S, "220 x\r\n" },
	{ C, "MAIL FROM:<1234567890>\r\n" }, { S, "250 ok\r\n" },
	{ C, "RCPT TO:<1234567890a>\r\n", .verdict = SG_V_RESET,
	  .ev = "address-length/reset:RCPT" },
} },
{ "retransmission gets the same rewrite; acked retransmission passes", "@esmtp", .steps = {
	OPEN,
	{ C, "VRFY x\r\n", .out = "XXXX x\r\n", .ev = "verb/mask:VRFY" },
	{ C, "VRFY x\r\n", .at = 1 + 21, .out = "XXXX x\r\n" },
	{ C, "VRFY x\r\nVRFY y\r\n", .at = 1 + 21, .out = "XXXX x\r\nXXXX y\r\n",
	  .ev = "verb/mask:VRFY" },
	{ C, "RFY x\r\nVRF", .at = 1 + 22, .out = "XXX x\r\nXXX" },
	{ S, "502 a\r\n502 b\r\n" },
	/* acknowledged, but its mask is still journaled: replayed */
	{ C, "VRFY x\r\n", .at = 1 + 21, .out = "XXXX x\r\n" },
} },
{ "gap: hold, then the missing segment, then the held one", "@esmtp", .steps = {
	OPEN,
	{ C, "VRFY y\r\n", .at = 1 + 29, .verdict = SG_V_HOLD },
	{ C, "VRFY x\r\n", .out = "XXXX x\r\n", .ev = "verb/mask:VRFY" },
	{ C, "VRFY y\r\n", .at = 1 + 29, .out = "XXXX y\r\n", .ev = "verb/mask:VRFY" },
} },
{ "server retransmission of a masked greeting", "@strict", .steps = {
	{ S, "220 mx ESMTP\r\n", .out = "220 ********\r\n", .ev = "banner" },
	{ S, "220 mx ESMTP\r\n", .at = 1, .out = "220 ********\r\n" },
	{ S, "mx ESMTP\r\n", .at = 5, .out = "********\r\n" },
	{ C, "EHLO x\r\n" },
	/* acknowledged by the client, its masks still journaled */
	{ S, "220 mx ESMTP\r\n", .at = 1, .out = "220 ********\r\n" },
} },
{ "sequence numbers wrap around", "@esmtp", .isn_c = 0xfffffff0u, .isn_s = 0xfffffffau, .steps = {
	OPEN,
	{ C, "VRFY x\r\n", .out = "XXXX x\r\n", .ev = "verb/mask:VRFY" },
	{ C, "VRFY x\r\n", .at = 1 + 21, .out = "XXXX x\r\n" },
} },
/*
 * A segment 2^31 from the next expected byte: the sequence distance is
 * INT_MIN, and the journaled span ending there is 2^31 - 3 bytes away, so
 * span start + length reaches 2^31. UBSan (-fno-sanitize-recover) aborts
 * on either if computed in signed arithmetic.
 */
{ "sequence distance of exactly 2^31 (INT_MIN)", "@esmtp", .steps = {
	OPEN,
	{ C, "VRF", .out = "XXX", .ev = "*" },
	{ C, "X", .at = (int)(1u + 24u + 0x80000000u) },
} },
{ "pickup open: pass until a safe point, then inspect", "@esmtp", .pickup = true, .steps = {
	{ C, "CPT TO:<x>\r\nVRFY a\r\n", .ev = "pickup:0" },
	{ S, "ome text\r\n250 ok\r\n" },
	{ C, "VRFY b\r\n", .out = "XXXX b\r\n", .ev = "verb/mask:VRFY" },
	{ S, "502 no\r\n" },
} },
{ "pickup open: client mid-line waits for its next line", "@esmtp", .pickup = true, .steps = {
	{ S, "50 ok\r\n250 ok\r\n", .ev = "pickup:0" },
	{ C, "VRFY a" },
	{ S, "250 ok\r\n" },
	{ C, "\r\nVRFY b\r\n", .out = "\r\nXXXX b\r\n", .ev = "verb/mask:VRFY" },
} },
{ "pickup open: resynchronised on a 354", "@esmtp", .pickup = true, .steps = {
	{ C, "DATA\r\n", .ev = "pickup:0" },
	{ S, "354 go\r\n" },
	{ C, "VRFY x\r\n.\r\n" },
	{ S, "250 ok\r\n" },
	{ C, "VRFY x\r\n", .out = "XXXX x\r\n", .ev = "verb/mask:VRFY" },
} },
{ "pickup reset", "@strict", .pickup = true, .steps = {
	{ C, "RCPT TO:<a>\r\n", .verdict = SG_V_RESET, .ev = "pickup:1 pickup/reset" },
	{ S, "250 ok\r\n", .verdict = SG_V_RESET, .ev = "pickup:1 pickup/reset" },
} },
{ "pipeline: 4 special replies in flight, the 5th overflows", "@esmtp", .steps = {
	OPEN,
	{ C, "DATA\r\nDATA\r\nDATA\r\nDATA\r\n" },
	{ C, "DATA\r\n", .verdict = SG_V_RESET, .ev = "pipeline/reset" },
} },
{ "pure ACKs and FIN pass", "@esmtp", .steps = {
	OPEN,
	{ C, NULL, .ackonly = true }, { S, NULL, .ackonly = true },
	{ C, "QUIT\r\n" }, { S, "221 bye\r\n" },
} },
/* ---- policy swaps (each policy has its own generation) ---- */
#define PA "verbs HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY\n" \
	   "keywords SIZE PIPELINING VRFY\n"
#define PSAME "verbs HELO EHLO MAIL RCPT DATA RSET NOOP QUIT AUTH HELP\n"
#define PSHORT "verbs NOOP\nlimit command-line 20\n"
{ "policy swap mid-verb: the token is ruled out, next line uses the new policy", PA, .steps = {
	GREET,
	{ C, "VR" },
	{ C, "FY x\r\n", .pol = "@esmtp", .out = "XX x\r\n", .ev = "verb/mask:FY" },
	{ S, "502 no\r\n", .pol = "@esmtp" },
	{ C, "VRFY y\r\n", .pol = "@esmtp", .out = "XXXX y\r\n", .ev = "verb/mask:VRFY" },
	{ S, "502 no\r\n", .pol = "@esmtp" },
	{ C, "MAIL FROM:<a@b>\r\n", .pol = "@esmtp" },
} },
{ "policy swap mid-verb, same word lists: still ruled out", "@esmtp", .steps = {
	GREET,
	{ C, "MA" },
	{ C, "IL FROM:<a@b>\r\n", .pol = PSAME, .out = "XX FROM:<a@b>\r\n",
	  .ev = "verb/mask:IL" },
	{ S, "500 what\r\n", .pol = PSAME },
	{ C, "MAIL FROM:<a@b>\r\n", .pol = PSAME },
} },
{ "policy swap between a verb and its end: too late to mask, reset", PA, .steps = {
	GREET,
	{ C, "VRFY" },
	{ C, " x\r\n", .pol = "@esmtp", .verdict = SG_V_RESET,
	  .ev = "rewrite-limit/reset" },
} },
{ "policy swap between lines: allowed, then masked, then allowed", PA, .steps = {
	GREET,
	{ C, "VRFY a\r\n" }, { S, "252 a\r\n" },
	{ C, "VRFY b\r\n", .pol = "@esmtp", .out = "XXXX b\r\n", .ev = "verb/mask:VRFY" },
	{ S, "502 b\r\n", .pol = "@esmtp" },
	{ C, "VRFY c\r\n" }, { S, "252 c\r\n" },
} },
{ "policy swap mid-keyword in an EHLO reply", PA, .steps = {
	GREET, { C, "EHLO c\r\n" },
	{ S, "250-mx\r\n250-VR" },
	{ S, "FY\r\n250-SIZE", .pol = "@esmtp", .out = "XX\r\n250-SIZE", .ev = "kw:FY" },
	{ S, " 100\r\n250 PIPELINING\r\n", .verdict = SG_V_RESET,
	  .ev = "kw: rewrite-limit/reset" },
} },
{ "policy swap: a lower command-line limit applies to the line in progress", "@esmtp", .steps = {
	GREET,
	{ C, "NOOP 123456789012345678901234567890" },
	{ C, "xx\r\n", .pol = PSHORT, .ev = "command-line/log" },
	{ S, "250 ok\r\n", .pol = PSHORT },
	{ C, "NOOP 123456789012345\r\n", .pol = PSHORT, .ev = "command-line/log" },
} },
};

void run_table_cases(void)
{
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
}

/* ---- generated transcripts ---- */

static void gen_pipelined_rcpts(int nrcpt, const char *policy,
				bool expect_violation)
{
	static char cbuf[65536], sbuf[65536];
	struct step st[16];
	char name[128];
	int n = 0, i, o = 0, so = 0;

	memset(st, 0, sizeof(st));
	st[n++] = (struct step){ S, "220 mx ESMTP\r\n" };
	st[n++] = (struct step){ C, "EHLO c\r\n" };
	st[n++] = (struct step){ S, "250-mx\r\n250 PIPELINING\r\n" };
	o += sprintf(cbuf + o, "MAIL FROM:<a@b>\r\n");
	for (i = 0; i < nrcpt; i++)
		o += sprintf(cbuf + o, "RCPT TO:<user%d@example.com>\r\n", i);
	o += sprintf(cbuf + o, "DATA\r\n");
	st[n++] = (struct step){ C, cbuf,
		.ev = expect_violation ? "*" : NULL };
	so += sprintf(sbuf + so, "250 ok\r\n");
	for (i = 0; i < nrcpt; i++)
		so += sprintf(sbuf + so, "250 ok %d\r\n", i);
	so += sprintf(sbuf + so, "354 go\r\n");
	st[n++] = (struct step){ S, sbuf };
	st[n++] = (struct step){ C, "VRFY is body text\r\n.\r\n" };
	st[n++] = (struct step){ S, "250 queued\r\n" };
	st[n++] = (struct step){ C, "VRFY x\r\n", .out = "XXXX x\r\n",
				 .ev = "verb/mask:VRFY" };
	snprintf(name, sizeof(name), "pipelining: MAIL, %d RCPT, DATA in one segment (%s)",
		 nrcpt, policy[0] == '@' ? policy + 1 : "inline");
	run_steps(name, policy, false, st, n);
}

static void gen_recipient_limit(void)
{
	static char cbuf[65536];
	struct step st[8];
	int n = 0, i, o = 0;

	memset(st, 0, sizeof(st));
	st[n++] = (struct step){ S, "220 mx\r\n" };
	o += sprintf(cbuf + o, "MAIL FROM:<a@b>\r\n");
	for (i = 0; i < 100; i++)
		o += sprintf(cbuf + o, "RCPT TO:<u%d@x>\r\n", i);
	st[n++] = (struct step){ C, cbuf };
	st[n++] = (struct step){ S, NULL, .ackonly = true };
	st[n++] = (struct step){ C, "RCPT TO:<u100@x>\r\n", .verdict = SG_V_RESET,
				 .ev = "recipients/reset:RCPT" };
	st[n++] = (struct step){ C, "MAIL FROM:<c@d>\r\nRCPT TO:<e@f>\r\n" };
	run_steps("recipients: 100 pass, the 101st violates; MAIL resets",
		  "verbs MAIL RCPT\naction recipients reset\n", false, st, n);
}

/* Every segmentation of a short session into 1..3 byte segments gives
 * the same wire bytes as the whole. */
static void gen_resegmented(void)
{
	static const char *cli[] = {
		"EHLO c\r\n", "VRFY x\r\nMAILZ FROM:<a|b>\r\nRCPT TO:<c>\r\nDATA\r\n",
		"VRFY in body\r\n.\r\n", "EXPN y\r\n",
	};
	static const char *cli_out[] = {
		"EHLO c\r\n", "XXXX x\r\nMAILX FROM:<a|b>\r\nRCPT TO:<c>\r\nDATA\r\n",
		"VRFY in body\r\n.\r\n", "EXXX y\r\n",
	};
	static const char *srv[] = {
		"250-mx\r\n250-VRFY\r\n250 SIZE\r\n",
		"502 a\r\n500 b\r\n250 c\r\n354 d\r\n", "250 ok\r\n", "502 no\r\n",
	};
	static const char *srv_out[] = {
		"250-mx\r\n250-XXXX\r\n250 SIZE\r\n",
		"502 a\r\n500 b\r\n250 c\r\n354 d\r\n", "250 ok\r\n", "502 no\r\n",
	};
	int seglen;

	for (seglen = 1; seglen <= 3; seglen++) {
		static struct step st[1024];
		static char outs[1024][4];
		char name[96];
		int n = 0, t, k;

		memset(st, 0, sizeof(st));
		st[n++] = (struct step){ S, "220 mx\r\n" };
		for (t = 0; t < 4; t++) {
			for (k = 0; k < 2; k++) {
				const char *in = k ? srv[t] : cli[t];
				const char *out = k ? srv_out[t] : cli_out[t];
				int len = (int)strlen(in), p;

				for (p = 0; p < len; p += seglen) {
					int l = len - p < seglen ? len - p : seglen;

					memcpy(outs[n], out + p, l);
					outs[n][l] = 0;
					st[n] = (struct step){ k ? S : C, in + p,
						.len = l, .out = outs[n], .ev = "*" };
					n++;
				}
			}
		}
		snprintf(name, sizeof(name),
			 "resegmented session, %d-byte segments", seglen);
		run_steps(name, "@esmtp", false, st, n);
	}
}

static char *rep(char c, int n)
{
	char *b = malloc(n + 1);

	memset(b, c, n);
	b[n] = 0;
	return b;
}

static void gen_line_limits(void)
{
	static char l512[600], l513[600], t1000[1100], t1001[1100];
	struct step st[16];
	char *a;
	int n = 0;

	/* command line: 512 octets including CRLF pass, 513 violate */
	a = rep('a', 512 - 7);
	snprintf(l512, sizeof(l512), "NOOP %s\r\n", a);
	free(a);
	a = rep('a', 513 - 7);
	snprintf(l513, sizeof(l513), "NOOP %s\r\n", a);
	free(a);
	memset(st, 0, sizeof(st));
	st[n++] = (struct step){ S, "220 mx\r\n" };
	st[n++] = (struct step){ C, l512 };
	st[n++] = (struct step){ S, "250 ok\r\n" };
	st[n++] = (struct step){ C, l513, .ev = "command-line/log" };
	st[n++] = (struct step){ S, "250 ok\r\n" };
	run_steps("command-line limit: 512 pass, 513 logged (esmtp)", "@esmtp",
		  false, st, n);
	n = 0;
	st[n++] = (struct step){ S, "220 mx\r\n" };
	st[n++] = (struct step){ C, l512 };
	st[n++] = (struct step){ S, NULL, .ackonly = true };
	st[n++] = (struct step){ C, l513, .len = 300 };
	st[n++] = (struct step){ C, l513 + 300, .verdict = SG_V_RESET,
				 .ev = "command-line/reset" };
	run_steps("command-line limit: reset in the segment of octet 513",
		  "verbs NOOP\naction command-line reset\n", false, st, n);

	a = rep('t', 1000 - 2);
	snprintf(t1000, sizeof(t1000), "%s\r\n", a);
	free(a);
	a = rep('t', 1001 - 2);
	snprintf(t1001, sizeof(t1001), "%s\r\n", a);
	free(a);
	n = 0;
	st[n++] = (struct step){ S, "220 mx\r\n" };
	st[n++] = (struct step){ C, "MAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\n" };
	st[n++] = (struct step){ S, "250 a\r\n250 b\r\n354 c\r\n" };
	st[n++] = (struct step){ C, t1000 };
	st[n++] = (struct step){ C, t1001, .ev = "text-line/log" };
	run_steps("text-line limit: 1000 pass, 1001 logged (esmtp)", "@esmtp",
		  false, st, n);
	n = 4;
	st[n++] = (struct step){ C, t1001, .len = 999 };
	st[n++] = (struct step){ C, t1001 + 999, .verdict = SG_V_RESET,
				 .ev = "text-line/reset" };
	run_steps("text-line limit: reset in the segment of octet 1001",
		  "verbs MAIL RCPT DATA\naction text-line reset\n", false, st, n);
	/* bulk DATA scan: a line entering the segment long, several lines
	 * over the limit in one segment, one report per line */
	n = 3;
	st[n++] = (struct step){ C, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" };
	st[n++] = (struct step){ C, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\nbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\r\nshort\r\n\tccccccccccccccccccccccccccccccccccccccccccccc",
				 .ev = "text-line/log text-line/log text-line/log" };
	st[n++] = (struct step){ C, "cccccccccc\r\n.\r\n" };
	st[n++] = (struct step){ S, "250 ok\r\n" };
	run_steps("text-line limit: each long DATA line reported once",
		  "verbs MAIL RCPT DATA\nlimit text-line 40\naction text-line log\n",
		  false, st, n);
}

/* Feed one whole segment; apply its spans to @buf; return the verdict. */
static int seg1(struct sg_conn *c, const struct sg_policy *p, int dir,
		unsigned int seq, char *buf, unsigned int ack)
{
	struct sg_seg seg;
	unsigned int i, len = strlen(buf);
	int v;

	sg_seg_begin(&seg, c, p, dir, seq, len, ack, SG_TCP_ACK);
	sg_seg_feed(&seg, (const u8 *)buf, len);
	v = sg_seg_end(&seg);
	for (i = 0; v == SG_V_PASS && i < seg.res.n_spans; i++)
		memset(buf + seg.res.spans[i].off, seg.res.spans[i].ch,
		       seg.res.spans[i].len);
	return v;
}

/*
 * A verb's trie node from a bigger policy meets a smaller trie under the
 * same generation (an owner that forgot to bump it): the index is past
 * the new trie's nodes, so it is dead, never read: the verb is ruled out.
 */
static void gen_stale_node(void)
{
	const char *name = "stale trie node past n_nodes (same generation) is dead";
	struct sg_policy big = *test_policy(
		"verbs NOOP HELO EHLO MAIL RCPT DATA RSET QUIT AUTH HELP VRFY\n"
		"verbs EXPN ETRN TURN ATRN XAAAAAAAAAAAAAAAAAAAAAAA\n");
	struct sg_policy small = *test_policy("verbs NOOP\n");
	struct sg_conn c;
	char g[] = "220 mx\r\n", a[] = "XAAAAAAAAAAAAAAAAAAAA", b[] = "AAA x\r\n";
	unsigned int cs = 1001, ss = 5001;

	big.generation = small.generation = 7;
	/* the verb's node in big is past small's nodes */
	if (small.verb_trie.n_nodes >= 50 || big.verb_trie.n_nodes < 80) {
		test_fail(name, "trie sizes %u/%u do not make the case",
			  small.verb_trie.n_nodes, big.verb_trie.n_nodes);
		return;
	}
	sg_conn_init(&c, false);
	if (seg1(&c, &big, S, ss, g, cs) != SG_V_PASS ||
	    seg1(&c, &big, C, cs, a, ss += strlen(g)) != SG_V_PASS ||
	    strcmp(a, "XAAAAAAAAAAAAAAAAAAAA")) {
		test_fail(name, "big policy did not pass the verb prefix");
		return;
	}
	cs += strlen(a);
	if (seg1(&c, &small, C, cs, b, ss) != SG_V_PASS ||
	    strcmp(b, "XXX x\r\n")) {
		test_fail(name, "got '%s', expected 'XXX x'", b);
		return;
	}
	test_ok(name);
}

/*
 * Text-line reports from the bulk DATA scan carry the values of the
 * per-byte path: the same DATA fed whole and fed one byte at a time
 * (chunks of one byte never reach the rounds) gives the same events,
 * values included -- lines one under, at and over the limit, a line the
 * LF or the CR takes over, and a policy swap that lowers the limit in
 * the middle of a line already longer than the new one.
 */
#define ALNUM64 \
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"

static int feed_events(struct sg_conn *c, const struct sg_policy *p,
		       unsigned int seq, const char *buf, unsigned int ack,
		       unsigned int chunk, char *out, size_t sz)
{
	struct sg_seg seg;
	unsigned int i, len = strlen(buf);
	size_t o = strlen(out);
	int v;

	sg_seg_begin(&seg, c, p, SG_DIR_CLIENT, seq, len, ack, SG_TCP_ACK);
	for (i = 0; i < len; i += chunk)
		sg_seg_feed(&seg, (const u8 *)buf + i,
			    len - i < chunk ? len - i : chunk);
	v = sg_seg_end(&seg);
	for (i = 0; i < seg.res.n_events && o + 32 < sz; i++)
		o += snprintf(out + o, sz - o, " %u:%u/%u",
			      seg.res.events[i].klass,
			      seg.res.events[i].value,
			      seg.res.events[i].limit);
	return v;
}

static void gen_text_line_values(void)
{
	const char *name = "text-line values: bulk scan equals per-byte path";
	struct sg_policy a = *test_policy(
		"verbs MAIL RCPT DATA\nlimit text-line 40\naction text-line log\n");
	struct sg_policy b = *test_policy(
		"verbs MAIL RCPT DATA\nlimit text-line 20\naction text-line log\n");
	static const char *const srv[] = { "220 mx\r\n", "250 a\r\n250 b\r\n354 c\r\n" };
	static const char cmd[] = "MAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\n";
	char body[2][600], ev[2][512];
	unsigned int run, k;

	/* 38, 39, 40 and 60 bytes before CR LF, a TAB line, an empty line */
	snprintf(body[0], sizeof(body[0]),
		 "%.38s\r\n%.39s\r\n%.40s\r\n%.60s\r\n\t%.50s\r\n\r\n%.30s",
		 ALNUM64, ALNUM64, ALNUM64, ALNUM64, ALNUM64, ALNUM64);
	/* the line in progress (30) goes on under a limit of 20 */
	snprintf(body[1], sizeof(body[1]), "%.10s\r\n%.25s\r\n%.19s\r\n",
		 ALNUM64, ALNUM64, ALNUM64);
	for (run = 0; run < 2; run++) {
		struct sg_conn c;
		unsigned int cs = 1, ss = 1, chunk = run ? 1 : 0xffff;

		ev[run][0] = 0;
		sg_conn_init(&c, false);
		for (k = 0; k < 2; k++) {
			char buf[64];

			snprintf(buf, sizeof(buf), "%s", srv[k]);
			if (seg1(&c, &a, S, ss, buf, cs) != SG_V_PASS)
				goto fail;
			ss += strlen(srv[k]);
			if (k)
				break;
			snprintf(buf, sizeof(buf), "%s", cmd);
			if (seg1(&c, &a, C, cs, buf, ss) != SG_V_PASS)
				goto fail;
			cs += strlen(cmd);
		}
		if (feed_events(&c, &a, cs, body[0], ss, chunk, ev[run],
				sizeof(ev[run])) != SG_V_PASS)
			goto fail;
		cs += strlen(body[0]);
		if (feed_events(&c, &b, cs, body[1], ss, chunk, ev[run],
				sizeof(ev[run])) != SG_V_PASS)
			goto fail;
	}
	if (strcmp(ev[0], ev[1]) || !strstr(ev[0], "/40 ") ||
	    !strstr(ev[0], ":31/20")) {
		test_fail(name, "whole:%s byte:%s", ev[0], ev[1]);
		return;
	}
	test_ok(name);
	return;
fail:
	test_fail(name, "a segment did not pass");
}

void run_generated_cases(void)
{
	gen_text_line_values();
	gen_stale_node();
	gen_line_limits();
	gen_pipelined_rcpts(100, "@esmtp", false);
	gen_pipelined_rcpts(150, "@esmtp", true);
	gen_pipelined_rcpts(1000, "verbs EHLO MAIL RCPT DATA\nkeywords PIPELINING\nlimit recipients 5000\n", false);
	gen_recipient_limit();
	gen_resegmented();
}
