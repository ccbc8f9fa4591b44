// SPDX-License-Identifier: GPL-2.0
/* The "top" table printed at the end of a run. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "output_top.h"

enum { COL_LIVE, COL_LIVE_OBJS, COL_ALLOC, COL_RATE, COL_OBJ_RATE, COL_TEMP, NUM_COLS };

/* FREED<1MS: the churn view, bytes that died within a millisecond of birth */
static const char *const col_names[NUM_COLS] = {
	"LIVE", "LIVE OBJS", "ALLOC", "ALLOC/S", "ALLOCS/S", "FREED<1MS",
};

struct top_row {
	char cell[NUM_COLS][32];
	char *where;		/* malloc'd; NULL falls back to "?" */
};

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

const struct pm_frame *output_top_leaf(const struct pm_stack *s)
{
	size_t i;

	for (i = s->nframes; i > 0; i--)
		if (s->frames[i - 1].kind == PM_FRAME_PYTHON)
			return &s->frames[i - 1];
	return s->nframes ? &s->frames[s->nframes - 1] : NULL;
}

/* Line breaks would tear the table apart. */
static void flatten(char *s)
{
	for (; s && *s; s++)
		if (*s == '\n' || *s == '\r')
			*s = ' ';
}

static char *frame_text(const struct pm_frame *fr)
{
	const char *fn, *file;
	char *out = NULL;
	int r;

	if (!fr)
		return strdup("[unknown]");
	fn = fr->function && *fr->function ? fr->function : "[unknown]";
	file = fr->file ? fr->file : "";
	if (fr->kind == PM_FRAME_PYTHON)
		r = asprintf(&out, "%s (%s:%d)", fn, file, fr->line);
	else if (*file)
		r = asprintf(&out, "%s [%s]", fn, file);
	else
		r = asprintf(&out, "%s", fn);
	if (r < 0)
		return NULL;
	flatten(out);
	return out;
}

static void fill_cells(struct top_row *row, const struct pm_counts *c, double dur)
{
	fmt_bytes(c->live_bytes, row->cell[COL_LIVE], sizeof(row->cell[0]));
	snprintf(row->cell[COL_LIVE_OBJS], sizeof(row->cell[0]), "%" PRIu64, c->live_objects);
	fmt_bytes(c->alloc_bytes, row->cell[COL_ALLOC], sizeof(row->cell[0]));
	if (dur > 0) {
		fmt_bytes((uint64_t)(c->alloc_bytes / dur), row->cell[COL_RATE],
			  sizeof(row->cell[0]));
		snprintf(row->cell[COL_OBJ_RATE], sizeof(row->cell[0]), "%.0f",
			 c->alloc_objects / dur);
	} else {
		strcpy(row->cell[COL_RATE], "-");
		strcpy(row->cell[COL_OBJ_RATE], "-");
	}
	fmt_bytes(c->freed_within[0], row->cell[COL_TEMP], sizeof(row->cell[0]));
}

static bool counts_empty(const struct pm_counts *c)
{
	return !c->alloc_bytes && !c->alloc_objects && !c->free_bytes &&
	       !c->free_objects && !c->live_bytes && !c->live_objects;
}

static int live_desc(const void *a, const void *b, void *unused)
{
	return pm_stack_cmp(*(const struct pm_stack **)a, *(const struct pm_stack **)b,
			    PM_VIEW_LIVE_BYTES);
}

/* Fill up to @n rows from the stacks, most live bytes first; returns the count. */
static size_t pick_rows(const struct pm_profile *p, size_t n, struct top_row *rows)
{
	const struct pm_stack **order;
	size_t i, k = 0;

	order = malloc((p->nstacks ? p->nstacks : 1) * sizeof(*order));
	if (!order)
		return 0;
	for (i = 0; i < p->nstacks; i++)
		order[i] = &p->stacks[i];
	qsort_r(order, p->nstacks, sizeof(*order), live_desc, NULL);
	for (i = 0; i < p->nstacks && k < n; i++) {
		if (counts_empty(&order[i]->c))
			continue;
		fill_cells(&rows[k], &order[i]->c, p->duration_s);
		rows[k++].where = frame_text(output_top_leaf(order[i]));
	}
	free(order);
	return k;
}

static void print_row(FILE *f, char cells[NUM_COLS][32], const int *w, const char *where)
{
	int c;

	for (c = 0; c < NUM_COLS; c++)
		fprintf(f, "%*s  ", w[c], cells[c]);
	fprintf(f, "%s\n", where ? where : "?");
}

void output_top_print(const struct pm_profile *p, size_t n, FILE *f)
{
	struct top_row *rows, total, head;
	int w[NUM_COLS], c;
	size_t i, k = 0;
	char where[64];

	if (n > p->nstacks)
		n = p->nstacks;
	rows = calloc(n ? n : 1, sizeof(*rows));
	if (rows)
		k = pick_rows(p, n, rows);

	memset(&head, 0, sizeof(head));
	memset(&total, 0, sizeof(total));
	fill_cells(&total, &p->totals, p->duration_s);
	for (c = 0; c < NUM_COLS; c++) {
		strcpy(head.cell[c], col_names[c]);
		w[c] = strlen(head.cell[c]);
		if ((int)strlen(total.cell[c]) > w[c])
			w[c] = strlen(total.cell[c]);
		for (i = 0; i < k; i++)
			if ((int)strlen(rows[i].cell[c]) > w[c])
				w[c] = strlen(rows[i].cell[c]);
	}

	print_row(f, head.cell, w, "WHERE");
	for (i = 0; i < k; i++)
		print_row(f, rows[i].cell, w, rows[i].where);
	snprintf(where, sizeof(where), "total: %zu stacks in %.1f s", p->nstacks, p->duration_s);
	print_row(f, total.cell, w, where);
	pm_drops_line(f, p, "");

	for (i = 0; i < k; i++)
		free(rows[i].where);
	free(rows);
}
