/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What sampled mode's trampolines (tramp_sample.c, their frees in
 * tramp_sample_free.c) and its shared routines (tramp_sample_routines.c)
 * share: where each routine is, and the emitters they use.
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
#define HELD_OFF	(TRAMP_SAMPLE_CODE_OFF + 704)
#define SAMPLE_CODE_END	(TRAMP_SAMPLE_CODE_OFF + 768)
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

/* The block in %rsi into %r10, then a call of the shared routine at target */
static inline void set_op(struct emit *e, const uint8_t mov_r10[3], uint32_t target)
{
	put(e, mov_r10, 3);
	call_at(e, target);
}

static const uint8_t rsi_r10[] = { 0x49, 0x89, 0xf2 };	/* mov %rsi,%r10 */

/* The TRAMP_LIBC set: libc's (a[, b]) in %rdi[, %rsi] to a table function's (ctx, a[, b]) */
static inline void libc_in(struct emit *e, enum tramp_fn f)
{
	static const uint8_t rsi_rdx[] = { 0x48, 0x89, 0xf2 }, rdi_rsi[] = { 0x48, 0x89, 0xfe };

	if (!e->libc)
		return;
	if (f == TRAMP_CALLOC || f == TRAMP_REALLOC)
		put(e, rsi_rdx, sizeof(rsi_rdx));
	put(e, rdi_rsi, sizeof(rdi_rsi));
}

/* and back, before the real call (a free's or malloc's %rdx is not its own: left alone) */
static inline void libc_out(struct emit *e, enum tramp_fn f)
{
	static const uint8_t rsi_rdi[] = { 0x48, 0x89, 0xf7 }, rdx_rsi[] = { 0x48, 0x89, 0xd6 };

	if (!e->libc)
		return;
	put(e, rsi_rdi, sizeof(rsi_rdi));
	if (f == TRAMP_CALLOC || f == TRAMP_REALLOC)
		put(e, rdx_rsi, sizeof(rdx_rsi));
}

/* A jump back to at: jcc rel32 (0x0f 0x8X), or jmp rel32 for cc 0 */
static inline void jump_back(struct emit *e, uint8_t cc, uint32_t at)
{
	if (cc) {
		put1(e, 0x0f);
		put1(e, cc);
	} else {
		put1(e, 0xe9);
	}
	put4(e, (uint32_t)((int32_t)at - (int32_t)(e->off + 4)));
}

/* The real function's arguments back where it wants them, and a jump to it */
static inline void jump_real(struct emit *e, enum tramp_fn f, uint32_t slot)
{
	libc_out(e, f);
	indirect(e, 0x25, slot);		/* jmp *slot(%rip) */
}

/*
 * The sampled block %rsi is freed (tramp_sample_free.c): logged in the batch,
 * or at probe; keep_rax: a realloc's result.  Clobbers %rcx, %rdx, %r8-%r11.
 */
void tramp_report_freed(struct emit *e, uint32_t site, bool gil, bool keep_rax, uint32_t *probe,
			uint32_t *flush);

/* Does the block %rsi's bucket count any sampled block?  Returns the jump taken if so. */
uint32_t tramp_bucket_counts(struct emit *e);

#endif
