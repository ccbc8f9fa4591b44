// SPDX-License-Identifier: GPL-2.0
/* view_apply(): filters, group-by, min-size and inversion on a hand-built profile. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "view.h"

#define PY(fn, file, line)	{ PM_FRAME_PYTHON, fn, file, line }
#define NAT(fn, dso)		{ PM_FRAME_NATIVE, fn, dso, 0 }
#define LIBPY			"libpython3.11.so.1.0"

struct fixture_stack {
	struct pm_frame frames[4];
	size_t nframes;
	uint64_t live, alloc, objs;
};

/*
 * Six stacks: two share the leaf line app.py:20 under different callers,
 * one has no Python frame, one was freed entirely.
 */
static const struct fixture_stack fixture[] = {
	{ { PY("main", "app.py", 10), PY("load", "app.py", 20), NAT("PyObject_Malloc", LIBPY) },
	  3, 100, 150, 1 },
	{ { PY("main", "app.py", 10), PY("load", "app.py", 21), NAT("malloc", "libc.so.6") },
	  3, 1000, 1000, 1 },
	{ { PY("main", "app.py", 10), PY("parse", "lib/json.py", 5),
	    NAT("PyObject_Malloc", LIBPY) }, 3, 30, 30, 3 },
	{ { PY("main", "app.py", 11), PY("load", "app.py", 20), NAT("PyObject_Malloc", LIBPY) },
	  3, 7, 7, 1 },
	{ { NAT("start_thread", "libc.so.6"), NAT("malloc", "libc.so.6") }, 2, 500, 500, 1 },
	{ { PY("main", "app.py", 12), PY("helper", "lib/util.py", 3),
	    NAT("PyObject_Calloc", LIBPY) }, 3, 0, 64, 0 },
};

#define NFIXTURE (sizeof(fixture) / sizeof(fixture[0]))

static void build(struct pm_profile *p)
{
	size_t i;

	memset(p, 0, sizeof(*p));
	p->pid = 42;
	strcpy(p->version, "3.11.7");
	p->executable = strdup("/usr/bin/python3");
	p->dropped[DROP_MISSED_FREE] = 3;
	for (i = 0; i < NFIXTURE; i++) {
		const struct fixture_stack *f = &fixture[i];
		struct pm_counts c = {
			.live_bytes = f->live, .live_objects = f->objs,
			.alloc_bytes = f->alloc, .alloc_objects = f->objs + (f->alloc != f->live),
			.free_bytes = f->alloc - f->live, .free_objects = f->alloc != f->live,
			.lifetime_bytes = { [1] = f->alloc - f->live },
		};

		assert_int_equal(pm_profile_add(p, f->frames, f->nframes, &c), 0);
	}
	pm_profile_sum(p);
}

/* The stack whose frames render as @want ("fn (file:line)" / "fn [dso]" joined by ';'). */
static const struct pm_stack *find(const struct pm_profile *p, const char *want)
{
	char buf[512];
	size_t i, j, len;

	for (i = 0; i < p->nstacks; i++) {
		const struct pm_stack *s = &p->stacks[i];

		len = 0;
		buf[0] = 0;
		for (j = 0; j < s->nframes; j++) {
			const struct pm_frame *f = &s->frames[j];

			if (f->kind == PM_FRAME_PYTHON)
				len += snprintf(buf + len, sizeof(buf) - len, "%s%s (%s:%d)",
						j ? ";" : "", f->function, f->file, f->line);
			else
				len += snprintf(buf + len, sizeof(buf) - len, "%s%s [%s]",
						j ? ";" : "", f->function, f->file);
		}
		if (!strcmp(buf, want))
			return s;
	}
	fail_msg("no stack %s", want);
	return NULL;
}

static uint64_t live(const struct pm_profile *p, const char *stack)
{
	return find(p, stack)->c.live_bytes;
}

static void check_totals(const struct pm_profile *p)
{
	struct pm_counts sum = {};
	size_t i;

	for (i = 0; i < p->nstacks; i++)
		pm_counts_add(&sum, &p->stacks[i].c);
	assert_memory_equal(&sum, &p->totals, sizeof(sum));
}

static int apply(struct pm_profile *p, struct view_opts o, enum pm_view view)
{
	build(p);
	return view_apply(p, &o, view);
}

static void test_no_options_is_identity(void **state)
{
	struct pm_profile p;

	assert_int_equal(apply(&p, (struct view_opts){}, PM_VIEW_LIVE_BYTES), 0);
	assert_int_equal(p.nstacks, NFIXTURE);
	assert_int_equal(p.totals.live_bytes, 1637);
	assert_int_equal(p.totals.alloc_bytes, 1751);
	pm_profile_free(&p);
}

static void test_group_by_line(void **state)
{
	struct pm_profile p;

	assert_int_equal(apply(&p, (struct view_opts){ .group_by = GROUP_LINE },
			       PM_VIEW_LIVE_BYTES), 0);
	assert_int_equal(p.nstacks, 5);
	assert_int_equal(live(&p, "load (app.py:20)"), 107);
	assert_int_equal(find(&p, "load (app.py:20)")->c.alloc_bytes, 157);
	assert_int_equal(find(&p, "load (app.py:20)")->c.lifetime_bytes[1], 50);
	assert_int_equal(live(&p, "load (app.py:21)"), 1000);
	assert_int_equal(live(&p, "parse (lib/json.py:5)"), 30);
	assert_int_equal(find(&p, "helper (lib/util.py:3)")->c.alloc_bytes, 64);
	/* No Python frame: grouped under the leaf native frame. */
	assert_int_equal(live(&p, "malloc [libc.so.6]"), 500);
	assert_int_equal(p.totals.live_bytes, 1637);
	check_totals(&p);
	/* Metadata and drop counters are not the view's business. */
	assert_int_equal(p.pid, 42);
	assert_string_equal(p.executable, "/usr/bin/python3");
	assert_int_equal(p.dropped[DROP_MISSED_FREE], 3);
	pm_profile_free(&p);
}

static void test_group_by_function(void **state)
{
	struct pm_profile p;

	assert_int_equal(apply(&p, (struct view_opts){ .group_by = GROUP_FUNCTION },
			       PM_VIEW_LIVE_BYTES), 0);
	assert_int_equal(p.nstacks, 4);
	assert_int_equal(live(&p, "load (app.py:0)"), 1107);
	assert_int_equal(find(&p, "load (app.py:0)")->c.live_objects, 3);
	assert_int_equal(live(&p, "parse (lib/json.py:0)"), 30);
	assert_int_equal(find(&p, "helper (lib/util.py:0)")->c.alloc_bytes, 64);
	assert_int_equal(live(&p, "malloc [libc.so.6]"), 500);
	check_totals(&p);
	pm_profile_free(&p);
}

static void test_group_by_file(void **state)
{
	struct pm_profile p;

	assert_int_equal(apply(&p, (struct view_opts){ .group_by = GROUP_FILE },
			       PM_VIEW_LIVE_BYTES), 0);
	assert_int_equal(p.nstacks, 4);
	assert_int_equal(live(&p, "* (app.py:0)"), 1107);
	assert_int_equal(live(&p, "* (lib/json.py:0)"), 30);
	assert_int_equal(find(&p, "* (lib/util.py:0)")->c.alloc_bytes, 64);
	assert_int_equal(live(&p, "malloc [libc.so.6]"), 500);
	check_totals(&p);
	pm_profile_free(&p);
}

static void test_include(void **state)
{
	struct pm_profile p;

	/* Any frame counts: lib/ holds a middle frame of both stacks it keeps. */
	assert_int_equal(apply(&p, (struct view_opts){ .include = { "lib/*" }, .ninclude = 1 },
			       PM_VIEW_LIVE_BYTES), 0);
	assert_int_equal(p.nstacks, 2);
	assert_int_equal(p.totals.live_bytes, 30);
	assert_int_equal(p.totals.alloc_bytes, 94);
	pm_profile_free(&p);

	/* Several includes: a stack matching any one of them is kept. */
	assert_int_equal(apply(&p, (struct view_opts){ .include = { "*json*", "start_thread" },
						       .ninclude = 2 }, PM_VIEW_LIVE_BYTES), 0);
	assert_int_equal(p.nstacks, 2);
	assert_int_equal(live(&p, "start_thread [libc.so.6];malloc [libc.so.6]"), 500);
	assert_int_equal(p.totals.live_bytes, 530);
	pm_profile_free(&p);
}

static void test_include_line(void **state)
{
	struct pm_profile p;

	assert_int_equal(apply(&p, (struct view_opts){ .include = { "app.py:20" }, .ninclude = 1 },
			       PM_VIEW_LIVE_BYTES), 0);
	assert_int_equal(p.nstacks, 2);
	assert_int_equal(p.totals.live_bytes, 107);
	pm_profile_free(&p);

	/* A glob without ':' does not look at lines: "*1" would match app.py:11 and :21. */
	assert_int_equal(apply(&p, (struct view_opts){ .include = { "*1" }, .ninclude = 1 },
			       PM_VIEW_LIVE_BYTES), 0);
	assert_int_equal(p.nstacks, 0);
	assert_int_equal(p.totals.live_bytes, 0);
	assert_int_equal(p.dropped[DROP_MISSED_FREE], 3);
	pm_profile_free(&p);
}

static void test_exclude(void **state)
{
	struct pm_profile p;

	/* A native frame's DSO is its file. */
	assert_int_equal(apply(&p, (struct view_opts){ .exclude = { "libc.so.*" }, .nexclude = 1 },
			       PM_VIEW_LIVE_BYTES), 0);
	assert_int_equal(p.nstacks, 4);
	assert_int_equal(p.totals.live_bytes, 137);
	pm_profile_free(&p);

	/* By function name, in any frame. */
	assert_int_equal(apply(&p, (struct view_opts){ .exclude = { "load" }, .nexclude = 1 },
			       PM_VIEW_LIVE_BYTES), 0);
	assert_int_equal(p.nstacks, 3);
	assert_int_equal(p.totals.live_bytes, 530);
	pm_profile_free(&p);
}

static void test_include_exclude_group(void **state)
{
	struct view_opts o = {
		.include = { "app.py" }, .ninclude = 1,
		.exclude = { "*:21" }, .nexclude = 1,
		.group_by = GROUP_FILE,
	};
	struct pm_profile p;

	/* Include first, exclude wins; grouping sees only what is left. */
	assert_int_equal(apply(&p, o, PM_VIEW_LIVE_BYTES), 0);
	assert_int_equal(p.nstacks, 3);
	assert_int_equal(live(&p, "* (app.py:0)"), 107);
	assert_int_equal(live(&p, "* (lib/json.py:0)"), 30);
	assert_int_equal(find(&p, "* (lib/util.py:0)")->c.alloc_bytes, 64);
	check_totals(&p);
	pm_profile_free(&p);
}

static void test_min_size_after_grouping(void **state)
{
	struct pm_profile p;

	/* 100 and 7 are separate stacks: the floor keeps 100 (>=) and drops 7. */
	assert_int_equal(apply(&p, (struct view_opts){ .min_size = 100 }, PM_VIEW_LIVE_BYTES), 0);
	assert_int_equal(p.nstacks, 3);
	assert_int_equal(p.totals.live_bytes, 1600);
	pm_profile_free(&p);

	/* Grouped by line, they are 107 together and stay. */
	assert_int_equal(apply(&p, (struct view_opts){ .min_size = 101, .group_by = GROUP_LINE },
			       PM_VIEW_LIVE_BYTES), 0);
	assert_int_equal(p.nstacks, 3);
	assert_int_equal(live(&p, "load (app.py:20)"), 107);
	assert_int_equal(p.totals.live_bytes, 1607);
	check_totals(&p);
	pm_profile_free(&p);

	/* The floor is in the view's unit: alloc-bytes keeps the freed helper stack. */
	assert_int_equal(apply(&p, (struct view_opts){ .min_size = 64, .group_by = GROUP_LINE },
			       PM_VIEW_ALLOC_BYTES), 0);
	assert_int_equal(p.nstacks, 4);
	assert_int_equal(find(&p, "helper (lib/util.py:3)")->c.alloc_bytes, 64);
	pm_profile_free(&p);
}

static void test_inverted(void **state)
{
	struct pm_profile p;

	assert_int_equal(apply(&p, (struct view_opts){ .inverted = true }, PM_VIEW_LIVE_BYTES), 0);
	assert_int_equal(p.nstacks, NFIXTURE);
	assert_int_equal(live(&p, "PyObject_Malloc [" LIBPY "];load (app.py:20);main (app.py:10)"),
			 100);
	assert_int_equal(live(&p, "malloc [libc.so.6];start_thread [libc.so.6]"), 500);
	assert_int_equal(p.totals.live_bytes, 1637);
	check_totals(&p);
	pm_profile_free(&p);
}

/* Inversion is for flame graphs: JSON and the top table keep stacks root first. */
static void test_inverted_for_flame_graphs_only(void **state)
{
	static const char *root_first = "main (app.py:10);load (app.py:20);PyObject_Malloc [" LIBPY "]";
	static const char *leaf_first = "PyObject_Malloc [" LIBPY "];load (app.py:20);main (app.py:10)";
	struct view_opts o = { .inverted = true, .min_size = 200 };
	struct pm_profile p;

	build(&p);
	assert_int_equal(view_apply_root_first(&p, &o, PM_VIEW_LIVE_BYTES), 0);
	assert_true(p.nstacks < NFIXTURE);		/* the floor applied (100 < 200, ...) */
	assert_int_equal(live(&p, "start_thread [libc.so.6];malloc [libc.so.6]"), 500);
	assert_int_equal(view_invert(&p, &o, PM_VIEW_LIVE_BYTES, true), 0);
	assert_int_equal(live(&p, "start_thread [libc.so.6];malloc [libc.so.6]"), 500);
	assert_int_equal(view_invert(&p, &o, PM_VIEW_LIVE_BYTES, false), 0);
	assert_int_equal(live(&p, "malloc [libc.so.6];start_thread [libc.so.6]"), 500);
	check_totals(&p);
	pm_profile_free(&p);

	o.min_size = 0;
	build(&p);
	assert_int_equal(view_apply_root_first(&p, &o, PM_VIEW_LIVE_BYTES), 0);
	assert_int_equal(live(&p, root_first), 100);
	assert_int_equal(view_invert(&p, &o, PM_VIEW_LIVE_BYTES, false), 0);
	assert_int_equal(live(&p, leaf_first), 100);
	pm_profile_free(&p);
}

static error_t parent_parser(int key, char *arg, struct argp_state *state)
{
	if (key != ARGP_KEY_INIT)
		return ARGP_ERR_UNKNOWN;
	state->child_inputs[0] = state->input;
	return 0;
}

static int parse(struct view_opts *o, int argc, char **argv)
{
	static const struct argp_child children[] = { { &view_argp, 0, NULL, 0 }, {} };
	static const struct argp parent = { .parser = parent_parser, .children = children };

	memset(o, 0, sizeof(*o));
	return argp_parse(&parent, argc, argv, ARGP_NO_EXIT | ARGP_SILENT, NULL, o);
}

static void test_argp_child(void **state)
{
	char *argv[] = { "t", "--group-by", "file", "--include", "*/app/*", "--exclude", "*.so",
			 "--include", "main", "--min-size", "1M", "--inverted" };
	char *bad_group[] = { "t", "--group-by", "module" };
	char *bad_size[] = { "t", "--min-size", "12X" };
	struct view_opts o;

	assert_int_equal(parse(&o, 12, argv), 0);
	assert_int_equal(o.group_by, GROUP_FILE);
	assert_int_equal(o.ninclude, 2);
	assert_string_equal(o.include[0], "*/app/*");
	assert_string_equal(o.include[1], "main");
	assert_int_equal(o.nexclude, 1);
	assert_string_equal(o.exclude[0], "*.so");
	assert_int_equal(o.min_size, 1 << 20);
	assert_true(o.inverted);
	assert_false(view_opts_empty(&o));

	assert_int_equal(parse(&o, 1, argv), 0);
	assert_true(view_opts_empty(&o));
	assert_int_not_equal(parse(&o, 3, bad_group), 0);
	assert_int_not_equal(parse(&o, 3, bad_size), 0);
}

static void test_too_many_globs(void **state)
{
	char *argv[1 + 2 * (VIEW_MAX_GLOBS + 1)];
	struct view_opts o;
	int i;

	argv[0] = "t";
	for (i = 0; i <= VIEW_MAX_GLOBS; i++) {
		argv[1 + 2 * i] = "--exclude";
		argv[2 + 2 * i] = "x";
	}
	assert_int_equal(parse(&o, 1 + 2 * VIEW_MAX_GLOBS, argv), 0);
	assert_int_equal(o.nexclude, VIEW_MAX_GLOBS);
	assert_int_not_equal(parse(&o, 1 + 2 * (VIEW_MAX_GLOBS + 1), argv), 0);
}

static void test_parse_size(void **state)
{
	const char *bad[] = { "", "M", "-1", "1X", "1MB", " 1", "1.5M", "99999999999G" };
	uint64_t v;
	size_t i;

	assert_int_equal(view_parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(view_parse_size("64K", &v), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(view_parse_size("1m", &v), 0);
	assert_int_equal(v, 1048576);
	assert_int_equal(view_parse_size("2G", &v), 0);
	assert_int_equal(v, 2147483648ULL);
	assert_int_equal(view_parse_size("0", &v), 0);
	assert_int_equal(v, 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(view_parse_size(bad[i], &v), -EINVAL);
}

static void test_leaf_frame(void **state)
{
	const struct pm_frame *native_only = fixture[4].frames;

	assert_ptr_equal(view_leaf_frame(fixture[0].frames, 3), &fixture[0].frames[1]);
	assert_ptr_equal(view_leaf_frame(native_only, 2), &native_only[1]);
	assert_null(view_leaf_frame(native_only, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_options_is_identity),
		cmocka_unit_test(test_group_by_line),
		cmocka_unit_test(test_group_by_function),
		cmocka_unit_test(test_group_by_file),
		cmocka_unit_test(test_include),
		cmocka_unit_test(test_include_line),
		cmocka_unit_test(test_exclude),
		cmocka_unit_test(test_include_exclude_group),
		cmocka_unit_test(test_min_size_after_grouping),
		cmocka_unit_test(test_inverted),
		cmocka_unit_test(test_inverted_for_flame_graphs_only),
		cmocka_unit_test(test_argp_child),
		cmocka_unit_test(test_too_many_globs),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_leaf_frame),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
