// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <json-c/json.h>
#include "output_html.h"
#include "counts.h"

/* Would end the data or script element, start a comment, or break quoting. */
#define NASTY_FN	"</script><script>alert(\"x\")</script> " \
			"na\xc3\xafve_\xe5\x87\xbd\xe6\x95\xb0 <!--"
#define NASTY_FILE	"/tmp/\"q\"/<x>.py"
#define NASTY_LABEL	NASTY_FN " (" NASTY_FILE ":7)"
#define NASTY_EXE	"/opt/<b>&\"py\"</b>/python"
#define MODULE		"p:<module> (/srv/app.py:1)"
#define LOAD		MODULE ";p:load (/srv/app.py:40)"

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

static void fixture(struct pm_profile *p)
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

static char *write_html_why(const struct pm_profile *p, enum pm_view view, const char *why)
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

static char *write_html(const struct pm_profile *p, enum pm_view view)
{
	return write_html_why(p, view, NULL);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (; (hay = strstr(hay, needle)); hay += strlen(needle))
		n++;
	return n;
}

/* The text between the data markers, malloc'd. */
static char *extract(const char *doc, const char *open, const char *close)
{
	const char *a = strstr(doc, open), *b;

	assert_non_null(a);
	a += strlen(open);
	b = strstr(a, close);
	assert_non_null(b);
	return strndup(a, b - a);
}

static struct json_object *parse_data(const char *doc, char **text)
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

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("missing key \"%s\"", key);
	return v;
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

/*
 * Every harness: node harness.js DATA SCRIPT, check() to fail with a message,
 * and the page's script run against a stub DOM (ids holds its elements).
 */
#define HARNESS_HEAD \
	"const fs = require('fs'), vm = require('vm');\n" \
	"const json = fs.readFileSync(process.argv[2], 'utf8');\n" \
	"const script = fs.readFileSync(process.argv[3], 'utf8');\n" \
	"function check(ok, msg) {\n" \
	"	if (!ok) {\n" \
	"		console.error('FAIL: ' + msg);\n" \
	"		process.exit(1);\n" \
	"	}\n" \
	"}\n" \
	"/* a canvas context that records what is drawn */\n" \
	"class Ctx {\n" \
	"	constructor() { this.ops = []; }\n" \
	"	beginPath() { this.ops.push(['B']); }\n" \
	"	moveTo(x, y) { this.ops.push(['P', x, y]); }\n" \
	"	lineTo(x, y) { this.ops.push(['P', x, y]); }\n" \
	"	stroke() { this.ops.push(['S', this.strokeStyle]); }\n" \
	"	fillText(t) { this.ops.push(['T', t]); }\n" \
	"}\n" \
	"class El {\n" \
	"	constructor(tag) {\n" \
	"		Object.assign(this, { tag, children: [], style: {}, className: '' });\n" \
	"		Object.assign(this, { text: '', on: {} });\n" \
	"		this.clientWidth = 1e9;\n" \
	"		this.value = '';\n" \
	"	}\n" \
	"	get textContent() { return this.text; }\n" \
	"	set textContent(t) { this.text = t; this.children = []; }\n" \
	"	appendChild(c) {\n" \
	"		if (c.tag !== '#frag')\n" \
	"			this.children.push(c);\n" \
	"		else\n" \
	"			this.children.push(...c.children.splice(0));\n" \
	"		return c;\n" \
	"	}\n" \
	"	addEventListener(t, f) { (this.on[t] = this.on[t] || []).push(f); }\n" \
	"	fire(t, ev) { (this.on[t] || []).forEach((f) => f(ev || {})); }\n" \
	"	getContext() { return this.ctx = this.ctx || new Ctx(); }\n" \
	"}\n" \
	"const ids = {};\n" \
	"for (const id of ['fg', 'tip', 'search', 'match', 'views', 'reset', 'pm-data', 'growth'])\n" \
	"	ids[id] = new El('div');\n" \
	"ids['pm-data'].text = json;\n" \
	"const document = {\n" \
	"	getElementById: (id) => ids[id] || null,\n" \
	"	createElement: (t) => new El(t),\n" \
	"	createDocumentFragment: () => new El('#frag'),\n" \
	"	createTextNode: (t) => ({ text: t }),\n" \
	"};\n" \
	"vm.runInNewContext(script, { document, window: new El('window') });\n"

static const char harness_js[] =
	HARNESS_HEAD
	"\n"
	"const data = JSON.parse(json), fg = ids.fg, tip = ids.tip;\n"
	"const buttons = ids.views.children;\n"
	"const all = [];\n"
	"(function walk(n) { all.push(n); (n.c || []).forEach(walk); })(data.root);\n"
	"const div = (name) => fg.children.find((d) => d.textContent === name);\n"
	"const on = () => buttons.filter((b) => b.className === 'on')\n"
	"	.map((b) => buttons.indexOf(b));\n"
	"const LOAD = 'load (/srv/app.py:40)';\n"
	"\n"
	"check(buttons.length === 4, 'four view buttons');\n"
	"check(on().join() === String(data.view), 'initial view button');\n"
	"for (let v = 3; v >= 0; v--) {\n"
	"	buttons[v].fire('click');\n"
	"	check(on().join() === String(v), 'button ' + v + ' selected');\n"
	"	const shown = all.filter((n) => n === data.root || n.v[v] > 0);\n"
	"	check(fg.children.length === shown.length, 'view ' + v + ': a box per frame');\n"
	"	for (const d of fg.children) {\n"
	"		const n = d.pmNode;\n"
	"		const hue = +/hsl\\((\\d+)/.exec(d.style.background)[1];\n"
	"		check(d.textContent === n.n, 'label is the frame name');\n"
	"		const want = 100 * n.v[v] / data.root.v[v];\n"
	"		check(Math.abs(parseFloat(d.style.width) - want) < 1e-9, 'width');\n"
	"		check(n.k !== 0 || hue < 60, 'python frames warm');\n"
	"		check(n.k !== 1 || (hue >= 180 && hue < 240), 'native frames cool');\n"
	"	}\n"
	"}\n"
	"fg.fire('mousemove', { target: div(LOAD), pageX: 5, pageY: 5 });\n"
	"check(tip.style.display === 'block', 'tooltip shown');\n"
	"check(tip.textContent === LOAD +\n"
	"      '\\n4.0 KiB in 4 objects (live)\\n44.44% of live bytes', 'tooltip text');\n"
	"fg.fire('mouseleave');\n"
	"check(tip.style.display === 'none', 'tooltip hidden');\n"
	"\n"
	"function find(q) {\n"
	"	ids.search.value = q;\n"
	"	ids.search.fire('input');\n"
	"	return ids.match.textContent;\n"
	"}\n"
	"check(find('LOAD') === 'matched 4.0 KiB (44.44% of live bytes)', 'search load');\n"
	"check(div(LOAD).style.background === 'hsl(290,70%,62%)', 'match highlighted');\n"
	"check(find('f (x.py:1)') === 'matched 20 B (0.22% of live bytes)', 'two frames');\n"
	"check(find('py') === 'matched 8.9 KiB (98.91% of live bytes)', 'nested match once');\n"
	"buttons[3].fire('click');\n"
	"check(find('py') === 'matched 12 objects (85.71% of allocated objects)', 'objects');\n"
	"buttons[0].fire('click');\n"
	"check(find('') === '', 'search cleared');\n"
	"\n"
	"fg.fire('click', { target: div(LOAD) });\n"
	"check(div(LOAD).style.width === '100%' && div(LOAD).className === 'fr', 'zoomed in');\n"
	"check(div('all').className === 'fr up', 'dimmed');\n"
	"check(div('PyList_New [libpython3.11.so.1.0]').style.width === '75%', 'child of zoom');\n"
	"ids.reset.fire('click');\n"
	"check(div('all').className === 'fr', 'reset');\n"
	"check(parseFloat(div(LOAD).style.width) < 45, 'reset width');\n"
	"buttons[2].fire('click');\n"
	"fg.fire('click', { target: div('malloc [libc.so.6]') });\n"
	"check(div('malloc [libc.so.6]').style.width === '100%', 'zoomed on malloc');\n"
	"buttons[0].fire('click');\n"
	"check(div('all').className === 'fr', 'empty zoom resets');\n"
	"check(!div('malloc [libc.so.6]'), 'malloc not drawn');\n"
	"console.log('ok');\n";

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* Run @harness in node on @p's page: its data, its script; skipped without node. */
static void run_in_node(const struct pm_profile *p, enum pm_view view, const char *harness)
{
	char dir[] = "/tmp/test_output_html.XXXXXX", path[3][64], cmd[512];
	char *doc, *data, *script;
	int i, rc;

	if (system("command -v node >/dev/null 2>&1"))
		skip();
	doc = write_html(p, view);
	data = extract(doc, OUTPUT_HTML_DATA_OPEN, OUTPUT_HTML_DATA_CLOSE);
	script = extract(strstr(doc, OUTPUT_HTML_DATA_CLOSE) + 1, "<script>\n", "</script>");
	assert_non_null(mkdtemp(dir));
	for (i = 0; i < 3; i++)
		snprintf(path[i], sizeof(path[i]), "%s/%s", dir,
			 (const char *[]){ "data.json", "page.js", "harness.js" }[i]);
	write_file(path[0], data);
	write_file(path[1], script);
	write_file(path[2], harness);
	snprintf(cmd, sizeof(cmd), "node %s %s %s", path[2], path[0], path[1]);
	rc = system(cmd);
	for (i = 0; i < 3; i++)
		unlink(path[i]);
	rmdir(dir);
	assert_true(WIFEXITED(rc));
	assert_int_equal(WEXITSTATUS(rc), 0);
	free(script);
	free(data);
	free(doc);
}

/* The page's own script against a stub DOM. */
static void test_script_in_node(void **state)
{
	struct pm_profile p;

	fixture(&p);
	run_in_node(&p, PM_VIEW_ALLOC_OBJECTS, harness_js);
	pm_profile_free(&p);
}

/* Points for fixture stacks, as an -i session gives them. */
static void add_series(struct pm_profile *p, size_t i, const struct pm_point *pts, size_t n)
{
	p->stacks[i].series = malloc(n * sizeof(*pts));
	assert_non_null(p->stacks[i].series);
	memcpy(p->stacks[i].series, pts, n * sizeof(*pts));
	p->stacks[i].npoints = n;
}

static void series_fixture(struct pm_profile *p)
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

/* The charts' lines, drawn on a recording canvas, sit where the series put them. */
static const char growth_js[] =
	HARNESS_HEAD
	"const data = JSON.parse(json), g = ids.growth.children;\n"
	"const charts = g.filter((c) => c.tag === 'canvas');\n"
	"check(charts.length === 2, 'two charts');\n"
	"check(g[g.length - 1].children.length === data.series.length, 'a legend line each');\n"
	"/* each series' line: the points between beginPath and its coloured stroke */\n"
	"function lines(ctx) {\n"
	"	const out = [];\n"
	"	let cur = [];\n"
	"	for (const op of ctx.ops) {\n"
	"		if (op[0] === 'B')\n"
	"			cur = [];\n"
	"		else if (op[0] === 'P')\n"
	"			cur.push([op[1], op[2]]);\n"
	"		else if (op[0] === 'S' && op[1] !== '#888')\n"
	"			out.push(cur);\n"
	"	}\n"
	"	return out;\n"
	"}\n"
	"const W = 560, H = 200, L = 76, R = 12, T = 22, B = 22;\n"
	"const tmax = Math.max(...data.series.map((s) => Math.max(...s.t)));\n"
	"const rates = data.series.map((s) => s.t.slice(1).map((t, k) =>\n"
	"	[t, (s.a[k + 1] - s.a[k]) / (t - s.t[k])]));\n"
	"const lives = data.series.map((s) => s.t.map((t, k) => [t, s.l[k]]));\n"
	"[[lives, charts[0]], [rates, charts[1]]].forEach(([want, c]) => {\n"
	"	const ymax = Math.max(...want.flat().map((p) => p[1]));\n"
	"	const got = lines(c.ctx);\n"
	"	check(got.length === want.length, 'a line per series');\n"
	"	want.forEach((pts, i) => {\n"
	"		check(got[i].length === pts.length, 'a point per value');\n"
	"		pts.forEach(([t, v], k) => {\n"
	"			check(Math.abs(got[i][k][0] - (L + (W - L - R) * t / tmax)) < 1e-9, 'x');\n"
	"			check(Math.abs(got[i][k][1] - (H - B - (H - T - B) * v / ymax)) < 1e-9,\n"
	"			      'y of ' + v);\n"
	"		});\n"
	"	});\n"
	"});\n"
	"/* the first stack allocated 1 MiB in 3 s, fastest over 1..2 s: 512 KiB/s */\n"
	"check(charts[1].ctx.ops.some((o) => o[0] === 'T' && o[1] === '512.0 KiB/s'), 'scale');\n"
	"console.log('ok');\n";

static void test_growth_in_node(void **state)
{
	struct pm_profile p;

	series_fixture(&p);
	run_in_node(&p, PM_VIEW_LIVE_BYTES, growth_js);
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
		cmocka_unit_test(test_script_in_node),
		cmocka_unit_test(test_why_and_series),
		cmocka_unit_test(test_growth_in_node),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
