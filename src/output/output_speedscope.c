// SPDX-License-Identifier: GPL-2.0
/*
 * speedscope writer.  Equal frames across all stacks become one entry of
 * shared.frames, numbered in sorted order of (kind, function, file, line),
 * and stacks are emitted in lexicographic order of their frame numbers,
 * so speedscope's time-ordered view puts shared prefixes side by side.
 * Samples are streamed as plain integers; only strings go through json-c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "output_speedscope.h"

#define JSON_FLAGS	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

struct ss_view {
	enum pm_view view;
	const char *name;
	const char *unit;
};

static const struct ss_view views[] = {
	{ PM_VIEW_LIVE_BYTES,		"live bytes",		"bytes" },
	{ PM_VIEW_LIVE_OBJECTS,		"live objects",		"none" },
	{ PM_VIEW_ALLOC_BYTES,		"alloc bytes",		"bytes" },
	{ PM_VIEW_ALLOC_OBJECTS,	"alloc objects",	"none" },
	{ PM_VIEW_PEAK_BYTES,		"peak bytes",		"bytes" },
};

#define NVIEWS		(sizeof(views) / sizeof(views[0]))

/* One occurrence of a frame in a stack. */
struct ss_ref {
	const struct pm_frame *fr;
	size_t slot;			/* where its number goes in ss_state.idx */
};

struct ss_state {
	const struct pm_profile *p;
	size_t *off;			/* stack i's numbers are idx[off[i]..off[i+1]) */
	size_t *idx;
	const struct pm_frame **uniq;	/* frame number -> one of its occurrences */
	size_t nuniq;
	size_t *order;			/* stack indices in output order */
};

/* Stands in for a stack without frames, as the other writers do. */
static const struct pm_frame unknown_frame = { PM_FRAME_NATIVE, "[unknown]", "", 0 };

static const char *str(const char *s)
{
	return s ? s : "";
}

static int frame_cmp(const struct pm_frame *a, const struct pm_frame *b)
{
	int r;

	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	r = strcmp(str(a->function), str(b->function));
	if (!r)
		r = strcmp(str(a->file), str(b->file));
	if (!r && a->line != b->line)
		r = a->line < b->line ? -1 : 1;
	return r;
}

static int ref_cmp(const void *a, const void *b)
{
	const struct ss_ref *x = a, *y = b;
	int r = frame_cmp(x->fr, y->fr);

	/* The slot breaks ties so the sort is the same on every libc. */
	if (!r && x->slot != y->slot)
		r = x->slot < y->slot ? -1 : 1;
	return r;
}

static size_t stack_len(const struct ss_state *s, size_t i)
{
	return s->off[i + 1] - s->off[i];
}

static int order_cmp(const void *a, const void *b, void *ctx)
{
	const struct ss_state *s = ctx;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	size_t ni = stack_len(s, i), nj = stack_len(s, j), k;
	const size_t *x = s->idx + s->off[i], *y = s->idx + s->off[j];

	for (k = 0; k < ni && k < nj; k++)
		if (x[k] != y[k])
			return x[k] < y[k] ? -1 : 1;
	if (ni != nj)
		return ni < nj ? -1 : 1;
	return i < j ? -1 : i > j;
}

/* Number every distinct frame and fill idx, off and uniq. */
static int number_frames(struct ss_state *s)
{
	const struct pm_profile *p = s->p;
	struct ss_ref *refs;
	size_t i, k, n = 0;

	s->off = calloc(p->nstacks + 1, sizeof(*s->off));
	if (!s->off)
		return -ENOMEM;
	for (i = 0; i < p->nstacks; i++) {
		s->off[i] = n;
		n += p->stacks[i].nframes ? p->stacks[i].nframes : 1;
	}
	s->off[p->nstacks] = n;
	refs = calloc(n ? n : 1, sizeof(*refs));
	s->idx = calloc(n ? n : 1, sizeof(*s->idx));
	s->uniq = calloc(n ? n : 1, sizeof(*s->uniq));
	if (!refs || !s->idx || !s->uniq) {
		free(refs);
		return -ENOMEM;
	}
	for (i = 0; i < p->nstacks; i++) {
		const struct pm_stack *st = &p->stacks[i];

		for (k = 0; k < stack_len(s, i); k++) {
			refs[s->off[i] + k].fr = st->nframes ? &st->frames[k] : &unknown_frame;
			refs[s->off[i] + k].slot = s->off[i] + k;
		}
	}
	qsort(refs, n, sizeof(*refs), ref_cmp);
	for (i = 0; i < n; i++) {
		if (!i || frame_cmp(refs[i - 1].fr, refs[i].fr))
			s->uniq[s->nuniq++] = refs[i].fr;
		s->idx[refs[i].slot] = s->nuniq - 1;
	}
	free(refs);
	return 0;
}

static int order_stacks(struct ss_state *s)
{
	size_t i, n = s->p->nstacks;

	s->order = malloc((n ? n : 1) * sizeof(*s->order));
	if (!s->order)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		s->order[i] = i;
	qsort_r(s->order, n, sizeof(*s->order), order_cmp, s);
	return 0;
}

/* Print @v (consumed) after @before. */
static int put_value(FILE *f, const char *before, struct json_object *v)
{
	const char *txt;

	if (!v)
		return -ENOMEM;
	txt = json_object_to_json_string_ext(v, JSON_FLAGS);
	if (txt)
		fprintf(f, "%s%s", before, txt);
	json_object_put(v);
	return txt ? 0 : -ENOMEM;
}

static struct json_object *frame_obj(const struct pm_frame *fr)
{
	struct json_object *o = json_object_new_object();
	const char *fn = fr->function && *fr->function ? fr->function : "[unknown]";
	const char *file = str(fr->file);
	char *name = NULL;

	if (!o)
		return NULL;
	if (fr->kind == PM_FRAME_NATIVE && *file) {
		if (asprintf(&name, "%s [%s]", fn, file) < 0) {
			json_object_put(o);
			return NULL;
		}
		fn = name;
	}
	json_object_object_add(o, "name", json_object_new_string(fn));
	if (*file)
		json_object_object_add(o, "file", json_object_new_string(file));
	if (fr->kind == PM_FRAME_PYTHON && fr->line > 0)
		json_object_object_add(o, "line", json_object_new_int(fr->line));
	free(name);
	return o;
}

/* "pymem-bpf PID 123, Python 3.11.7 (dropped: unknown_free=3)" */
static struct json_object *title_obj(const struct pm_profile *p)
{
	struct json_object *o;
	char *buf = NULL;
	size_t len = 0;
	FILE *m;

	m = open_memstream(&buf, &len);
	if (!m)
		return NULL;
	fprintf(m, "pymem-bpf PID %d", p->pid);
	if (p->version[0])
		fprintf(m, ", Python %.*s", (int)sizeof(p->version), p->version);
	if (pm_drops_print(m, p, " (dropped: ", ", "))
		fputc(')', m);
	if (fclose(m)) {
		free(buf);
		return NULL;
	}
	o = json_object_new_string(buf);
	free(buf);
	return o;
}

static void put_samples(const struct ss_state *s, enum pm_view view, FILE *f)
{
	const char *sep = "";
	size_t i, k, st;

	fputs(",\"samples\":[", f);
	for (i = 0; i < s->p->nstacks; i++) {
		st = s->order[i];
		if (!pm_view_value(&s->p->stacks[st].c, view))
			continue;
		fprintf(f, "%s\n[", sep);
		for (k = 0; k < stack_len(s, st); k++)
			fprintf(f, "%s%zu", k ? "," : "", s->idx[s->off[st] + k]);
		fputc(']', f);
		sep = ",";
	}
	fputs("]", f);
}

static void put_weights(const struct ss_state *s, enum pm_view view, FILE *f)
{
	const char *sep = "";
	uint64_t v;
	size_t i;

	fputs(",\"weights\":[", f);
	for (i = 0; i < s->p->nstacks; i++) {
		v = pm_view_value(&s->p->stacks[s->order[i]].c, view);
		if (!v)
			continue;
		fprintf(f, "%s%" PRIu64, sep, v);
		sep = ",";
	}
	fputs("]", f);
}

static int put_profile(const struct ss_state *s, const struct ss_view *v, FILE *f,
		       const char *before)
{
	uint64_t end = 0;
	size_t i;
	int err;

	for (i = 0; i < s->p->nstacks; i++)
		end += pm_view_value(&s->p->stacks[i].c, v->view);
	fprintf(f, "%s\n{\"type\":\"sampled\"", before);
	err = put_value(f, ",\"name\":", json_object_new_string(v->name));
	if (err)
		return err;
	fprintf(f, ",\"unit\":\"%s\",\"startValue\":0,\"endValue\":%" PRIu64, v->unit, end);
	put_samples(s, v->view, f);
	put_weights(s, v->view, f);
	fputs("}", f);
	return 0;
}

/* Peak values exist only when the session tracked a peak. */
static bool view_present(const struct pm_profile *p, enum pm_view view)
{
	size_t i;

	if (view != PM_VIEW_PEAK_BYTES)
		return true;
	for (i = 0; i < p->nstacks; i++)
		if (p->stacks[i].c.peak_bytes)
			return true;
	return false;
}

static int put_document(const struct ss_state *s, FILE *f)
{
	const char *sep = "";
	size_t i;
	int err;

	fputs("{\"$schema\":\"" OUTPUT_SPEEDSCOPE_SCHEMA "\",\"exporter\":\"pymem-bpf\"", f);
	err = put_value(f, ",\"name\":", title_obj(s->p));
	if (err)
		return err;
	fputs(",\"activeProfileIndex\":0,\"shared\":{\"frames\":[", f);
	for (i = 0; i < s->nuniq && !err; i++)
		err = put_value(f, i ? ",\n" : "\n", frame_obj(s->uniq[i]));
	if (err)
		return err;
	fputs("\n]},\"profiles\":[", f);
	for (i = 0; i < NVIEWS && !err; i++) {
		if (!view_present(s->p, views[i].view))
			continue;
		err = put_profile(s, &views[i], f, sep);
		sep = ",";
	}
	if (!err)
		fputs("\n]}\n", f);
	return err;
}

int output_speedscope_write(const struct pm_profile *p, FILE *f)
{
	struct ss_state s = { .p = p };
	int err;

	err = number_frames(&s);
	if (!err)
		err = order_stacks(&s);
	if (!err)
		err = put_document(&s, f);
	if (err)
		goto out;
	if (fflush(f))
		err = -errno;
	else if (ferror(f))
		err = -EIO;
out:
	free(s.off);
	free(s.idx);
	free(s.uniq);
	free(s.order);
	return err;
}
