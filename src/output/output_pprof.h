/* SPDX-License-Identifier: GPL-2.0 */
/* pprof output: a gzipped perftools.profiles.Profile for `go tool pprof`. */
#ifndef PYMEM_OUTPUT_PPROF_H
#define PYMEM_OUTPUT_PPROF_H

#include <stdio.h>
#include "profile.h"

/*
 * One sample per stack with a nonzero counter, values in the order
 * alloc_objects/count, alloc_space/bytes, inuse_objects/count,
 * inuse_space/bytes (inuse = live); inuse_space is the default.  Locations
 * run leaf first; one Function per (name, file), one Location per
 * (function, line), all under a single mapping marked as symbolized.
 * Every nonzero drop counter becomes a comment "dropped REASON=N".
 * 0 or -errno.
 */
int output_pprof_write(const struct pm_profile *p, FILE *f);

/* Go's two memory profiles: /debug/pprof/heap's default, and /debug/pprof/allocs' */
enum pprof_default {
	PPROF_INUSE_SPACE,
	PPROF_ALLOC_SPACE,
};

/* output_pprof_write() with deflt as the default sample type */
int output_pprof_write_as(const struct pm_profile *p, enum pprof_default deflt, FILE *f);

#endif /* PYMEM_OUTPUT_PPROF_H */
