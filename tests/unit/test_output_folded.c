// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "output_folded.h"

static void add(struct pm_profile *p, const struct pm_frame *fr, size_t n,
		uint64_t alloc_bytes, uint64_t alloc_objs, uint64_t live_bytes, uint64_t live_objs)
{
	struct pm_counts c = {
		.alloc_bytes = alloc_bytes, .alloc_objects = alloc_objs,
		.free_bytes = alloc_bytes - live_bytes, .free_objects = alloc_objs - live_objs,
		.live_bytes = live_bytes, .live_objects = live_objs,
	};

	assert_int_equal(pm_profile_add(p, fr, n, &c), 0);
}

static char *folded(const struct pm_profile *p, enum pm_view view)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	assert_non_null(m);
	assert_int_equal(output_folded_write(p, view, m), 0);
	fclose(m);
	return buf;
}

static void fixture(struct pm_profile *p)
{
	struct pm_frame a[3] = {
		{ PM_FRAME_PYTHON, "<module>", "app.py", 1 },
		{ PM_FRAME_PYTHON, "load", "lib/io.py", 33 },
		{ PM_FRAME_NATIVE, "PyBytes_FromStringAndSize", "libpython3.11.so.1.0", 0 },
	};
	struct pm_frame b[2] = {
		{ PM_FRAME_PYTHON, "<module>", "app.py", 1 },
		{ PM_FRAME_PYTHON, "churn", "app.py", 10 },
	};
	struct pm_frame c[1] = { { PM_FRAME_NATIVE, "malloc", "", 0 } };

	memset(p, 0, sizeof(*p));
	add(p, a, 3, 4096, 4, 1024, 1);
	add(p, b, 2, 900, 30, 0, 0);		/* all freed: absent from live views */
	add(p, c, 1, 64, 2, 64, 2);
	/* the lost events head the file, in enum order */
	p->dropped[DROP_STACK_LOST] = 2;
	p->dropped[DROP_UNKNOWN_FREE] = 3;
}

static void test_views(void **state)
{
	struct pm_profile p;
	char *out;

	fixture(&p);
	out = folded(&p, PM_VIEW_LIVE_BYTES);
	assert_string_equal(out,
		"# dropped: unknown_free=3 stack_lost=2\n"
		"<module> (app.py:1);load (lib/io.py:33);"
		"PyBytes_FromStringAndSize [libpython3.11.so.1.0] 1024\n"
		"malloc 64\n");
	free(out);

	out = folded(&p, PM_VIEW_LIVE_OBJECTS);
	assert_string_equal(out,
		"# dropped: unknown_free=3 stack_lost=2\n"
		"<module> (app.py:1);load (lib/io.py:33);"
		"PyBytes_FromStringAndSize [libpython3.11.so.1.0] 1\n"
		"malloc 2\n");
	free(out);

	out = folded(&p, PM_VIEW_ALLOC_BYTES);
	assert_string_equal(out,
		"# dropped: unknown_free=3 stack_lost=2\n"
		"<module> (app.py:1);churn (app.py:10) 900\n"
		"<module> (app.py:1);load (lib/io.py:33);"
		"PyBytes_FromStringAndSize [libpython3.11.so.1.0] 4096\n"
		"malloc 64\n");
	free(out);

	out = folded(&p, PM_VIEW_ALLOC_OBJECTS);
	assert_string_equal(out,
		"# dropped: unknown_free=3 stack_lost=2\n"
		"<module> (app.py:1);churn (app.py:10) 30\n"
		"<module> (app.py:1);load (lib/io.py:33);"
		"PyBytes_FromStringAndSize [libpython3.11.so.1.0] 4\n"
		"malloc 2\n");
	free(out);
	pm_profile_free(&p);
}

static void test_escaping_and_merge(void **state)
{
	/* Differ only in ';' vs ':' and '\n' vs ' ': distinct stacks, same line. */
	struct pm_frame semi[2] = {
		{ PM_FRAME_PYTHON, "main", "a;b.py", 2 },
		{ PM_FRAME_NATIVE, "ns;fn", "lib\nx.so", 0 },
	};
	struct pm_frame colon[2] = {
		{ PM_FRAME_PYTHON, "main", "a:b.py", 2 },
		{ PM_FRAME_NATIVE, "ns:fn", "lib x.so", 0 },
	};
	struct pm_frame cr[1] = { { PM_FRAME_PYTHON, "f\r\ng", "x.py", 1 } };
	struct pm_profile p = { 0 };
	char *out, *line, *save;
	int nlines = 0;

	add(&p, semi, 2, 10, 1, 10, 1);
	add(&p, colon, 2, 32, 1, 32, 1);
	add(&p, cr, 1, 5, 1, 5, 1);
	assert_int_equal(p.nstacks, 3);
	out = folded(&p, PM_VIEW_LIVE_BYTES);
	assert_string_equal(out,
		"# dropped: none\n"
		"f  g (x.py:1) 5\n"
		"main (a:b.py:2);ns:fn [lib x.so] 42\n");

	/* Past the comment, every line still parses as frames;...;frames VALUE (1 or 2 frames). */
	line = strtok_r(out, "\n", &save);
	assert_string_equal(line, "# dropped: none");
	for (line = strtok_r(NULL, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *sp = strrchr(line, ' ');
		int semis = 0;

		assert_non_null(sp);
		assert_true(strtoull(sp + 1, NULL, 10) > 0);
		for (; *line; line++)
			semis += *line == ';';
		assert_true(semis <= 1);
		nlines++;
	}
	assert_int_equal(nlines, 2);
	free(out);
	pm_profile_free(&p);
}

static void test_empty_and_unnamed(void **state)
{
	struct pm_frame unnamed[2] = {
		{ PM_FRAME_NATIVE, "", "libfoo.so", 0 },
		{ PM_FRAME_PYTHON, "f", "", 3 },
	};
	struct pm_profile p = { 0 };
	char *out;

	out = folded(&p, PM_VIEW_LIVE_BYTES);
	assert_string_equal(out, "# dropped: none\n");
	free(out);

	add(&p, NULL, 0, 8, 1, 8, 1);
	add(&p, unnamed, 2, 16, 1, 16, 1);
	out = folded(&p, PM_VIEW_LIVE_BYTES);
	assert_string_equal(out,
		"# dropped: none\n"
		"[unknown] 8\n"
		"[unknown] [libfoo.so];f (:3) 16\n");
	free(out);
	pm_profile_free(&p);
}

static void test_write_error(void **state)
{
	struct pm_profile p;
	FILE *f = fopen("/dev/full", "w");

	if (!f)
		skip();
	fixture(&p);
	assert_int_equal(output_folded_write(&p, PM_VIEW_ALLOC_BYTES, f), -ENOSPC);
	fclose(f);
	pm_profile_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_views),
		cmocka_unit_test(test_escaping_and_merge),
		cmocka_unit_test(test_empty_and_unnamed),
		cmocka_unit_test(test_write_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
