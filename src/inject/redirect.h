/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Allocator redirection: point the interpreter's raw/mem/obj dispatch
 * tables at trampolines mapped into the target, so that every allocation,
 * inlined fast path or not, passes one nop5 probe point.
 */
#ifndef PYMEM_REDIRECT_H
#define PYMEM_REDIRECT_H

#include <stddef.h>
#include "probes.h"
#include "pytarget.h"

struct redirect;

/*
 * Install the trampolines and their probes with every thread of the target
 * stopped.  0, or a negative errno with a one-line reason in err and the
 * tables as they were (a trampoline mapping may stay behind, unused):
 * -EPERM ptrace refused, -EBUSY tables already hooked (tracemalloc,
 * debug hooks, a custom allocator), -ENOENT tables not found.
 */
int redirect_start(const struct pytarget *t, struct probe_target *p, struct redirect **out,
		   char *err, size_t errlen);
/* Restore the original pointers (every thread stopped again); the mapping stays. */
void redirect_stop(struct redirect *r);

#endif
