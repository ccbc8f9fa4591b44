/* SPDX-License-Identifier: GPL-2.0 */
/*
 * --max-overhead: sampled mode's interval, adapted while the session runs
 * so that the time the target spends in the BPF programs (the kernel's
 * run-time statistics) stays under a share of the target's CPU time
 * (/proc/PID/stat).  Each sample is weighed with the interval in force
 * when it was taken (bpf/sample.bpf.h), so estimates stay unbiased across
 * changes, but for each thread's one sample point drawn before a change.
 */
#ifndef PYMEM_OVERHEAD_H
#define PYMEM_OVERHEAD_H

#include <stddef.h>
#include <stdint.h>
#include "attach.h"

struct overhead;

/*
 * Start measuring for a's target, sampled at interval bytes, its probes to
 * stay under max_pct percent of its CPU time; the interval never goes
 * below the first.  NULL with a one-line reason in err.
 */
struct overhead *overhead_new(struct attachment *a, uint64_t interval, double max_pct,
			      char *err, size_t errlen);
/* At now (seconds): once a window has passed, measure it and adapt.  The interval in force. */
uint64_t overhead_tick(struct overhead *o, double now);
void overhead_free(struct overhead *o);

#endif
