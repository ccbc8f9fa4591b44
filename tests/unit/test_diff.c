// SPDX-License-Identifier: GPL-2.0
/* diff: stack and line differences, their order, the growth profile, the command. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>
#include "diff.h"
#include "output_json.h"

#define PY(fn, line)	{ PM_FRAME_PYTHON, fn, "app.py", line }
#define NAT(fn)		{ PM_FRAME_NATIVE, fn, "libpython3.11.so.1.0", 0 }

static const struct pm_frame stack_a[] = { PY("main", 10), PY("leak", 20),
					   NAT("PyObject_Malloc") };
static const struct pm_frame stack_b[] = { PY("main", 10), PY("tmp", 30), NAT("malloc") };
static const struct pm_frame stack_c[] = { PY("main", 12), PY("fresh", 40),
					   NAT("PyObject_Calloc") };
static const struct pm_frame stack_d[] = { PY("main", 11), PY("leak", 20),
					   NAT("PyObject_Malloc") };

static struct pm_counts counts(uint64_t live, uint64_t live_objs, uint64_t alloc,
			       uint64_t alloc_objs)
{
	return (struct pm_counts){
		.live_bytes = live, .live_objects = live_objs,
		.alloc_bytes = alloc, .alloc_objects = alloc_objs,
		.free_bytes = alloc - live, .free_objects = alloc_objs - live_objs,
		.lifetime_bytes = { [0] = alloc - live },
	};
}

static void add(struct pm_profile *p, const struct pm_frame *f, struct pm_counts c)
{
	assert_int_equal(pm_profile_add(p, f, 3, &c), 0);
}

/*
 * Base and new sessions of the same process: stack a leaks 20 more blocks,
 * stack d (same line, other caller) 2 more, b's temporaries are all freed
 * in the new one, c is new.
 */
static void build(struct pm_profile *base, struct pm_profile *new)
{
	memset(base, 0, sizeof(*base));
	memset(new, 0, sizeof(*new));
	base->pid = 7;
	new->pid = 8;
	strcpy(new->version, "3.12.1");
	new->executable = strdup("/usr/bin/python3.12");
	base->dropped[DROP_MISSED_FREE] = 4;
	new->dropped[DROP_UNKNOWN_FREE] = 9;
	add(base, stack_a, counts(1000, 10, 1000, 10));
	add(base, stack_b, counts(500, 1, 5000, 10));
	add(base, stack_d, counts(100, 1, 100, 1));
	add(new, stack_d, counts(300, 3, 300, 3));
	add(new, stack_c, counts(70, 1, 70, 1));
	add(new, stack_a, counts(3000, 30, 3000, 30));
	add(new, stack_b, counts(0, 0, 8000, 16));
	pm_profile_sum(base);
	pm_profile_sum(new);
}

static void test_by_stack_sorted(void **state)
{
	struct pm_profile base, new;
	struct diff_table t = {};

	build(&base, &new);
	assert_int_equal(diff_by_stack(&base, &new, &t), 0);
	assert_int_equal(t.nrows, 4);
	diff_sort(&t, PM_VIEW_LIVE_BYTES);
	/* |live diff|: a 2000, b 500 (shrank), d 200, c 70. */
	assert_int_equal(t.rows[0].frames[1].line, 20);
	assert_int_equal(t.rows[0].frames[0].line, 10);
	assert_int_equal(diff_value(&t.rows[0], PM_VIEW_LIVE_BYTES), 2000);
	assert_int_equal(diff_value(&t.rows[0], PM_VIEW_LIVE_OBJECTS), 20);
	assert_int_equal(t.rows[0].new.live_bytes, 3000);
	assert_string_equal(t.rows[1].frames[1].function, "tmp");
	assert_int_equal(diff_value(&t.rows[1], PM_VIEW_LIVE_BYTES), -500);
	assert_int_equal(diff_value(&t.rows[1], PM_VIEW_LIVE_OBJECTS), -1);
	assert_int_equal(diff_value(&t.rows[1], PM_VIEW_ALLOC_BYTES), 3000);
	assert_int_equal(t.rows[2].frames[0].line, 11);
	assert_int_equal(diff_value(&t.rows[2], PM_VIEW_LIVE_BYTES), 200);
	assert_string_equal(t.rows[3].frames[1].function, "fresh");
	assert_int_equal(diff_value(&t.rows[3], PM_VIEW_LIVE_BYTES), 70);
	assert_int_equal(t.rows[3].base.alloc_bytes, 0);

	/* Another view, another order: b allocated 3000 more. */
	diff_sort(&t, PM_VIEW_ALLOC_BYTES);
	assert_string_equal(t.rows[0].frames[1].function, "tmp");
	assert_int_equal(t.rows[1].frames[0].line, 10);
	diff_table_free(&t);
	pm_profile_free(&base);
	pm_profile_free(&new);
}

static void test_by_line(void **state)
{
	struct pm_profile base, new;
	struct diff_table st = {}, t = {};

	build(&base, &new);
	assert_int_equal(diff_by_stack(&base, &new, &st), 0);
	assert_int_equal(diff_by_line(&st, &t), 0);
	assert_int_equal(t.nrows, 3);
	diff_sort(&t, PM_VIEW_LIVE_BYTES);
	/* leak (app.py:20) from two callers: 1100 -> 3300. */
	assert_int_equal(t.rows[0].nframes, 1);
	assert_string_equal(t.rows[0].frames[0].function, "leak");
	assert_int_equal(t.rows[0].frames[0].line, 20);
	assert_int_equal(diff_value(&t.rows[0], PM_VIEW_LIVE_BYTES), 2200);
	assert_int_equal(diff_value(&t.rows[0], PM_VIEW_LIVE_OBJECTS), 22);
	assert_int_equal(t.rows[0].new.live_bytes, 3300);
	assert_int_equal(t.rows[0].new.live_objects, 33);
	assert_int_equal(t.rows[1].frames[0].line, 30);
	assert_int_equal(diff_value(&t.rows[1], PM_VIEW_LIVE_BYTES), -500);
	assert_int_equal(t.rows[2].frames[0].line, 40);
	assert_int_equal(diff_value(&t.rows[2], PM_VIEW_LIVE_BYTES), 70);
	diff_table_free(&t);
	diff_table_free(&st);
	pm_profile_free(&base);
	pm_profile_free(&new);
}

static const struct pm_stack *stack_at(const struct pm_profile *p, int caller, int leaf)
{
	size_t i;

	for (i = 0; i < p->nstacks; i++)
		if (p->stacks[i].frames[0].line == caller && p->stacks[i].frames[1].line == leaf)
			return &p->stacks[i];
	fail_msg("no stack at %d;%d", caller, leaf);
	return NULL;
}

static void test_growth(void **state)
{
	struct pm_profile base, new, g = {};
	struct diff_table t = {};
	const struct pm_stack *s;

	build(&base, &new);
	assert_int_equal(diff_by_stack(&base, &new, &t), 0);
	assert_int_equal(diff_growth(&t, &new, &g), 0);
	assert_int_equal(g.nstacks, 4);
	s = stack_at(&g, 10, 20);
	assert_int_equal(s->c.live_bytes, 2000);
	assert_int_equal(s->c.live_objects, 20);
	assert_int_equal(s->c.alloc_bytes, 2000);
	/* b: live fell, so 0; it allocated and freed more, which is growth. */
	s = stack_at(&g, 10, 30);
	assert_int_equal(s->c.live_bytes, 0);
	assert_int_equal(s->c.live_objects, 0);
	assert_int_equal(s->c.alloc_bytes, 3000);
	assert_int_equal(s->c.alloc_objects, 6);
	assert_int_equal(s->c.free_bytes, 3500);
	assert_int_equal(s->c.lifetime_bytes[0], 3500);
	s = stack_at(&g, 12, 40);
	assert_int_equal(s->c.live_bytes, 70);
	assert_int_equal(stack_at(&g, 11, 20)->c.live_bytes, 200);
	assert_int_equal(g.totals.live_bytes, 2270);
	assert_int_equal(g.totals.alloc_bytes, 5270);
	/* The new session's identity and drop counters. */
	assert_int_equal(g.pid, 8);
	assert_string_equal(g.version, "3.12.1");
	assert_string_equal(g.executable, "/usr/bin/python3.12");
	assert_int_equal(g.dropped[DROP_UNKNOWN_FREE], 9);
	assert_int_equal(g.dropped[DROP_MISSED_FREE], 0);
	pm_profile_free(&g);

	/* Nothing grew between a profile and itself: an empty growth profile. */
	diff_table_free(&t);
	assert_int_equal(diff_by_stack(&new, &new, &t), 0);
	assert_int_equal(t.nrows, 4);
	assert_int_equal(diff_growth(&t, &new, &g), 0);
	assert_int_equal(g.nstacks, 0);
	assert_int_equal(g.totals.alloc_bytes, 0);
	pm_profile_free(&g);
	diff_table_free(&t);
	pm_profile_free(&base);
	pm_profile_free(&new);
}

static void save(const struct pm_profile *p, const char *path)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(output_json_write(p, f), 0);
	assert_int_equal(fclose(f), 0);
}

static char *slurp(const char *path)
{
	char *buf = calloc(1, 1 << 16);
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	assert_non_null(buf);
	fread(buf, 1, (1 << 16) - 1, f);
	fclose(f);
	return buf;
}

/* Run diff_main() with stdout going to @out. */
static int run(char **argv, int argc, const char *out)
{
	int saved, fd, ret;

	fflush(stdout);
	saved = dup(1);
	fd = creat(out, 0600);
	assert_true(saved >= 0 && fd >= 0);
	dup2(fd, 1);
	close(fd);
	ret = diff_main(argc, argv);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	return ret;
}

static void test_command(void **state)
{
	char dir[] = "/tmp/test_diff.XXXXXX", b[64], n[64], folded[64], out[64];
	struct pm_profile base, new;
	char *text, *row;
	int64_t size_diff, count_diff;
	uint64_t new_size, new_count;
	char where[128];

	assert_non_null(mkdtemp(dir));
	snprintf(b, sizeof(b), "%s/base.json", dir);
	snprintf(n, sizeof(n), "%s/new.json", dir);
	snprintf(folded, sizeof(folded), "%s/growth.folded", dir);
	snprintf(out, sizeof(out), "%s/stdout", dir);
	build(&base, &new);
	save(&base, b);
	save(&new, n);

	{
		char *argv[] = { "diff", b, n, "-f", "folded", "-o", folded };

		assert_int_equal(run(argv, 7, out), 0);
	}
	text = slurp(folded);
	assert_string_equal(text,
		"# dropped: unknown_free=9\n"
		"main (app.py:10);leak (app.py:20);PyObject_Malloc [libpython3.11.so.1.0] 2000\n"
		"main (app.py:11);leak (app.py:20);PyObject_Malloc [libpython3.11.so.1.0] 200\n"
		"main (app.py:12);fresh (app.py:40);PyObject_Calloc [libpython3.11.so.1.0] 70\n");
	free(text);

	/* The tables: the leaking line first, exact numbers. */
	text = slurp(out);
	row = strstr(text, "changes by line");
	assert_non_null(row);
	row = strchr(strchr(row, '\n') + 1, '\n') + 1;
	assert_int_equal(sscanf(row, "%" SCNd64 " %" SCNd64 " %" SCNu64 " %" SCNu64 " %127[^\n]",
				&size_diff, &count_diff, &new_size, &new_count, where), 5);
	assert_int_equal(size_diff, 2200);
	assert_int_equal(count_diff, 22);
	assert_int_equal(new_size, 3300);
	assert_int_equal(new_count, 33);
	assert_string_equal(where, "leak (app.py:20)");
	assert_non_null(strstr(text, "  diff          +1770         +22\n"));
	assert_non_null(strstr(text, "dropped (base): missed_free 4\n"));
	assert_non_null(strstr(text, "dropped (new): unknown_free 9\n"));
	free(text);

	/* --min-size applies to the difference: only |diff| >= 300 is left. */
	{
		char *argv[] = { "diff", b, n, "--min-size", "300", "-n", "5" };

		assert_int_equal(run(argv, 7, out), 0);
	}
	text = slurp(out);
	assert_non_null(strstr(text, "Top 5 changes by stack:"));
	assert_non_null(strstr(text, "leak (app.py:20);PyObject_Malloc"));
	assert_non_null(strstr(text, "tmp (app.py:30);malloc"));
	assert_null(strstr(text, "fresh (app.py:40)"));
	assert_null(strstr(text, "main (app.py:11)"));
	free(text);

	unlink(b);
	unlink(n);
	unlink(folded);
	unlink(out);
	rmdir(dir);
	pm_profile_free(&base);
	pm_profile_free(&new);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_by_stack_sorted),
		cmocka_unit_test(test_by_line),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_command),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
