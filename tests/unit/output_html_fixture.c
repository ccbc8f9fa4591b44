// SPDX-License-Identifier: GPL-2.0
/* The HTML page's unit tests' fixture and readers (see output_html_fixture.h). */
#include "output_html_fixture.h"

void fixture(struct pm_profile *p)
{
	struct pm_frame mod = { PM_FRAME_PYTHON, "<module>", "/srv/app.py", 1 };
	struct pm_frame load = { PM_FRAME_PYTHON, "load", "/srv/app.py", 40 };
	struct pm_frame s1[3] = { mod, load, { PM_FRAME_NATIVE, "PyList_New",
						 "libpython3.11.so.1.0", 0 } };
	struct pm_frame s2[2] = { mod, { PM_FRAME_PYTHON, NASTY_FN, NASTY_FILE, 7 } };
	struct pm_frame s3[3] = { mod, load, { PM_FRAME_NATIVE, "malloc", "libc.so.6", 0 } };
	struct pm_frame s4[2] = { mod, { PM_FRAME_PYTHON, "f", "x.py", 1 } };
	/* Same label as s4's leaf, other kind: must stay a separate frame. */
	struct pm_frame s5[2] = { mod, { PM_FRAME_NATIVE, "f (x.py:1)", "", 0 } };
	struct pm_frame s6[1] = { { PM_FRAME_NATIVE, NULL, "libz.so.1", 0 } };
	struct pm_frame s7[1] = { { PM_FRAME_PYTHON, "gone", "/srv/app.py", 3 } };
	struct pm_counts c1 = COUNTS(4096, 4, 1024, 1, 3072, 3);
	struct pm_counts c2 = COUNTS(5000, 3, 0, 0, 5000, 3);
	struct pm_counts c3 = COUNTS(1048576, 1, 1048576, 1, 0, 0);
	struct pm_counts c_load = COUNTS(2048, 2, 1024, 1, 1024, 1);
	struct pm_counts c_small = COUNTS(10, 1, 0, 0, 10, 1);
	struct pm_counts c_empty = COUNTS(100, 1, 0, 0, 100, 1);
	struct pm_counts c_z = COUNTS(64, 1, 64, 1, 0, 0);
	struct pm_counts c_free_only = COUNTS(0, 0, 32, 1, 0, 0);

	memset(p, 0, sizeof(*p));
	p->pid = 4242;
	strcpy(p->version, "3.11.7");
	p->executable = strdup(NASTY_EXE);
	p->duration_s = 2.5;
	p->target_exited = true;
	p->dropped[DROP_STACK_READ] = 17;
	p->dropped[DROP_UNKNOWN_FREE] = 3;
	assert_int_equal(pm_profile_add(p, s3, 3, &c3), 0);
	assert_int_equal(pm_profile_add(p, s1, 3, &c1), 0);
	assert_int_equal(pm_profile_add(p, s2, 2, &c2), 0);
	assert_int_equal(pm_profile_add(p, s1, 2, &c_load), 0);
	assert_int_equal(pm_profile_add(p, s4, 2, &c_small), 0);
	assert_int_equal(pm_profile_add(p, s5, 2, &c_small), 0);
	assert_int_equal(pm_profile_add(p, NULL, 0, &c_empty), 0);
	assert_int_equal(pm_profile_add(p, s6, 1, &c_z), 0);
	/* Nothing in any view: must not appear. */
	assert_int_equal(pm_profile_add(p, s7, 1, &c_free_only), 0);
	pm_profile_sum(p);
}

char *write_html_why(const struct pm_profile *p, enum pm_view view, const char *why)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	assert_non_null(m);
	assert_int_equal(output_html_write(p, view, why, m), 0);
	assert_int_equal(fclose(m), 0);
	assert_int_equal(strlen(buf), len);
	return buf;
}

char *write_html(const struct pm_profile *p, enum pm_view view)
{
	return write_html_why(p, view, NULL);
}

char *extract(const char *doc, const char *open, const char *close)
{
	const char *a = strstr(doc, open), *b;

	assert_non_null(a);
	a += strlen(open);
	b = strstr(a, close);
	assert_non_null(b);
	return strndup(a, b - a);
}

struct json_object *parse_data(const char *doc, char **text)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;
	char *s = extract(doc, OUTPUT_HTML_DATA_OPEN, OUTPUT_HTML_DATA_CLOSE);

	assert_non_null(tok);
	o = json_tokener_parse_ex(tok, s, strlen(s));
	assert_int_equal(json_tokener_get_error(tok), json_tokener_success);
	assert_int_equal(json_tokener_get_parse_end(tok), strlen(s));
	json_tokener_free(tok);
	assert_non_null(o);
	if (text)
		*text = s;
	else
		free(s);
	return o;
}

struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("missing key \"%s\"", key);
	return v;
}

void add_series(struct pm_profile *p, size_t i, const struct pm_point *pts, size_t n)
{
	p->stacks[i].series = malloc(n * sizeof(*pts));
	assert_non_null(p->stacks[i].series);
	memcpy(p->stacks[i].series, pts, n * sizeof(*pts));
	p->stacks[i].npoints = n;
}

void series_fixture(struct pm_profile *p)
{
	/* stacks[0] is the 1 MiB malloc under load, stacks[1] PyList_New under load */
	static const struct pm_point big[3] = { { 1, 0, 0 }, { 2, 524288, 0 }, { 4, 1048576, 0 } };
	static const struct pm_point list[2] = { { 2, 2048, 1024 }, { 4, 4096, 3072 } };
	static const struct pm_point lone[1] = { { 4, 5000, 5000 } };

	fixture(p);
	p->series.step_s = 1;
	add_series(p, 0, big, 3);
	add_series(p, 1, list, 2);
	/* a single point draws no line: left out */
	add_series(p, 2, lone, 1);
}
