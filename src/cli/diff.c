// SPDX-License-Identifier: GPL-2.0
/* `pymem-bpf diff`: the change between two saved profiles, and its growth profile. */
#include <argp.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli_args.h"
#include "diff.h"
#include "output_top.h"
#include "output.h"
#include "output_json.h"
#include "pytarget.h"
#include "view.h"

/* ---- computation ---------------------------------------------------------------------- */

static const char *str_or_empty(const char *s)
{
	return s ? s : "";
}

static int frame_cmp(const struct pm_frame *a, const struct pm_frame *b)
{
	int r;

	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	r = strcmp(str_or_empty(a->function), str_or_empty(b->function));
	if (!r)
		r = strcmp(str_or_empty(a->file), str_or_empty(b->file));
	if (!r && a->line != b->line)
		r = a->line < b->line ? -1 : 1;
	return r;
}

static int frames_cmp(const struct diff_row *a, const struct diff_row *b)
{
	size_t i;
	int r;

	for (i = 0; i < a->nframes && i < b->nframes; i++) {
		r = frame_cmp(&a->frames[i], &b->frames[i]);
		if (r)
			return r;
	}
	if (a->nframes != b->nframes)
		return a->nframes < b->nframes ? -1 : 1;
	return 0;
}

static int row_qsort_cmp(const void *a, const void *b)
{
	return frames_cmp(a, b);
}

/* Sort by frames and fold rows with equal frames into one. */
static void rows_merge(struct diff_table *t)
{
	size_t i, n = 0;

	if (!t->nrows)
		return;
	qsort(t->rows, t->nrows, sizeof(*t->rows), row_qsort_cmp);
	for (i = 1; i < t->nrows; i++) {
		struct diff_row *last = &t->rows[n];

		if (!frames_cmp(last, &t->rows[i])) {
			pm_counts_add(&last->base, &t->rows[i].base);
			pm_counts_add(&last->new, &t->rows[i].new);
		} else {
			t->rows[++n] = t->rows[i];
		}
	}
	t->nrows = n + 1;
}

static int table_alloc(struct diff_table *t, size_t n)
{
	t->nrows = 0;
	t->rows = calloc(n ? n : 1, sizeof(*t->rows));
	return t->rows ? 0 : -ENOMEM;
}

int diff_by_stack(const struct pm_profile *base, const struct pm_profile *new,
		  struct diff_table *t)
{
	const struct pm_profile *side[2] = { base, new };
	size_t i, s;

	if (table_alloc(t, base->nstacks + new->nstacks))
		return -ENOMEM;
	for (s = 0; s < 2; s++) {
		for (i = 0; i < side[s]->nstacks; i++) {
			const struct pm_stack *st = &side[s]->stacks[i];
			struct diff_row *r = &t->rows[t->nrows++];

			r->frames = st->frames;
			r->nframes = st->nframes;
			if (s)
				r->new = st->c;
			else
				r->base = st->c;
		}
	}
	rows_merge(t);
	return 0;
}

int diff_by_line(const struct diff_table *stacks, struct diff_table *t)
{
	size_t i;

	if (table_alloc(t, stacks->nrows))
		return -ENOMEM;
	for (i = 0; i < stacks->nrows; i++) {
		const struct diff_row *in = &stacks->rows[i];
		struct diff_row *r = &t->rows[i];

		*r = *in;
		r->frames = view_leaf_frame(in->frames, in->nframes);
		r->nframes = r->frames ? 1 : 0;
	}
	t->nrows = stacks->nrows;
	rows_merge(t);
	return 0;
}

int64_t diff_value(const struct diff_row *r, enum pm_view view)
{
	uint64_t b = pm_view_value(&r->base, view), n = pm_view_value(&r->new, view);

	return n >= b ? (int64_t)(n - b) : -(int64_t)(b - n);
}

static uint64_t magnitude(int64_t v)
{
	return v < 0 ? -(uint64_t)v : (uint64_t)v;
}

static int row_view_cmp(const void *a, const void *b, void *view)
{
	uint64_t ma = magnitude(diff_value(a, *(enum pm_view *)view));
	uint64_t mb = magnitude(diff_value(b, *(enum pm_view *)view));

	if (ma != mb)
		return ma > mb ? -1 : 1;
	return frames_cmp(a, b);
}

void diff_sort(struct diff_table *t, enum pm_view view)
{
	qsort_r(t->rows, t->nrows, sizeof(*t->rows), row_view_cmp, &view);
}

/*
 * Every field is a uint64_t counter, so walking the struct as an array
 * clamps counters added later too.
 */
_Static_assert(sizeof(struct pm_counts) % sizeof(uint64_t) == 0,
	       "struct pm_counts must hold only uint64_t counters");

static bool counts_growth(struct pm_counts *g, const struct pm_counts *b,
			  const struct pm_counts *n)
{
	const uint64_t *bv = (const uint64_t *)b, *nv = (const uint64_t *)n;
	uint64_t *gv = (uint64_t *)g;
	bool any = false;
	size_t i;

	for (i = 0; i < sizeof(*g) / sizeof(uint64_t); i++) {
		gv[i] = nv[i] > bv[i] ? nv[i] - bv[i] : 0;
		any |= gv[i] != 0;
	}
	return any;
}

static int copy_meta(struct pm_profile *out, const struct pm_profile *p)
{
	out->pid = p->pid;
	memcpy(out->version, p->version, sizeof(out->version));
	out->duration_s = p->duration_s;
	out->target_exited = p->target_exited;
	out->sample_interval = p->sample_interval;
	out->max_overhead = p->max_overhead;
	memcpy(out->dropped, p->dropped, sizeof(out->dropped));
	out->executable = p->executable ? strdup(p->executable) : NULL;
	out->libpython = p->libpython ? strdup(p->libpython) : NULL;
	if ((p->executable && !out->executable) || (p->libpython && !out->libpython))
		return -ENOMEM;
	return 0;
}

int diff_growth(const struct diff_table *stacks, const struct pm_profile *new,
		struct pm_profile *out)
{
	struct pm_counts g;
	size_t i;
	int err;

	err = copy_meta(out, new);
	for (i = 0; i < stacks->nrows && !err; i++) {
		const struct diff_row *r = &stacks->rows[i];

		if (counts_growth(&g, &r->base, &r->new))
			err = pm_profile_add(out, r->frames, r->nframes, &g);
	}
	if (err) {
		pm_profile_free(out);
		return err;
	}
	pm_profile_sum(out);
	return 0;
}

void diff_table_free(struct diff_table *t)
{
	free(t->rows);
	t->rows = NULL;
	t->nrows = 0;
}

/* ---- command line --------------------------------------------------------------------- */

static struct diff_env {
	const char *input[2];
	int ninput;
	const char *output;
	bool write_profile;
	enum output_format format;
	enum pm_view view;
	int top;
	struct view_opts vopts;
} denv;

static const struct diff_env defaults = { .output = "-", .top = 10 };

static const char doc[] =
"What changed between two profiles written with -f json, by line and by stack.\n"
"\n"
"USAGE: pymem-bpf diff BASE.json NEW.json [-f FORMAT] [-o OUT] [--view VIEW]\n"
"\n"
"Prints the top changes, largest |NEW - BASE| in VIEW first, per line (leaf\n"
"Python frame) and per stack: SIZE DIFF, COUNT DIFF, NEW SIZE, NEW COUNT (live\n"
"bytes and objects; allocated ones for alloc-* views; exact counts), then the\n"
"totals and both profiles' dropped counters.\n"
"\n"
"With -f, also writes the growth as a profile: each counter of each stack is\n"
"NEW - BASE clamped at 0, so what shrank is left out.  The tables then go to\n"
"stderr if OUT is stdout.\n"
"\n"
"Filters and --group-by shape both profiles before the difference is taken;\n"
"--min-size applies to the difference, --inverted to the written profile.\n"
"\n"
"EXAMPLES:\n"
"    pymem-bpf diff before.json after.json\n"
"    pymem-bpf diff before.json after.json --include '*/myapp/*'\n"
"    pymem-bpf diff before.json after.json -f html -o growth.html";

enum { OPT_VIEW = 0x100 };

static const struct argp_option opts[] = {
	{ "output", 'o', "FILE", 0, "Write the growth profile to FILE (default: stdout)", 0 },
	{ "format", 'f', "FORMAT", 0, "Also write the growth profile: folded, html, or another "
	  "format but json", 0 },
	{ "view", OPT_VIEW, "VIEW", 0, "live-bytes (default), live-objects, alloc-bytes, "
	  "alloc-objects", 0 },
	{ "top", 'n', "N", 0, "Rows in each table (default 10)", 0 },
	{},
};

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &denv.vopts;
		break;
	case 'o':
		denv.output = arg;
		break;
	case 'f':
		if (output_format_parse(arg, &denv.format) || denv.format == OUTPUT_JSON)
			arg_fail(state, "unknown format: %s (folded, html; not json)", arg);
		denv.write_profile = true;
		break;
	case OPT_VIEW:
		if (pm_view_parse(arg, &denv.view))
			arg_fail(state, "unknown view: %s", arg);
		break;
	case 'n':
		if (sscanf(arg, "%d", &denv.top) != 1 || denv.top <= 0)
			arg_fail(state, "invalid number: %s", arg);
		break;
	case ARGP_KEY_ARG:
		if (denv.ninput == 2)
			arg_fail(state, "two profiles: BASE.json NEW.json");
		denv.input[denv.ninput++] = arg;
		break;
	case ARGP_KEY_END:
		if (denv.ninput != 2)
			arg_fail(state, "which profiles? give BASE.json NEW.json");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static int load(const char *path, struct pm_profile *p)
{
	FILE *f = fopen(path, "re");
	int err;

	if (!f) {
		err = -errno;
		fprintf(stderr, "pymem-bpf: cannot open %s: %s\n", path, strerror(-err));
		return err;
	}
	err = output_json_read(f, p);
	fclose(f);
	if (err)
		fprintf(stderr, "pymem-bpf: %s is not a pymem-bpf JSON profile\n", path);
	return err;
}

/* The byte and object counters shown next to a view. */
static enum pm_view size_view(enum pm_view v)
{
	if (v == PM_VIEW_LIVE_OBJECTS)
		return PM_VIEW_LIVE_BYTES;
	return v == PM_VIEW_ALLOC_OBJECTS ? PM_VIEW_ALLOC_BYTES : v;
}

static enum pm_view count_view(enum pm_view v)
{
	if (v == PM_VIEW_ALLOC_BYTES || v == PM_VIEW_ALLOC_OBJECTS)
		return PM_VIEW_ALLOC_OBJECTS;
	return PM_VIEW_LIVE_OBJECTS;
}

static void put_frame(FILE *f, const struct pm_frame *fr)
{
	const char *fn = fr->function && *fr->function ? fr->function : "[unknown]";

	if (fr->kind == PM_FRAME_PYTHON)
		fprintf(f, "%s (%s:%d)", fn, str_or_empty(fr->file), fr->line);
	else if (fr->file && *fr->file)
		fprintf(f, "%s [%s]", fn, fr->file);
	else
		fputs(fn, f);
}

static void put_row(FILE *f, const struct diff_row *r, enum pm_view view)
{
	size_t i;

	fprintf(f, "%+14" PRId64 " %+11" PRId64 " %14" PRIu64 " %11" PRIu64 "  ",
		diff_value(r, size_view(view)), diff_value(r, count_view(view)),
		pm_view_value(&r->new, size_view(view)), pm_view_value(&r->new, count_view(view)));
	if (!r->nframes)
		fputs("[unknown]", f);
	for (i = 0; i < r->nframes; i++) {
		if (i)
			fputc(';', f);
		put_frame(f, &r->frames[i]);
	}
	fputc('\n', f);
}

static void put_table(FILE *f, const char *title, struct diff_table *t, enum pm_view view,
		      uint64_t min_size, int top)
{
	int shown = 0;
	size_t i;

	diff_sort(t, view);
	fprintf(f, "\nTop %d changes by %s:\n%14s %11s %14s %11s  %s\n", top, title,
		"SIZE DIFF", "COUNT DIFF", "NEW SIZE", "NEW COUNT", "WHERE");
	for (i = 0; i < t->nrows && shown < top; i++) {
		const struct diff_row *r = &t->rows[i];

		/* Sorted by |diff|: once one is below the floor, all the rest are. */
		if (magnitude(diff_value(r, view)) < min_size)
			break;
		if (!diff_value(r, size_view(view)) && !diff_value(r, count_view(view)))
			continue;
		put_row(f, r, view);
		shown++;
	}
	if (!shown)
		fputs("  (no change)\n", f);
}

static void put_totals(FILE *f, const struct pm_profile *b, const struct pm_profile *n,
		       enum pm_view view)
{
	struct diff_row tot = { .base = b->totals, .new = n->totals };
	enum pm_view sv = size_view(view), cv = count_view(view);

	fprintf(f, "\nTotals:%14s %11s\n", "SIZE", "COUNT");
	fprintf(f, "  base %14" PRIu64 " %11" PRIu64 "\n", pm_view_value(&b->totals, sv),
		pm_view_value(&b->totals, cv));
	fprintf(f, "  new  %14" PRIu64 " %11" PRIu64 "\n", pm_view_value(&n->totals, sv),
		pm_view_value(&n->totals, cv));
	fprintf(f, "  diff %+14" PRId64 " %+11" PRId64 "\n", diff_value(&tot, sv),
		diff_value(&tot, cv));
}

static void put_dropped(FILE *f, const char *which, const struct pm_profile *p)
{
	bool any = false;
	int d;

	fprintf(f, "dropped (%s):", which);
	for (d = 0; d < DROP__MAX; d++) {
		if (!p->dropped[d])
			continue;
		fprintf(f, "%s %s %" PRIu64, any ? "," : "", pm_drop_name(d), p->dropped[d]);
		any = true;
	}
	fputs(any ? "\n" : " none\n", f);
}

static void put_header(FILE *f, const struct pm_profile *p, const char *which,
		       const char *path)
{
	char iv[32];

	fprintf(f, "%-4s %s: pid %d, python %s, %.1f s%s", which, path, p->pid,
		p->version, p->duration_s, p->target_exited ? ", target exited" : "");
	if (p->sample_interval)
		fprintf(f, ", sampled per %s (estimates)",
			fmt_bytes(p->sample_interval, iv, sizeof(iv)));
	fputc('\n', f);
}

static void print_report(FILE *f, const struct pm_profile *b, const struct pm_profile *n,
			 struct diff_table *stacks, struct diff_table *lines)
{
	put_header(f, b, "BASE", denv.input[0]);
	put_header(f, n, "NEW", denv.input[1]);
	put_table(f, "line (leaf Python frame)", lines, denv.view, denv.vopts.min_size,
		  denv.top);
	put_table(f, "stack", stacks, denv.view, denv.vopts.min_size, denv.top);
	put_totals(f, b, n, denv.view);
	put_dropped(f, "base", b);
	put_dropped(f, "new", n);
}

static int write_growth(const struct diff_table *stacks, const struct pm_profile *n)
{
	struct view_opts after = { .min_size = denv.vopts.min_size,
				   .inverted = denv.vopts.inverted };
	struct pm_profile g = {};
	int err;

	err = diff_growth(stacks, n, &g);
	if (!err)
		err = view_apply_root_first(&g, &after, denv.view);
	if (!err)
		err = view_invert(&g, &after, denv.view, denv.format == OUTPUT_JSON);
	if (!err)
		err = output_write(&g, denv.format, denv.view, true, denv.output);
	else
		fprintf(stderr, "pymem-bpf: out of memory\n");
	pm_profile_free(&g);
	return err;
}

/* Filters and grouping, on an input: no floor or inversion there. */
static int shape_input(struct pm_profile *p)
{
	struct view_opts before = denv.vopts;

	before.min_size = 0;
	before.inverted = false;
	return view_apply(p, &before, denv.view);
}

int diff_main(int argc, char **argv)
{
	static const struct argp_child children[] = {
		{ &view_argp, 0, "View options:", 0 },
		{},
	};
	static const struct argp argp = { .options = opts, .parser = parse_arg, .doc = doc,
					  .children = children };
	struct diff_table stacks = {}, lines = {};
	struct pm_profile b = {}, n = {};
	bool to_stdout;
	int ret = EXIT_BAD_INPUT;

	denv = defaults;
	argp_err_exit_status = EXIT_BAD_INPUT;
	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		return EXIT_BAD_INPUT;
	if (load(denv.input[0], &b) || load(denv.input[1], &n))
		goto out;
	ret = EXIT_FAILURE;
	if (shape_input(&b) || shape_input(&n) || diff_by_stack(&b, &n, &stacks) ||
	    diff_by_line(&stacks, &lines)) {
		fprintf(stderr, "pymem-bpf: out of memory\n");
		goto out;
	}
	to_stdout = denv.write_profile && !strcmp(denv.output, "-");
	if (denv.write_profile && write_growth(&stacks, &n))
		goto out;
	print_report(to_stdout ? stderr : stdout, &b, &n, &stacks, &lines);
	ret = EXIT_SUCCESS;
out:
	diff_table_free(&stacks);
	diff_table_free(&lines);
	pm_profile_free(&b);
	pm_profile_free(&n);
	return ret;
}
