// SPDX-License-Identifier: GPL-2.0
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "summary.h"

#define MIB	(1ULL << 20)

static void add(struct pm_profile *p, const char *user, const char *leaf, int line,
		uint64_t alloc, uint64_t freed_1ms, uint64_t live)
{
	struct pm_frame fr[3] = {
		{ PM_FRAME_PYTHON, (char *)user, "/srv/churnapp.py", line },
		{ PM_FRAME_PYTHON, (char *)leaf, "/usr/lib/python3.11/json/decoder.py", 353 },
		{ PM_FRAME_NATIVE, "malloc", "libc.so.6", 0 },
	};
	struct pm_counts c = { .alloc_bytes = alloc, .alloc_objects = 1, .live_bytes = live,
			       .live_objects = !!live, .free_bytes = alloc - live };

	c.freed_within[0] = freed_1ms;
	/* a stack without the library leaf is named by its own frame */
	assert_int_equal(pm_profile_add(p, fr, leaf ? 3 : 1, &c), 0);
}

static char *summary(const struct pm_profile *p, const struct where_rule *w)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	assert_non_null(m);
	summary_churn_print(p, w, m);
	fclose(m);
	return buf;
}

static void test_churn_named(void **state)
{
	struct where_rule user = { .kind = WHERE_USER }, leaf = { .kind = WHERE_LEAF };
	struct pm_profile p = {};
	char *out;

	/* parse churns through json in two stacks; keep holds; tick churns a little */
	add(&p, "parse", "raw_decode", 5, 200 * MIB, 190 * MIB, 0);
	add(&p, "parse", "decode", 5, 50 * MIB, 50 * MIB, 0);
	add(&p, "keep", NULL, 9, 6 * MIB, 0, 5 * MIB);
	add(&p, "tick", NULL, 12, 2 * MIB, 1 * MIB, 0);
	add(&p, "idle", NULL, 14, 1 * MIB, 0, 0);
	pm_profile_sum(&p);
	assert_true(summary_churn_dominates(&p));
	out = summary(&p, &user);
	/* the two parse stacks are one place: the user's frame */
	assert_string_equal(out, "churn: 241.0 MiB of 259.0 MiB allocated were freed within "
			    "1 ms: parse (/srv/churnapp.py:5) 240.0 MiB, tick "
			    "(/srv/churnapp.py:12) 1.0 MiB\n");
	free(out);
	/* by leaf, they are two places */
	out = summary(&p, &leaf);
	assert_non_null(strstr(out, ": raw_decode (/usr/lib/python3.11/json/decoder.py:353) "
			       "190.0 MiB, decode (/usr/lib/python3.11/json/decoder.py:353) "
			       "50.0 MiB, tick (/srv/churnapp.py:12) 1.0 MiB\n"));
	free(out);
	pm_profile_free(&p);
}

static void test_no_churn_no_line(void **state)
{
	struct where_rule user = { .kind = WHERE_USER };
	struct pm_profile p = {};
	char why[512], *out;

	/* exactly half died young: not most */
	add(&p, "keep", NULL, 9, 10 * MIB, 5 * MIB, 5 * MIB);
	pm_profile_sum(&p);
	assert_false(summary_churn_dominates(&p));
	out = summary(&p, &user);
	assert_string_equal(out, "");
	free(out);
	assert_int_equal(summary_pick_view(&p, why, sizeof(why)), PM_VIEW_LIVE_BYTES);
	assert_non_null(strstr(why, "Opened on live bytes: 5.0 MiB of the 10.0 MiB"));
	pm_profile_free(&p);

	/* nothing allocated at all */
	memset(&p, 0, sizeof(p));
	assert_false(summary_churn_dominates(&p));
	assert_int_equal(summary_pick_view(&p, why, sizeof(why)), PM_VIEW_LIVE_BYTES);
}

static void test_pick_alloc(void **state)
{
	struct pm_profile p = {};
	char why[512];

	add(&p, "keep", NULL, 9, 10 * MIB, 5 * MIB + 1, 1 * MIB);
	pm_profile_sum(&p);
	assert_int_equal(summary_pick_view(&p, why, sizeof(why)), PM_VIEW_ALLOC_BYTES);
	assert_non_null(strstr(why, "Opened on allocated bytes: 5.0 MiB of the 10.0 MiB "
			       "allocated were freed within 1 ms"));
	assert_non_null(strstr(why, "(1.0 MiB live)"));
	pm_profile_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_churn_named),
		cmocka_unit_test(test_no_churn_no_line),
		cmocka_unit_test(test_pick_alloc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
