/* SPDX-License-Identifier: GPL-2.0 */
/* JSON string output that keeps UTF-8 text readable. */
#ifndef SMTPGUARD_JSON_STR_H
#define SMTPGUARD_JSON_STR_H

#include <stddef.h>
#include <stdio.h>

/*
 * Length of the well-formed UTF-8 sequence at @s (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0.
 */
size_t utf8_seq_len(const unsigned char *s);

/*
 * Write @str as a JSON string: valid UTF-8 passes as is, control
 * characters are escaped, and each byte not part of a valid sequence
 * becomes U+FFFD.
 */
void json_str(FILE *f, const char *str);

#endif /* SMTPGUARD_JSON_STR_H */
