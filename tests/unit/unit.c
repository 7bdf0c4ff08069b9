// SPDX-License-Identifier: GPL-2.0
/* smtpguard unit tests: engine transcripts, the policy file format, and
 * the issue-10 cases against the fuzzer's server reading models. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "../../userspace/policy_file.h"

void run_table_cases(void);
void run_generated_cases(void);
void run_policy_file_tests(void);
void run_model_tests(void);
void run_stream_cases(void);

int main(void)
{
	run_table_cases();
	run_generated_cases();
	run_policy_file_tests();
	run_model_tests();
	run_stream_cases();
	printf("%d passed, %d failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}
