/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Line numbers of CPython frames, from the code object's line table and
 * the instruction position the BPF walker recorded.  Pure decoding: the
 * caller has already copied the table out of the target process.
 */
#ifndef PYMEM_PY_LINE_H
#define PYMEM_PY_LINE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Line executing at @lasti in a code object of CPython 3.@minor, or -1 when
 * that instruction has no line (or @minor is below 8; 3.12-3.15 are decoded
 * as 3.11).
 *
 * @table/@len: co_lnotab (3.8, 3.9) or co_linetable (3.10+); @table may be
 *              NULL when @len is 0.  Never read past @len.
 * @lasti:      3.8, 3.9: f_lasti, a byte offset into co_code;
 *              3.10:     f_lasti, an instruction index;
 *              3.11+:    code-unit index of the current instruction, caches
 *                        included.
 *              A negative position stored as u32 (a frame that has not
 *              started yet) yields @firstlineno, as in PyCode_Addr2Line().
 */
int py_line_for(int minor, const uint8_t *table, size_t len, int firstlineno, uint32_t lasti);

/* Positions up to end (from the previous range's) run line (-1: none). */
struct py_line_range {
	uint64_t end;
	int line;
};

/* A table decoded once, for lookups in O(log n): what py_line_for() gives, position by position. */
struct py_lines {
	int minor;
	int firstlineno;
	size_t n, cap;
	struct py_line_range *r;
};

/* Decode a table as py_line_for() takes it; 0 or -ENOMEM (then nothing is kept). */
int py_lines_build(struct py_lines *l, int minor, const uint8_t *table, size_t len,
		   int firstlineno);
/* py_line_for() of the table the index was built from. */
int py_lines_find(const struct py_lines *l, uint32_t lasti);
void py_lines_free(struct py_lines *l);

#endif /* PYMEM_PY_LINE_H */
