/* SPDX-License-Identifier: GPL-2.0 */
/* The blocks of one process still live in the kernel's table, found by address. */
#ifndef PYMEM_LIVE_BLOCKS_H
#define PYMEM_LIVE_BLOCKS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct probes;

struct live_block {
	uint64_t addr;
	uint64_t size;
	uint64_t stack_id;
	uint32_t holder;	/* the object that holds it (a walk node), or LIVE_NO_HOLDER */
	/*
	 * A leaf object (no references: a str, an int) is no node of the walk:
	 * its block keeps the edge from its holder instead.
	 */
	uint32_t leaf_type;	/* its type's index in the walk, or LIVE_NO_HOLDER */
	uint32_t leaf_name;
	uint8_t leaf_kind;
};

#define LIVE_NO_HOLDER	0xffffffffU

/* A slot of an index by address, 0 when empty; the address is kept: one cache miss a probe */
struct addr_slot {
	uint64_t addr;
	uint32_t i;
};

struct live_blocks {
	struct live_block *v;
	size_t n;
	struct addr_slot *index;	/* open addressing by address */
	size_t cap;
};

/* Every live block of @pid in the table and its spill map. 0 or -errno. */
int live_blocks_read(const struct probes *p, pid_t pid, struct live_blocks *out);
void live_blocks_free(struct live_blocks *b);
/* The block starting at addr, or NULL. */
struct live_block *live_blocks_find(const struct live_blocks *b, uint64_t addr);

#endif
