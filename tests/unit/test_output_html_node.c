// SPDX-License-Identifier: GPL-2.0
/* The HTML page's own script, run in node against a stub DOM and a recording canvas. */
#include <sys/wait.h>
#include <unistd.h>
#include "output_html_fixture.h"

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
		cmocka_unit_test(test_script_in_node),
		cmocka_unit_test(test_growth_in_node),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
