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

static void test_leaf(void **state)
{
	struct pm_frame mixed[4] = {
		{ PM_FRAME_PYTHON, "main", "app.py", 1 },
		{ PM_FRAME_PYTHON, "work", "app.py", 9 },
		{ PM_FRAME_NATIVE, "PyList_Append", "libpython3.11.so", 0 },
		{ PM_FRAME_NATIVE, "malloc", "libc.so.6", 0 },
	};
	struct pm_frame native[2] = {
		{ PM_FRAME_NATIVE, "start_thread", "libc.so.6", 0 },
		{ PM_FRAME_NATIVE, "malloc", "libc.so.6", 0 },
	};
	struct pm_stack s = { 4, mixed, { 0 } };

	assert_ptr_equal(output_top_leaf(&s), &mixed[1]);
	s.nframes = 1;
	assert_ptr_equal(output_top_leaf(&s), &mixed[0]);
	s.frames = native;
	s.nframes = 2;
	assert_ptr_equal(output_top_leaf(&s), &native[1]);
	s.nframes = 0;
	assert_null(output_top_leaf(&s));
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

static char *top(const struct pm_profile *p, size_t n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	assert_non_null(m);
	output_top_print(p, n, m);
	fclose(m);
	return buf;
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
	assert_int_equal(n, 7);	/* header, 4 stacks, total, dropped */

	/* Most live bytes first; the named frame is the leaf Python frame. */
	assert_non_null(strstr(l[0], "LIVE"));
	assert_non_null(strstr(l[0], "LIVE OBJS"));
	assert_non_null(strstr(l[0], "ALLOC/S"));
	assert_non_null(strstr(l[0], "ALLOCS/S"));
	assert_non_null(strstr(l[0], "FREED<1MS"));
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
	assert_int_equal(n, 5);
	assert_non_null(strstr(l[1], "big"));
	assert_non_null(strstr(l[2], "medium"));
	assert_string_equal(l[4], "dropped: none");
	free(out);

	out = top(&p, 100);
	n = split(out, l, 16);
	assert_int_equal(n, 7);
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
	assert_int_equal(n, 5);
	/* Frames break the tie; the frameless stack sorts first. */
	assert_non_null(strstr(l[1], "[unknown]"));
	assert_non_null(strstr(l[2], "malloc [libc.so.6]"));
	assert_non_null(strstr(l[2], "2.0 KiB"));
	/* duration 0: no rate. */
	assert_non_null(strstr(l[2], " - "));
	assert_non_null(strstr(l[3], "4.0 KiB"));
	free(out);
	pm_profile_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fmt_bytes),
		cmocka_unit_test(test_leaf),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_limit_and_empty),
		cmocka_unit_test(test_no_duration_no_python),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
