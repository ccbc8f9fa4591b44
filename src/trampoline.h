/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Trampolines that stand in for an allocator table's functions: each
 * forwards to the original and holds one NOP where a single uprobe sees the
 * whole event (size, result and caller after the call; the block before a
 * free).
 *
 * GIL-domain frees do not hit a probe each: the block goes into a batch in
 * the target's memory and the real free runs at once.  Every allocation's
 * hit, and every PYMEM_FREE_FLUSH-th free's, hands the BPF side the batch's
 * count, and it accounts the frees it has not seen before the event itself,
 * so an address is never seen allocated again before its free.  Nothing is
 * held back from the allocator: the batch is bookkeeping only.
 *
 * The probe point is a 5-byte NOP, which kernel 6.18 turns into a call to
 * a [uprobes-trampoline] page after the first hit (about 10x cheaper than
 * an int3).  fork does not copy that page, yet the child inherits the
 * rewritten call, and would die of SIGSEGV on its next allocation (seen
 * with os.fork under test_threading).  So each probe point is guarded by a
 * flag in a page of its own that the target marks MADV_WIPEONFORK: it reads
 * 1 in the profiled process and 0 in any child, which jumps over the NOP.
 */
#ifndef PYMEM_TRAMPOLINE_H
#define PYMEM_TRAMPOLINE_H

#include <stddef.h>
#include <stdint.h>
#include "pymem.h"

/* PyMemAllocatorEx slots after ctx, in table order. */
enum tramp_fn {
	TRAMP_MALLOC,
	TRAMP_CALLOC,
	TRAMP_REALLOC,
	TRAMP_FREE,
	TRAMP__MAX,
};

/* In alloc_table's order: raw, mem, obj */
#define TRAMP_DOMAINS	3
/*
 * The mem and obj domains are called only with the GIL held, so one batch
 * of frees without a lock serves them; the raw domain is called without.
 */
#define TRAMP_BATCHED(d)	((d) != 0)
#define TRAMP_SLOT	128	/* bytes of code per trampoline */
#define TRAMP_CODE_SIZE	(TRAMP_DOMAINS * TRAMP__MAX * TRAMP_SLOT)
/* code, then the original function pointers the code calls through */
#define TRAMP_IMAGE_SIZE (TRAMP_CODE_SIZE + TRAMP_DOMAINS * TRAMP__MAX * 8)
/*
 * The image fills the mapping's first page; the guard flag is the first
 * byte of the second, and the batch of frees (struct free_batch) follows.
 */
#define TRAMP_PAGE	4096
#define TRAMP_GUARD_OFF	TRAMP_PAGE
#define TRAMP_BATCH_OFF	(TRAMP_GUARD_OFF + 64)
#define TRAMP_MAP_SIZE	(2 * TRAMP_PAGE)

struct tramp_image {
	uint8_t bytes[TRAMP_IMAGE_SIZE];
	uint32_t entry[TRAMP_DOMAINS][TRAMP__MAX];	/* offset of each trampoline */
	uint32_t probe[TRAMP_DOMAINS][TRAMP__MAX];	/* offset of its nop5 */
};

_Static_assert(TRAMP_IMAGE_SIZE <= TRAMP_GUARD_OFF, "the image must end before the guard page");
_Static_assert(TRAMP_BATCH_OFF + sizeof(struct free_batch) <= TRAMP_MAP_SIZE,
	       "the batch must fit in the guard page");

/*
 * Build the image for a mapping at any address (the code is position
 * independent, the guard flag TRAMP_GUARD_OFF bytes after its start):
 * orig[d][f] is the runtime address each trampoline forwards to; a zero
 * leaves that trampoline out (its probe offset stays 0).
 */
void tramp_build(struct tramp_image *img, const uint64_t orig[TRAMP_DOMAINS][TRAMP__MAX]);

#endif
