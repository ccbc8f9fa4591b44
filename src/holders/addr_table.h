/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The walk's open-addressing tables by address (live blocks, objects seen):
 * larger than the caches and looked up at random, once or twice for every
 * object walked.
 */
#ifndef PYMEM_ADDR_TABLE_H
#define PYMEM_ADDR_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

/*
 * Objects sit 16 bytes apart in runs: a multiply alone left runs of them in
 * runs of slots, and a third of the walk went to probing (murmur3's finalizer).
 */
static inline size_t addr_hash(uint64_t v, size_t cap)
{
	v ^= v >> 33;
	v *= 0xff51afd7ed558ccdULL;
	v ^= v >> 33;
	v *= 0xc4ceb9fe1a85ec53ULL;
	v ^= v >> 33;
	return v & (cap - 1);
}

/* Zeroed memory for a table, in huge pages where the kernel gives them: a TLB miss less a lookup */
static inline void *addr_table_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	madvise(p, size, MADV_HUGEPAGE);
	return p;
}

static inline void addr_table_free(void *p, size_t size)
{
	if (p)
		munmap(p, size);
}

#endif
