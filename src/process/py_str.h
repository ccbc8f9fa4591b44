/* SPDX-License-Identifier: GPL-2.0 */
/* CPython's compact str objects, read from another process, as UTF-8. */
#ifndef PYMEM_PY_STR_H
#define PYMEM_PY_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The head of a str object: its state bitfield and length, as read. */
struct py_str_head {
	uint32_t state;
	int64_t length;
	/* set by py_str_check() from state */
	unsigned int kind;	/* bytes per character: 1, 2 or 4 */
	bool ascii;		/* the data follows PyASCIIObject, else PyCompactUnicodeObject */
};

/* 0 for a compact str of at most max characters (kind and ascii filled in), else -EINVAL. */
int py_str_check(struct py_str_head *h, int64_t max);
/* len characters of kind (1, 2 or 4) bytes each, as a new UTF-8 C string; NULL without memory. */
char *py_str_utf8(const uint8_t *raw, unsigned int kind, size_t len);

#endif
