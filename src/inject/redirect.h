/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Allocator redirection: point the interpreter's raw/mem/obj dispatch
 * tables at trampolines mapped into the target, so that every allocation,
 * inlined fast path or not, passes one nop5 probe point.
 */
#ifndef PYMEM_REDIRECT_H
#define PYMEM_REDIRECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "probes.h"
#include "pytarget.h"

struct redirect;

struct redirect_opts {
	/*
	 * Sampled mode (trampoline.h): one allocation per sample_interval bytes
	 * on average, the trampolines' generators seeded from seed; 0: exact.
	 */
	uint64_t sample_interval;
	uint64_t seed;
	bool repeatable;	/* every thread draws the same sequence from seed */
};

/*
 * Install the trampolines and their probes with every thread of the target
 * stopped.  0, or a negative errno with a one-line reason in err and the
 * tables as they were (a trampoline mapping may stay behind, unused):
 * -EPERM ptrace refused, -EBUSY tables already hooked (tracemalloc,
 * debug hooks, a custom allocator), -ENOENT tables not found.
 */
int redirect_start(const struct pytarget *t, struct probe_target *p, const struct redirect_opts *o,
		   struct redirect **out, char *err, size_t errlen);
/*
 * Sampled mode: from now on the trampolines draw their intervals for this
 * mean (each thread's next sample point, drawn already, stays); the target
 * keeps running.  0 or -errno.
 */
int redirect_sample_interval(struct redirect *r, uint64_t interval);
/*
 * Sampled mode: redirect the GOT entries of libraries loaded since (every
 * thread stopped, if there are any).  0 or -errno.
 */
int redirect_follow_libs(struct redirect *r);
struct got_stats;
/* The libraries and entries redirected so far (all zero: none, or exact mode) */
void redirect_libs_stats(const struct redirect *r, struct got_stats *st);
/* Restore the original pointers (every thread stopped again); the mapping stays. */
void redirect_stop(struct redirect *r);

#endif
