// SPDX-License-Identifier: GPL-2.0
/*
 * Decoders for the three CPython line-table formats.  Each one walks the
 * table from the start, the way PyCode_Addr2Line() does: to the range that
 * holds one instruction, or through all of it to build an index (a code
 * object with thousands of lines is met at thousands of positions).  The bytes come from another process,
 * so every read is bounds-checked and line arithmetic is done in 64 bits
 * (a hostile table cannot overflow an int and trigger undefined behaviour).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "py_line.h"

/* 3.11+ location entry kinds (bits 3-6 of the entry's first byte). */
#define LOC_ONE_LINE0	10
#define LOC_ONE_LINE2	12
#define LOC_NO_COLUMNS	13
#define LOC_LONG	14
#define LOC_NONE	15

/* 3.10 line delta meaning "these bytes have no line". */
#define LT310_NO_LINE	(-128)

static int line_result(int64_t line)
{
	return line < 0 || line > INT_MAX ? -1 : (int)line;
}

/*
 * A decoder hands each range of positions, in order, to range(): the
 * positions from the previous range's end up to end run line (-1: none).
 * Looking one position up stops at the range that holds it; building an
 * index keeps them all.
 */
struct line_walk {
	uint64_t pos;		/* lookup: the position sought */
	int line;		/* lookup: its line, -1 until met */
	struct py_lines *out;	/* index: every range; NULL for a lookup */
	int err;
};

/* 1 to stop the decoder */
static int range(struct line_walk *w, uint64_t end, int line)
{
	struct py_line_range *r;
	size_t cap;

	if (!w->out) {
		if (end <= w->pos)
			return 0;
		w->line = line;
		return 1;
	}
	if (w->out->n == w->out->cap) {
		cap = w->out->cap ? 2 * w->out->cap : 64;
		r = realloc(w->out->r, cap * sizeof(*r));
		if (!r) {
			w->err = -ENOMEM;
			return 1;
		}
		w->out->r = r;
		w->out->cap = cap;
	}
	w->out->r[w->out->n].end = end;
	w->out->r[w->out->n++].line = line;
	return 0;
}

/*
 * 3.8/3.9 co_lnotab: (unsigned byte delta, signed line delta) pairs.  A line
 * belongs to the bytes from its pair's address up to the next address.
 */
static void lnotab_lines(const uint8_t *t, size_t len, int64_t line, struct line_walk *w)
{
	uint64_t pc = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2) {
		pc += t[i];
		if (range(w, pc, line_result(line)))
			return;
		line += (int8_t)t[i + 1];
	}
	range(w, UINT64_MAX, line_result(line));
}

/*
 * 3.10 co_linetable: (unsigned byte length, signed line delta) pairs, each
 * covering the next `length` bytes.  Zero-length pairs only carry line deltas
 * too large for one byte; -128 marks a range without a line.
 */
static void linetable310_lines(const uint8_t *t, size_t len, int64_t line, struct line_walk *w)
{
	uint64_t end = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2) {
		int8_t ldelta = (int8_t)t[i + 1];

		end += t[i];
		if (ldelta != LT310_NO_LINE)
			line += ldelta;
		if (range(w, end, ldelta == LT310_NO_LINE ? -1 : line_result(line)))
			return;
	}
}

/* 6-bit little-endian chunks, bit 6 set on all but the last. */
static int loc_varint(const uint8_t **pp, const uint8_t *lim, uint32_t *val)
{
	const uint8_t *p = *pp;
	unsigned int shift = 0;
	uint32_t v = 0;
	uint8_t b;

	do {
		if (p >= lim)
			return -1;
		b = *p++;
		/* Bits past 31 are dropped, as CPython's int would. */
		if (shift < 32) {
			v |= (uint32_t)(b & 63) << shift;
			shift += 6;
		}
	} while (b & 64);
	*pp = p;
	*val = v;
	return 0;
}

/* Zig-zag: the low bit is the sign, the rest the magnitude. */
static int loc_svarint(const uint8_t **pp, const uint8_t *lim, int64_t *val)
{
	uint32_t u;

	if (loc_varint(pp, lim, &u))
		return -1;
	*val = u & 1 ? -(int64_t)(u >> 1) : (int64_t)(u >> 1);
	return 0;
}

/* Line delta of the entry whose header byte is at p, or -1 if truncated. */
static int loc_line_delta(const uint8_t *p, const uint8_t *lim, int64_t *delta)
{
	int kind = (*p >> 3) & 15;

	*delta = 0;
	if (kind == LOC_NO_COLUMNS || kind == LOC_LONG) {
		p++;
		return loc_svarint(&p, lim, delta);
	}
	if (kind >= LOC_ONE_LINE0 && kind <= LOC_ONE_LINE2)
		*delta = kind - LOC_ONE_LINE0;
	/* Short forms and LOC_NONE stay on the current line. */
	return 0;
}

/*
 * 3.11+ location table: entries start with a byte whose bit 7 is set; bits
 * 0-2 hold the number of code units covered minus one and bits 3-6 the
 * kind.  Only the line delta matters here, so the payload is skipped by
 * scanning for the next start byte, as CPython does.
 */
static void loctable_lines(const uint8_t *t, size_t len, int64_t line, struct line_walk *w)
{
	const uint8_t *p = t, *lim = t + len;
	uint64_t end = 0;
	int64_t delta;

	while (p < lim) {
		if (loc_line_delta(p, lim, &delta))
			return;
		line += delta;
		end += (*p & 7) + 1;
		if (range(w, end, ((*p >> 3) & 15) == LOC_NONE ? -1 : line_result(line)))
			return;
		do
			p++;
		while (p < lim && !(*p & 128));
	}
}

static void decode(int minor, const uint8_t *table, size_t len, int firstlineno,
		   struct line_walk *w)
{
	if (!table)
		len = 0;
	if (minor == 8 || minor == 9)
		lnotab_lines(table, len, firstlineno, w);
	else if (minor == 10)
		linetable310_lines(table, len, firstlineno, w);
	else if (minor > 10)
		/* 3.12-3.15 keep the 3.11 location table (checked by test_py_line) */
		loctable_lines(table, len, firstlineno, w);
}

/* The position a range ends at, in the table's unit: 3.10 counts bytes, lasti instructions. */
static uint64_t position(int minor, uint32_t lasti)
{
	return minor == 10 ? (uint64_t)lasti * 2 : lasti;
}

int py_line_for(int minor, const uint8_t *table, size_t len, int firstlineno, uint32_t lasti)
{
	struct line_walk w = { .line = -1 };

	if (minor < 8)
		return -1;
	/* f_lasti == -1 and prev_instr == code - 1 mean "not started yet". */
	if (lasti > INT32_MAX)
		return line_result(firstlineno);
	w.pos = position(minor, lasti);
	decode(minor, table, len, firstlineno, &w);
	return w.line;
}

int py_lines_build(struct py_lines *l, int minor, const uint8_t *table, size_t len,
		   int firstlineno)
{
	struct line_walk w = { .out = l };

	memset(l, 0, sizeof(*l));
	l->minor = minor;
	l->firstlineno = firstlineno;
	if (minor >= 8)
		decode(minor, table, len, firstlineno, &w);
	if (w.err)
		py_lines_free(l);
	return w.err;
}

int py_lines_find(const struct py_lines *l, uint32_t lasti)
{
	size_t lo = 0, hi = l->n, mid;
	uint64_t pos;

	if (l->minor < 8)
		return -1;
	if (lasti > INT32_MAX)
		return line_result(l->firstlineno);
	pos = position(l->minor, lasti);
	/* the first range that ends past pos holds it */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (l->r[mid].end > pos)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo < l->n ? l->r[lo].line : -1;
}

void py_lines_free(struct py_lines *l)
{
	free(l->r);
	memset(l, 0, sizeof(*l));
}
