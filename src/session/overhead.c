// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "overhead.h"

/* a window: long enough for /proc's clock ticks (10 ms) to count */
#define WINDOW_S	1.0
#define MIN_CPU_NS	20000000ULL	/* a target idler than this over a window: wait on */
#define MAX_INTERVAL	(1ULL << 30)
#define MAX_STEP	8.0

struct overhead {
	struct probes *p;
	const struct overhead_ops *ops;
	void *arg;
	uint64_t floor;		/* the interval asked for: never less */
	uint64_t interval;
	double max_pct;
	double since;		/* the window's start */
	uint64_t bpf_ns, cpu_ns;	/* at its start */
};

static int sample(const struct overhead *o, uint64_t *bpf_ns, uint64_t *cpu_ns)
{
	return probes_run_time(o->p, bpf_ns) ?: o->ops->cpu_ns(o->arg, cpu_ns);
}

struct overhead *overhead_new(struct probes *p, const struct overhead_ops *ops, void *arg,
			      uint64_t interval, double max_pct, char *err, size_t errlen)
{
	struct overhead *o = calloc(1, sizeof(*o));
	int ret;

	if (!o) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	o->p = p;
	o->ops = ops;
	o->arg = arg;
	o->floor = o->interval = interval;
	o->max_pct = max_pct;
	ret = probes_count_run_time(p);
	if (!ret)
		ret = sample(o, &o->bpf_ns, &o->cpu_ns);
	if (ret) {
		snprintf(err, errlen, "--max-overhead cannot measure the probes' run time: %s",
			 strerror(-ret));
		free(o);
		return NULL;
	}
	return o;
}

/* Over budget: up in proportion (to 70% of it); well under: halved, back toward the floor. */
static uint64_t adapt(const struct overhead *o, double pct)
{
	double step;
	uint64_t next = o->interval;

	if (pct > o->max_pct) {
		step = pct / (0.7 * o->max_pct);
		next = (uint64_t)(o->interval * (step < MAX_STEP ? step : MAX_STEP));
		if (next > MAX_INTERVAL)
			next = MAX_INTERVAL;
	} else if (pct < 0.3 * o->max_pct && o->interval > o->floor) {
		next = o->interval / 2 > o->floor ? o->interval / 2 : o->floor;
	}
	return next & ~1023ULL ?: 1024;
}

uint64_t overhead_tick(struct overhead *o, double now)
{
	uint64_t bpf_ns, cpu_ns, next;
	double pct;

	if (now - o->since < WINDOW_S || sample(o, &bpf_ns, &cpu_ns))
		return o->interval;
	/* a target gone (the agent's) takes its CPU time out of the sum: a window anew */
	if (cpu_ns < o->cpu_ns || bpf_ns < o->bpf_ns) {
		o->since = now;
		o->bpf_ns = bpf_ns;
		o->cpu_ns = cpu_ns;
		return o->interval;
	}
	if (cpu_ns < o->cpu_ns + MIN_CPU_NS)
		return o->interval;
	pct = 100.0 * (double)(bpf_ns - o->bpf_ns) / (double)(cpu_ns - o->cpu_ns);
	o->since = now;
	o->bpf_ns = bpf_ns;
	o->cpu_ns = cpu_ns;
	next = adapt(o, pct);
	if (next == o->interval)
		return o->interval;
	if (!o->ops->apply(o->arg, next))
		o->interval = next;
	return o->interval;
}

void overhead_free(struct overhead *o)
{
	free(o);
}
