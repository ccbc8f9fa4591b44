/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Who holds the live blocks (--holders): with every thread of the target
 * stopped, walk its object graph from the roots and name, for each live
 * block, the shortest path from a root to the object that keeps it;
 * group a stack's blocks by path; count the live heap by type.
 */
#ifndef PYMEM_HOLDERS_H
#define PYMEM_HOLDERS_H

#include <stddef.h>
#include "collect.h"
#include "probes.h"
#include "profile.h"
#include "pytarget.h"

struct holders_opts {
	unsigned int top;		/* stacks given their holders, by live bytes */
	double max_pause_ms;		/* 0: walk it all */
};

struct holders;

/*
 * Stop the target, read its live blocks and object graph, let it go.
 * 0, or -errno with a one-line reason in err (the target then runs on as it was).
 */
int holders_take(const struct pytarget *t, const struct probe_target *pt,
		 const struct holders_opts *o, struct holders **out, char *err, size_t errlen);
/* Give p's stacks (as symbolized, before any view) their holders, and p its heap. */
int holders_attach(struct holders *h, const struct collector *c, struct pm_profile *p);
/* Keep the holders of the top stacks by live bytes only, each trimmed to its largest paths. */
void holders_keep_top(struct pm_profile *p, unsigned int top);
void holders_free(struct holders *h);

#endif
