// SPDX-License-Identifier: GPL-2.0
/*
 * Sampled mode's frees (see tramp_sample.c): a block is seen freed only if
 * it leaves the set of sampled blocks, and then goes into the batch, dated,
 * as a GIL domain's free does, or hits its probe point.
 */
#include "tramp_sample.h"

/* The free's site that follows each realloc's */
_Static_assert(SITE_PYMEM_RAW_FREE == SITE_PYMEM_RAW_REALLOC + 1 &&
	       SITE_PYMEM_FREE == SITE_PYMEM_REALLOC + 1 &&
	       SITE_PYOBJECT_FREE == SITE_PYOBJECT_REALLOC + 1 && SITE_FREE == SITE_REALLOC + 1,
	       "a realloc's free site is the next one");

/*
 * The sampled block %rsi is freed (a free, or a realloc that moved it to an
 * unsampled block): logged in the batch, whose every PYMEM_BATCH_FLUSH-th
 * event reaches the flush point.  A GIL domain's always; a raw-domain or
 * libc one if the calling thread holds the GIL (the interpreter's current
 * thread state is its own), which keeps every other writer out of the
 * batch; else at its own probe point.  Most of those are pymalloc's frees
 * of the sampled blocks it handed to the raw domain: a probe hit each was
 * half of sampled mode's hits.  keep_rax: a realloc's result.  Clobbers
 * %rcx, %rdx and %r8-%r11.
 */
void tramp_report_freed(struct emit *e, uint32_t site, bool gil, bool keep_rax,
			 uint32_t *probe, uint32_t *flush)
{
	uint32_t other = 0, part, done = 0;
	bool held = !gil && e->held_tid;

	if (held) {
		call_at(e, HELD_OFF);
		other = jump_fwd(e, JNE);
	}
	if (gil || held) {
		if (keep_rax)
			put1(e, 0x50);			/* push %rax */
		tramp_site_r9(e, site);
		part = tramp_free_log(e, flush);
		land(e, part);
		if (keep_rax)
			put1(e, 0x58);			/* pop %rax */
	}
	if (gil)
		return;
	if (held) {
		done = jump_fwd(e, JMP8);
		land(e, other);
	}
	seq_to_r8(e);
	put(e, no_hash, sizeof(no_hash));
	*probe = e->off;
	put(e, nop5, sizeof(nop5));
	if (held)
		land(e, done);
}

/* Does the block %rsi's bucket count any sampled block?  Returns the jump taken if so. */
uint32_t tramp_bucket_counts(struct emit *e)
{
	static const uint8_t rsi_r9[] = { 0x49, 0x89, 0xf1 };		/* mov %rsi,%r9 */
	static const uint8_t empty[] = { 0x43, 0x80, 0x3c, 0x0b, 0x00 };	/* cmpb $0,(%r11,%r9) */

	tramp_set_index(e, rsi_r9);
	put(e, empty, sizeof(empty));
	return jump_fwd32(e, JNE32);
}

/*
 * A code object's free, out of line (jumped to at code): the salt
 * changes; it is logged as its block's free if that was sampled (back at
 * sampled), else at site BATCH_CODE_FREE (back at log), so that the BPF
 * side forgets the code object's incarnation whether sampled or not.  A
 * forked child's goes straight to the tail jump: it has no probe point.
 */
static void code_free_slow(struct emit *e, uint32_t code, uint32_t sampled, uint32_t log,
			   uint32_t tail)
{
	static const uint8_t test_r9[] = { 0x45, 0x85, 0xc9 };

	land(e, code);
	check_guard(e);
	jump_back(e, JE32, tail);
	tramp_salt_bump(e);
	set_op(e, rsi_r10, REMOVE_OFF);
	put(e, test_r9, sizeof(test_r9));
	jump_back(e, JNE32, sampled);
	tramp_site_r9(e, BATCH_CODE_FREE);
	jump_back(e, 0, log);
}

/*
 * A sampled-mode free trampoline: the block is seen only if it leaves the
 * set, then as in exact mode (the batch, or the raw domain's probe point);
 * an object-domain free of a code object goes code_free_slow's way.  A
 * block whose bucket counts none (most frees) is known unsampled from one
 * byte, and falls through to the tail jump.  No guard test: a forked
 * child's set is empty (its data pages are wiped, and it samples nothing).
 */
void tramp_sample_free(struct emit *e, uint32_t slot, uint32_t site, bool gil, bool obj,
		       uint32_t *probe, uint32_t *free_flush)
{
	static const uint8_t test_r9[] = { 0x45, 0x85, 0xc9 };
	uint32_t null, some, part, code = 0, sampled = 0, log = 0, tail;

	libc_in(e, TRAMP_FREE);
	put(e, test_rsi, sizeof(test_rsi));
	null = jump_fwd(e, JE);
	if (obj) {
		tramp_code_test(e);
		code = jump_fwd32(e, JE32);
	}
	some = tramp_bucket_counts(e);
	land(e, null);
	tail = e->off;
	jump_real(e, TRAMP_FREE, slot);
	land(e, some);
	set_op(e, rsi_r10, REMOVE_OFF);
	put(e, test_r9, sizeof(test_r9));
	jump_back(e, JE32, tail);
	if (gil) {
		sampled = e->off;
		tramp_site_r9(e, site);
		log = e->off;
		part = tramp_free_log(e, probe);
		land(e, part);
	} else {
		tramp_report_freed(e, site, false, false, probe, free_flush);
	}
	jump_real(e, TRAMP_FREE, slot);
	/* the object domain is a GIL domain: its frees are logged */
	if (code)
		code_free_slow(e, code, sampled, log, tail);
}
