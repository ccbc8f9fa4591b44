/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pymalloc's arenas in a stopped target: arena bytes, and per size class
 * its pools and their used and free blocks (fragmentation).
 */
#ifndef PYMEM_PYMALLOC_H
#define PYMEM_PYMALLOC_H

#include <stddef.h>
#include <stdint.h>
#include "obj_layout.h"
#include "rcache.h"

#define PYMALLOC_CLASSES	64	/* size classes of 16 bytes up to 1 KiB, the most any version has */

struct pymalloc_class {
	uint64_t pools, used_blocks, free_blocks;
};

struct pymalloc_stats {
	uint64_t arenas, arena_bytes;
	uint64_t pool_size;
	uint64_t empty_pools;		/* carved and empty, or never carved: free for any class */
	struct pymalloc_class cls[PYMALLOC_CLASSES];	/* class i holds blocks of 16 (i + 1) bytes */
};

/*
 * Where the arena table is: @arenas the address of the pointer to it,
 * @maxarenas of its length (a uint), from symbols (3.8-3.11) or the
 * interpreter's state (3.12+).  0, or -ENOENT with the reason in why.
 */
int pymalloc_locate(struct rcache *rc, const struct obj_layout *l, uint64_t interp,
		    uint64_t arenas_sym, uint64_t maxarenas_sym, uint64_t *arenas,
		    uint64_t *maxarenas, char *why, size_t whylen);
/* Read them.  0, or -EINVAL with the reason in why when they do not hold together. */
int pymalloc_read(struct rcache *rc, const struct obj_layout *l, uint64_t arenas,
		  uint64_t maxarenas, struct pymalloc_stats *out, char *why, size_t whylen);

#endif
