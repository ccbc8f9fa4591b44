/* SPDX-License-Identifier: GPL-2.0 */
/* For the trampoline tests: turn a probe point's nop5 into a call, as an optimized uprobe does. */
#ifndef PYMEM_TESTS_TRAMP_PATCH_H
#define PYMEM_TESTS_TRAMP_PATCH_H

#include <stdint.h>
#include <string.h>
#include "trampoline.h"

/* call target, at offset at of the mapping p (both offsets in it) */
static inline void call_at(uint8_t *p, uint32_t at, uint32_t target)
{
	int32_t rel = (int32_t)target - (int32_t)(at + 5);

	p[at] = 0xe8;
	memcpy(p + at + 1, &rel, 4);
}

/* Every domain's table: these four functions */
static inline void fake_tables(uint64_t orig[TRAMP_SETS][TRAMP__MAX], void *m, void *c, void *r,
			       void *f)
{
	int d;

	for (d = 0; d < TRAMP_DOMAINS; d++) {
		orig[d][TRAMP_MALLOC] = (uintptr_t)m;
		orig[d][TRAMP_CALLOC] = (uintptr_t)c;
		orig[d][TRAMP_REALLOC] = (uintptr_t)r;
		orig[d][TRAMP_FREE] = (uintptr_t)f;
	}
}

#endif
