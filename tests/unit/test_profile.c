// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include "profile.h"

static struct pm_counts counts(uint64_t ab, uint64_t ao, uint64_t lb, uint64_t lo)
{
	struct pm_counts c = {
		.alloc_bytes = ab, .alloc_objects = ao,
		.free_bytes = ab - lb, .free_objects = ao - lo,
		.live_bytes = lb, .live_objects = lo,
	};
	return c;
}

static struct pm_frame py(const char *fn, const char *file, int line)
{
	struct pm_frame f = { PM_FRAME_PYTHON, (char *)fn, (char *)file, line };
	return f;
}

static struct pm_frame nat(const char *sym, const char *dso)
{
	struct pm_frame f = { PM_FRAME_NATIVE, (char *)sym, (char *)dso, 0 };
	return f;
}

static void test_drop_names(void **state)
{
	static const char *const want[DROP__MAX] = {
		[DROP_LIVE_FULL] = "live_map_full",
		[DROP_STACKS_FULL] = "stack_map_full",
		[DROP_STATS_FULL] = "stats_map_full",
		[DROP_STACK_READ] = "stack_read_failed",
		[DROP_STACK_TRUNCATED] = "stack_truncated",
		[DROP_NEST_OVERFLOW] = "nesting_overflow",
		[DROP_MISSED_ENTRY] = "missed_entry",
		[DROP_MISSED_FREE] = "missed_free",
		[DROP_UNKNOWN_FREE] = "unknown_free",
		[DROP_UNSYMBOLIZED] = "unsymbolized_frames",
		[DROP_CODES_FULL] = "code_map_full",
		[DROP_STACK_LOST] = "stack_lost",
		[DROP_BATCH_LOST] = "batch_overrun",
		[DROP_STACK_UNREGISTERED] = "stack_unregistered",
	};
	int d, e;

	for (d = 0; d < DROP__MAX; d++) {
		const char *s = pm_drop_name(d);

		assert_non_null(want[d]);	/* a reason this test does not know */
		assert_string_equal(s, want[d]);
		/* Used as JSON keys and CLI text: distinct snake_case. */
		assert_int_equal(strspn(s, "abcdefghijklmnopqrstuvwxyz_"), strlen(s));
		for (e = 0; e < d; e++)
			assert_string_not_equal(s, pm_drop_name(e));
	}
	assert_string_equal(pm_drop_name(DROP__MAX), "unknown");
	assert_string_equal(pm_drop_name(-1), "unknown");
}

static void test_view_parse(void **state)
{
	enum pm_view v = PM_VIEW_ALLOC_OBJECTS;

	assert_int_equal(pm_view_parse("live-bytes", &v), 0);
	assert_int_equal(v, PM_VIEW_LIVE_BYTES);
	assert_int_equal(pm_view_parse("live-objects", &v), 0);
	assert_int_equal(v, PM_VIEW_LIVE_OBJECTS);
	assert_int_equal(pm_view_parse("alloc-bytes", &v), 0);
	assert_int_equal(v, PM_VIEW_ALLOC_BYTES);
	assert_int_equal(pm_view_parse("alloc-objects", &v), 0);
	assert_int_equal(v, PM_VIEW_ALLOC_OBJECTS);

	v = PM_VIEW_LIVE_OBJECTS;
	assert_int_equal(pm_view_parse("live_bytes", &v), -EINVAL);
	assert_int_equal(pm_view_parse("LIVE-BYTES", &v), -EINVAL);
	assert_int_equal(pm_view_parse("live-bytes ", &v), -EINVAL);
	assert_int_equal(pm_view_parse("", &v), -EINVAL);
	assert_int_equal(pm_view_parse(NULL, &v), -EINVAL);
	assert_int_equal(v, PM_VIEW_LIVE_OBJECTS);	/* untouched on error */
}

static void test_view_value(void **state)
{
	struct pm_counts c = counts(1000, 10, 300, 3);

	assert_int_equal(pm_view_value(&c, PM_VIEW_LIVE_BYTES), 300);
	assert_int_equal(pm_view_value(&c, PM_VIEW_LIVE_OBJECTS), 3);
	assert_int_equal(pm_view_value(&c, PM_VIEW_ALLOC_BYTES), 1000);
	assert_int_equal(pm_view_value(&c, PM_VIEW_ALLOC_OBJECTS), 10);
}

static void test_add_copies(void **state)
{
	struct pm_profile p = { 0 };
	char fn[] = "handler", file[] = "app.py";
	struct pm_frame fr[2] = { py(fn, file, 12), nat("malloc", "libc.so.6") };
	struct pm_counts c = counts(64, 1, 64, 1);

	assert_int_equal(pm_profile_add(&p, fr, 2, &c), 0);
	/* Scribbling over the caller's buffers must not reach the profile. */
	strcpy(fn, "XXXXXXX");
	strcpy(file, "YYYYYY");
	assert_int_equal(p.nstacks, 1);
	assert_int_equal(p.stacks[0].nframes, 2);
	assert_ptr_not_equal(p.stacks[0].frames[0].function, fn);
	assert_string_equal(p.stacks[0].frames[0].function, "handler");
	assert_string_equal(p.stacks[0].frames[0].file, "app.py");
	assert_int_equal(p.stacks[0].frames[0].line, 12);
	assert_int_equal(p.stacks[0].frames[0].kind, PM_FRAME_PYTHON);
	assert_string_equal(p.stacks[0].frames[1].function, "malloc");
	assert_string_equal(p.stacks[0].frames[1].file, "libc.so.6");
	assert_int_equal(p.stacks[0].frames[1].kind, PM_FRAME_NATIVE);
	assert_memory_equal(&p.stacks[0].c, &c, sizeof(c));
	/* Totals are pm_profile_sum()'s job. */
	assert_int_equal(p.totals.alloc_bytes, 0);
	pm_profile_free(&p);
}

static void test_add_merges(void **state)
{
	struct pm_profile p = { 0 };
	struct pm_frame a[2] = { py("main", "app.py", 1), py("f", "app.py", 5) };
	struct pm_frame same[2] = { py("main", "app.py", 1), py("f", "app.py", 5) };
	struct pm_frame other_line[2] = { py("main", "app.py", 1), py("f", "app.py", 6) };
	struct pm_frame other_kind[2] = { py("main", "app.py", 1), nat("f", "app.py") };
	struct pm_frame other_line0[2] = { py("main", "app.py", 1), py("f", "app.py", 0) };
	struct pm_frame split1[1] = { py("ab", "c", 1) };
	struct pm_frame split2[1] = { py("a", "bc", 1) };
	struct pm_counts c1 = counts(100, 2, 40, 1), c2 = counts(50, 1, 50, 1);

	assert_int_equal(pm_profile_add(&p, a, 2, &c1), 0);
	assert_int_equal(pm_profile_add(&p, same, 2, &c2), 0);
	assert_int_equal(p.nstacks, 1);
	assert_int_equal(p.stacks[0].c.alloc_bytes, 150);
	assert_int_equal(p.stacks[0].c.alloc_objects, 3);
	assert_int_equal(p.stacks[0].c.live_bytes, 90);
	assert_int_equal(p.stacks[0].c.live_objects, 2);
	assert_int_equal(p.stacks[0].c.free_bytes, 60);
	assert_int_equal(p.stacks[0].c.free_objects, 1);

	assert_int_equal(pm_profile_add(&p, other_line, 2, &c1), 0);
	assert_int_equal(pm_profile_add(&p, other_kind, 2, &c1), 0);
	assert_int_equal(pm_profile_add(&p, other_line0, 2, &c1), 0);
	assert_int_equal(pm_profile_add(&p, a, 1, &c1), 0);	/* a prefix */
	assert_int_equal(pm_profile_add(&p, split1, 1, &c1), 0);
	assert_int_equal(pm_profile_add(&p, split2, 1, &c1), 0);
	assert_int_equal(pm_profile_add(&p, NULL, 0, &c1), 0);
	assert_int_equal(pm_profile_add(&p, NULL, 0, &c2), 0);
	assert_int_equal(p.nstacks, 8);
	assert_int_equal(p.stacks[7].nframes, 0);
	assert_int_equal(p.stacks[7].c.alloc_bytes, 150);
	pm_profile_free(&p);
}

static void test_add_null_names(void **state)
{
	struct pm_profile p = { 0 };
	struct pm_frame n[1] = { nat(NULL, NULL) };
	struct pm_frame e[1] = { nat("", "") };
	struct pm_counts c = counts(8, 1, 8, 1);

	assert_int_equal(pm_profile_add(&p, n, 1, &c), 0);
	assert_int_equal(pm_profile_add(&p, e, 1, &c), 0);
	assert_int_equal(p.nstacks, 1);
	assert_non_null(p.stacks[0].frames[0].function);
	assert_string_equal(p.stacks[0].frames[0].function, "");
	assert_string_equal(p.stacks[0].frames[0].file, "");
	assert_int_equal(p.stacks[0].c.alloc_objects, 2);
	pm_profile_free(&p);
}

static void test_add_invalid(void **state)
{
	struct pm_profile p = { 0 };
	struct pm_frame fr[1] = { py("f", "x.py", 1) };
	struct pm_counts c = counts(1, 1, 1, 1);

	assert_int_equal(pm_profile_add(&p, NULL, 1, &c), -EINVAL);
	assert_int_equal(pm_profile_add(&p, fr, 1, NULL), -EINVAL);
	assert_int_equal(pm_profile_add(NULL, fr, 1, &c), -EINVAL);
	assert_int_equal(p.nstacks, 0);
	pm_profile_free(&p);
}

/* Distinct stacks: "fN" at depth 3 under a common root, line encodes N. */
static void make_stack(struct pm_frame *fr, char bufs[3][32], int n)
{
	snprintf(bufs[0], 32, "main");
	snprintf(bufs[1], 32, "mid%d", n % 97);
	snprintf(bufs[2], 32, "f%d", n);
	fr[0] = py(bufs[0], "app.py", 1);
	fr[1] = py(bufs[1], "lib.py", n % 7);
	fr[2] = py(bufs[2], "leaf.py", n);
}

static void test_add_many_fast(void **state)
{
	struct pm_profile p = { 0 };
	enum { N = 100000 };
	struct pm_frame fr[3];
	char bufs[3][32];
	struct timespec t0, t1;
	double secs;
	int i, round;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (round = 0; round < 2; round++) {
		for (i = 0; i < N; i++) {
			struct pm_counts c = counts(i + 1, 1, round ? 0 : i + 1, round ? 0 : 1);

			make_stack(fr, bufs, i);
			assert_int_equal(pm_profile_add(&p, fr, 3, &c), 0);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	print_message("added %d stacks twice in %.3f s\n", N, secs);

	assert_int_equal(p.nstacks, N);
	for (i = 0; i < N; i++) {
		char want[32];

		snprintf(want, sizeof(want), "f%d", i);
		assert_string_equal(p.stacks[i].frames[2].function, want);
		assert_int_equal(p.stacks[i].c.alloc_bytes, 2 * (uint64_t)(i + 1));
		assert_int_equal(p.stacks[i].c.alloc_objects, 2);
		assert_int_equal(p.stacks[i].c.live_bytes, i + 1);
	}
	/* A linear scan per add would be ~10^10 frame compares: minutes, not this. */
	assert_true(secs < 5.0);
	pm_profile_free(&p);
}

static void test_sum(void **state)
{
	struct pm_profile p = { 0 };
	struct pm_frame a[1] = { py("a", "x.py", 1) }, b[1] = { py("b", "x.py", 2) };
	struct pm_counts ca = counts(100, 4, 30, 1), cb = counts(7, 7, 7, 7);

	p.totals.alloc_bytes = 999999;	/* stale value must be replaced */
	assert_int_equal(pm_profile_add(&p, a, 1, &ca), 0);
	assert_int_equal(pm_profile_add(&p, b, 1, &cb), 0);
	pm_profile_sum(&p);
	assert_int_equal(p.totals.alloc_bytes, 107);
	assert_int_equal(p.totals.alloc_objects, 11);
	assert_int_equal(p.totals.free_bytes, 70);
	assert_int_equal(p.totals.free_objects, 3);
	assert_int_equal(p.totals.live_bytes, 37);
	assert_int_equal(p.totals.live_objects, 8);
	pm_profile_free(&p);

	pm_profile_sum(&p);
	assert_int_equal(p.totals.live_bytes, 0);
}

static const char *leaf_name(const struct pm_profile *p, size_t i)
{
	return p->stacks[i].frames[p->stacks[i].nframes - 1].function;
}

static void add_one(struct pm_profile *p, const char *fn, struct pm_counts c)
{
	struct pm_frame fr[2] = { py("main", "app.py", 1), py(fn, "app.py", 2) };

	assert_int_equal(pm_profile_add(p, fr, 2, &c), 0);
}

static void fill_sort_fixture(struct pm_profile *p, bool reverse)
{
	const char *names[] = { "small", "big", "tie_alloc_lo", "tie_alloc_hi", "tie_b", "tie_a" };
	struct pm_counts cs[] = {
		counts(10, 1, 10, 1),
		counts(5000, 50, 4000, 40),
		counts(200, 2, 100, 1),		/* live ties with the next; alloc decides */
		counts(900, 9, 100, 1),
		counts(300, 3, 50, 1),		/* fully equal counters: frames decide */
		counts(300, 3, 50, 1),
	};
	int i, n = 6;

	for (i = 0; i < n; i++) {
		int k = reverse ? n - 1 - i : i;

		add_one(p, names[k], cs[k]);
	}
}

static void test_sort(void **state)
{
	static const char *const want_live[] = {
		"big", "tie_alloc_hi", "tie_alloc_lo", "tie_a", "tie_b", "small",
	};
	static const char *const want_alloc[] = {
		"big", "tie_alloc_hi", "tie_a", "tie_b", "tie_alloc_lo", "small",
	};
	struct pm_profile p = { 0 }, q = { 0 };
	size_t i;

	fill_sort_fixture(&p, false);
	fill_sort_fixture(&q, true);
	pm_profile_sort(&p, PM_VIEW_LIVE_BYTES);
	pm_profile_sort(&q, PM_VIEW_LIVE_BYTES);
	for (i = 0; i < 6; i++) {
		assert_string_equal(leaf_name(&p, i), want_live[i]);
		assert_string_equal(leaf_name(&q, i), want_live[i]);
	}
	pm_profile_sort(&p, PM_VIEW_ALLOC_BYTES);
	for (i = 0; i < 6; i++)
		assert_string_equal(leaf_name(&p, i), want_alloc[i]);

	/* Merging still works after the sort moved stacks around. */
	add_one(&p, "small", counts(1, 1, 1, 1));
	assert_int_equal(p.nstacks, 6);
	assert_string_equal(leaf_name(&p, 5), "small");
	assert_int_equal(p.stacks[5].c.alloc_bytes, 11);
	add_one(&p, "new", counts(1, 1, 1, 1));
	assert_int_equal(p.nstacks, 7);

	pm_profile_free(&p);
	pm_profile_free(&q);
}

static void test_stack_cmp(void **state)
{
	struct pm_frame fa[1] = { py("a", "x.py", 1) }, fb[1] = { py("b", "x.py", 1) };
	struct pm_stack a = { .nframes = 1, .frames = fa, .c = counts(10, 1, 5, 1) };
	struct pm_stack b = { .nframes = 1, .frames = fb, .c = counts(10, 1, 5, 1) };

	assert_int_equal(pm_stack_cmp(&a, &a, PM_VIEW_LIVE_BYTES), 0);
	assert_true(pm_stack_cmp(&a, &b, PM_VIEW_LIVE_BYTES) < 0);
	assert_true(pm_stack_cmp(&b, &a, PM_VIEW_LIVE_BYTES) > 0);
	b.c.live_objects = 2;
	assert_true(pm_stack_cmp(&b, &a, PM_VIEW_LIVE_OBJECTS) < 0);
}

static void test_free_owns_everything(void **state)
{
	struct pm_profile p = { 0 };
	struct pm_frame fr[1] = { py("a", "x.py", 1) };
	struct pm_counts c = counts(1, 1, 1, 1);

	p.executable = strdup("/usr/bin/python3");
	p.libpython = strdup("/usr/lib/libpython3.11.so");
	p.pid = 42;
	assert_int_equal(pm_profile_add(&p, fr, 1, &c), 0);
	pm_profile_free(&p);
	assert_null(p.executable);
	assert_null(p.libpython);
	assert_null(p.stacks);
	assert_null(p.index);
	assert_int_equal(p.nstacks, 0);
	assert_int_equal(p.pid, 0);
	pm_profile_free(&p);	/* freeing an empty profile is fine */
	pm_profile_free(NULL);
}

static void test_find(void **state)
{
	struct pm_frame a[2] = { py("main", "app.py", 1), nat("malloc", "libc.so.6") };
	struct pm_frame b[2] = { py("main", "app.py", 2), nat("malloc", "libc.so.6") };
	struct pm_counts c = counts(10, 1, 10, 1);
	struct pm_profile p = {};
	struct pm_stack *s;

	assert_null(pm_profile_find(&p, a, 2));
	assert_int_equal(pm_profile_add(&p, a, 2, &c), 0);
	assert_int_equal(pm_profile_add(&p, NULL, 0, &c), 0);
	s = pm_profile_find(&p, a, 2);
	assert_non_null(s);
	assert_ptr_equal(s, &p.stacks[0]);
	assert_null(pm_profile_find(&p, b, 2));
	assert_null(pm_profile_find(&p, a, 1));
	assert_ptr_equal(pm_profile_find(&p, NULL, 0), &p.stacks[1]);
	/* still found once sorting moved the stacks */
	p.stacks[1].c.live_bytes = 99;
	pm_profile_sort(&p, PM_VIEW_LIVE_BYTES);
	assert_ptr_equal(pm_profile_find(&p, a, 2), &p.stacks[1]);
	pm_profile_free(&p);
}

static void test_add_stack_series(void **state)
{
	struct pm_frame a[1] = { py("a", "x.py", 1) }, one[1] = { py("*", "x.py", 0) };
	struct pm_point pa[3] = { { 1.0, 10, 5 }, { 2.0, 20, 6 }, { 3.0, 30, 7 } };
	struct pm_point pb[3] = { { 2.0, 100, 50 }, { 2.5, 110, 55 }, { 3.0, 120, 60 } };
	struct pm_stack sa = { .nframes = 1, .frames = a, .c = counts(30, 3, 7, 1),
			       .d = { 10, 1, 1 }, .npoints = 3, .series = pa };
	struct pm_stack sb = { .nframes = 1, .frames = a, .c = counts(120, 2, 60, 2),
			       .d = { 5, 2, -4 }, .npoints = 3, .series = pb };
	struct pm_profile p = {};
	struct pm_stack *s;

	/* a new stack copies the series (the caller keeps its own) */
	assert_int_equal(pm_profile_add_stack(&p, one, 1, &sa), 0);
	s = &p.stacks[0];
	assert_ptr_not_equal(s->series, pa);
	assert_int_equal(s->npoints, 3);
	assert_memory_equal(s->series, pa, sizeof(pa));
	assert_int_equal(s->d.alloc_bytes, 10);

	/* a merge keeps the times both have, summed, and adds the deltas */
	assert_int_equal(pm_profile_add_stack(&p, one, 1, &sb), 0);
	assert_int_equal(p.nstacks, 1);
	s = &p.stacks[0];
	assert_int_equal(s->npoints, 2);
	assert_true(s->series[0].t == 2.0 && s->series[1].t == 3.0);
	assert_int_equal(s->series[0].alloc_bytes, 120);
	assert_int_equal(s->series[0].live_bytes, 56);
	assert_int_equal(s->series[1].alloc_bytes, 150);
	assert_int_equal(s->series[1].live_bytes, 67);
	assert_int_equal(s->c.alloc_bytes, 150);
	assert_int_equal(s->d.alloc_bytes, 15);
	assert_int_equal(s->d.alloc_objects, 3);
	assert_int_equal(s->d.live_bytes, -3);
	pm_profile_sum(&p);
	assert_int_equal(p.dtotals.live_bytes, -3);
	/* a part without a series leaves the merge none */
	sb.npoints = 0;
	assert_int_equal(pm_profile_add_stack(&p, one, 1, &sb), 0);
	assert_int_equal(p.stacks[0].npoints, 0);
	pm_profile_free(&p);
}

static void test_frame_label(void **state)
{
	struct pm_frame f[4] = {
		py("parse", "/srv/app.py", 5), nat("malloc", "libc.so.6"), nat("x", ""),
		{ PM_FRAME_PYTHON, NULL, NULL, 0 },
	};
	const char *want[4] = { "parse (/srv/app.py:5)", "malloc [libc.so.6]", "x",
				"[unknown] (:0)" };
	char *s;
	int i;

	for (i = 0; i < 4; i++) {
		s = pm_frame_label(&f[i]);
		assert_string_equal(s, want[i]);
		free(s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_drop_names),
		cmocka_unit_test(test_view_parse),
		cmocka_unit_test(test_view_value),
		cmocka_unit_test(test_add_copies),
		cmocka_unit_test(test_add_merges),
		cmocka_unit_test(test_add_null_names),
		cmocka_unit_test(test_add_invalid),
		cmocka_unit_test(test_add_many_fast),
		cmocka_unit_test(test_sum),
		cmocka_unit_test(test_sort),
		cmocka_unit_test(test_stack_cmp),
		cmocka_unit_test(test_free_owns_everything),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_add_stack_series),
		cmocka_unit_test(test_frame_label),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
