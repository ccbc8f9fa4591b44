// SPDX-License-Identifier: GPL-2.0
/*
 * The arena table is an array of struct arena_object (address, the next
 * pool to carve, free and total pools, lists): an arena in use has an
 * address; its pools, each POOL_SIZE and aligned so, start with a
 * pool_header (blocks in use, ..., the arena's index, the size class).
 * These structs are the same in 3.8-3.15; only where the table is, and
 * the pool and arena sizes, move (obj_layout).  A pool's header must name
 * its own arena: anything else means the sizes or the table are not what
 * this build has, and nothing is reported rather than a guess.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "pymalloc.h"

#define ARENA_OBJECT	48	/* sizeof(struct arena_object) */
#define AO_ADDRESS	0
#define AO_POOL_ADDRESS	8
#define POOL_OVERHEAD	48	/* sizeof(struct pool_header) */
#define PH_COUNT	0
#define PH_ARENAINDEX	32
#define PH_SZIDX	36
#define ALIGNMENT	16
#define MAX_ARENAS	(1u << 20)

int pymalloc_locate(struct rcache *rc, const struct obj_layout *l, uint64_t interp,
		    uint64_t arenas_sym, uint64_t maxarenas_sym, uint64_t *arenas,
		    uint64_t *maxarenas, char *why, size_t whylen)
{
	uint64_t state;

	if (l->interp_obmalloc == OBJ_NONE) {
		/* statics of obmalloc.c: only a symbol table names them */
		if (!arenas_sym || !maxarenas_sym) {
			snprintf(why, whylen, "not read: this build has no symbols for obmalloc.c's "
				 "arena table (arenas, maxarenas)");
			return -ENOENT;
		}
		*arenas = arenas_sym;
		*maxarenas = maxarenas_sym;
		return 0;
	}
	state = interp + l->interp_obmalloc;
	if (l->minor >= 13)
		state = rcache_word(rc, state);
	if (!interp || !state) {
		snprintf(why, whylen, "not read: the interpreter has no pymalloc state");
		return -ENOENT;
	}
	*arenas = state + l->obmalloc_arenas;
	*maxarenas = state + l->obmalloc_maxarenas;
	return 0;
}

/* The carved pools of one arena, into out; -EINVAL when one does not name the arena. */
static int read_arena(struct rcache *rc, const struct obj_layout *l, uint32_t index,
		      uint64_t address, uint64_t carved, struct pymalloc_stats *out)
{
	uint64_t pool, capacity, size;
	uint32_t count, arena, szidx;

	for (pool = (address + l->pool_size - 1) & ~(uint64_t)(l->pool_size - 1);
	     pool + l->pool_size <= address + l->arena_size; pool += l->pool_size) {
		if (pool >= carved) {
			out->empty_pools++;
			continue;
		}
		if (rcache_read(rc, pool + PH_COUNT, &count, sizeof(count)) ||
		    rcache_read(rc, pool + PH_ARENAINDEX, &arena, sizeof(arena)) ||
		    rcache_read(rc, pool + PH_SZIDX, &szidx, sizeof(szidx)))
			return -EFAULT;
		if (arena != index)
			return -EINVAL;
		/* an empty pool keeps a stale class: it is free for any */
		if (!count) {
			out->empty_pools++;
			continue;
		}
		size = (uint64_t)(szidx + 1) * ALIGNMENT;
		capacity = (l->pool_size - POOL_OVERHEAD) / size;
		if (szidx >= PYMALLOC_CLASSES || count > capacity)
			return -EINVAL;
		out->cls[szidx].pools++;
		out->cls[szidx].used_blocks += count;
		out->cls[szidx].free_blocks += capacity - count;
	}
	return 0;
}

int pymalloc_read(struct rcache *rc, const struct obj_layout *l, uint64_t arenas,
		  uint64_t maxarenas, struct pymalloc_stats *out, char *why, size_t whylen)
{
	uint64_t table = rcache_word(rc, arenas), address, carved;
	uint32_t n = 0, i;
	int err;

	memset(out, 0, sizeof(*out));
	out->pool_size = l->pool_size;
	if (rcache_read(rc, maxarenas, &n, sizeof(n)) || (n && !table) || n > MAX_ARENAS) {
		snprintf(why, whylen, "not read: the arena table is not where this build's layout "
			 "puts it");
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		address = rcache_word(rc, table + (uint64_t)i * ARENA_OBJECT + AO_ADDRESS);
		if (!address)
			continue;
		carved = rcache_word(rc, table + (uint64_t)i * ARENA_OBJECT + AO_POOL_ADDRESS);
		err = carved < address || carved > address + l->arena_size ? -EINVAL :
		      read_arena(rc, l, i, address, carved, out);
		if (err) {
			snprintf(why, whylen, "not read: arena %u's pools do not hold together "
				 "(unknown pool or arena size?)", i);
			return err;
		}
		out->arenas++;
		out->arena_bytes += l->arena_size;
	}
	return 0;
}
