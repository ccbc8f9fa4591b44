/* SPDX-License-Identifier: GPL-2.0 */
/*
 * --max-overhead: sampled mode's interval, adapted while the session runs
 * so that the time the targets spend in the BPF programs (the kernel's
 * run-time statistics of the loaded object) stays under a share of their
 * CPU time (/proc/PID/stat): one target's with -p, the agent's every
 * target's together, all of them then sampled at the same interval.  Each sample is weighed with the interval in force
 * when it was taken (bpf/sample.bpf.h), so estimates stay unbiased across
 * changes, but for each thread's one sample point drawn before a change.
 */
#ifndef PYMEM_OVERHEAD_H
#define PYMEM_OVERHEAD_H

#include <stddef.h>
#include <stdint.h>
#include "attach.h"

struct overhead;

struct overhead_ops {
	/* the targets' CPU time so far, in ns; 0 or -errno */
	int (*cpu_ns)(void *arg, uint64_t *ns);
	/* sample every target at interval from now on; 0 or -errno (nothing changed) */
	int (*apply)(void *arg, uint64_t interval);
};

/*
 * Start measuring p's probes, the targets sampled at interval bytes, to
 * stay under max_pct percent of their CPU time; the interval never goes
 * below the first.  NULL with a one-line reason in err.
 */
struct overhead *overhead_new(struct probes *p, const struct overhead_ops *ops, void *arg,
			      uint64_t interval, double max_pct, char *err, size_t errlen);
/* At now (seconds): once a window has passed, measure it and adapt.  The interval in force. */
uint64_t overhead_tick(struct overhead *o, double now);
void overhead_free(struct overhead *o);

#endif
