// SPDX-License-Identifier: GPL-2.0
/* Interval deltas between snapshots, and the bounded per-stack time series. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "interval.h"

struct interval {
	double step_s;
	double last_t;			/* of latest; 0, the start, before the first */
	struct pm_profile latest;
	bool have_latest;
	unsigned long ticks;
	unsigned long stride;		/* a point every stride ticks */
	/* the times points were taken at, which every series' points are among */
	double times[INTERVAL_SERIES_POINTS];
	size_t ntimes;
	struct pm_profile track;	/* stacks with a series; counters unused */
};

struct interval *interval_new(double step_s)
{
	struct interval *iv = calloc(1, sizeof(*iv));

	if (!iv)
		return NULL;
	iv->step_s = step_s;
	iv->stride = 1;
	return iv;
}

void interval_free(struct interval *iv)
{
	if (!iv)
		return;
	pm_profile_free(&iv->latest);
	pm_profile_free(&iv->track);
	free(iv);
}

const struct pm_profile *interval_latest(const struct interval *iv)
{
	return iv->have_latest ? &iv->latest : NULL;
}

static uint64_t minus(uint64_t a, uint64_t b)
{
	/* grouping can move a stack's counters; a counter never goes back */
	return a > b ? a - b : 0;
}

static void set_deltas(struct interval *iv, struct pm_profile *cur)
{
	const struct pm_stack *old;
	size_t i;

	for (i = 0; i < cur->nstacks; i++) {
		struct pm_stack *s = &cur->stacks[i];

		old = iv->have_latest ? pm_profile_find(&iv->latest, s->frames, s->nframes) : NULL;
		s->d.alloc_bytes = minus(s->c.alloc_bytes, old ? old->c.alloc_bytes : 0);
		s->d.alloc_objects = minus(s->c.alloc_objects, old ? old->c.alloc_objects : 0);
		s->d.live_bytes = (int64_t)s->c.live_bytes - (int64_t)(old ? old->c.live_bytes : 0);
	}
}

/* Is @t among times[] (both sorted walks would do; the arrays are short)? */
static bool time_kept(const struct interval *iv, double t)
{
	size_t i;

	for (i = 0; i < iv->ntimes; i++)
		if (iv->times[i] == t)
			return true;
	return false;
}

/*
 * Every other step goes: the times at odd ticks of the current stride.
 * Stacks left without points are dropped, so the stacks held stay bounded.
 */
static int halve(struct interval *iv)
{
	struct pm_profile kept = {};
	size_t i, j, n = 0;
	int err = 0;

	for (i = 1; i < iv->ntimes; i += 2)
		iv->times[n++] = iv->times[i];
	iv->ntimes = n;
	iv->stride *= 2;
	for (i = 0; i < iv->track.nstacks && !err; i++) {
		struct pm_stack *s = &iv->track.stacks[i];

		for (j = n = 0; j < s->npoints; j++)
			if (time_kept(iv, s->series[j].t))
				s->series[n++] = s->series[j];
		s->npoints = n;
		if (n)
			err = pm_profile_add_stack(&kept, s->frames, s->nframes, s);
	}
	if (err) {
		pm_profile_free(&kept);
		return err;
	}
	pm_profile_free(&iv->track);
	iv->track = kept;
	return 0;
}

/* What a stack weighs at a step: what it allocated in the interval, and holds. */
static uint64_t score(const struct pm_stack *s)
{
	return s->d.alloc_bytes + s->c.live_bytes;
}

/* A few dozen a tick: growing by one is cheap enough, and halve() needs no capacity kept. */
static int append(struct pm_stack *s, const struct pm_point *pt)
{
	struct pm_point *n = realloc(s->series, (s->npoints + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	s->series = n;
	s->series[s->npoints++] = *pt;
	return 0;
}

/* A point at @t for the stacks of @cur that matter most now. */
static int record(struct interval *iv, const struct pm_profile *cur, double t)
{
	static const struct pm_counts none;
	const struct pm_stack **order;
	struct pm_stack *ts;
	struct pm_point pt;
	size_t i;
	int err = 0;

	if (iv->ntimes == INTERVAL_SERIES_POINTS) {
		err = halve(iv);
		if (err)
			return err;
	}
	if (iv->ticks % iv->stride)
		return 0;
	order = pm_profile_order_by(cur, score);
	if (!order)
		return -ENOMEM;
	iv->times[iv->ntimes++] = t;
	for (i = 0; i < cur->nstacks && i < INTERVAL_SERIES_STACKS && !err; i++) {
		if (!score(order[i]))
			break;
		err = pm_profile_add(&iv->track, order[i]->frames, order[i]->nframes, &none);
		ts = err ? NULL : pm_profile_find(&iv->track, order[i]->frames, order[i]->nframes);
		if (!ts)
			break;
		pt = (struct pm_point){ t, order[i]->c.alloc_bytes, order[i]->c.live_bytes };
		err = append(ts, &pt);
	}
	free(order);
	return err;
}

int interval_tick(struct interval *iv, struct pm_profile *cur, double t)
{
	int err;

	set_deltas(iv, cur);
	cur->interval_s = t - iv->last_t;
	pm_profile_sum(cur);
	iv->ticks++;
	err = record(iv, cur, t);
	pm_profile_free(&iv->latest);
	iv->latest = *cur;
	memset(cur, 0, sizeof(*cur));
	iv->have_latest = true;
	iv->last_t = t;
	return err;
}

int interval_finish(struct interval *iv, struct pm_profile *final)
{
	const struct pm_stack *ts;
	struct pm_point last;
	size_t i;

	final->series = (struct pm_series_info){
		.step_s = iv->step_s * iv->stride,
		.max_points = INTERVAL_SERIES_POINTS,
		.max_stacks = INTERVAL_SERIES_STACKS,
	};
	for (i = 0; i < final->nstacks; i++) {
		struct pm_stack *s = &final->stacks[i];

		ts = pm_profile_find(&iv->track, s->frames, s->nframes);
		if (!ts || !ts->npoints)
			continue;
		free(s->series);
		s->series = malloc((ts->npoints + 1) * sizeof(*s->series));
		if (!s->series)
			return -ENOMEM;
		memcpy(s->series, ts->series, ts->npoints * sizeof(*s->series));
		s->npoints = ts->npoints;
		last = (struct pm_point){ final->duration_s, s->c.alloc_bytes, s->c.live_bytes };
		if (last.t > s->series[s->npoints - 1].t)
			s->series[s->npoints++] = last;
	}
	return 0;
}
