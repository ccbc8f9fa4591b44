/* SPDX-License-Identifier: GPL-2.0 */
/* For the trampoline tests: turn a probe point's nop5 into a call, as an optimized uprobe does. */
#ifndef PYMEM_TESTS_TRAMP_PATCH_H
#define PYMEM_TESTS_TRAMP_PATCH_H

#include <stdint.h>
#include <string.h>

/* call target, at offset at of the mapping p (both offsets in it) */
static inline void call_at(uint8_t *p, uint32_t at, uint32_t target)
{
	int32_t rel = (int32_t)target - (int32_t)(at + 5);

	p[at] = 0xe8;
	memcpy(p + at + 1, &rel, 4);
}

#endif
