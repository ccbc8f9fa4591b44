// SPDX-License-Identifier: GPL-2.0
/* str objects as UTF-8 (see py_str.h). */
#include <errno.h>
#include <stdlib.h>
#include "py_str.h"

int py_str_check(struct py_str_head *h, int64_t max)
{
	unsigned int compact = (h->state >> 5) & 1;

	h->kind = (h->state >> 2) & 7;
	h->ascii = (h->state >> 6) & 1;
	if (!compact || h->length < 0 || h->length > max ||
	    (h->kind != 1 && h->kind != 2 && h->kind != 4))
		return -EINVAL;
	return 0;
}

/* Append one code point as UTF-8; lone surrogates (surrogateescape) become U+FFFD. */
static size_t put_utf8(char *out, uint32_t cp)
{
	if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		cp = 0xfffd;
	if (cp < 0x80) {
		out[0] = cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = 0xc0 | (cp >> 6);
		out[1] = 0x80 | (cp & 0x3f);
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = 0xe0 | (cp >> 12);
		out[1] = 0x80 | ((cp >> 6) & 0x3f);
		out[2] = 0x80 | (cp & 0x3f);
		return 3;
	}
	out[0] = 0xf0 | (cp >> 18);
	out[1] = 0x80 | ((cp >> 12) & 0x3f);
	out[2] = 0x80 | ((cp >> 6) & 0x3f);
	out[3] = 0x80 | (cp & 0x3f);
	return 4;
}

/* The code points as UTF-8. */
char *py_str_utf8(const uint8_t *raw, unsigned int kind, size_t len)
{
	char *out = malloc(len * 4 + 1);
	size_t i, n;

	if (!out)
		return NULL;
	for (i = 0, n = 0; i < len; i++) {
		uint32_t cp = kind == 1 ? raw[i] :
			      kind == 2 ? ((const uint16_t *)raw)[i] : ((const uint32_t *)raw)[i];

		n += put_utf8(out + n, cp);
	}
	out[n] = '\0';
	return out;
}

