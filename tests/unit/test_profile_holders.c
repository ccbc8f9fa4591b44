// SPDX-License-Identifier: GPL-2.0
/* Unit tests for profile_holders: merging stacks' holders, trimming them, naming a path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "profile.h"

static struct pm_hold_step step(const char *kind, const char *name)
{
	return (struct pm_hold_step){ .kind = strdup(kind), .name = strdup(name) };
}

/* A stack holding one path: module __main__ . NAME[*], objects of type. */
static void hold(struct pm_stack *s, const char *name, const char *type, uint64_t objects,
		 uint64_t bytes)
{
	struct pm_holder *h;

	s->holders = realloc(s->holders, (s->nholders + 1) * sizeof(*s->holders));
	assert_non_null(s->holders);
	h = &s->holders[s->nholders++];
	h->nsteps = 3;
	h->steps = calloc(3, sizeof(*h->steps));
	assert_non_null(h->steps);
	h->steps[0] = step("module", "__main__");
	h->steps[1] = step("attr", name);
	h->steps[2] = step("index", "*");
	h->type = strdup(type);
	h->objects = objects;
	h->bytes = bytes;
}

static void test_merge_sums_the_same_path(void **state)
{
	struct pm_stack a = {}, b = {};

	hold(&a, "cache", "bytearray", 2, 200);
	hold(&b, "cache", "bytearray", 3, 300);
	hold(&b, "cache", "bytes", 1, 10);	/* same path, another type: its own entry */
	hold(&b, "other", "bytearray", 1, 50);
	assert_int_equal(pm_holders_merge(&a, &b), 0);
	assert_int_equal(a.nholders, 3);
	assert_int_equal(a.holders[0].objects, 5);
	assert_int_equal(a.holders[0].bytes, 500);
	/* the copies are a's own */
	pm_holders_free(&b);
	assert_string_equal(a.holders[2].steps[1].name, "other");
	pm_holders_free(&a);
	assert_null(a.holders);
}

static void test_trim_keeps_the_largest(void **state)
{
	struct pm_stack s = {};
	char name[8];
	int i;

	for (i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		hold(&s, name, "list", 1, 10 * (i + 1));
	}
	pm_holders_trim(&s, 3);
	assert_int_equal(s.nholders, 3);
	assert_int_equal(s.holders[0].bytes, 50);
	assert_int_equal(s.holders[1].bytes, 40);
	/* the rest, summed, with no path */
	assert_int_equal(s.holders[2].nsteps, 0);
	assert_string_equal(s.holders[2].type, "(other paths)");
	assert_int_equal(s.holders[2].bytes, 30 + 20 + 10);
	assert_int_equal(s.holders[2].objects, 3);
	pm_holders_free(&s);
}

static void test_path_text(void **state)
{
	struct pm_stack s = {};
	struct pm_holder local = { .nsteps = 2, .type = "bytearray" };
	struct pm_hold_step steps[2] = {
		{ .kind = "local", .name = "buf", .function = "worker", .thread = 42 },
		{ .kind = "key", .name = "k" },
	};
	char *t;

	hold(&s, "cache", "bytearray", 6, 600);
	t = pm_holder_path(&s.holders[0]);
	assert_string_equal(t, "module __main__ . cache[*]");
	free(t);
	local.steps = steps;
	t = pm_holder_path(&local);
	assert_string_equal(t, "local buf in worker (thread 42)[\"k\"]");
	free(t);
	local.nsteps = 0;
	t = pm_holder_path(&local);
	assert_string_equal(t, "(not reached from a root)");
	free(t);
	pm_holders_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge_sums_the_same_path),
		cmocka_unit_test(test_trim_keeps_the_largest),
		cmocka_unit_test(test_path_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
