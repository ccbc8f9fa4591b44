/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Snapshots taken every -i SECONDS: what changed over the interval just
 * ended (the rates of "what churns right now"), and a time series per stack
 * so that a saved profile can show growth.
 *
 * The series are bounded: at each step only the INTERVAL_SERIES_STACKS
 * stacks that matter most then (bytes allocated in the interval plus bytes
 * live) get a point, so a series may have gaps; its counters are
 * cumulative, so the difference of any two points is exact.  A series
 * keeps at most INTERVAL_SERIES_POINTS points: when a session outgrows
 * that, every other step is dropped from every series and the step
 * doubles.  At most STACKS x POINTS points, and as many stacks, are held.
 */
#ifndef PYMEM_INTERVAL_H
#define PYMEM_INTERVAL_H

#include "profile.h"

#define INTERVAL_SERIES_STACKS	32
#define INTERVAL_SERIES_POINTS	256

struct interval;

/* Ticks come every @step_s seconds.  NULL without memory. */
struct interval *interval_new(double step_s);
void interval_free(struct interval *iv);

/*
 * Take the snapshot @cur, taken @t seconds after the start: set each
 * stack's d to its change since the previous snapshot (since attach for
 * the first one) and cur->interval_s to the time between them, add the
 * series points, and keep @cur as the latest (moved: *cur is zeroed).
 * 0 or -ENOMEM; @cur is kept either way.
 */
int interval_tick(struct interval *iv, struct pm_profile *cur, double t);
/* The latest snapshot; NULL before the first tick. */
const struct pm_profile *interval_latest(const struct interval *iv);
/*
 * Give the session's final profile its series: every stack that has one
 * gets its points and a last one from its own counters at its duration.
 */
int interval_finish(struct interval *iv, struct pm_profile *final);

#endif /* PYMEM_INTERVAL_H */
