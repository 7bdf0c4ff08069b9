// SPDX-License-Identifier: GPL-2.0
/* Unit checks of json_str(): UTF-8 kept, bad bytes and controls escaped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "json_str.h"

static int fails;

static void check(const char *in, const char *want)
{
	char out[256] = "";
	FILE *f = fmemopen(out, sizeof(out) - 1, "w");

	json_str(f, in);
	fclose(f);
	if (strcmp(out, want)) {
		fprintf(stderr, "json_str: got %s want %s\n", out, want);
		fails++;
	}
}

int main(void)
{
	check("EHLO", "\"EHLO\"");
	check("a\"b\\c", "\"a\\\"b\\\\c\"");
	check("\r\n\x7f", "\"\\u000d\\u000a\\u007f\"");
	check("j\xc3\xb6rg@b\xc3\xbc" "cher.de", "\"j\xc3\xb6rg@b\xc3\xbc" "cher.de\"");
	check("\xe2\x82\xac \xf0\x9f\x93\xa7", "\"\xe2\x82\xac \xf0\x9f\x93\xa7\"");
	check("\xff", "\"\\ufffd\"");			/* never a lead byte */
	check("\xc3", "\"\\ufffd\"");			/* truncated at the end */
	check("\xc3(", "\"\\ufffd(\"");			/* bad continuation */
	check("\xc0\xaf", "\"\\ufffd\\ufffd\"");	/* overlong '/' */
	check("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");	/* surrogate */
	check("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");	/* > U+10FFFF */
	if (fails)
		return 1;
	printf("test_json_str: ok\n");
	return 0;
}
