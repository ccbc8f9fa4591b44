/* SPDX-License-Identifier: GPL-2.0 */
/*
 * An attached session from the first event to the last: poll the kernel
 * until it ends, a table (or `top`'s screen) every interval, and the
 * profile at the end.
 */
#ifndef PYMEM_SESSION_H
#define PYMEM_SESSION_H

#include <signal.h>
#include <stdio.h>
#include "collect.h"
#include "holders.h"
#include "interval.h"
#include "overhead.h"
#include "output_top.h"
#include "pytarget.h"
#include "top.h"
#include "view.h"

struct session_opts {
	double duration;		/* 0: until a signal or the target's exit */
	double interval;		/* 0: no tables while it runs */
	enum pm_view view;
	const struct view_opts *vopts;
	const struct top_opts *topts;
	FILE *tables;			/* where the interval tables go */
};

struct session {
	struct collector *col;
	const struct pytarget *t;
	const struct session_opts *o;
	double start;			/* CLOCK_MONOTONIC seconds */
	double start_time;		/* the same moment, in seconds since the epoch */
	struct interval *iv;		/* with an interval */
	struct top_ui *ui;		/* `top` on a terminal */
	uint64_t sample_interval;	/* sampled mode's, in force (0: exact) */
	double max_overhead;		/* and the share of CPU it adapts to (0: fixed) */
	struct overhead *oh;		/* that adaptation */
	struct holders *holders;	/* read at the end (--holders), or NULL */
	struct attachment *a;		/* sampled: libraries it loads meanwhile are redirected */
	unsigned int holders_top;	/* stacks that keep their holders */
};

/* CLOCK_MONOTONIC, in seconds. */
double session_now(void);

/*
 * Poll until the duration ends, *stop is set (a signal), `top`'s q is
 * pressed or the target exits; true for the last.
 */
bool session_run(struct session *s, volatile sig_atomic_t *stop);

/*
 * Everything counted so far as a profile under the session's view options,
 * root first; with an interval, each stack with its series.  0 or -errno.
 */
int session_profile(struct session *s, bool exited, struct pm_profile *p);

#endif /* PYMEM_SESSION_H */
