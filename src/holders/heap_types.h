/* SPDX-License-Identifier: GPL-2.0 */
/* The live heap by type, from the walk: a block's type, and counts by type name. */
#ifndef PYMEM_HEAP_TYPES_H
#define PYMEM_HEAP_TYPES_H

#include <stddef.h>
#include <stdint.h>
#include "live_blocks.h"
#include "profile.h"
#include "walk.h"

struct type_count {
	uint32_t name;
	double objects;		/* estimates, in sampled mode */
	uint64_t bytes, address;
};

/* Counts by type name, found by the name's string id. */
struct tally {
	struct type_count *v;
	size_t n;
	uint32_t *pos;		/* by string id: index in v + 1 */
	size_t cappos;
};

/*
 * The type name of the object in a block the walk did not reach, read from
 * the block itself; NULL when it holds none.
 */
const char *block_type(struct walk *w, const struct live_block *b);
/* Count objects and bytes under a type name (a string id of the walk's); 0 or -ENOMEM. */
int tally(struct tally *t, uint32_t name, double objects, uint64_t bytes, uint64_t address);
void tally_free(struct tally *t);
/* The counts, most bytes first, as the profile's heap holds them; 0 or -ENOMEM. */
int to_heap_types(const struct walk *w, struct type_count *v, size_t n,
		  struct pm_heap_type **out, size_t *nout);

#endif
