// SPDX-License-Identifier: GPL-2.0
/* Policy file format: good files, every error kind, round trips. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "../../userspace/policy_file.h"
#include "../../kmod/engine/engine.h"

#ifndef SG_POLICY_DIR
#define SG_POLICY_DIR "../policy"
#endif

struct bad {
	const char *text;
	enum sg_pf_err kind;
	const char *msg;
};

static const struct bad bad_files[] = {
	{ "frob x\n", SG_PF_SYNTAX, "inline:1:1: unknown directive 'frob'" },
	{ "# c\n\n  verbs HELO VR#FY\n", SG_PF_WORD,
	  "inline:3:16: invalid character in verb 'VR#FY' (allowed: A-Z 0-9 -)" },
	{ "verbs ABCDEFGHIJKLMNOPQRSTUVWXYZ\n", SG_PF_WORD,
	  "inline:1:7: verb 'ABCDEFGHIJKLMNOPQRSTUVWXYZ' is longer than 24 characters" },
	{ "verbs HELO helo\n", SG_PF_WORD, "inline:1:12: duplicate verb HELO" },
	{ "keywords SIZE\nkeywords size\n", SG_PF_WORD,
	  "inline:2:10: duplicate keyword SIZE" },
	{ "keywords SIZE_X\n", SG_PF_WORD,
	  "inline:1:14: invalid character in keyword 'SIZE_X' (allowed: A-Z 0-9 -)" },
	{ "limit command-line 0\n", SG_PF_RANGE,
	  "inline:1:20: limit command-line must be 1..65000" },
	{ "limit bdat-chunk 99999999999\n", SG_PF_RANGE,
	  "inline:1:18: limit bdat-chunk must be 1..4294967295" },
	{ "limit recipients 1x\n", SG_PF_SYNTAX,
	  "inline:1:18: limit value '1x' is not a number" },
	{ "limit foo 1\n", SG_PF_SYNTAX, "inline:1:7: unknown limit 'foo'" },
	{ "limit recipients\n", SG_PF_SYNTAX, "inline:1:17: usage: limit NAME VALUE" },
	{ "action smuggling mask\n", SG_PF_ACTION,
	  "inline:1:18: action mask is not valid for class smuggling (mask only applies to verb, address-char and bdat)" },
	{ "action foo log\n", SG_PF_SYNTAX, "inline:1:8: unknown class 'foo'" },
	{ "action verb kill\n", SG_PF_SYNTAX,
	  "inline:1:13: unknown action 'kill' (log, mask, drop, reset)" },
	{ "verbs HELO STARTTLS\n", SG_PF_CONTRADICTION,
	  "inline:1:12: STARTTLS is governed by 'starttls allow|deny', not listed as a verb" },
	{ "verbs bdat\n", SG_PF_CONTRADICTION,
	  "inline:1:7: BDAT is governed by 'bdat allow|deny', not listed as a verb" },
	{ "keywords CHUNKING\n", SG_PF_CONTRADICTION,
	  "inline:1:10: CHUNKING is governed by 'bdat allow|deny', not listed as a keyword" },
	{ "verbs HELO TAX\nmask-char x\n", SG_PF_CONTRADICTION,
	  "inline:1:12: verb TAX ends with the mask character 'x': a masked verb could become it" },
	{ "banner maybe\n", SG_PF_SYNTAX,
	  "inline:1:8: 'banner' must be pass or mask, not 'maybe'" },
	{ "starttls\n", SG_PF_SYNTAX,
	  "inline:1:9: 'starttls' takes exactly one value: deny or allow" },
	{ "pickup open now\n", SG_PF_SYNTAX,
	  "inline:1:13: 'pickup' takes exactly one value: open or reset" },
	{ "mask-char XY\n", SG_PF_SYNTAX,
	  "inline:1:11: expected one printable character or 0xHH, got 'XY'" },
	{ "mask-char 0x0a\n", SG_PF_RANGE,
	  "inline:1:11: character must be printable ASCII other than '-'" },
	{ "mask-char -\n", SG_PF_RANGE,
	  "inline:1:11: character must be printable ASCII other than '-'" },
	{ "verbs A B C D E F G H I J K L M N O P Q R S T U V W Y Z A1 B1 C1 D1 E1 F1 G1 H1\n",
	  SG_PF_RANGE, "inline:1:78: more than 32 verbs" },
	{ "verbs AAAAAAAAAAAAAAAAAAAAAAAA BAAAAAAAAAAAAAAAAAAAAAAA CAAAAAAAAAAAAAAAAAAAAAAA DAAAAAAAAAAAAAAAAAAAAAAA EAAAAAAAAAAAAAAAAAAAAAAA FAAAAAAAAAAAAAAAAAAAAAAA GAAAAAAAAAAAAAAAAAAAAAAA HAAAAAAAAAAAAAAAAAAAAAAA IAAAAAAAAAAAAAAAAAAAAAAA JAAAAAAAAAAAAAAAAAAAAAAA KAAAAAAAAAAAAAAAAAAAAAAA\n",
	  SG_PF_RANGE,
	  "inline:1:257: word lists too large for the lookup trie (254 nodes)" },
};

static void bad_file_tests(void)
{
	unsigned int i;

	for (i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); i++) {
		const struct bad *b = &bad_files[i];
		struct sg_policy p;
		struct sg_pf_error e;
		enum sg_pf_err r;
		char name[128];

		snprintf(name, sizeof(name), "policy file error %u: %s", i + 1,
			 sg_pf_err_name(b->kind));
		r = sg_policy_parse_string("inline", b->text, &p, &e);
		if (r != b->kind || e.kind != b->kind || strcmp(e.msg, b->msg))
			test_fail(name, "got kind %d '%s', expected kind %d '%s'",
				  r, e.msg, b->kind, b->msg);
		else
			test_ok(name);
	}
}

static void nofile_test(void)
{
	struct sg_policy p;
	struct sg_pf_error e;
	enum sg_pf_err r;

	r = sg_policy_parse_file("/nonexistent/smtpguard.conf", &p, &e);
	if (r != SG_PF_NOFILE ||
	    strcmp(e.msg, "/nonexistent/smtpguard.conf: No such file or directory"))
		test_fail("policy file not found", "kind %d '%s'", r, e.msg);
	else
		test_ok("policy file not found");
}

static void roundtrip(const char *name, const struct sg_policy *a)
{
	struct sg_policy b, c;
	struct sg_pf_error e;
	char *s1, *s2;

	s1 = sg_policy_to_string(a);
	if (!s1 || sg_policy_parse_string("roundtrip", s1, &b, &e)) {
		test_fail(name, "reparse: %s", e.msg);
		free(s1);
		return;
	}
	s2 = sg_policy_to_string(&b);
	if (!sg_policy_equal(a, &b) || strcmp(s1, s2) ||
	    sg_policy_parse_string("roundtrip", s2, &c, &e) ||
	    !sg_policy_equal(&b, &c) ||
	    memcmp(&b.verb_trie, &c.verb_trie, sizeof(b.verb_trie)) ||
	    memcmp(&b.keyword_trie, &c.keyword_trie, sizeof(b.keyword_trie)))
		test_fail(name, "round trip differs:\n%s---\n%s", s1, s2);
	else
		test_ok(name);
	free(s1);
	free(s2);
}

static void good_file_tests(void)
{
	static const char *const presets[] = { "esmtp", "rfc821", "strict" };
	struct sg_policy p, d;
	struct sg_pf_error e;
	const char *err;
	char path[256], name[128];
	unsigned int i;

	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s.conf", SG_POLICY_DIR,
			 presets[i]);
		snprintf(name, sizeof(name), "preset %s parses and round-trips",
			 presets[i]);
		if (sg_policy_parse_file(path, &p, &e)) {
			test_fail(name, "%s", e.msg);
			continue;
		}
		roundtrip(name, &p);
		if (i == 0) {
			sg_policy_defaults(&d);
			if (sg_policy_compile(&d, &err))
				test_fail("defaults compile", "%s", err);
			else
				test_ok("defaults compile");
			if (!sg_policy_equal(&p, &d))
				test_fail("esmtp preset equals sg_policy_defaults()",
					  "differs");
			else
				test_ok("esmtp preset equals sg_policy_defaults()");
			roundtrip("defaults round-trip", &d);
		}
	}
	if (sg_policy_parse_string("x", "verbs helo  x-link2state\t# c\n"
				   "mask-char 0x23\nkeywords # none\n",
				   &p, &e))
		test_fail("policy: lowercase, comments, 0xHH", "%s", e.msg);
	else if (strcmp(p.verbs[1], "X-LINK2STATE") || p.mask_char != '#' ||
		 p.banner_char != '*')
		test_fail("policy: lowercase, comments, 0xHH", "wrong values");
	else {
		test_ok("policy: lowercase, comments, 0xHH");
		roundtrip("policy with mask-char # round-trips", &p);
	}
	if (sg_policy_parse_string("x", "", &p, &e) || p.n_verbs)
		test_fail("empty policy: no verbs", "%s", e.msg);
	else
		roundtrip("empty policy: no verbs, round-trips", &p);
}

static void misc_tests(void)
{
	struct sg_policy p;
	const char *err;
	int ok = 1;

	ok &= sg_verb_class_of("VRFY\0\0\0\0\0\0\0", SG_TOKEN_LEN) == SG_VC_PROBE;
	ok &= sg_verb_class_of("expn", 4) == SG_VC_PROBE;
	ok &= sg_verb_class_of("ETRN", 4) == SG_VC_TURN;
	ok &= sg_verb_class_of("X-LINK2STAT", SG_TOKEN_LEN) == SG_VC_VENDOR;
	ok &= sg_verb_class_of("MAIL", 4) == SG_VC_BASIC;
	ok &= sg_verb_class_of("STARTTLS", 8) == SG_VC_ESMTP;
	ok &= sg_verb_class_of("FOO", 3) == SG_VC_UNKNOWN;
	ok &= sg_verb_class_of("", 0) == SG_VC_UNKNOWN;
	if (ok)
		test_ok("sg_verb_class_of");
	else
		test_fail("sg_verb_class_of", "wrong class");

	ok = sg_action_valid(SG_C_VERB, SG_A_MASK) &&
	     sg_action_valid(SG_C_ADDRESS_CHAR, SG_A_MASK) &&
	     sg_action_valid(SG_C_BDAT, SG_A_MASK) &&
	     !sg_action_valid(SG_C_SMUGGLING, SG_A_MASK) &&
	     !sg_action_valid(SG_C_BARE_NEWLINE, SG_A_MASK) &&
	     !sg_action_valid(SG_C_DESYNC, SG_A_MASK) &&
	     !sg_action_valid(SG_C_PICKUP, SG_A_MASK) &&
	     sg_action_valid(SG_C_PICKUP, SG_A_RESET) &&
	     !sg_action_valid(SG_C_MAX, SG_A_LOG) &&
	     !sg_action_valid(SG_C_VERB, SG_A_MAX);
	if (ok)
		test_ok("sg_action_valid");
	else
		test_fail("sg_action_valid", "wrong answer");

	sg_policy_defaults(&p);
	p.limit[SG_L_RECIPIENTS] = 0;
	if (!sg_policy_compile(&p, &err) && err)
		test_fail("compile rejects limit 0", "accepted");
	else
		test_ok("compile rejects limit 0");
	sg_policy_defaults(&p);
	p.action[SG_C_BDAT] = SG_A_MASK;
	if (sg_policy_compile(&p, &err))
		test_fail("compile accepts mask for bdat", "%s", err);
	else
		test_ok("compile accepts mask for bdat");
	sg_policy_defaults(&p);
	p.action[SG_C_DESYNC] = SG_A_MASK;
	if (!sg_policy_compile(&p, &err))
		test_fail("compile rejects mask for desync", "accepted");
	else
		test_ok("compile rejects mask for desync");
	sg_policy_defaults(&p);
	strcpy(p.verbs[0], "STARTTLS");
	if (!sg_policy_compile(&p, &err))
		test_fail("compile rejects STARTTLS verb", "accepted");
	else
		test_ok("compile rejects STARTTLS verb");
	/* bench-vm's memory figure (README) depends on it */
	if (sizeof(struct sg_conn) != 704)
		test_fail("struct sg_conn is 704 bytes", "%zu", sizeof(struct sg_conn));
	else
		test_ok("struct sg_conn is 704 bytes");
}

void run_policy_file_tests(void)
{
	bad_file_tests();
	nofile_test();
	good_file_tests();
	misc_tests();
}
