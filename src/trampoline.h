/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Trampolines that stand in for an allocator table's functions: each
 * forwards to the original and holds one NOP where a single uprobe sees the
 * whole event (size, result and caller after the call; the block before a
 * free).
 *
 * The probe point is a 1-byte NOP by default.  A 5-byte NOP is what kernel
 * 6.18 turns into a call to a [uprobes-trampoline] page after the first hit
 * (about 10x cheaper than the int3), but fork does not copy that page while
 * the child inherits the rewritten call: a child forked during the session
 * that allocates through the trampoline dies of SIGSEGV (measured here with
 * os.fork under test_threading).  So the fast form is opt-in.
 */
#ifndef PYMEM_TRAMPOLINE_H
#define PYMEM_TRAMPOLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* PyMemAllocatorEx slots after ctx, in table order. */
enum tramp_fn {
	TRAMP_MALLOC,
	TRAMP_CALLOC,
	TRAMP_REALLOC,
	TRAMP_FREE,
	TRAMP__MAX,
};

#define TRAMP_DOMAINS	3
#define TRAMP_SLOT	64	/* bytes of code per trampoline */
#define TRAMP_CODE_SIZE	(TRAMP_DOMAINS * TRAMP__MAX * TRAMP_SLOT)
/* code, then the original function pointers the code calls through */
#define TRAMP_IMAGE_SIZE (TRAMP_CODE_SIZE + TRAMP_DOMAINS * TRAMP__MAX * 8)

struct tramp_image {
	uint8_t bytes[TRAMP_IMAGE_SIZE];
	uint32_t entry[TRAMP_DOMAINS][TRAMP__MAX];	/* offset of each trampoline */
	uint32_t probe[TRAMP_DOMAINS][TRAMP__MAX];	/* offset of its nop5 */
};

/*
 * Build the image for a mapping at any address (the code is position
 * independent): orig[d][f] is the runtime address each trampoline forwards
 * to; a zero leaves that trampoline out (its probe offset stays 0).
 */
void tramp_build(struct tramp_image *img, const uint64_t orig[TRAMP_DOMAINS][TRAMP__MAX],
		 bool nop5);

#endif
