// SPDX-License-Identifier: GPL-2.0
/*
 * Writes the fuzzer's seed corpus: real SMTP sessions in the fuzz input
 * format (policy byte, seed byte, turns separated by 0xFE, server first).
 * Deterministic; run by "make -C tests corpus".
 */
#include <stdio.h>
#include <string.h>

struct seed {
	const char *name;
	unsigned char policy;
	const char *turns[40];
	unsigned int lens[40];	/* 0: strlen */
};

#define GREET "220 mx.example.com ESMTP Postfix\r\n"
#define PFX_EHLO "250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n" \
	"250-VRFY\r\n250-ETRN\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n" \
	"250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n"
#define EXCH_EHLO "250-mail.contoso.com Hello [192.0.2.1]\r\n250-SIZE 37748736\r\n" \
	"250-PIPELINING\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250-STARTTLS\r\n" \
	"250-X-ANONYMOUSTLS\r\n250-AUTH NTLM\r\n250-X-EXPS GSSAPI NTLM\r\n" \
	"250-8BITMIME\r\n250-BINARYMIME\r\n250-CHUNKING\r\n250-XEXCH50\r\n" \
	"250-XRDST\r\n250-XSHADOWREQUEST\r\n250 X-LINK2STATE\r\n"

static const struct seed seeds[] = {
{ "postfix-session", 0, { GREET, "EHLO c.example\r\n", PFX_EHLO,
  "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n", "250 ok\r\n250 ok\r\n354 go\r\n",
  "Subject: x\r\n\r\nVRFY in body\r\n..dot\r\n.\r\n", "250 queued\r\n",
  "VRFY root\r\nEXPN staff\r\nQUIT\r\n", "502 a\r\n502 b\r\n221 bye\r\n" } },
{ "exchange-session", 0, { "220 mail.contoso.com Microsoft ESMTP MAIL Service ready\r\n",
  "EHLO c\r\n", EXCH_EHLO, "X-LINK2STATE LAST CHUNK=1\r\nXEXCH50 2 2\r\n",
  "500 a\r\n500 b\r\n" } },
{ "strict-exchange", 2, { "220 x\r\n", "EHLO c\r\n", EXCH_EHLO,
  "MAIL FROM:<a|b@c>\r\n", "250 ok\r\n" } },
{ "rfc821", 1, { "220-mx ESMTP\r\n220 hi\r\n", "EHLO c\r\n", "500 no\r\n",
  "HELO c\r\nMAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\n",
  "250 a\r\n250 b\r\n250 c\r\n354 d\r\n", "hi\r\n.\r\n", "250 ok\r\n",
  "STARTTLS\r\nBDAT 5\r\nVRFY\r\n" } },
{ "auth-login", 0, { GREET, "EHLO c\r\n", "250-mx\r\n250 AUTH LOGIN PLAIN\r\n",
  "AUTH LOGIN\r\n", "334 VXNlcm5hbWU6\r\n", "dXNlcg==\r\n", "334 UGFzc3dvcmQ6\r\n",
  "VlJGWQ==\r\n", "235 ok\r\n", "AUTH PLAIN AGEAYg==\r\nVRFY x\r\n", "503 a\r\n502 b\r\n" } },
{ "bdat", 0, { GREET, "EHLO c\r\n", "250-mx\r\n250-CHUNKING\r\n250 PIPELINING\r\n",
  "MAIL FROM:<a>\r\nRCPT TO:<b>\r\nBDAT 20\r\nVRFY x\r\nEXPN y\r\n\r\n\n\rBDAT 4 LAST\r\nab\r\n",
  "250 a\r\n250 b\r\n250 c\r\n250 d\r\n", "BDAT x\r\nVRFY\r\n" } },
{ "bdat-strict", 2, { "220 x\r\n", "EHLO c\r\n", "250 mx\r\n",
  "BDAT 14 LAST\r\nVRFY x\r\nEXPN\r\n", "500 a\r\n502 b\r\n502 c\r\n" } },
{ "starttls", 0, { GREET, "EHLO c\r\n", "250-mx\r\n250 STARTTLS\r\n", "STARTTLS\r\n",
  "220 2.0.0 Ready\r\n", "\x16\x03\x01\x00\x05hello", "\x16\x03\x03\x00\x02hi" } },
{ "starttls-inject", 3, { GREET, "EHLO c\r\n", "250 STARTTLS\r\n",
  "STARTTLS\r\nRSET\r\n", "220 go\r\n250 injected\r\n", "\x16\x03" } },
{ "starttls-refused", 0, { GREET, "STARTTLS\r\n", "454 no TLS\r\n", "VRFY x\r\n", "502 no\r\n" } },
{ "smuggling", 3, { GREET, "MAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\n", "250 a\r\n250 b\r\n354 c\r\n",
  "a\n.\nMAIL FROM:<x>\r\nb\r.\rc\r.\nd\n.\re\n.\r\nf\r\n.\ng\r.\r\nh\r\n.\ri\r\n.\r\n",
  "250 ok\r\n", "VRFY\r\n" } },
{ "smuggling-nul", 3, { GREET, "DATA\r\n", "354 go\r\n", "x\r\n\0.\r\nVRFY\r\n.\r\n",
  "250 ok\r\n", "NOOP\n" }, { 0, 0, 0, 20 } },
{ "cve-2000-1022", 0, { GREET, "MAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\nVRFY x\r\n",
  "250 a\r\n250 b\r\n554 no\r\n502 c\r\n", "DATA\r\n", "354 go\r\n", "VRFY body\r\n.\r\n", "250 ok\r\n" } },
{ "limits", 4, { "220 a very long greeting line indeed\r\n",
  "EHLO a-very-long-client-name\r\nMAIL FROM:<a-long-address@x>\r\nRCPT TO:<a>\r\nRCPT TO:<b>\r\nRCPT TO:<c>\r\nDATA\r\n",
  "250 a\r\n250 b\r\n250 c\r\n250 d\r\n250 e\r\n354 f\r\n",
  "a text line that is longer than thirty octets\r\n.\r\n", "250 ok\r\n",
  "BDAT 60\r\n" } },
{ "pipelining", 0, { GREET, "EHLO c\r\n", "250-mx\r\n250 PIPELINING\r\n",
  "RSET\r\nMAIL FROM:<a>\r\nRCPT TO:<1>\r\nRCPT TO:<2>\r\nRCPT TO:<3>\r\nRCPT TO:<4>\r\nDATA\r\n",
  "250 a\r\n250 b\r\n250 c\r\n250 d\r\n250 e\r\n250 f\r\n354 g\r\n", "x\r\n.\r\n", "250 ok\r\n" } },
{ "verbs", 0, { GREET, "VRFY a\r\n expn b\r\nTURN\r\nETRN x\r\nATRN\r\nMAI FROM:<a>\r\nRCP\r\nQUITX\r\n",
  "502 a\r\n502 b\r\n502 c\r\n502 d\r\n502 e\r\n500 f\r\n500 g\r\n500 h\r\n" } },
{ "bdat-ambiguous", 0, { GREET, "EHLO c\r\n", "250-mx\r\n250-CHUNKING\r\n250 PIPELINING\r\n",
  "MAIL FROM:<a>\r\nRCPT TO:<b>\r\n BDAT 11\r\nVRFY root\r\nBDAT\t11\r\nVRFY root\r\nBDAT 11 LASTX\r\nVRFY root\r\n",
  "250 a\r\n250 b\r\n500 c\r\n502 d\r\n500 e\r\n502 f\r\n501 g\r\n502 h\r\n",
  "HELO c\r\n", "250 mx\r\n", "BDAT 11\r\nVRFY root\r\n", "503 a\r\n502 b\r\n" } },
{ "quoted-paths", 0, { GREET, "EHLO c\r\n", "250 mx\r\n",
  "MAIL FROM:<\"a b\\\"|c\"@d> SIZE=1\r\nRCPT TO:<\"a>|b\"@mx.test>\r\nRCPT TO:\"x y|z\"@mx.test\r\nRCPT TO:<a\\>|b@x>\r\n",
  "250 a\r\n250 b\r\n250 c\r\n250 d\r\n" } },
{ "desync", 0, { GREET, "MAIL FROM:<a>\r\n", "354 go\r\n", "VRFY x\r\n", "502 no\r\n",
  "AUTH LOGIN\r\nVRFY x\r\n", "334 VXNlcm5hbWU6\r\n501 no\r\n", "VRFY root\r\n" } },
{ "starttls-plaintext", 0, { GREET, "EHLO c\r\n", "250 STARTTLS\r\n", "STARTTLS\r\n",
  "220 go\r\n", "EHLO x\r\nVRFY y\r\n" } },
{ "bare-newline", 2, { "220 x\r\n", "MAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\n",
  "250 a\r\n250 b\r\n354 c\r\n", "one\ntwo\rthree\r\n.\r\n", "250 ok\r\n" } },
{ "keywords", 3, { "220-multi\r\n220-line\r\n220 greeting\r\n", "EHLO c\r\n",
  "250-h\r\n250-SIZ 1\r\n250-AUTH=LOGIN PLAIN\r\n250-VRFY\r\n250 DS\r\n" } },
};

int main(int argc, char **argv)
{
	unsigned int i, j;

	if (argc != 2) {
		fprintf(stderr, "usage: gen_corpus DIR\n");
		return 2;
	}
	for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		const struct seed *s = &seeds[i];
		char path[512];
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", argv[1], s->name);
		f = fopen(path, "wb");
		if (!f) {
			perror(path);
			return 1;
		}
		fputc(s->policy, f);
		fputc((int)(i * 37 + 11), f);
		for (j = 0; j < 40 && s->turns[j]; j++) {
			if (j)
				fputc(0xfe, f);
			fwrite(s->turns[j], 1, s->lens[j] ? s->lens[j]
					      : strlen(s->turns[j]), f);
		}
		fclose(f);
	}
	return 0;
}
