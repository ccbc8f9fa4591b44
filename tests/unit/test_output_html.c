// SPDX-License-Identifier: GPL-2.0
/* The HTML page: its tree of stacks, views, header and escaping, as written. */
#include "output_html_fixture.h"

/* A root-to-node path ("k:label;..."; k is p or n) and the node's self values. */
struct want_path {
	const char *path;
	uint64_t v[4];		/* enum pm_view order */
};

static const struct want_path want_paths[] = {
	{ LOAD ";n:PyList_New [libpython3.11.so.1.0]", { 3072, 3, 4096, 4 } },
	{ LOAD, { 1024, 1, 2048, 2 } },
	{ LOAD ";n:malloc [libc.so.6]", { 0, 0, 1048576, 1 } },
	{ MODULE ";p:" NASTY_LABEL, { 5000, 3, 5000, 3 } },
	{ MODULE ";p:f (x.py:1)", { 10, 1, 10, 1 } },
	{ MODULE ";n:f (x.py:1)", { 10, 1, 10, 1 } },
	{ "n:[unknown]", { 100, 1, 100, 1 } },
	{ "n:[unknown] [libz.so.1]", { 0, 0, 64, 1 } },
};
#define NWANT	(sizeof(want_paths) / sizeof(want_paths[0]))

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (; (hay = strstr(hay, needle)); hay += strlen(needle))
		n++;
	return n;
}

static uint64_t node_value(struct json_object *node, int view)
{
	struct json_object *v = get(node, "v");

	assert_true(json_object_is_type(v, json_type_array));
	assert_int_equal(json_object_array_length(v), PM_VIEW_PEAK_BYTES + 1);
	return json_object_get_uint64(json_object_array_get_idx(v, view));
}

struct seen_path {
	char path[1024];
	uint64_t v[4];
};

/*
 * Check that every node holds at least its children's sum and that siblings
 * differ, and record the nodes where stacks end (self value nonzero).
 */
static void walk(struct json_object *node, const char *prefix, struct seen_path *seen,
		 size_t *nseen)
{
	struct json_object *kids = NULL, *k = NULL;
	uint64_t self[4];
	char path[1024];
	size_t i, j, n = 0;
	int v;

	if (json_object_object_get_ex(node, "k", &k))
		snprintf(path, sizeof(path), "%s%s%c:%s", prefix, *prefix ? ";" : "",
			 json_object_get_int(k) ? 'n' : 'p',
			 json_object_get_string(get(node, "n")));
	else
		path[0] = '\0';	/* the root */
	if (json_object_object_get_ex(node, "c", &kids))
		n = json_object_array_length(kids);
	for (v = 0; v < 4; v++)
		self[v] = node_value(node, v);
	for (i = 0; i < n; i++) {
		struct json_object *a = json_object_array_get_idx(kids, i);

		for (v = 0; v < 4; v++) {
			assert_true(self[v] >= node_value(a, v));
			self[v] -= node_value(a, v);
		}
		for (j = 0; j < i; j++) {
			struct json_object *b = json_object_array_get_idx(kids, j);

			assert_false(!strcmp(json_object_get_string(get(a, "n")),
					     json_object_get_string(get(b, "n"))) &&
				     json_object_get_int(get(a, "k")) ==
				     json_object_get_int(get(b, "k")));
		}
		walk(a, path, seen, nseen);
	}
	if (self[0] || self[1] || self[2] || self[3]) {
		assert_true(*nseen < NWANT + 4);
		strcpy(seen[*nseen].path, path);
		memcpy(seen[*nseen].v, self, sizeof(self));
		(*nseen)++;
	}
}

static void test_tree_matches_profile(void **state)
{
	struct seen_path seen[NWANT + 4];
	struct json_object *data, *root;
	struct pm_profile p;
	size_t nseen = 0, i, j;
	char *doc;
	int v;

	fixture(&p);
	doc = write_html(&p, PM_VIEW_ALLOC_BYTES);
	data = parse_data(doc, NULL);
	assert_int_equal(json_object_get_int(get(data, "view")), PM_VIEW_ALLOC_BYTES);
	root = get(data, "root");
	assert_string_equal(json_object_get_string(get(root, "n")), "all");
	for (v = 0; v < 4; v++)
		assert_int_equal(node_value(root, v), pm_view_value(&p.totals, v));
	assert_int_equal(node_value(root, PM_VIEW_LIVE_BYTES), 9216);
	assert_int_equal(node_value(root, PM_VIEW_ALLOC_OBJECTS), 14);

	walk(root, "", seen, &nseen);
	assert_int_equal(nseen, NWANT);
	for (i = 0; i < NWANT; i++) {
		for (j = 0; j < nseen; j++)
			if (!strcmp(seen[j].path, want_paths[i].path))
				break;
		if (j == nseen)
			fail_msg("no node for %s", want_paths[i].path);
		assert_memory_equal(seen[j].v, want_paths[i].v, sizeof(seen[j].v));
	}
	json_object_put(data);
	free(doc);
	pm_profile_free(&p);
}

static void test_initial_view(void **state)
{
	struct json_object *data, *views;
	struct pm_profile p;
	char *doc;
	int v;

	fixture(&p);
	for (v = 0; v < 4; v++) {
		doc = write_html(&p, v);
		data = parse_data(doc, NULL);
		assert_int_equal(json_object_get_int(get(data, "view")), v);
		views = get(data, "views");
		assert_string_equal(json_object_get_string(json_object_array_get_idx(views, 2)),
				    "alloc_bytes");
		json_object_put(data);
		free(doc);
	}
	assert_int_equal(output_html_write(&p, PM_VIEW_PEAK_BYTES + 1, NULL, stdout), -EINVAL);
	pm_profile_free(&p);
}

static void test_self_contained(void **state)
{
	static const char *const banned[] = {
		"http://", "https://", "src=", "href=", "url(", "@import", "<link", "<img",
		"<iframe", "<object", "<embed", "fetch(", "XMLHttpRequest", "import(",
		"innerHTML", "WebSocket",
	};
	struct pm_profile p;
	const char *end;
	char *doc;
	size_t i;

	fixture(&p);
	doc = write_html(&p, PM_VIEW_LIVE_BYTES);
	for (i = 0; i < sizeof(banned) / sizeof(banned[0]); i++)
		if (strstr(doc, banned[i]))
			fail_msg("document contains \"%s\"", banned[i]);
	/* One document: a doctype first, one html element, nothing after it. */
	assert_int_equal(strncmp(doc, "<!DOCTYPE html>\n", 16), 0);
	assert_int_equal(count(doc, "<!DOCTYPE"), 1);
	assert_int_equal(count(doc, "<html"), 1);
	assert_int_equal(count(doc, "<body>"), 1);
	end = strstr(doc, "</html>");
	assert_non_null(end);
	assert_string_equal(end, "</html>\n");
	/* The data block and the script, and only those. */
	assert_int_equal(count(doc, "<script"), 2);
	assert_int_equal(count(doc, "</script"), 2);
	assert_int_equal(count(doc, "<style>"), 1);
	assert_int_equal(count(doc, "<!--"), 0);
	free(doc);
	pm_profile_free(&p);
}

static struct json_object *child_named(struct json_object *node, const char *name)
{
	struct json_object *kids = get(node, "c");
	size_t i;

	for (i = 0; i < json_object_array_length(kids); i++) {
		struct json_object *c = json_object_array_get_idx(kids, i);

		if (!strcmp(json_object_get_string(get(c, "n")), name))
			return c;
	}
	fail_msg("no child %s", name);
	return NULL;
}

static void test_escaping(void **state)
{
	struct json_object *data, *mod, *nasty;
	struct pm_profile p;
	char *doc, *text;

	fixture(&p);
	doc = write_html(&p, PM_VIEW_LIVE_BYTES);
	data = parse_data(doc, &text);
	/* No '<' at all inside the data, so nothing in it can end the element. */
	assert_null(strchr(text, '<'));
	assert_null(strstr(doc, "<script>alert"));
	assert_non_null(strstr(text, "\\u003c/script>\\u003cscript>alert(\\\"x\\\")"));
	/* The name survives exactly, UTF-8 included. */
	mod = child_named(get(data, "root"), "<module> (/srv/app.py:1)");
	nasty = child_named(mod, NASTY_LABEL);
	assert_int_equal(json_object_get_int(get(nasty, "k")), 0);
	assert_non_null(strstr(json_object_get_string(get(nasty, "n")),
			       "na\xc3\xafve_\xe5\x87\xbd\xe6\x95\xb0"));
	/* The executable in the header is HTML-escaped. */
	assert_null(strstr(doc, NASTY_EXE));
	assert_non_null(strstr(doc, "/opt/&lt;b&gt;&amp;&quot;py&quot;&lt;/b&gt;/python"));
	json_object_put(data);
	free(text);
	free(doc);
	pm_profile_free(&p);
}

static void test_header(void **state)
{
	struct pm_profile p, empty = { 0 };
	struct json_object *data, *root;
	char *doc;
	int v;

	fixture(&p);
	doc = write_html(&p, PM_VIEW_LIVE_BYTES);
	assert_non_null(strstr(doc, "pid 4242 &middot; Python 3.11.7 &middot; "));
	assert_non_null(strstr(doc, "2.5 s, target exited"));
	assert_non_null(strstr(doc, "live 9.0 KiB in 10 objects"));
	assert_non_null(strstr(doc, "allocated 1.0 MiB in 14 objects"));
	assert_non_null(strstr(doc, "<p id=\"lost\" class=\"warn\">lost events: "
			       "stack_read_failed 17, unknown_free 3</p>"));
	free(doc);

	/* An empty profile still makes a page, and says nothing was lost. */
	empty.pid = 1;
	doc = write_html(&empty, PM_VIEW_ALLOC_OBJECTS);
	assert_non_null(strstr(doc, "<p id=\"lost\">lost events: none</p>"));
	assert_non_null(strstr(doc, "pid 1 &middot; Python ? &middot; 0.0 s</p>"));
	data = parse_data(doc, NULL);
	root = get(data, "root");
	for (v = 0; v < 4; v++)
		assert_int_equal(node_value(root, v), 0);
	assert_false(json_object_object_get_ex(root, "c", NULL));
	json_object_put(data);
	free(doc);
	pm_profile_free(&p);
}

static void test_why_and_series(void **state)
{
	struct json_object *data, *series, *one, *arr;
	struct pm_profile p;
	char *doc;
	size_t i;

	series_fixture(&p);
	doc = write_html_why(&p, PM_VIEW_ALLOC_BYTES, "Opened on <b>");
	assert_non_null(strstr(doc, "<p id=\"why\">Opened on &lt;b&gt;</p>"));
	data = parse_data(doc, NULL);
	assert_true(json_object_get_double(get(data, "step")) == 1.0);
	series = get(data, "series");
	assert_int_equal(json_object_array_length(series), 2);
	/* heaviest (allocated + live) first, named as WHERE names it */
	one = json_object_array_get_idx(series, 0);
	assert_string_equal(json_object_get_string(get(one, "n")), "load (/srv/app.py:40)");
	arr = get(one, "a");
	assert_int_equal(json_object_array_length(arr), 3);
	for (i = 0; i < 3; i++)
		assert_int_equal(json_object_get_uint64(json_object_array_get_idx(arr, i)),
				 p.stacks[0].series[i].alloc_bytes);
	arr = get(json_object_array_get_idx(series, 1), "l");
	assert_int_equal(json_object_get_uint64(json_object_array_get_idx(arr, 1)), 3072);
	json_object_put(data);
	free(doc);

	/* without a series_info (no -i), no series and no why */
	p.series.step_s = 0;
	doc = write_html(&p, PM_VIEW_LIVE_BYTES);
	data = parse_data(doc, NULL);
	assert_false(json_object_object_get_ex(data, "series", NULL));
	assert_null(strstr(doc, "id=\"why\""));
	json_object_put(data);
	free(doc);
	pm_profile_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tree_matches_profile),
		cmocka_unit_test(test_initial_view),
		cmocka_unit_test(test_self_contained),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_why_and_series),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
