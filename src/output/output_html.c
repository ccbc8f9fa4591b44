// SPDX-License-Identifier: GPL-2.0
/*
 * HTML flame graph writer.  Stacks are turned into label sequences and
 * sorted, so stacks that share a prefix sit side by side and the prefix
 * tree falls out of one recursive pass over ranges.  The tree is embedded
 * as JSON and drawn by the inline script of output_html_assets.h.  The page
 * fetches nothing, and its Content-Security-Policy forbids it to.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "output_html.h"
#include "output_html_assets.h"
#include "output_top.h"
#include "where.h"

#define JSON_FLAGS	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
#define NVIEWS		(PM_VIEW_PEAK_BYTES + 1)
/* Series drawn over time: a few lines are readable, a dozen are not. */
#define GROWTH_STACKS	6

/* In enum pm_view order, which is also the order of a node's "v" array. */
static const char *const view_keys[NVIEWS] = {
	[PM_VIEW_LIVE_BYTES]	= "live_bytes",
	[PM_VIEW_LIVE_OBJECTS]	= "live_objects",
	[PM_VIEW_ALLOC_BYTES]	= "alloc_bytes",
	[PM_VIEW_ALLOC_OBJECTS]	= "alloc_objects",
	[PM_VIEW_PEAK_BYTES]	= "peak_bytes",
};

struct html_frame {
	char *text;			/* "function (file:line)" or "symbol [dso]" */
	enum pm_frame_kind kind;
};

struct html_stack {
	size_t n;
	struct html_frame *fr;		/* root first; &unknown_frame when n == 0 */
	const struct pm_counts *c;
	const struct pm_stack *s;
};

/* Stands in for a stack without frames, as the folded writer does. */
static struct html_frame unknown_frame = { "[unknown]", PM_FRAME_NATIVE };

static void stacks_free(struct html_stack *hs, size_t n)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		if (hs[i].fr == &unknown_frame)
			continue;
		for (j = 0; j < hs[i].n; j++)
			free(hs[i].fr[j].text);
		free(hs[i].fr);
	}
	free(hs);
}

static int stack_render(const struct pm_stack *s, struct html_stack *h)
{
	size_t i;

	h->c = &s->c;
	h->s = s;
	if (!s->nframes) {
		h->fr = &unknown_frame;
		h->n = 1;
		return 0;
	}
	h->fr = calloc(s->nframes, sizeof(*h->fr));
	if (!h->fr)
		return -ENOMEM;
	/* Count as we go so stacks_free() releases a partial stack. */
	for (i = 0; i < s->nframes; i++) {
		h->fr[i].kind = s->frames[i].kind;
		h->fr[i].text = pm_frame_label(&s->frames[i]);
		if (!h->fr[i].text)
			return -ENOMEM;
		h->n = i + 1;
	}
	return 0;
}

static bool counts_visible(const struct pm_counts *c)
{
	int v;

	for (v = 0; v < NVIEWS; v++)
		if (pm_view_value(c, v))
			return true;
	return false;
}

static int frame_cmp(const struct html_frame *a, const struct html_frame *b)
{
	int r = strcmp(a->text, b->text);

	return r ? r : (int)a->kind - (int)b->kind;
}

/* Lexicographic on frames, so a stack sorts right before its extensions. */
static int stack_cmp(const void *pa, const void *pb)
{
	const struct html_stack *a = pa, *b = pb;
	size_t i;
	int r;

	for (i = 0; i < a->n && i < b->n; i++) {
		r = frame_cmp(&a->fr[i], &b->fr[i]);
		if (r)
			return r;
	}
	return (a->n > b->n) - (a->n < b->n);
}

/* The stacks with anything to show, rendered and sorted. */
static int stacks_build(const struct pm_profile *p, struct html_stack **out, size_t *nout)
{
	struct html_stack *hs;
	size_t i, n = 0;
	int err = 0;

	hs = calloc(p->nstacks ? p->nstacks : 1, sizeof(*hs));
	if (!hs)
		return -ENOMEM;
	for (i = 0; i < p->nstacks && !err; i++) {
		if (!counts_visible(&p->stacks[i].c))
			continue;
		err = stack_render(&p->stacks[i], &hs[n++]);
	}
	if (err) {
		stacks_free(hs, n);
		return err;
	}
	qsort(hs, n, sizeof(*hs), stack_cmp);
	*out = hs;
	*nout = n;
	return 0;
}

/* A NULL from json-c (out of memory) is stored as null; not worth a path. */
static void add_values(struct json_object *o, const struct html_stack *hs, size_t lo, size_t hi)
{
	struct json_object *arr = json_object_new_array_ext(NVIEWS);
	uint64_t sum[NVIEWS] = { 0 };
	size_t i;
	int v;

	for (i = lo; i < hi; i++)
		for (v = 0; v < NVIEWS; v++)
			sum[v] += pm_view_value(hs[i].c, v);
	for (v = 0; arr && v < NVIEWS; v++)
		json_object_array_add(arr, json_object_new_uint64(sum[v]));
	json_object_object_add(o, "v", arr);
}

/*
 * The main holders (--holders) of the stacks [lo, hi) that end at a node, one
 * line each, for its tooltip: "module __main__ . cache[*] (bytearray x6 = 28.6 MiB)".
 */
static void add_holders(struct json_object *o, const struct html_stack *hs, size_t lo, size_t hi)
{
	char *buf = NULL, *path;
	size_t len = 0, i;
	FILE *f = open_memstream(&buf, &len);
	const struct pm_holder *h;
	bool any = false;

	if (!f)
		return;
	for (i = lo; i < hi; i++) {
		if (!hs[i].s->nholders)
			continue;
		h = &hs[i].s->holders[0];
		path = pm_holder_path(h);
		fprintf(f, "%s%s (%s x%llu = %llu bytes)", any ? "\n" : "", path ? path : "?",
			h->type, (unsigned long long)h->objects, (unsigned long long)h->bytes);
		free(path);
		any = true;
	}
	if (!fclose(f) && any)
		json_object_object_add(o, "h", json_object_new_string(buf));
	free(buf);
}

/*
 * The node for stacks [lo, hi), which share their first @depth frames;
 * @fr is the last of those, NULL for the root.  Values are inclusive.
 */
static struct json_object *tree_node(const struct html_stack *hs, size_t lo, size_t hi,
				     size_t depth, const struct html_frame *fr)
{
	struct json_object *o = json_object_new_object();
	struct json_object *kids = json_object_new_array();
	struct json_object *c;
	size_t i, j;

	if (!o || !kids)
		goto fail;
	json_object_object_add(o, "n", json_object_new_string(fr ? fr->text : "all"));
	if (fr)
		json_object_object_add(o, "k", json_object_new_int(fr->kind == PM_FRAME_NATIVE));
	add_values(o, hs, lo, hi);

	/* Stacks that end at this node sort first and have no child here. */
	for (i = lo; i < hi && hs[i].n == depth; i++)
		;
	if (fr)
		add_holders(o, hs, lo, i);
	for (; i < hi; i = j) {
		for (j = i + 1; j < hi && !frame_cmp(&hs[j].fr[depth], &hs[i].fr[depth]); j++)
			;
		c = tree_node(hs, i, j, depth + 1, &hs[i].fr[depth]);
		if (!c || json_object_array_add(kids, c)) {
			json_object_put(c);
			goto fail;
		}
	}
	if (json_object_array_length(kids))
		json_object_object_add(o, "c", kids);
	else
		json_object_put(kids);
	return o;
fail:
	json_object_put(kids);
	json_object_put(o);
	return NULL;
}

static uint64_t weight(const struct pm_stack *s)
{
	return s->c.alloc_bytes + s->c.live_bytes;
}

/* {n: WHERE text, t: times, a: allocated bytes (cumulative), l: live bytes} */
static struct json_object *series_one(const struct pm_stack *s)
{
	static const struct where_rule user = { .kind = WHERE_USER };
	struct json_object *o = json_object_new_object(), *t, *a, *l;
	char *label = where_text(s->frames, s->nframes, &user);
	size_t i;

	t = json_object_new_array_ext(s->npoints);
	a = json_object_new_array_ext(s->npoints);
	l = json_object_new_array_ext(s->npoints);
	for (i = 0; t && a && l && i < s->npoints; i++) {
		json_object_array_add(t, json_object_new_double(s->series[i].t));
		json_object_array_add(a, json_object_new_uint64(s->series[i].alloc_bytes));
		json_object_array_add(l, json_object_new_uint64(s->series[i].live_bytes));
	}
	if (o) {
		json_object_object_add(o, "n", json_object_new_string(label ? label : "?"));
		json_object_object_add(o, "t", t);
		json_object_object_add(o, "a", a);
		json_object_object_add(o, "l", l);
	} else {
		json_object_put(t);
		json_object_put(a);
		json_object_put(l);
	}
	free(label);
	return o;
}

/* The series of the stacks that weigh most, for the charts of growth; NULL if none. */
static struct json_object *series_data(const struct pm_profile *p)
{
	const struct pm_stack **order = pm_profile_order_by(p, weight);
	struct json_object *arr = NULL;
	size_t i, n = 0;

	for (i = 0; order && i < p->nstacks && n < GROWTH_STACKS; i++) {
		/* one point draws no line */
		if (order[i]->npoints < 2)
			continue;
		if (!arr)
			arr = json_object_new_array();
		if (arr && !json_object_array_add(arr, series_one(order[i])))
			n++;
	}
	free(order);
	return arr;
}

static struct json_object *data_obj(const struct pm_profile *p, enum pm_view view)
{
	struct json_object *o, *views, *root = NULL;
	struct html_stack *hs;
	size_t n;
	int v;

	if (stacks_build(p, &hs, &n))
		return NULL;
	o = json_object_new_object();
	views = json_object_new_array_ext(NVIEWS);
	if (o && views)
		root = tree_node(hs, 0, n, 0, NULL);
	stacks_free(hs, n);
	if (!root) {
		json_object_put(views);
		json_object_put(o);
		return NULL;
	}
	for (v = 0; v < NVIEWS; v++)
		json_object_array_add(views, json_object_new_string(view_keys[v]));
	json_object_object_add(o, "view", json_object_new_int(view));
	json_object_object_add(o, "views", views);
	json_object_object_add(o, "root", root);
	if (p->series.step_s > 0) {
		json_object_object_add(o, "step", json_object_new_double(p->series.step_s));
		json_object_object_add(o, "series", series_data(p));
	}
	return o;
}

/*
 * Inside a script element only "</" can end the element early (or "<!--"
 * change how it is parsed), and '<' appears in JSON text only within
 * strings, where \u003c means the same.
 */
static void put_script_data(FILE *f, const char *s)
{
	size_t k;

	while (*s) {
		k = strcspn(s, "<");
		fwrite(s, 1, k, f);
		s += k;
		if (*s == '<') {
			fputs("\\u003c", f);
			s++;
		}
	}
}

static void put_html(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		default:
			fputc(*s, f);
		}
	}
}

static void put_counts(FILE *f, const char *what, uint64_t bytes, uint64_t objects)
{
	char buf[32];

	fprintf(f, "%s %s in %" PRIu64 " objects", what, fmt_bytes(bytes, buf, sizeof(buf)),
		objects);
}

/* Every output reports lost events; only the reasons that happened are named. */
static void put_dropped(const struct pm_profile *p, FILE *f)
{
	const char *sep = "";
	bool any = false;
	int d;

	for (d = 0; d < DROP__MAX; d++)
		any |= p->dropped[d] != 0;
	fprintf(f, "<p id=\"lost\"%s>lost events: ", any ? " class=\"warn\"" : "");
	if (!any)
		fputs("none", f);
	for (d = 0; d < DROP__MAX; d++) {
		if (!p->dropped[d])
			continue;
		fprintf(f, "%s%s %" PRIu64, sep, pm_drop_name(d), p->dropped[d]);
		sep = ", ";
	}
	fputs("</p>\n", f);
}

static void put_header(const struct pm_profile *p, const char *why, FILE *f)
{
	double dur = isfinite(p->duration_s) ? p->duration_s : 0.0;
	char ver[sizeof(p->version) + 1];

	snprintf(ver, sizeof(ver), "%.*s", (int)sizeof(p->version), p->version);
	fputs("<header><h1>pymem-bpf memory flame graph</h1>\n<p id=\"meta\">", f);
	fprintf(f, "pid %d &middot; Python ", p->pid);
	put_html(f, *ver ? ver : "?");
	if (p->executable && *p->executable) {
		fputs(" &middot; ", f);
		put_html(f, p->executable);
	}
	fprintf(f, " &middot; %.1f s%s</p>\n<p id=\"totals\">", dur,
		p->target_exited ? ", target exited" : "");
	put_counts(f, "live", p->totals.live_bytes, p->totals.live_objects);
	fputs(" &middot; ", f);
	put_counts(f, "allocated", p->totals.alloc_bytes, p->totals.alloc_objects);
	fputs("</p>\n", f);
	put_dropped(p, f);
	if (why) {
		fputs("<p id=\"why\">", f);
		put_html(f, why);
		fputs("</p>\n", f);
	}
	fputs("</header>\n", f);
}

static void put_head(const struct pm_profile *p, FILE *f)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n", f);
	/* Inline code only; no fetch of any kind, even if a label says otherwise. */
	fputs("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	      "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n", f);
	fprintf(f, "<title>pymem-bpf: pid %d</title>\n<style>\n%s</style>\n</head>\n",
		p->pid, output_html_css);
}

static const char body_controls[] =
	"<div id=\"bar\"><span id=\"views\"></span>"
	"<button id=\"reset\">reset zoom</button>"
	"<input id=\"search\" type=\"search\" placeholder=\"search frames\">"
	"<span id=\"match\"></span></div>\n"
	"<div id=\"fg\"></div>\n<div id=\"tip\"></div>\n<div id=\"growth\"></div>\n"
	"<noscript>The flame graph needs JavaScript.</noscript>\n";

int output_html_write(const struct pm_profile *p, enum pm_view view, const char *why, FILE *f)
{
	struct json_object *data;
	const char *txt;
	int err = 0;

	if ((unsigned int)view >= NVIEWS)
		return -EINVAL;
	data = data_obj(p, view);
	if (!data)
		return -ENOMEM;
	txt = json_object_to_json_string_ext(data, JSON_FLAGS);
	if (!txt) {
		err = -ENOMEM;
		goto out;
	}

	put_head(p, f);
	fputs("<body>\n", f);
	put_header(p, why, f);
	fputs(body_controls, f);
	fputs(OUTPUT_HTML_DATA_OPEN, f);
	put_script_data(f, txt);
	fputs(OUTPUT_HTML_DATA_CLOSE "\n<script>\n", f);
	fputs(output_html_js, f);
	fputs("</script>\n</body>\n</html>\n", f);
	if (fflush(f))
		err = -errno;
	else if (ferror(f))
		err = -EIO;
out:
	json_object_put(data);
	return err;
}
