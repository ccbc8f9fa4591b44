/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What sampled mode's trampolines (tramp_sample.c) and its shared
 * routines (tramp_sample_routines.c) share: where each routine is, and the
 * emitters both use.
 */
#ifndef PYMEM_TRAMP_SAMPLE_H
#define PYMEM_TRAMP_SAMPLE_H

#include "tramp_emit.h"

/* Shared routines, after stack_tag */
#define DRAW_OFF	TRAMP_SAMPLE_CODE_OFF
#define INSERT_OFF	(TRAMP_SAMPLE_CODE_OFF + 64)
#define REMOVE_OFF	(TRAMP_SAMPLE_CODE_OFF + 192)
#define THREAD_OFF	(TRAMP_SAMPLE_CODE_OFF + 352)
#define GIL_SWITCH_OFF	(TRAMP_SAMPLE_CODE_OFF + 512)
#define GIL_DRAW_OFF	(TRAMP_SAMPLE_CODE_OFF + 640)
#define SAMPLE_CODE_END	(TRAMP_SAMPLE_CODE_OFF + 704)
_Static_assert(SAMPLE_CODE_END <= TRAMP_RAW_HASH_OFF, "sampling code overflows");

static inline void call_at(struct emit *e, uint32_t target)
{
	put1(e, 0xe8);
	put4(e, (uint32_t)((int32_t)target - (int32_t)(e->off + 4)));
}

/* %r11 = the slot of the thread whose %fs base is in %r9.  Clobbers %r9 and %r10. */
void tramp_thread_lookup(struct emit *e);

/* %r9 = the set's bucket for the block in %src (a mov to %r9), %r11 = its count's table */
void tramp_set_index(struct emit *e, const uint8_t mov_r9[3]);

#endif
