// SPDX-License-Identifier: GPL-2.0
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "output_top.h"

static void check_fmt(uint64_t v, const char *want)
{
	char buf[32];

	assert_ptr_equal(fmt_bytes(v, buf, sizeof(buf)), buf);
	assert_string_equal(buf, want);
}

static void test_fmt_bytes(void **state)
{
	char small[5];

	check_fmt(0, "0 B");
	check_fmt(1, "1 B");
	check_fmt(1023, "1023 B");
	check_fmt(1024, "1.0 KiB");
	check_fmt(1536, "1.5 KiB");
	check_fmt(10 * 1024 + 102, "10.1 KiB");
	check_fmt(1023 * 1024 + 972, "1023.9 KiB");	/* 1023.949: stays KiB */
	check_fmt(1024 * 1024 - 1, "1.0 MiB");		/* would print 1024.0 KiB */
	check_fmt(1024 * 1024, "1.0 MiB");
	check_fmt(1536 * 1024, "1.5 MiB");
	check_fmt(1024ULL * 1024 * 1024 - 1, "1.0 GiB");
	check_fmt(3ULL << 30, "3.0 GiB");
	check_fmt(5ULL << 40, "5120.0 GiB");		/* GiB is the largest unit */
	check_fmt(UINT64_MAX, "17179869184.0 GiB");

	/* Truncates rather than overflowing a short buffer. */
	memset(small, 'x', sizeof(small));
	assert_ptr_equal(fmt_bytes(1536, small, sizeof(small)), small);
	assert_string_equal(small, "1.5 ");
}

static void add(struct pm_profile *p, const char *leaf, int line, uint64_t live,
		uint64_t live_objs, uint64_t alloc)
{
	struct pm_frame fr[3] = {
		{ PM_FRAME_PYTHON, "main", "app.py", 1 },
		{ PM_FRAME_PYTHON, (char *)leaf, "app.py", line },
		{ PM_FRAME_NATIVE, "malloc", "libc.so.6", 0 },
	};
	struct pm_counts c = {
		.alloc_bytes = alloc, .alloc_objects = live_objs + 1,
		.free_bytes = alloc - live, .free_objects = 1,
		.live_bytes = live, .live_objects = live_objs,
	};

	assert_int_equal(pm_profile_add(p, fr, 3, &c), 0);
}

static char *table(const struct pm_profile *p, enum pm_view view, const struct top_opts *o)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	assert_non_null(m);
	output_top_print(p, view, o, m);
	fclose(m);
	return buf;
}

static char *top(const struct pm_profile *p, size_t n)
{
	struct top_opts o = TOP_OPTS_DEFAULT;

	o.rows = n;
	return table(p, PM_VIEW_LIVE_BYTES, &o);
}

/* Split into lines; returns the count.  Lines point into @txt. */
static int split(char *txt, char **lines, int max)
{
	int n = 0;
	char *save, *l;

	for (l = strtok_r(txt, "\n", &save); l && n < max; l = strtok_r(NULL, "\n", &save))
		lines[n++] = l;
	return n;
}

static void fixture(struct pm_profile *p)
{
	memset(p, 0, sizeof(*p));
	p->duration_s = 2.0;
	add(p, "small", 5, 100, 1, 300);
	add(p, "big", 7, 3 << 20, 3000, 10 << 20);
	add(p, "medium", 6, 1536, 12, 4096);
	add(p, "churn", 8, 0, 0, 50 << 20);
	pm_profile_sum(p);
}

static void test_table(void **state)
{
	struct pm_profile p;
	char *out, *l[16];
	int n, col, i;

	fixture(&p);
	p.dropped[DROP_STACK_READ] = 4;
	p.dropped[DROP_UNKNOWN_FREE] = 2;
	out = top(&p, 10);
	n = split(out, l, 16);
	assert_int_equal(n, 8);	/* title, header, 4 stacks, total, dropped */
	assert_string_equal(l[0], "4 stacks, ranked by LIVE; rates over the whole 2.00 s");
	memmove(l, l + 1, 7 * sizeof(*l));

	/* Most live bytes first; the named frame is the leaf Python frame. */
	assert_non_null(strstr(l[0], "LIVE*"));
	assert_non_null(strstr(l[0], "LIVE OBJS"));
	assert_non_null(strstr(l[0], "ALLOC/S"));
	assert_non_null(strstr(l[0], "ALLOCS/S"));
	assert_non_null(strstr(l[0], "FREED<1MS"));
	/* a session table: no GROWTH, and PEAK only when it is the rank */
	assert_null(strstr(l[0], "GROWTH"));
	assert_null(strstr(l[0], "PEAK"));
	assert_non_null(strstr(l[1], "3.0 MiB"));
	assert_non_null(strstr(l[1], " 3000 "));
	assert_non_null(strstr(l[1], "10.0 MiB"));
	assert_non_null(strstr(l[1], "5.0 MiB"));	/* 10 MiB over 2 s */
	assert_non_null(strstr(l[1], "big (app.py:7)"));
	assert_null(strstr(l[1], "malloc"));
	assert_non_null(strstr(l[2], "1.5 KiB"));
	assert_non_null(strstr(l[2], "medium (app.py:6)"));
	assert_non_null(strstr(l[3], "100 B"));
	assert_non_null(strstr(l[3], "150 B"));		/* 300 B over 2 s */
	assert_non_null(strstr(l[3], "small (app.py:5)"));
	assert_non_null(strstr(l[4], "0 B"));
	assert_non_null(strstr(l[4], "25.0 MiB"));	/* 50 MiB over 2 s */
	assert_non_null(strstr(l[4], "churn (app.py:8)"));

	/* Totals: 3 MiB + 1636 B live, 3013 objects, 60 MiB + 4396 B allocated. */
	assert_non_null(strstr(l[5], "3.0 MiB"));
	assert_non_null(strstr(l[5], " 3013 "));
	assert_non_null(strstr(l[5], "60.0 MiB"));
	assert_non_null(strstr(l[5], "30.0 MiB"));
	assert_non_null(strstr(l[5], "4 stacks"));
	assert_string_equal(l[6], "dropped: stack_read_failed=4 unknown_free=2");

	/* Aligned: the frame column starts at the same offset on every row. */
	col = strstr(l[0], "WHERE") - l[0];
	assert_int_equal(strstr(l[1], "big") - l[1], col);
	assert_int_equal(strstr(l[2], "medium") - l[2], col);
	assert_int_equal(strstr(l[3], "small") - l[3], col);
	assert_int_equal(strstr(l[4], "churn") - l[4], col);
	assert_int_equal(strstr(l[5], "total") - l[5], col);
	/* Numbers are right-aligned: every row has the same width up to WHERE. */
	for (i = 1; i <= 5; i++)
		assert_true(l[i][col - 3] != ' ');
	free(out);
	pm_profile_free(&p);
}

static void test_limit_and_empty(void **state)
{
	struct pm_frame nothing[1] = { { PM_FRAME_PYTHON, "nothing", "app.py", 9 } };
	struct pm_counts zero = { 0 };
	struct pm_profile p;
	char *out, *l[16];
	int n;

	fixture(&p);
	/* No counts at all (e.g. only seen in a stack map): never a row. */
	assert_int_equal(pm_profile_add(&p, nothing, 1, &zero), 0);
	out = top(&p, 2);
	n = split(out, l, 16);
	assert_int_equal(n, 6);
	assert_non_null(strstr(l[2], "big"));
	assert_non_null(strstr(l[3], "medium"));
	assert_string_equal(l[5], "dropped: none");
	free(out);

	out = top(&p, 100);
	n = split(out, l, 16);
	assert_int_equal(n, 8);
	assert_null(strstr(out, "nothing"));
	free(out);
	pm_profile_free(&p);
}

static void test_no_duration_no_python(void **state)
{
	struct pm_frame fr[2] = {
		{ PM_FRAME_NATIVE, "start_thread", "libc.so.6", 0 },
		{ PM_FRAME_NATIVE, "malloc", "libc.so.6", 0 },
	};
	struct pm_counts c = { .alloc_bytes = 2048, .alloc_objects = 1,
			       .live_bytes = 2048, .live_objects = 1 };
	struct pm_profile p = { 0 };
	char *out, *l[8];
	int n;

	assert_int_equal(pm_profile_add(&p, fr, 2, &c), 0);
	assert_int_equal(pm_profile_add(&p, NULL, 0, &c), 0);
	pm_profile_sum(&p);
	out = top(&p, 5);
	n = split(out, l, 8);
	assert_int_equal(n, 6);
	/* Frames break the tie; the frameless stack sorts first. */
	assert_non_null(strstr(l[2], "[unknown]"));
	assert_non_null(strstr(l[3], "malloc [libc.so.6]"));
	assert_non_null(strstr(l[3], "2.0 KiB"));
	/* duration 0: no rate. */
	assert_non_null(strstr(l[3], " - "));
	assert_non_null(strstr(l[4], "4.0 KiB"));
	free(out);
	pm_profile_free(&p);
}

/* The row (after title and header) whose WHERE starts with @fn, 1-based; 0 if none. */
static int row_of(char **l, int n, const char *fn)
{
	int col = strstr(l[1], "WHERE") - l[1], i;

	for (i = 2; i < n; i++)
		if ((int)strlen(l[i]) > col && !strncmp(l[i] + col, fn, strlen(fn)))
			return i - 1;
	return 0;
}

static void test_rank_follows_view(void **state)
{
	struct top_opts o = TOP_OPTS_DEFAULT;
	struct pm_profile p;
	char *out, *l[16];
	int n;

	fixture(&p);
	/* alloc-bytes: churn's 50 MiB allocated first, though none of it is live */
	out = table(&p, PM_VIEW_ALLOC_BYTES, &o);
	n = split(out, l, 16);
	assert_non_null(strstr(l[0], "ranked by ALLOC;"));
	assert_non_null(strstr(l[1], "ALLOC*"));
	assert_null(strstr(l[1], "LIVE*"));
	assert_int_equal(row_of(l, n, "churn"), 1);
	assert_int_equal(row_of(l, n, "big"), 2);
	assert_int_equal(row_of(l, n, "medium"), 3);
	assert_int_equal(row_of(l, n, "small"), 4);
	free(out);

	/* alloc-objects: its own column appears, as the rank */
	out = table(&p, PM_VIEW_ALLOC_OBJECTS, &o);
	n = split(out, l, 16);
	assert_non_null(strstr(l[1], "ALLOCS*"));
	assert_int_equal(row_of(l, n, "big"), 1);	/* 3001 objects */
	assert_int_equal(row_of(l, n, "medium"), 2);	/* 13 */
	free(out);

	/* --sort wins over the view */
	o.sort = top_col_parse("live-objs");
	assert_int_equal(o.sort, TOP_LIVE_OBJS);
	out = table(&p, PM_VIEW_ALLOC_BYTES, &o);
	n = split(out, l, 16);
	assert_non_null(strstr(l[1], "LIVE OBJS*"));
	assert_int_equal(row_of(l, n, "big"), 1);
	assert_int_equal(row_of(l, n, "churn"), 4);
	free(out);
	pm_profile_free(&p);
}

static void test_peak_and_freed(void **state)
{
	struct top_opts o = TOP_OPTS_DEFAULT;
	struct pm_profile p;
	char *out, *l[16];
	int n;

	fixture(&p);
	p.stacks[0].c.peak_bytes = 9 << 20;		/* small, at the peak */
	p.stacks[3].c.freed_within[0] = 40 << 20;	/* churn */
	p.stacks[1].c.freed_within[0] = 1 << 20;	/* big */
	pm_profile_sum(&p);
	out = table(&p, PM_VIEW_PEAK_BYTES, &o);
	n = split(out, l, 16);
	assert_non_null(strstr(l[1], "PEAK*"));
	assert_int_equal(row_of(l, n, "small"), 1);
	assert_non_null(strstr(l[2], "9.0 MiB"));
	free(out);
	o.sort = top_col_parse("freed");
	out = table(&p, PM_VIEW_LIVE_BYTES, &o);
	n = split(out, l, 16);
	assert_non_null(strstr(l[0], "ranked by FREED<1MS;"));
	assert_int_equal(row_of(l, n, "churn"), 1);
	assert_int_equal(row_of(l, n, "big"), 2);
	free(out);
	pm_profile_free(&p);
}

static void test_col_parse(void **state)
{
	assert_int_equal(top_col_parse("LIVE"), TOP_LIVE);
	assert_int_equal(top_col_parse("live objs"), TOP_LIVE_OBJS);
	assert_int_equal(top_col_parse("Live-Objs"), TOP_LIVE_OBJS);
	assert_int_equal(top_col_parse("alloc"), TOP_ALLOC);
	assert_int_equal(top_col_parse("allocs"), TOP_ALLOCS);
	assert_int_equal(top_col_parse("alloc/s"), TOP_RATE);
	assert_int_equal(top_col_parse("rate"), TOP_RATE);
	assert_int_equal(top_col_parse("allocs/s"), TOP_OBJ_RATE);
	assert_int_equal(top_col_parse("growth"), TOP_GROWTH);
	assert_int_equal(top_col_parse("peak"), TOP_PEAK);
	assert_int_equal(top_col_parse("freed<1ms"), TOP_FREED);
	assert_int_equal(top_col_parse("freed"), TOP_FREED);
	assert_int_equal(top_col_parse("liv"), -1);
	assert_int_equal(top_col_parse("lives"), -1);
	assert_int_equal(top_col_parse(""), -1);
	assert_int_equal(top_col_parse(NULL), -1);
	assert_string_equal(top_col_name(TOP_FREED), "FREED<1MS");
}

/* An interval table: rates and GROWTH over the interval, ranked by the interval's rate. */
static void test_interval_table(void **state)
{
	struct top_opts o = TOP_OPTS_DEFAULT;
	struct pm_profile p;
	char *out, *l[16];
	int n;

	fixture(&p);
	p.duration_s = 12.0;
	p.interval_s = 2.0;
	/* small allocated most in the interval, churn nothing; big grew, medium shrank */
	p.stacks[0].d = (struct pm_delta){ .alloc_bytes = 8 << 20, .alloc_objects = 400 };
	p.stacks[1].d = (struct pm_delta){ .alloc_bytes = 2 << 20, .alloc_objects = 20,
					   .live_bytes = 1 << 20 };
	p.stacks[2].d = (struct pm_delta){ .alloc_bytes = 1024, .live_bytes = -3072 };
	pm_profile_sum(&p);
	assert_int_equal(p.dtotals.alloc_bytes, (10 << 20) + 1024);
	assert_int_equal(p.dtotals.live_bytes, (1 << 20) - 3072);

	out = table(&p, PM_VIEW_ALLOC_BYTES, &o);
	n = split(out, l, 16);
	assert_string_equal(l[0], "4 stacks at 12.00 s, ranked by ALLOC/S; rates and GROWTH "
			    "over the last 2.00 s");
	assert_non_null(strstr(l[1], "GROWTH"));
	assert_non_null(strstr(l[1], "ALLOC/S*"));
	assert_int_equal(row_of(l, n, "small"), 1);
	assert_non_null(strstr(l[2], "4.0 MiB"));	/* 8 MiB over 2 s */
	assert_non_null(strstr(l[2], " 200 "));		/* 400 objects over 2 s */
	assert_int_equal(row_of(l, n, "big"), 2);
	assert_non_null(strstr(l[3], "+1.0 MiB"));
	assert_non_null(strstr(l[3], "1.0 MiB  "));	/* 2 MiB over 2 s */
	assert_int_equal(row_of(l, n, "medium"), 3);
	assert_non_null(strstr(l[4], "-3.0 KiB"));
	assert_int_equal(row_of(l, n, "churn"), 4);
	/* ALLOC stays the total since attach: churn's 50 MiB */
	assert_non_null(strstr(l[5], "50.0 MiB"));
	/* totals: the interval's rates and growth */
	assert_non_null(strstr(l[6], "5.0 MiB"));
	assert_non_null(strstr(l[6], "+1021.0 KiB"));
	free(out);

	o.sort = TOP_GROWTH;
	out = table(&p, PM_VIEW_ALLOC_BYTES, &o);
	n = split(out, l, 16);
	assert_int_equal(row_of(l, n, "big"), 1);
	assert_int_equal(row_of(l, n, "medium"), 4);
	free(out);
	pm_profile_free(&p);
}

/* WHERE names the user's caller of a standard library leaf, and --where leaf does not. */
static void test_where_column(void **state)
{
	struct pm_frame fr[4] = {
		{ PM_FRAME_PYTHON, "main", "/srv/app.py", 1 },
		{ PM_FRAME_PYTHON, "parse", "/srv/app.py", 5 },
		{ PM_FRAME_PYTHON, "loads", "/usr/lib/python3.11/json/__init__.py", 346 },
		{ PM_FRAME_NATIVE, "malloc", "libc.so.6", 0 },
	};
	struct pm_counts c = { .alloc_bytes = 100, .alloc_objects = 1 };
	struct top_opts o = TOP_OPTS_DEFAULT;
	struct pm_profile p = { .duration_s = 1 };
	char *out;

	assert_int_equal(pm_profile_add(&p, fr, 4, &c), 0);
	pm_profile_sum(&p);
	out = table(&p, PM_VIEW_LIVE_BYTES, &o);
	assert_non_null(strstr(out, "  parse (/srv/app.py:5) -> loads (json/__init__.py:346)\n"));
	free(out);
	assert_int_equal(where_parse("leaf", &o.where), 0);
	out = table(&p, PM_VIEW_LIVE_BYTES, &o);
	assert_non_null(strstr(out, "  loads (/usr/lib/python3.11/json/__init__.py:346)\n"));
	assert_null(strstr(out, "parse"));
	free(out);
	pm_profile_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fmt_bytes),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_limit_and_empty),
		cmocka_unit_test(test_no_duration_no_python),
		cmocka_unit_test(test_rank_follows_view),
		cmocka_unit_test(test_peak_and_freed),
		cmocka_unit_test(test_col_parse),
		cmocka_unit_test(test_interval_table),
		cmocka_unit_test(test_where_column),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
