/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What holders.c (the pause, and handing the result to the profile) and
 * holders_digest.c (making the walk into holder paths) share; other
 * modules use holders.h.
 */
#ifndef PYMEM_HOLDERS_PRIV_H
#define PYMEM_HOLDERS_PRIV_H

#include <stddef.h>
#include <stdint.h>
#include "holders.h"
#include "itable.h"
#include "profile.h"
#include "stack_weights.h"
#include "walk.h"

/* One step of a path, shared by every path through it: a trie, by (parent, step). */
struct step {
	uint32_t parent;	/* NO_PATH for a root */
	uint32_t name;
	uint32_t function;	/* a local's, else NO_STR */
	uint8_t kind;
	uint64_t thread;
};

#define NO_PATH	0xffffffffU

struct group {
	uint64_t stack_id;
	uint32_t path;		/* its last step, NO_PATH for none */
	uint32_t type;		/* the holding object's type name */
	double objects;		/* estimates, in sampled mode (stack_weights.h) */
	uint64_t bytes;
	struct pm_holder h;	/* made once all are counted */
};

struct holders {
	struct step *steps;
	size_t nsteps, capsteps;
	struct itable step_index;
	struct group *groups;
	size_t n, cap;
	struct itable group_index;
	struct pm_heap *heap;
};

/* holders_digest.c: every block into its stack's group, and into the heap by type. */
int holders_digest(struct holders *hs, struct walk *w, const struct stack_weights *sw,
		   struct pm_heap *heap);

#endif
