/* SPDX-License-Identifier: GPL-2.0 */
/* The "top" table: the stacks ranked by the column the view (or --sort) picks. */
#ifndef PYMEM_OUTPUT_TOP_H
#define PYMEM_OUTPUT_TOP_H

#include <argp.h>
#include <stdint.h>
#include <stdio.h>
#include "profile.h"
#include "where.h"

/* Columns, in the order they are printed; WHERE comes last. */
enum top_col {
	TOP_LIVE,
	TOP_LIVE_OBJS,
	TOP_GROWTH,	/* live bytes' change over the interval (a session table: LIVE) */
	TOP_PEAK,
	TOP_ALLOC,
	TOP_ALLOCS,
	TOP_RATE,	/* bytes allocated per second, over the interval or the session */
	TOP_OBJ_RATE,
	TOP_FREED,	/* bytes freed within 1 ms of their allocation: the churn */
	TOP__NCOLS,
};

#define TOP_SORT_VIEW	(-1)

struct top_opts {
	size_t rows;			/* -n: at most; 0 (none given) reads as 10, top: what fits */
	int sort;			/* an enum top_col, or TOP_SORT_VIEW */
	struct where_rule where;
};

#define TOP_OPTS_DEFAULT { .sort = TOP_SORT_VIEW }

/*
 * argp child for -n, --sort and --where; its input is the struct top_opts
 * to fill, handed over on ARGP_KEY_INIT as view_argp's is.  Keys 0x300..
 */
extern const struct argp top_argp;

/* A header ("ALLOC/S", "live-objs", any case) or "rate" / "freed"; -1 if none. */
int top_col_parse(const char *s);
const char *top_col_name(enum top_col c);
/* The column a table ranks by: --sort, else the view's (rates in an interval table). */
enum top_col top_rank(const struct top_opts *o, enum pm_view view, bool interval);

/*
 * Human-readable bytes: "1023 B", "1.0 KiB", "1.5 MiB", "3.2 GiB" (GiB is
 * the largest unit).  Writes into @buf and returns it.
 */
const char *fmt_bytes(uint64_t v, char *buf, size_t len);

/*
 * A title naming the rank column, the column header (the rank marked '*'),
 * a row for each of the first o->rows stacks in that column's order
 * (stacks with no counts at all are skipped), a totals row and a
 * "dropped:" line.  With p->interval_s, rates, GROWTH and the totals are
 * over that interval.
 */
void output_top_print(const struct pm_profile *p, enum pm_view view,
		      const struct top_opts *o, FILE *f);

#endif /* PYMEM_OUTPUT_TOP_H */
