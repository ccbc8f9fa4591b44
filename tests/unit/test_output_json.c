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
#include "output_json.h"
#include "counts.h"

/* Quote, backslash, control bytes, a slash, UTF-8 and a ';' all in one name. */
#define NASTY_FN	"we\"ird\\name\n\ttab\x01/<é>;"
#define NASTY_FILE	"/tmp/dir with space/\"q\".py"

struct want_frame {
	const char *kind, *function, *file;
	int line;
};

static void fixture(struct pm_profile *p)
{
	struct pm_frame s1[3] = {
		{ PM_FRAME_PYTHON, "<module>", "/srv/app.py", 1 },
		{ PM_FRAME_PYTHON, "load", "/srv/app.py", 40 },
		{ PM_FRAME_NATIVE, "PyList_New", "libpython3.11.so.1.0", 0 },
	};
	struct pm_frame s2[2] = {
		{ PM_FRAME_PYTHON, "<module>", "/srv/app.py", 1 },
		{ PM_FRAME_PYTHON, NASTY_FN, NASTY_FILE, 7 },
	};
	struct pm_frame s3[1] = { { PM_FRAME_PYTHON, "churn", "/srv/app.py", 90 } };
	struct pm_counts c1 = COUNTS(1000, 10, 200, 2, 800, 8);
	struct pm_counts c2 = COUNTS(5000, 3, 0, 0, 5000, 3);
	struct pm_counts c3 = COUNTS(123456789012ULL, 999, 123456789012ULL, 999, 0, 0);

	memset(p, 0, sizeof(*p));
	p->pid = 4242;
	strcpy(p->version, "3.11.7");
	p->executable = strdup("/root/.pyenv/versions/3.11.7/bin/python3.11");
	p->libpython = strdup("/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0");
	p->duration_s = 2.5;
	p->target_exited = true;
	p->dropped[DROP_STACK_READ] = 17;
	p->dropped[DROP_UNKNOWN_FREE] = 3;
	p->stack_walks = 41;
	/* Insertion order differs from the live-bytes order the file must use. */
	assert_int_equal(pm_profile_add(p, s3, 1, &c3), 0);
	assert_int_equal(pm_profile_add(p, s1, 3, &c1), 0);
	assert_int_equal(pm_profile_add(p, s2, 2, &c2), 0);
	pm_profile_sum(p);
}

static char *write_to_string(const struct pm_profile *p)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	assert_non_null(m);
	assert_int_equal(output_json_write(p, m), 0);
	fclose(m);
	return buf;
}

static void assert_keys(struct json_object *o, const char *const *keys, size_t n)
{
	size_t seen = 0, i;

	assert_true(json_object_is_type(o, json_type_object));
	json_object_object_foreach(o, key, val) {
		bool known = false;

		(void)val;
		for (i = 0; i < n; i++)
			known |= !strcmp(key, keys[i]);
		if (!known)
			fail_msg("unexpected key \"%s\"", key);
		seen++;
	}
	assert_int_equal(seen, n);
}

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("missing key \"%s\"", key);
	return v;
}

static uint64_t get_u64(struct json_object *o, const char *key)
{
	struct json_object *v = get(o, key);

	assert_true(json_object_is_type(v, json_type_int));
	return json_object_get_uint64(v);
}

static const char *get_str(struct json_object *o, const char *key)
{
	struct json_object *v = get(o, key);

	assert_true(json_object_is_type(v, json_type_string));
	return json_object_get_string(v);
}

static const char *const count_keys[] = {
	"alloc_bytes", "alloc_objects", "free_bytes", "free_objects", "live_bytes", "live_objects",
	"peak_bytes", "freed_within", "lifetime_bytes", "alloc_bytes_per_s", "alloc_objects_per_s",
};

static void check_counts(struct json_object *o, uint64_t ab, uint64_t ao, uint64_t fb,
			 uint64_t fo, uint64_t lb, uint64_t lo)
{
	assert_int_equal(get_u64(o, "alloc_bytes"), ab);
	assert_int_equal(get_u64(o, "alloc_objects"), ao);
	assert_int_equal(get_u64(o, "free_bytes"), fb);
	assert_int_equal(get_u64(o, "free_objects"), fo);
	assert_int_equal(get_u64(o, "live_bytes"), lb);
	assert_int_equal(get_u64(o, "live_objects"), lo);
}

static void check_stack(struct json_object *s, const struct want_frame *wf, size_t n)
{
	static const char *const stack_keys[] = {
		"frames", "alloc_bytes", "alloc_objects", "live_bytes", "live_objects",
		"free_bytes", "free_objects", "peak_bytes", "freed_within", "lifetime_bytes",
		"alloc_bytes_per_s", "alloc_objects_per_s",
	};
	static const char *const frame_keys[] = { "kind", "function", "file", "line" };
	struct json_object *frames;
	size_t i;

	assert_keys(s, stack_keys, 12);
	frames = get(s, "frames");
	assert_true(json_object_is_type(frames, json_type_array));
	assert_int_equal(json_object_array_length(frames), n);
	for (i = 0; i < n; i++) {
		struct json_object *fr = json_object_array_get_idx(frames, i);

		assert_keys(fr, frame_keys, 4);
		assert_string_equal(get_str(fr, "kind"), wf[i].kind);
		assert_string_equal(get_str(fr, "function"), wf[i].function);
		assert_string_equal(get_str(fr, "file"), wf[i].file);
		assert_int_equal(get_u64(fr, "line"), wf[i].line);
	}
}

static void test_write_shape(void **state)
{
	static const char *const root_keys[] = {
		"pid", "python", "container", "duration_s", "target_exited", "totals", "peak",
		"dropped", "stack_walks", "stacks",
	};
	static const char *const python_keys[] = { "version", "executable", "libpython" };
	static const struct want_frame w0[] = {
		{ "python", "<module>", "/srv/app.py", 1 },
		{ "python", NASTY_FN, NASTY_FILE, 7 },
	};
	static const struct want_frame w1[] = {
		{ "python", "<module>", "/srv/app.py", 1 },
		{ "python", "load", "/srv/app.py", 40 },
		{ "native", "PyList_New", "libpython3.11.so.1.0", 0 },
	};
	static const struct want_frame w2[] = { { "python", "churn", "/srv/app.py", 90 } };
	struct json_object *root, *py, *dropped, *stacks, *v;
	struct pm_profile p;
	char *txt;
	int d;

	fixture(&p);
	txt = write_to_string(&p);
	root = json_tokener_parse(txt);
	assert_non_null(root);

	assert_keys(root, root_keys, 10);
	assert_int_equal(get_u64(root, "pid"), 4242);
	/* on the host */
	assert_true(json_object_is_type(get(root, "container"), json_type_null));
	v = get(root, "duration_s");
	assert_true(json_object_is_type(v, json_type_double));
	assert_true(json_object_get_double(v) == 2.5);
	v = get(root, "target_exited");
	assert_true(json_object_is_type(v, json_type_boolean));
	assert_true(json_object_get_boolean(v));

	py = get(root, "python");
	assert_keys(py, python_keys, 3);
	assert_string_equal(get_str(py, "version"), "3.11.7");
	assert_string_equal(get_str(py, "executable"), p.executable);
	assert_string_equal(get_str(py, "libpython"), p.libpython);

	assert_keys(get(root, "totals"), count_keys, 11);
	check_counts(get(root, "totals"), 1000 + 5000 + 123456789012ULL, 10 + 3 + 999,
		     200 + 123456789012ULL, 2 + 999, 800 + 5000, 8 + 3);

	dropped = get(root, "dropped");
	assert_true(json_object_is_type(dropped, json_type_object));
	assert_int_equal(json_object_object_length(dropped), DROP__MAX);
	for (d = 0; d < DROP__MAX; d++) {
		uint64_t want = d == DROP_STACK_READ ? 17 : d == DROP_UNKNOWN_FREE ? 3 : 0;

		assert_int_equal(get_u64(dropped, pm_drop_name(d)), want);
	}
	assert_int_equal(get_u64(root, "stack_walks"), 41);

	/* Largest live bytes first: s2 (5000), s1 (800), s3 (0). */
	stacks = get(root, "stacks");
	assert_true(json_object_is_type(stacks, json_type_array));
	assert_int_equal(json_object_array_length(stacks), 3);
	check_stack(json_object_array_get_idx(stacks, 0), w0, 2);
	check_counts(json_object_array_get_idx(stacks, 0), 5000, 3, 0, 0, 5000, 3);
	check_stack(json_object_array_get_idx(stacks, 1), w1, 3);
	check_counts(json_object_array_get_idx(stacks, 1), 1000, 10, 200, 2, 800, 8);
	check_stack(json_object_array_get_idx(stacks, 2), w2, 1);
	check_counts(json_object_array_get_idx(stacks, 2), 123456789012ULL, 999,
		     123456789012ULL, 999, 0, 0);

	json_object_put(root);
	free(txt);
	pm_profile_free(&p);
}

static void test_write_static_python(void **state)
{
	struct json_object *root, *lib;
	struct pm_profile p = { 0 };
	char *txt;

	/* Static interpreter, no stacks, no executable known yet. */
	p.pid = 1;
	strcpy(p.version, "3.11.2");
	txt = write_to_string(&p);
	root = json_tokener_parse(txt);
	assert_non_null(root);
	lib = get(get(root, "python"), "libpython");
	assert_true(json_object_is_type(lib, json_type_null));
	assert_string_equal(get_str(get(root, "python"), "executable"), "");
	assert_int_equal(json_object_array_length(get(root, "stacks")), 0);
	assert_false(json_object_get_boolean(get(root, "target_exited")));
	json_object_put(root);
	free(txt);
}

static void assert_frames_equal(const struct pm_stack *a, const struct pm_stack *b)
{
	size_t i;

	assert_int_equal(a->nframes, b->nframes);
	for (i = 0; i < a->nframes; i++) {
		assert_int_equal(a->frames[i].kind, b->frames[i].kind);
		assert_string_equal(a->frames[i].function, b->frames[i].function);
		assert_string_equal(a->frames[i].file, b->frames[i].file);
		assert_int_equal(a->frames[i].line, b->frames[i].line);
	}
	assert_memory_equal(&a->c, &b->c, sizeof(a->c));
}

static struct pm_stack *find_stack(struct pm_profile *p, const struct pm_stack *like)
{
	size_t i;

	for (i = 0; i < p->nstacks; i++)
		if (!pm_stack_cmp(&p->stacks[i], like, PM_VIEW_LIVE_BYTES))
			return &p->stacks[i];
	return NULL;
}

/* Writing what was read gives the same bytes. */
static void assert_rewrites_as(const struct pm_profile *q, const char *txt)
{
	char *again = write_to_string(q);

	assert_string_equal(again, txt);
	free(again);
}

static void test_round_trip(void **state)
{
	struct pm_profile p, q;
	char *txt;
	size_t i;
	FILE *f;

	fixture(&p);
	p.stacks[0].c.alloc_bytes = UINT64_MAX;	/* beyond int64: must survive */
	/* a container outside any pod: pod_uid null */
	strcpy(p.container.container,
	       "4f797c539e6c745de61a93ca3ff892358ecbcaccd8414d5db545c38428142970");
	strcpy(p.container.runtime, "podman");
	pm_profile_sum(&p);
	txt = write_to_string(&p);
	f = fmemopen(txt, strlen(txt), "r");
	assert_non_null(f);
	assert_int_equal(output_json_read(f, &q), 0);
	fclose(f);

	assert_int_equal(q.pid, p.pid);
	assert_string_equal(q.version, p.version);
	assert_string_equal(q.executable, p.executable);
	assert_string_equal(q.libpython, p.libpython);
	assert_memory_equal(&q.container, &p.container, sizeof(p.container));
	assert_true(strstr(txt, "\"pod_uid\":null"));
	assert_true(q.duration_s == p.duration_s);
	assert_int_equal(q.target_exited, p.target_exited);
	assert_memory_equal(&q.totals, &p.totals, sizeof(p.totals));
	assert_memory_equal(q.dropped, p.dropped, sizeof(p.dropped));
	assert_int_equal(q.stack_walks, p.stack_walks);
	assert_int_equal(q.nstacks, p.nstacks);
	for (i = 0; i < p.nstacks; i++) {
		struct pm_stack *s = find_stack(&q, &p.stacks[i]);

		assert_non_null(s);
		assert_frames_equal(s, &p.stacks[i]);
	}

	assert_rewrites_as(&q, txt);
	free(txt);
	pm_profile_free(&p);
	pm_profile_free(&q);
}

static int read_string(const char *txt, struct pm_profile *p)
{
	FILE *f = fmemopen((void *)txt, strlen(txt), "r");
	int err;

	assert_non_null(f);
	err = output_json_read(f, p);
	fclose(f);
	return err;
}

#define GOOD_HEAD "{\"pid\":7,\"python\":{\"version\":\"3.12.1\",\"executable\":\"/x\"," \
		  "\"libpython\":null},\"duration_s\":1,\"target_exited\":false," \
		  "\"totals\":{\"alloc_bytes\":1,\"alloc_objects\":1,\"free_bytes\":0," \
		  "\"free_objects\":0,\"live_bytes\":1,\"live_objects\":1}," \
		  "\"dropped\":{\"missed_entry\":5,\"from_the_future\":1},\"stacks\":["
#define GOOD_STACK "{\"frames\":[{\"kind\":\"native\",\"function\":\"f\",\"file\":\"a.so\"," \
		   "\"line\":0}],\"alloc_bytes\":1,\"alloc_objects\":1,\"live_bytes\":1," \
		   "\"live_objects\":1,\"free_bytes\":0,\"free_objects\":0}"

static void test_read_lenient_parts(void **state)
{
	struct pm_profile p;

	/* Integer duration, missing/unknown drop reasons, duplicated stacks merge. */
	assert_int_equal(read_string(GOOD_HEAD GOOD_STACK "," GOOD_STACK "]}\n\n", &p), 0);
	assert_int_equal(p.pid, 7);
	assert_null(p.libpython);
	assert_true(p.duration_s == 1.0);
	assert_int_equal(p.dropped[DROP_MISSED_ENTRY], 5);
	assert_int_equal(p.dropped[DROP_LIVE_FULL], 0);
	assert_int_equal(p.nstacks, 1);
	assert_int_equal(p.stacks[0].c.alloc_bytes, 2);
	assert_int_equal(p.stacks[0].frames[0].kind, PM_FRAME_NATIVE);
	pm_profile_free(&p);
}

static void test_read_rejects(void **state)
{
	static const char *const bad[] = {
		"",
		"[]",
		GOOD_HEAD GOOD_STACK,					/* truncated */
		GOOD_HEAD GOOD_STACK "]} x",				/* trailing junk */
		GOOD_HEAD GOOD_STACK "]}{}",				/* two documents */
		GOOD_HEAD "{\"frames\":[{\"kind\":\"java\",\"function\":\"f\",\"file\":\"a\","
			"\"line\":0}],\"alloc_bytes\":1,\"alloc_objects\":1,\"live_bytes\":1,"
			"\"live_objects\":1,\"free_bytes\":0,\"free_objects\":0}]}",
		GOOD_HEAD "{\"frames\":[],\"alloc_bytes\":-1,\"alloc_objects\":1,"
			"\"live_bytes\":1,\"live_objects\":1,\"free_bytes\":0,"
			"\"free_objects\":0}]}",
		GOOD_HEAD "{\"frames\":[],\"alloc_bytes\":1}]}",	/* missing counters */
		GOOD_HEAD "{\"frames\":[{\"kind\":\"native\",\"function\":\"f\",\"file\":\"a\","
			"\"line\":\"7\"}],\"alloc_bytes\":1,\"alloc_objects\":1,"
			"\"live_bytes\":1,\"live_objects\":1,\"free_bytes\":0,"
			"\"free_objects\":0}]}",
		"{\"pid\":7,\"python\":{\"version\":\"3.12.1000000000000000000000000000000000\","
			"\"executable\":\"/x\",\"libpython\":null},\"duration_s\":1,"
			"\"target_exited\":false,\"totals\":{},\"dropped\":{},\"stacks\":[]}",
	};
	struct pm_profile p;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&p, 0xaa, sizeof(p));
		if (read_string(bad[i], &p) != -EINVAL)
			fail_msg("input %zu accepted", i);
		/* Left empty, so pm_profile_free() is safe. */
		assert_int_equal(p.nstacks, 0);
		assert_null(p.stacks);
		assert_null(p.executable);
		pm_profile_free(&p);
	}
}

/* start_time, series_info and each stack's series go out and come back exactly. */
#define DOC_WITH(container) \
	"{\"pid\":7,\"container\":" container ",\"python\":{\"version\":\"3.12.1\"," \
	"\"executable\":\"/x\",\"libpython\":null},\"duration_s\":1,\"target_exited\":false," \
	"\"totals\":{\"alloc_bytes\":0,\"alloc_objects\":0,\"free_bytes\":0,\"free_objects\":0," \
	"\"live_bytes\":0,\"live_objects\":0},\"dropped\":{},\"stacks\":[]}"

static void test_read_container(void **state)
{
	struct pm_profile p;

	(void)state;
	assert_int_equal(read_string(DOC_WITH("{\"id\":null,\"runtime\":null,"
					      "\"pod_uid\":\"74c13223-5a00-11e9-b385-42010a80018d\"}"),
				     &p), 0);
	assert_string_equal(p.container.container, "");
	assert_string_equal(p.container.pod_uid, "74c13223-5a00-11e9-b385-42010a80018d");
	pm_profile_free(&p);
	assert_int_equal(read_string(DOC_WITH("null"), &p), 0);
	assert_string_equal(p.container.pod_uid, "");
	pm_profile_free(&p);
	/* an ID that is not a string, a runtime too long to be one */
	memset(&p, 0, sizeof(p));
	assert_int_equal(read_string(DOC_WITH("{\"id\":7}"), &p), -EINVAL);
	pm_profile_free(&p);
	memset(&p, 0, sizeof(p));
	assert_int_equal(read_string(DOC_WITH("{\"runtime\":\"a-runtime-name-too-long\"}"), &p),
			 -EINVAL);
	pm_profile_free(&p);
}

static void test_series_round_trip(void **state)
{
	struct pm_point pts[3] = { { 1.0, 100, 50 }, { 2.0000000001, 300, 20 },
				   { 2.5, UINT64_MAX, 0 } };
	struct json_object *doc, *stacks, *series, *pt, *v;
	struct pm_profile p, q;
	struct pm_stack *s;
	char *txt;
	size_t i;

	fixture(&p);
	p.start_time = 1796407345.5047228;
	p.series = (struct pm_series_info){ .step_s = 0.5, .max_points = 256, .max_stacks = 32 };
	s = &p.stacks[2];	/* 5000 live bytes: first in the file */
	s->series = malloc(sizeof(pts));
	memcpy(s->series, pts, sizeof(pts));
	s->npoints = 3;
	txt = write_to_string(&p);

	doc = json_tokener_parse(txt);
	assert_non_null(doc);
	assert_true(json_object_object_get_ex(doc, "start_time", &v));
	assert_true(json_object_get_double(v) == p.start_time);
	assert_true(json_object_object_get_ex(doc, "series_info", &v));
	assert_string_equal(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN),
			    "{\"step_s\":0.5,\"max_points\":256,\"max_stacks\":32}");
	assert_true(json_object_object_get_ex(doc, "stacks", &stacks));
	assert_true(json_object_object_get_ex(json_object_array_get_idx(stacks, 0), "series",
					      &series));
	assert_int_equal(json_object_array_length(series), 3);
	pt = json_object_array_get_idx(series, 1);
	assert_true(json_object_object_get_ex(pt, "t", &v));
	assert_true(json_object_get_double(v) == pts[1].t);
	assert_true(json_object_object_get_ex(pt, "alloc_bytes", &v));
	assert_int_equal(json_object_get_uint64(v), 300);
	/* stacks without a series carry no key */
	for (i = 1; i < json_object_array_length(stacks); i++)
		assert_false(json_object_object_get_ex(json_object_array_get_idx(stacks, i),
						       "series", NULL));
	json_object_put(doc);

	assert_int_equal(read_string(txt, &q), 0);
	assert_true(q.start_time == p.start_time);
	assert_memory_equal(&q.series, &p.series, sizeof(p.series));
	s = find_stack(&q, &p.stacks[2]);
	assert_int_equal(s->npoints, 3);
	assert_memory_equal(s->series, pts, sizeof(pts));
	assert_rewrites_as(&q, txt);
	free(txt);
	pm_profile_free(&p);
	pm_profile_free(&q);
}

/* Sampled mode's interval and budget go out and come back; an exact profile has neither key. */
static void test_sampled_round_trip(void **state)
{
	struct json_object *doc, *v;
	struct pm_profile p, q;
	char *txt;

	fixture(&p);
	txt = write_to_string(&p);
	doc = json_tokener_parse(txt);
	assert_false(json_object_object_get_ex(doc, "sample_interval", NULL));
	assert_false(json_object_object_get_ex(doc, "max_overhead_pct", NULL));
	json_object_put(doc);
	free(txt);

	p.sample_interval = 524288;
	p.max_overhead = 2.5;
	txt = write_to_string(&p);
	doc = json_tokener_parse(txt);
	assert_true(json_object_object_get_ex(doc, "sample_interval", &v));
	assert_int_equal(json_object_get_uint64(v), 524288);
	assert_true(json_object_object_get_ex(doc, "max_overhead_pct", &v));
	assert_true(json_object_get_double(v) == 2.5);
	json_object_put(doc);
	assert_int_equal(read_string(txt, &q), 0);
	assert_int_equal(q.sample_interval, 524288);
	assert_true(q.max_overhead == 2.5);
	assert_rewrites_as(&q, txt);
	free(txt);
	pm_profile_free(&p);
	pm_profile_free(&q);
}

static void test_read_rejects_series(void **state)
{
	static const char *const bad[] = {
		/* out of time order */
		GOOD_HEAD "{\"frames\":[],\"alloc_bytes\":1,\"alloc_objects\":1,\"live_bytes\":1,"
			"\"live_objects\":1,\"free_bytes\":0,\"free_objects\":0,\"series\":["
			"{\"t\":2,\"alloc_bytes\":1,\"live_bytes\":1},"
			"{\"t\":1,\"alloc_bytes\":1,\"live_bytes\":1}]}]}",
		/* a point without its live bytes */
		GOOD_HEAD "{\"frames\":[],\"alloc_bytes\":1,\"alloc_objects\":1,\"live_bytes\":1,"
			"\"live_objects\":1,\"free_bytes\":0,\"free_objects\":0,\"series\":["
			"{\"t\":2,\"alloc_bytes\":1}]}]}",
		/* not an array */
		GOOD_HEAD "{\"frames\":[],\"alloc_bytes\":1,\"alloc_objects\":1,\"live_bytes\":1,"
			"\"live_objects\":1,\"free_bytes\":0,\"free_objects\":0,\"series\":{}}]}",
	};
	/* header members, put first */
	static const char *const bad_head[] = {
		"\"start_time\":\"yesterday\",",
		"\"series_info\":{\"step_s\":1},",		/* its bounds missing */
		"\"series_info\":[],",
	};
	char buf[2048];
	struct pm_profile p;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (read_string(bad[i], &p) != -EINVAL)
			fail_msg("input %zu accepted", i);
		pm_profile_free(&p);
	}
	for (i = 0; i < sizeof(bad_head) / sizeof(bad_head[0]); i++) {
		snprintf(buf, sizeof(buf), "{%s%s]}", bad_head[i], GOOD_HEAD + 1);
		if (read_string(buf, &p) != -EINVAL)
			fail_msg("header %zu accepted", i);
		pm_profile_free(&p);
	}
	/* the same, well formed, is read */
	snprintf(buf, sizeof(buf), "{\"start_time\":5,\"series_info\":{\"step_s\":1,"
		 "\"max_points\":2,\"max_stacks\":3},%s]}", GOOD_HEAD + 1);
	assert_int_equal(read_string(buf, &p), 0);
	assert_true(p.start_time == 5.0 && p.series.step_s == 1.0);
	assert_int_equal(p.series.max_stacks, 3);
	pm_profile_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_shape),
		cmocka_unit_test(test_write_static_python),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_read_lenient_parts),
		cmocka_unit_test(test_read_rejects),
		cmocka_unit_test(test_read_container),
		cmocka_unit_test(test_series_round_trip),
		cmocka_unit_test(test_sampled_round_trip),
		cmocka_unit_test(test_read_rejects_series),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
