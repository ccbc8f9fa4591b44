// SPDX-License-Identifier: GPL-2.0
/* The "top" table, printed at the end of a run, every -i SECONDS and by `top`. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "cli_args.h"
#include "output_heap.h"
#include "output_top.h"

/* FREED<1MS: the churn view, bytes that died within a millisecond of birth */
static const char *const col_names[TOP__NCOLS] = {
	[TOP_LIVE]	= "LIVE",
	[TOP_LIVE_OBJS]	= "LIVE OBJS",
	[TOP_GROWTH]	= "GROWTH",
	[TOP_PEAK]	= "PEAK",
	[TOP_ALLOC]	= "ALLOC",
	[TOP_ALLOCS]	= "ALLOCS",
	[TOP_RATE]	= "ALLOC/S",
	[TOP_OBJ_RATE]	= "ALLOCS/S",
	[TOP_FREED]	= "FREED<1MS",
};

#define CELL	32

struct top_row {
	char cell[TOP__NCOLS][CELL];
	char *where;		/* malloc'd; NULL falls back to "?" */
};

/* What one table shows: its rank, which columns, and over how long rates run. */
struct table {
	const struct pm_profile *p;
	enum top_col rank;
	bool shown[TOP__NCOLS];
	bool interval;
};

enum { OPT_SORT = 0x300, OPT_WHERE };

static const struct argp_option top_options[] = {
	{ "top", 'n', "N", 0, "Rows in the top table (default 10)", 0 },
	{ "sort", OPT_SORT, "COLUMN", 0,
	  "Rank the top table by COLUMN: live, live-objs, growth, peak, alloc, allocs, "
	  "alloc/s (or rate), allocs/s, freed<1ms (or freed) (default: the --view's)", 0 },
	{ "where", OPT_WHERE, "RULE", 0,
	  "What a row names: user (default: the leaf Python frame, and when it is in the "
	  "standard library or <frozen ...> also the first caller outside them), leaf, or GLOB "
	  "(the first caller not matching GLOB)", 0 },
	{},
};

static error_t top_parse_opt(int key, char *arg, struct argp_state *state)
{
	struct top_opts *o = state->input;
	char *end;
	long n;

	if (key != 'n' && key != OPT_SORT && key != OPT_WHERE)
		return ARGP_ERR_UNKNOWN;
	if (!o) {
		arg_fail(state, "internal error: no struct top_opts");
		return EINVAL;
	}
	switch (key) {
	case 'n':
		n = strtol(arg, &end, 10);
		if (*end || n <= 0) {
			arg_fail(state, "invalid number: %s", arg);
			return EINVAL;
		}
		o->rows = n;
		break;
	case OPT_SORT:
		o->sort = top_col_parse(arg);
		if (o->sort < 0) {
			arg_fail(state, "unknown --sort column: %s "
				     "(live, live-objs, growth, peak, alloc, allocs, alloc/s, allocs/s, "
				     "freed<1ms)", arg);
			return EINVAL;
		}
		break;
	case OPT_WHERE:
		if (where_parse(arg, &o->where)) {
			arg_fail(state, "empty --where (user, leaf or a GLOB)");
			return EINVAL;
		}
		break;
	}
	return 0;
}

const struct argp top_argp = { .options = top_options, .parser = top_parse_opt };

/* Case aside, ' ' and '-' are one: "live-objs" is "LIVE OBJS". */
static bool name_is(const char *s, const char *name)
{
	for (; *s && *name; s++, name++) {
		if ((*s == '-' || *s == ' ') && *name == ' ')
			continue;
		if (strncasecmp(s, name, 1))
			return false;
	}
	return !*s && !*name;
}

int top_col_parse(const char *s)
{
	int c;

	if (!s)
		return -1;
	if (!strcasecmp(s, "rate"))
		return TOP_RATE;
	if (!strcasecmp(s, "freed"))
		return TOP_FREED;
	for (c = 0; c < TOP__NCOLS; c++)
		if (name_is(s, col_names[c]))
			return c;
	return -1;
}

const char *top_col_name(enum top_col c)
{
	return (unsigned int)c < TOP__NCOLS ? col_names[c] : "?";
}

enum top_col top_rank(const struct top_opts *o, enum pm_view view, bool interval)
{
	if (o->sort >= 0 && o->sort < TOP__NCOLS)
		return o->sort;
	switch (view) {
	case PM_VIEW_LIVE_OBJECTS:
		return TOP_LIVE_OBJS;
	/* an interval table is about now: what was allocated in the interval */
	case PM_VIEW_ALLOC_BYTES:
		return interval ? TOP_RATE : TOP_ALLOC;
	case PM_VIEW_ALLOC_OBJECTS:
		return interval ? TOP_OBJ_RATE : TOP_ALLOCS;
	case PM_VIEW_PEAK_BYTES:
		return TOP_PEAK;
	case PM_VIEW_LIVE_BYTES:
		break;
	}
	return TOP_LIVE;
}

const char *fmt_bytes(uint64_t v, char *buf, size_t len)
{
	static const char *const units[] = { "KiB", "MiB", "GiB" };
	double d = v / 1024.0;
	size_t u = 0;

	if (v < 1024) {
		snprintf(buf, len, "%" PRIu64 " B", v);
		return buf;
	}
	/* Step up before "%.1f" would round to 1024.0 of the smaller unit. */
	while (d >= 1023.95 && u < 2) {
		d /= 1024.0;
		u++;
	}
	snprintf(buf, len, "%.1f %s", d, units[u]);
	return buf;
}

/* "+1.5 MiB", "-300 B", "0 B" */
static void fmt_growth(int64_t v, char *buf, size_t len)
{
	if (len < 2)
		return;
	buf[0] = v > 0 ? '+' : '-';
	fmt_bytes(v < 0 ? -(uint64_t)v : (uint64_t)v, buf + !!v, len - !!v);
}

/*
 * A stack's value in a column, for ranking.  A session table's rates are
 * its totals over one duration, so they rank as the totals do, and its
 * GROWTH since attach is what is live (only the session's blocks count).
 */
static int64_t col_value(const struct table *t, const struct pm_counts *c,
			 const struct pm_delta *d, enum top_col col)
{
	switch (col) {
	case TOP_LIVE:
		return c->live_bytes;
	case TOP_LIVE_OBJS:
		return c->live_objects;
	case TOP_GROWTH:
		return t->interval ? d->live_bytes : (int64_t)c->live_bytes;
	case TOP_PEAK:
		return c->peak_bytes;
	case TOP_ALLOC:
		return c->alloc_bytes;
	case TOP_ALLOCS:
		return c->alloc_objects;
	case TOP_RATE:
		return t->interval ? d->alloc_bytes : c->alloc_bytes;
	case TOP_OBJ_RATE:
		return t->interval ? d->alloc_objects : c->alloc_objects;
	case TOP_FREED:
		return c->freed_within[0];
	case TOP__NCOLS:
		break;
	}
	return 0;
}

static void fill_cells(const struct table *t, struct top_row *row, const struct pm_counts *c,
		       const struct pm_delta *d)
{
	double secs = t->interval ? t->p->interval_s : t->p->duration_s;
	int64_t v;
	int col;

	for (col = 0; col < TOP__NCOLS; col++) {
		char *cell = row->cell[col];

		v = col_value(t, c, d, col);
		switch (col) {
		case TOP_LIVE_OBJS:
		case TOP_ALLOCS:
			snprintf(cell, CELL, "%" PRId64, v);
			break;
		case TOP_GROWTH:
			fmt_growth(v, cell, CELL);
			break;
		case TOP_RATE:
			if (secs > 0)
				fmt_bytes((uint64_t)(v / secs), cell, CELL);
			else
				strcpy(cell, "-");
			break;
		case TOP_OBJ_RATE:
			if (secs > 0)
				snprintf(cell, CELL, "%.0f", v / secs);
			else
				strcpy(cell, "-");
			break;
		default:
			fmt_bytes(v, cell, CELL);
		}
	}
}

static bool counts_empty(const struct pm_counts *c)
{
	return !c->alloc_bytes && !c->alloc_objects && !c->free_bytes &&
	       !c->free_objects && !c->live_bytes && !c->live_objects;
}

static int rank_desc(const void *a, const void *b, void *arg)
{
	const struct pm_stack *x = *(const struct pm_stack **)a;
	const struct pm_stack *y = *(const struct pm_stack **)b;
	const struct table *t = arg;
	int64_t vx = col_value(t, &x->c, &x->d, t->rank);
	int64_t vy = col_value(t, &y->c, &y->d, t->rank);

	if (vx != vy)
		return vx > vy ? -1 : 1;
	/* equal values still sort the same way on every run */
	return pm_stack_cmp(x, y, PM_VIEW_LIVE_BYTES);
}

/* WHERE, then the stack's main holder (--holders): "... <- module __main__ . cache [*] (bytearray x6)" */
static char *with_holder(char *where, const struct pm_stack *s)
{
	char *path, *out, size[32];

	if (!where || !s->nholders)
		return where;
	path = pm_holder_path(&s->holders[0]);
	if (!path || asprintf(&out, "%s  <- %s (%s x%llu = %s)", where, path, s->holders[0].type,
			      (unsigned long long)s->holders[0].objects,
			      fmt_bytes(s->holders[0].bytes, size, sizeof(size))) < 0)
		out = NULL;
	free(path);
	if (!out)
		return where;
	free(where);
	return out;
}

/* Fill up to @n rows from the stacks, in the rank's order; returns the count. */
static size_t pick_rows(const struct table *t, size_t n, const struct where_rule *w,
			struct top_row *rows)
{
	const struct pm_profile *p = t->p;
	const struct pm_stack **order;
	size_t i, k = 0;

	order = malloc((p->nstacks ? p->nstacks : 1) * sizeof(*order));
	if (!order)
		return 0;
	for (i = 0; i < p->nstacks; i++)
		order[i] = &p->stacks[i];
	qsort_r(order, p->nstacks, sizeof(*order), rank_desc, (void *)t);
	for (i = 0; i < p->nstacks && k < n; i++) {
		if (counts_empty(&order[i]->c))
			continue;
		fill_cells(t, &rows[k], &order[i]->c, &order[i]->d);
		rows[k++].where = with_holder(where_text(order[i]->frames, order[i]->nframes, w),
					      order[i]);
	}
	free(order);
	return k;
}

static void print_row(FILE *f, const struct table *t, char cells[TOP__NCOLS][CELL],
		      const int *w, const char *where)
{
	int c;

	for (c = 0; c < TOP__NCOLS; c++)
		if (t->shown[c])
			fprintf(f, "%*s  ", w[c], cells[c]);
	fprintf(f, "%s\n", where ? where : "?");
}

static void print_title(FILE *f, const struct table *t)
{
	const struct pm_profile *p = t->p;
	const struct cgroup_id *c = &p->container;
	char iv[32], adapt[80] = "";

	/* which of a host's many containers this is: the short ID, as runtimes print it */
	if (c->container[0] || c->pod_uid[0])
		fprintf(f, "PID %d in container %.12s%s%s%s%s%s\n", p->pid,
			c->container[0] ? c->container : "?", c->runtime[0] ? " (" : "", c->runtime,
			c->runtime[0] ? ")" : "", c->pod_uid[0] ? ", pod " : "", c->pod_uid);
	if (t->interval)
		fprintf(f, "%zu stacks at %.2f s, ranked by %s; rates and GROWTH over the last "
			"%.2f s\n", p->nstacks, p->duration_s, col_names[t->rank], p->interval_s);
	else
		fprintf(f, "%zu stacks, ranked by %s; rates over the whole %.2f s\n", p->nstacks,
			col_names[t->rank], p->duration_s);
	if (p->max_overhead > 0)
		snprintf(adapt, sizeof(adapt), " (adapted: probes under %g%% of the target's CPU)",
			 p->max_overhead);
	if (p->sample_interval)
		fprintf(f, "sampled: one allocation per %s allocated on average%s; every figure is "
			"an estimate\n", fmt_bytes(p->sample_interval, iv, sizeof(iv)), adapt);
	if (p->libs.libraries || p->libs.foreign)
		fprintf(f, "libc's malloc family followed in %u libraries (%u GOT entries)%s\n",
			p->libs.libraries, p->libs.entries,
			p->libs.foreign ? "; some are bound to another allocator: not seen" : "");
}

void output_top_print(const struct pm_profile *p, enum pm_view view,
		      const struct top_opts *o, FILE *f)
{
	struct table t = { .p = p, .interval = p->interval_s > 0 };
	size_t i, k = 0, n = o->rows ? o->rows : 10;
	struct top_row *rows, total, head;
	int w[TOP__NCOLS], c;
	char where[64];

	t.rank = top_rank(o, view, t.interval);
	for (c = 0; c < TOP__NCOLS; c++)
		t.shown[c] = c == (int)t.rank;
	t.shown[TOP_LIVE] = t.shown[TOP_LIVE_OBJS] = t.shown[TOP_ALLOC] = true;
	t.shown[TOP_RATE] = t.shown[TOP_OBJ_RATE] = t.shown[TOP_FREED] = true;
	t.shown[TOP_GROWTH] |= t.interval;

	if (n > p->nstacks)
		n = p->nstacks;
	rows = calloc(n ? n : 1, sizeof(*rows));
	if (rows)
		k = pick_rows(&t, n, &o->where, rows);

	memset(&head, 0, sizeof(head));
	memset(&total, 0, sizeof(total));
	fill_cells(&t, &total, &p->totals, &p->dtotals);
	for (c = 0; c < TOP__NCOLS; c++) {
		snprintf(head.cell[c], CELL, "%s%s", col_names[c], c == (int)t.rank ? "*" : "");
		w[c] = strlen(head.cell[c]);
		if ((int)strlen(total.cell[c]) > w[c])
			w[c] = strlen(total.cell[c]);
		for (i = 0; i < k; i++)
			if ((int)strlen(rows[i].cell[c]) > w[c])
				w[c] = strlen(rows[i].cell[c]);
	}

	print_title(f, &t);
	print_row(f, &t, head.cell, w, "WHERE");
	for (i = 0; i < k; i++)
		print_row(f, &t, rows[i].cell, w, rows[i].where);
	snprintf(where, sizeof(where), "total: %zu stacks in %.1f s", p->nstacks, p->duration_s);
	print_row(f, &t, total.cell, w, where);
	pm_drops_line(f, p, "");
	if (p->heap)
		output_heap_print(p, f);

	for (i = 0; i < k; i++)
		free(rows[i].where);
	free(rows);
}
