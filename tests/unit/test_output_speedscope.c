// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <json-c/json.h>
#include "output_speedscope.h"

static const struct {
	enum pm_view view;
	const char *name;
	const char *unit;
} want_views[] = {
	{ PM_VIEW_LIVE_BYTES, "live bytes", "bytes" },
	{ PM_VIEW_LIVE_OBJECTS, "live objects", "none" },
	{ PM_VIEW_ALLOC_BYTES, "alloc bytes", "bytes" },
	{ PM_VIEW_ALLOC_OBJECTS, "alloc objects", "none" },
};

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

static struct json_object *write_parse(const struct pm_profile *p)
{
	struct json_object *root;
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	assert_non_null(m);
	assert_int_equal(output_speedscope_write(p, m), 0);
	fclose(m);
	root = json_tokener_parse(buf);
	if (!root)
		fail_msg("not JSON:\n%s", buf);
	free(buf);
	return root;
}

static struct json_object *get(struct json_object *o, const char *key, enum json_type t)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("missing key %s", key);
	assert_true(json_object_is_type(v, t));
	return v;
}

static const char *get_str(struct json_object *o, const char *key)
{
	return json_object_get_string(get(o, key, json_type_string));
}

/* The name speedscope must show for a frame, as the format asks. */
static void frame_expect(const struct pm_frame *fr, char *buf, size_t len)
{
	if (fr->kind == PM_FRAME_PYTHON || !*fr->file)
		snprintf(buf, len, "%s", *fr->function ? fr->function : "[unknown]");
	else
		snprintf(buf, len, "%s [%s]", fr->function, fr->file);
}

/* Shared frame @i matches @fr: name, file, and line (Python only). */
static bool frame_matches(struct json_object *frames, int64_t i, const struct pm_frame *fr)
{
	struct json_object *o, *file = NULL, *line = NULL;
	char want[256];

	if (i < 0 || (size_t)i >= json_object_array_length(frames))
		return false;
	o = json_object_array_get_idx(frames, i);
	frame_expect(fr, want, sizeof(want));
	if (strcmp(get_str(o, "name"), want))
		return false;
	if (json_object_object_get_ex(o, "file", &file) !=
	    (fr->file && *fr->file))
		return false;
	if (file && strcmp(json_object_get_string(file), fr->file))
		return false;
	json_object_object_get_ex(o, "line", &line);
	if (fr->kind == PM_FRAME_PYTHON && fr->line > 0)
		return line && json_object_get_int(line) == fr->line;
	return !line;
}

static bool stack_matches(struct json_object *frames, struct json_object *sample,
			  const struct pm_stack *s)
{
	size_t k;

	if (json_object_array_length(sample) != s->nframes)
		return false;
	for (k = 0; k < s->nframes; k++)
		if (!frame_matches(frames, json_object_get_int64(
				   json_object_array_get_idx(sample, k)), &s->frames[k]))
			return false;
	return true;
}

/*
 * Every non-zero stack of the view is one sample weighted by its value,
 * nothing else is there, and endValue is the sum.
 */
static void check_profile(const struct pm_profile *p, struct json_object *frames,
			  struct json_object *prof, size_t v)
{
	struct json_object *samples = get(prof, "samples", json_type_array);
	struct json_object *weights = get(prof, "weights", json_type_array);
	size_t n = json_object_array_length(samples), i, j, nonzero = 0;
	bool *used = calloc(n ? n : 1, sizeof(*used));
	uint64_t sum = 0, val;

	assert_non_null(used);
	assert_string_equal(get_str(prof, "type"), "sampled");
	assert_string_equal(get_str(prof, "name"), want_views[v].name);
	assert_string_equal(get_str(prof, "unit"), want_views[v].unit);
	assert_int_equal(json_object_get_int64(get(prof, "startValue", json_type_int)), 0);
	assert_int_equal(json_object_array_length(weights), n);
	for (i = 0; i < p->nstacks; i++) {
		val = pm_view_value(&p->stacks[i].c, want_views[v].view);
		sum += val;
		if (!val)
			continue;
		nonzero++;
		for (j = 0; j < n; j++)
			if (!used[j] && stack_matches(frames, json_object_array_get_idx(samples, j),
						      &p->stacks[i]))
				break;
		if (j == n)
			fail_msg("%s: stack %zu has no sample", want_views[v].name, i);
		used[j] = true;
		assert_int_equal(json_object_get_uint64(json_object_array_get_idx(weights, j)),
				 val);
	}
	assert_int_equal(nonzero, n);
	assert_int_equal(json_object_get_uint64(get(prof, "endValue", json_type_int)), sum);
	free(used);
}

static void fixture(struct pm_profile *p)
{
	struct pm_frame a[3] = {
		{ PM_FRAME_PYTHON, "<module>", "app.py", 1 },
		{ PM_FRAME_PYTHON, "load", "lib/io.py", 33 },
		{ PM_FRAME_NATIVE, "PyBytes_FromStringAndSize", "libpython3.11.so.1.0", 0 },
	};
	struct pm_frame b[3] = {
		{ PM_FRAME_PYTHON, "<module>", "app.py", 1 },
		{ PM_FRAME_PYTHON, "churn", "app.py", 10 },
		{ PM_FRAME_NATIVE, "malloc", "libc.so.6", 0 },
	};
	struct pm_frame c[2] = {
		{ PM_FRAME_PYTHON, "load", "lib/io.py", 33 },	/* same frame as a[1] */
		{ PM_FRAME_NATIVE, "malloc", "", 0 },		/* no DSO: plain name */
	};

	memset(p, 0, sizeof(*p));
	p->pid = 123;
	strcpy(p->version, "3.11.7");
	add(p, a, 3, 4096, 4, 1024, 1);
	add(p, b, 3, 900, 30, 0, 0);		/* all freed: absent from live views */
	add(p, c, 2, 64, 2, 64, 2);
	pm_profile_sum(p);
}

static void test_structure(void **state)
{
	struct json_object *root, *frames, *profiles;
	struct pm_profile p;
	size_t v;

	fixture(&p);
	root = write_parse(&p);
	assert_string_equal(get_str(root, "$schema"),
			    "https://www.speedscope.app/file-format-schema.json");
	assert_string_equal(get_str(root, "exporter"), "pymem-bpf");
	assert_string_equal(get_str(root, "name"), "pymem-bpf PID 123, Python 3.11.7");
	assert_int_equal(json_object_get_int(get(root, "activeProfileIndex", json_type_int)), 0);
	frames = get(get(root, "shared", json_type_object), "frames", json_type_array);
	/* 8 frame occurrences, 6 distinct: <module> and load are shared. */
	assert_int_equal(json_object_array_length(frames), 6);

	/* No peak was tracked, so there is no peak profile. */
	profiles = get(root, "profiles", json_type_array);
	assert_int_equal(json_object_array_length(profiles), 4);
	for (v = 0; v < 4; v++)
		check_profile(&p, frames, json_object_array_get_idx(profiles, v), v);

	/* Live views leave the freed stack out. */
	assert_int_equal(json_object_array_length(get(json_object_array_get_idx(profiles, 0),
				"samples", json_type_array)), 2);
	assert_int_equal(json_object_array_length(get(json_object_array_get_idx(profiles, 2),
				"samples", json_type_array)), 3);
	json_object_put(root);
	pm_profile_free(&p);
}

/* Shared prefixes sit side by side: samples are in lexicographic order. */
static void test_sample_order(void **state)
{
	struct json_object *root, *samples, *x, *y;
	struct pm_profile p;
	size_t i, k, nx, ny;
	int64_t a, b;

	fixture(&p);
	root = write_parse(&p);
	samples = get(json_object_array_get_idx(get(root, "profiles", json_type_array), 2),
		      "samples", json_type_array);
	for (i = 1; i < json_object_array_length(samples); i++) {
		x = json_object_array_get_idx(samples, i - 1);
		y = json_object_array_get_idx(samples, i);
		nx = json_object_array_length(x);
		ny = json_object_array_length(y);
		for (k = 0; k < nx && k < ny; k++) {
			a = json_object_get_int64(json_object_array_get_idx(x, k));
			b = json_object_get_int64(json_object_array_get_idx(y, k));
			if (a != b)
				break;
		}
		assert_true(k < nx && k < ny ? a < b : nx <= ny);
	}
	json_object_put(root);
	pm_profile_free(&p);
}

static void test_dropped_and_peak(void **state)
{
	struct pm_frame fr[2] = {
		{ PM_FRAME_PYTHON, "f\"q\" \\ é", "x.py", 7 },
		{ PM_FRAME_NATIVE, "", "libz.so", 0 },
	};
	struct pm_counts c = { .alloc_bytes = 10, .alloc_objects = 1, .live_bytes = 10,
			       .live_objects = 1, .peak_bytes = 8 };
	struct json_object *root, *profiles, *peak, *frames;
	struct pm_profile p = { .pid = 42 };

	assert_int_equal(pm_profile_add(&p, fr, 2, &c), 0);
	p.dropped[DROP_UNKNOWN_FREE] = 3;
	p.dropped[DROP_STACK_TRUNCATED] = 5;
	root = write_parse(&p);
	assert_string_equal(get_str(root, "name"),
			    "pymem-bpf PID 42 (dropped: stack_truncated=5, unknown_free=3)");
	frames = get(get(root, "shared", json_type_object), "frames", json_type_array);
	assert_string_equal(get_str(json_object_array_get_idx(frames, 0), "name"),
			    "f\"q\" \\ é");
	assert_string_equal(get_str(json_object_array_get_idx(frames, 1), "name"),
			    "[unknown] [libz.so]");
	profiles = get(root, "profiles", json_type_array);
	assert_int_equal(json_object_array_length(profiles), 5);
	peak = json_object_array_get_idx(profiles, 4);
	assert_string_equal(get_str(peak, "name"), "peak bytes");
	assert_string_equal(get_str(peak, "unit"), "bytes");
	assert_int_equal(json_object_get_int64(get(peak, "endValue", json_type_int)), 8);
	assert_int_equal(json_object_get_int64(json_object_array_get_idx(
			 get(peak, "weights", json_type_array), 0)), 8);
	json_object_put(root);
	pm_profile_free(&p);
}

static void test_empty_and_frameless(void **state)
{
	struct json_object *root, *profiles, *frames, *prof;
	struct pm_profile p = { 0 };
	size_t v;

	root = write_parse(&p);
	frames = get(get(root, "shared", json_type_object), "frames", json_type_array);
	assert_int_equal(json_object_array_length(frames), 0);
	profiles = get(root, "profiles", json_type_array);
	assert_int_equal(json_object_array_length(profiles), 4);
	for (v = 0; v < 4; v++) {
		prof = json_object_array_get_idx(profiles, v);
		assert_int_equal(json_object_array_length(get(prof, "samples",
							      json_type_array)), 0);
		assert_int_equal(json_object_get_int64(get(prof, "endValue", json_type_int)), 0);
	}
	json_object_put(root);

	/* A stack without frames still counts, under "[unknown]". */
	add(&p, NULL, 0, 16, 1, 16, 1);
	root = write_parse(&p);
	frames = get(get(root, "shared", json_type_object), "frames", json_type_array);
	assert_int_equal(json_object_array_length(frames), 1);
	assert_string_equal(get_str(json_object_array_get_idx(frames, 0), "name"), "[unknown]");
	prof = json_object_array_get_idx(get(root, "profiles", json_type_array), 0);
	assert_int_equal(json_object_get_int64(json_object_array_get_idx(
			 json_object_array_get_idx(get(prof, "samples", json_type_array), 0),
			 0)), 0);
	assert_int_equal(json_object_get_int64(get(prof, "endValue", json_type_int)), 16);
	json_object_put(root);
	pm_profile_free(&p);
}

static void test_write_error(void **state)
{
	struct pm_profile p;
	FILE *f = fopen("/dev/full", "w");

	if (!f)
		skip();
	fixture(&p);
	assert_int_equal(output_speedscope_write(&p, f), -ENOSPC);
	fclose(f);
	pm_profile_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_structure),
		cmocka_unit_test(test_sample_order),
		cmocka_unit_test(test_dropped_and_peak),
		cmocka_unit_test(test_empty_and_frameless),
		cmocka_unit_test(test_write_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
