// SPDX-License-Identifier: GPL-2.0
/*
 * line_for() against the interpreters themselves: build/tests/py_line_fixtures.h
 * holds, for CPython 3.8-3.15 (pyenv's, and Debian's 3.13-3.15), every code
 * object of a varied sample and the line PyCode_Addr2Line() gave for each
 * lasti.  Hostile tables are decoded
 * from the end of a page followed by an inaccessible one, so any read past
 * the table faults.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "py_line.h"
#include "py_line_fixtures.h"

#define NOT_STARTED	UINT32_MAX

/* py_line_for(), after checking that an index of the same table agrees */
static int line_for(int minor, const uint8_t *t, size_t len, int firstlineno, uint32_t lasti)
{
	int want = py_line_for(minor, t, len, firstlineno, lasti);
	struct py_lines l;

	assert_int_equal(py_lines_build(&l, minor, t, len, firstlineno), 0);
	assert_int_equal(py_lines_find(&l, lasti), want);
	py_lines_free(&l);
	return want;
}

/* A table copied so that its last byte sits right before a PROT_NONE page. */
static uint8_t *guard_map;
static size_t guard_len;	/* accessible bytes before the guard page */

static const uint8_t *guarded(const uint8_t *src, size_t len)
{
	uint8_t *dst = guard_map + guard_len - len;

	assert_true(len <= guard_len);
	if (len)
		memcpy(dst, src, len);
	return dst;
}

static int guard_setup(void **state)
{
	size_t page = sysconf(_SC_PAGESIZE), max = 0, i, j;

	for (i = 0; i < PY_LINE_FIX_NVERS; i++)
		for (j = 0; j < py_line_fix_vers[i].ncodes; j++)
			if (py_line_fix_vers[i].codes[j].len > max)
				max = py_line_fix_vers[i].codes[j].len;
	guard_len = (max / page + 1) * page;
	guard_map = mmap(NULL, guard_len + page, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (guard_map == MAP_FAILED)
		return -1;
	return mprotect(guard_map + guard_len, page, PROT_NONE);
}

static int guard_teardown(void **state)
{
	munmap(guard_map, guard_len + sysconf(_SC_PAGESIZE));
	return 0;
}

static void check_code(int minor, const struct py_line_fix_code *c)
{
	const uint8_t *t = guarded(c->table, c->len);
	uint32_t lasti;
	int got;

	for (lasti = 0; lasti < c->ncode + PY_LINE_FIX_PAST; lasti++) {
		got = line_for(minor, t, c->len, c->firstlineno, lasti);
		if (got != c->lines[lasti])
			fail_msg("3.%d %s lasti %u: got %d, interpreter says %d",
				 minor, c->name, lasti, got, c->lines[lasti]);
	}
	got = line_for(minor, t, c->len, c->firstlineno, NOT_STARTED);
	if (got != c->neg_line)
		fail_msg("3.%d %s lasti -1: got %d, interpreter says %d",
			 minor, c->name, got, c->neg_line);
}

/* One run per interpreter: every code object, every lasti. */
static void test_interpreter(void **state)
{
	const struct py_line_fix_ver *v = *state;
	size_t i, cases = 0, no_line = 0, cut = 0;
	const struct py_line_fix_code *c;
	uint32_t j;

	assert_true(v->ncodes > 100);
	for (i = 0; i < v->ncodes; i++) {
		c = &v->codes[i];
		check_code(v->minor, c);
		cases += c->ncode + PY_LINE_FIX_PAST + 1;
		cut += c->truncated;
		for (j = 0; j < c->ncode && !c->truncated; j++)
			no_line += c->lines[j] < 0;
	}
	print_message("3.%d: %zu code objects (%zu with cut tables), %zu lasti cases; "
		      "%zu in-range lasti of whole tables have no line\n",
		      v->minor, v->ncodes, cut, cases, no_line);
}

static void test_all_versions_present(void **state)
{
	int minor, found;
	size_t i;

	for (minor = 8; minor <= 15; minor++) {
		found = 0;
		for (i = 0; i < PY_LINE_FIX_NVERS; i++)
			found += py_line_fix_vers[i].minor == minor;
		/* 3.13: pyenv's and Debian's */
		assert_int_equal(found, minor == 13 ? 2 : 1);
	}
}

/*
 * Every prefix of every real table, cut anywhere (mid-entry, mid-varint).
 * From 3.10 on a decoder that reads the table front to back can only lose
 * information to a cut: the answer is the interpreter's or "no line".
 */
static void check_prefixes(int minor, const struct py_line_fix_code *c)
{
	uint32_t n = c->ncode + PY_LINE_FIX_PAST, step = n / 24 + 1, lasti;
	size_t cut, cut_step = c->len / 256 + 1;
	const uint8_t *t;
	int got;

	for (cut = 0; cut <= c->len; cut += cut_step) {
		t = guarded(c->table, cut);
		for (lasti = 0; lasti < n; lasti += step) {
			got = line_for(minor, t, cut, c->firstlineno, lasti);
			assert_true(got >= -1);
			if (minor >= 10 && got != -1 && got != c->lines[lasti])
				fail_msg("3.%d %s[:%zu] lasti %u: got %d, full table says %d",
					 minor, c->name, cut, lasti, got, c->lines[lasti]);
		}
	}
}

static void test_truncated_tables(void **state)
{
	size_t i, j;

	for (i = 0; i < PY_LINE_FIX_NVERS; i++)
		for (j = 0; j < py_line_fix_vers[i].ncodes; j++)
			check_prefixes(py_line_fix_vers[i].minor, &py_line_fix_vers[i].codes[j]);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Random bytes, biased toward entry headers and continuation bits. */
static void test_garbage_tables(void **state)
{
	static const int firsts[] = { 1, 0, -5, INT_MAX, INT_MIN, 1000 };
	uint8_t buf[64];
	int round, minor, got;
	size_t len, i;
	uint32_t lasti;

	for (round = 0; round < 200000; round++) {
		len = rng() % sizeof(buf);
		for (i = 0; i < len; i++) {
			buf[i] = rng();
			if (round & 1)
				buf[i] |= i % 3 ? 0x40 : 0x80;
		}
		minor = 8 + round % 8;
		lasti = round & 4 ? rng() : rng() % 96;
		got = line_for(minor, guarded(buf, len), len, firsts[round % 6], lasti);
		assert_true(got >= -1);
	}
}

/* 3.11+ entries written by hand from the format description, first line 10. */
static void test_loctable_forms(void **state)
{
	static const uint8_t t[] = {
		0xe8, 0x58, 0x09,		/* no columns, 1 unit, line +300 */
		0x81, 0x05,			/* short form, 2 units, same line */
		0xd8, 0x04, 0x09,		/* one-line form, 1 unit, line +1 */
		0xfa,				/* no location, 3 units */
		0xf0, 0x5d, 0x09, 0x00, 0x02, 0x04,	/* long form, line -302 */
		0xe9, 0x50, 0x5c, 0x02,		/* no columns, 2 units, line +5000 */
	};
	static const int want[] = { 310, 310, 310, 311, -1, -1, -1, 9, 5009, 5009, -1, -1 };
	uint32_t lasti;

	for (lasti = 0; lasti < sizeof(want) / sizeof(want[0]); lasti++)
		for (int minor = 11; minor <= 15; minor++)
			assert_int_equal(line_for(minor, guarded(t, sizeof(t)), sizeof(t), 10,
						     lasti), want[lasti]);
	/* The long form's varint cut short: no line rather than a guess. */
	assert_int_equal(line_for(11, guarded(t, 11), 11, 10, 7), -1);
	assert_int_equal(line_for(11, guarded(t, 11), 11, 10, 3), 311);
}

/* 3.10 pairs: zero-length pairs carry big deltas, -128 means no line. */
static void test_linetable310_forms(void **state)
{
	static const uint8_t t[] = {
		0x00, 0x7f, 0x00, 0x7f, 0x06, 0x2e,	/* bytes 0-5: +300 */
		0x04, 0x80,				/* bytes 6-9: no line */
		0xfe, 0x80, 0x02, 0x80,			/* bytes 10-265: no line */
		0x04, 0xfd,				/* bytes 266-269: -3 */
		0x07,					/* odd byte: ignored */
	};
	static const struct { uint32_t lasti; int line; } want[] = {
		{ 0, 310 }, { 2, 310 }, { 3, -1 }, { 4, -1 }, { 100, -1 }, { 132, -1 },
		{ 133, 307 }, { 134, 307 }, { 135, -1 }, { NOT_STARTED, 10 },
	};
	size_t i;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(line_for(10, guarded(t, sizeof(t)), sizeof(t), 10,
					     want[i].lasti), want[i].line);
}

/* 3.8/3.9 pairs: the line delta takes effect at the new address. */
static void test_lnotab_forms(void **state)
{
	static const uint8_t t[] = {
		0x00, 0x7f, 0x00, 0x7f, 0x06, 0x2e,	/* from byte 6: +300 */
		0x04, 0x9c,				/* from byte 10: -100 */
		0x05,					/* odd byte: ignored */
	};
	static const struct { uint32_t lasti; int line; } want[] = {
		{ 0, 264 }, { 5, 264 }, { 6, 310 }, { 9, 310 }, { 10, 210 }, { 5000, 210 },
		{ NOT_STARTED, 10 },
	};
	size_t i;
	int minor;

	for (minor = 8; minor <= 9; minor++)
		for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
			assert_int_equal(line_for(minor, guarded(t, sizeof(t)), sizeof(t),
						     10, want[i].lasti), want[i].line);
}

/* Lines outside 0..INT_MAX and varints wider than 32 bits. */
static void test_overflow(void **state)
{
	static const uint8_t big[] = { 0xe8, 0x7e, 0x7f, 0x7f, 0x7f, 0x7f, 0x03 };
	static const uint8_t wide[] = {
		0xe8, 0x42, 0x40, 0x40, 0x40, 0x40, 0x40, 0x7f, 0x7f, 0x7f, 0x7f, 0x00,
	};
	static const uint8_t neg[] = { 0x00, 0x80, 0x00, 0x80, 0x02, 0x80 };

	/* +0x7fffffff fits from line 0 but not from line 1. */
	assert_int_equal(line_for(12, guarded(big, sizeof(big)), sizeof(big), 0, 0), INT_MAX);
	assert_int_equal(line_for(12, guarded(big, sizeof(big)), sizeof(big), 1, 0), -1);
	/* Chunks past bit 31 are consumed and dropped: only +1 remains. */
	assert_int_equal(line_for(13, guarded(wide, sizeof(wide)), sizeof(wide), 7, 0), 8);
	/* 3.8: -128 three times from line 100 is below zero: no valid line. */
	assert_int_equal(line_for(8, guarded(neg, sizeof(neg)), sizeof(neg), 100, 2), -1);
	assert_int_equal(line_for(8, guarded(neg, sizeof(neg)), sizeof(neg), 400, 2), 16);
}

static void test_empty_and_unknown(void **state)
{
	static const uint8_t t[] = { 0xe8, 0x02 };
	int minor;

	/* An empty lnotab means "every byte is on the first line". */
	assert_int_equal(line_for(8, NULL, 0, 42, 0), 42);
	assert_int_equal(line_for(9, NULL, 5, 42, 7), 42);
	for (minor = 10; minor <= 13; minor++) {
		assert_int_equal(line_for(minor, NULL, 0, 42, 0), -1);
		assert_int_equal(line_for(minor, NULL, 0, 42, NOT_STARTED), 42);
		assert_int_equal(line_for(minor, NULL, 0, 42, 0x80000000U), 42);
	}
	/* Before 3.8 the format is not decoded at all. */
	assert_int_equal(line_for(7, t, sizeof(t), 42, 0), -1);
	assert_int_equal(line_for(0, t, sizeof(t), 42, NOT_STARTED), -1);
}

int main(void)
{
	struct CMUnitTest tests[PY_LINE_FIX_NVERS + 9] = {
		cmocka_unit_test(test_all_versions_present),
		cmocka_unit_test(test_truncated_tables),
		cmocka_unit_test(test_garbage_tables),
		cmocka_unit_test(test_loctable_forms),
		cmocka_unit_test(test_linetable310_forms),
		cmocka_unit_test(test_lnotab_forms),
		cmocka_unit_test(test_overflow),
		cmocka_unit_test(test_empty_and_unknown),
	};
	size_t i, n = 8;

	for (i = 0; i < PY_LINE_FIX_NVERS; i++) {
		tests[n].name = py_line_fix_vers[i].name;
		tests[n].test_func = test_interpreter;
		tests[n].initial_state = (void *)&py_line_fix_vers[i];
		n++;
	}
	return _cmocka_run_group_tests("py_line", tests, n, guard_setup, guard_teardown);
}
