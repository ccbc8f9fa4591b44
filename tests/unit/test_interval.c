// SPDX-License-Identifier: GPL-2.0
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "interval.h"

static void add(struct pm_profile *p, const char *fn, uint64_t alloc, uint64_t live)
{
	struct pm_frame fr[2] = {
		{ PM_FRAME_PYTHON, (char *)fn, "app.py", 1 },
		{ PM_FRAME_NATIVE, "malloc", "libc.so.6", 0 },
	};
	struct pm_counts c = { .alloc_bytes = alloc, .alloc_objects = alloc / 10,
			       .live_bytes = live, .live_objects = live / 10,
			       .free_bytes = alloc - live };

	assert_int_equal(pm_profile_add(p, fr, 2, &c), 0);
}

static struct pm_stack *find(struct pm_profile *p, const char *fn)
{
	size_t i;

	for (i = 0; i < p->nstacks; i++)
		if (!strcmp(p->stacks[i].frames[0].function, fn))
			return &p->stacks[i];
	fail_msg("no stack %s", fn);
	return NULL;
}

static const struct pm_stack *cfind(const struct pm_profile *p, const char *fn)
{
	return find((struct pm_profile *)p, fn);
}

static void test_deltas(void **state)
{
	struct interval *iv = interval_new(1.0);
	const struct pm_profile *l;
	struct pm_profile p = {};

	assert_non_null(iv);
	assert_null(interval_latest(iv));
	add(&p, "a", 100, 50);
	add(&p, "b", 10, 0);
	assert_int_equal(interval_tick(iv, &p, 1.0), 0);
	/* moved into the interval */
	assert_int_equal(p.nstacks, 0);
	l = interval_latest(iv);
	assert_non_null(l);
	/* the first interval runs from the start: everything so far */
	assert_true(l->interval_s == 1.0);
	assert_int_equal(cfind(l, "a")->d.alloc_bytes, 100);
	assert_int_equal(cfind(l, "a")->d.alloc_objects, 10);
	assert_int_equal(cfind(l, "a")->d.live_bytes, 50);
	assert_int_equal(l->dtotals.alloc_bytes, 110);

	add(&p, "a", 300, 20);
	add(&p, "c", 7, 7);
	add(&p, "b", 10, 0);
	assert_int_equal(interval_tick(iv, &p, 3.0), 0);
	l = interval_latest(iv);
	assert_true(l->interval_s == 2.0);
	assert_int_equal(cfind(l, "a")->d.alloc_bytes, 200);
	assert_int_equal(cfind(l, "a")->d.alloc_objects, 20);
	assert_int_equal(cfind(l, "a")->d.live_bytes, -30);
	assert_int_equal(cfind(l, "b")->d.alloc_bytes, 0);
	assert_int_equal(cfind(l, "c")->d.alloc_bytes, 7);
	assert_int_equal(l->dtotals.alloc_bytes, 207);
	assert_int_equal(l->dtotals.live_bytes, -23);
	interval_free(iv);
}

static void test_series(void **state)
{
	struct interval *iv = interval_new(1.0);
	struct pm_profile p = {}, final = {};
	const struct pm_stack *s;

	add(&p, "a", 100, 50);
	add(&p, "idle", 0, 0);
	assert_int_equal(interval_tick(iv, &p, 1.0), 0);
	add(&p, "a", 300, 20);
	add(&p, "idle", 0, 0);
	assert_int_equal(interval_tick(iv, &p, 2.0), 0);
	/* a goes quiet and holds nothing: no point at 3 */
	add(&p, "a", 300, 0);
	add(&p, "b", 40, 40);
	assert_int_equal(interval_tick(iv, &p, 3.0), 0);

	add(&final, "a", 300, 0);
	add(&final, "b", 40, 40);
	add(&final, "idle", 0, 0);
	final.duration_s = 3.5;
	assert_int_equal(interval_finish(iv, &final), 0);
	assert_true(final.series.step_s == 1.0);
	assert_int_equal(final.series.max_points, INTERVAL_SERIES_POINTS);
	assert_int_equal(final.series.max_stacks, INTERVAL_SERIES_STACKS);

	s = cfind(&final, "a");
	assert_int_equal(s->npoints, 3);	/* 1, 2 and the end */
	assert_true(s->series[0].t == 1.0 && s->series[1].t == 2.0 && s->series[2].t == 3.5);
	assert_int_equal(s->series[0].alloc_bytes, 100);
	assert_int_equal(s->series[0].live_bytes, 50);
	assert_int_equal(s->series[1].alloc_bytes, 300);
	assert_int_equal(s->series[1].live_bytes, 20);
	assert_int_equal(s->series[2].live_bytes, 0);
	s = cfind(&final, "b");
	assert_int_equal(s->npoints, 2);
	assert_true(s->series[0].t == 3.0 && s->series[1].t == 3.5);
	assert_int_equal(cfind(&final, "idle")->npoints, 0);
	pm_profile_free(&final);
	interval_free(iv);
}

/* Only the stacks that matter most get a point each step. */
static void test_stacks_bound(void **state)
{
	struct interval *iv = interval_new(1.0);
	struct pm_profile p = {}, final = {};
	char name[16];
	int i, with = 0;

	for (i = 0; i < INTERVAL_SERIES_STACKS + 8; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		add(&p, name, 1000 + i, 0);
		add(&final, name, 1000 + i, 0);
	}
	assert_int_equal(interval_tick(iv, &p, 1.0), 0);
	final.duration_s = 2.0;
	assert_int_equal(interval_finish(iv, &final), 0);
	for (i = 0; i < INTERVAL_SERIES_STACKS + 8; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		if (cfind(&final, name)->npoints) {
			with++;
			/* the 8 smallest went without */
			assert_true(i >= 8);
		}
	}
	assert_int_equal(with, INTERVAL_SERIES_STACKS);
	pm_profile_free(&final);
	interval_free(iv);
}

/* A long session halves its points, keeping every other step, and the step doubles. */
static void test_points_bound(void **state)
{
	int ticks = INTERVAL_SERIES_POINTS * 2 + 3, i;
	struct interval *iv = interval_new(0.5);
	struct pm_profile p = {}, final = {};
	const struct pm_stack *s;

	for (i = 1; i <= ticks; i++) {
		add(&p, "a", 10 * i, i);
		assert_int_equal(interval_tick(iv, &p, 0.5 * i), 0);
	}
	add(&final, "a", 10 * ticks, ticks);
	final.duration_s = 0.5 * ticks + 0.1;
	assert_int_equal(interval_finish(iv, &final), 0);
	s = cfind(&final, "a");
	assert_true(final.series.step_s == 2.0);
	assert_true(s->npoints <= INTERVAL_SERIES_POINTS + 1);
	assert_true(s->npoints >= INTERVAL_SERIES_POINTS / 2);
	for (i = 0; i + 1 < (int)s->npoints; i++) {
		/* every fourth tick, with its own counters */
		assert_true(s->series[i].t == 2.0 * (i + 1));
		assert_int_equal(s->series[i].live_bytes, 4 * (i + 1));
		assert_int_equal(s->series[i].alloc_bytes, 40 * (i + 1));
	}
	assert_true(s->series[s->npoints - 1].t == final.duration_s);
	pm_profile_free(&final);
	interval_free(iv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deltas),
		cmocka_unit_test(test_series),
		cmocka_unit_test(test_stacks_bound),
		cmocka_unit_test(test_points_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
