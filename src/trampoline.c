// SPDX-License-Identifier: GPL-2.0
/*
 * x86-64 trampoline code.  Allocation trampolines keep their arguments on
 * the stack across the call and restore them, so that at the NOP after
 * the call %rax is the result, %rsi/%rdx the arguments, %rcx a copy of
 * the caller's return address (the BPF side would otherwise read it from
 * (%rsp), a user-memory copy per event) and %r8 the batched frees' count:
 * one probe hit sees the whole event, and the frees before it.  %rcx and
 * %r8 are call-clobbered, so the caller expects nothing of them.  Raw
 * frees are seen at the probe point before a tail jump; GIL-domain frees
 * are batched (emit_batched_free).  Stack alignment at the call is the
 * ABI's (entry is 8 mod 16, so an odd number of 8-byte pushes).  The guard
 * check before each probe point clobbers only the flags, which no caller
 * of an allocator expects to survive it.
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include "trampoline.h"

/* the slot index and the flush test are 8-bit immediates */
_Static_assert(PYMEM_FREE_BATCH <= 128 && !(PYMEM_FREE_BATCH & (PYMEM_FREE_BATCH - 1)),
	       "the batch must be a small power of two");

static const uint8_t nop5[] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 };

struct emit {
	uint8_t *p;
	uint32_t off;
};

static void put(struct emit *e, const uint8_t *b, size_t n)
{
	memcpy(e->p + e->off, b, n);
	e->off += n;
}

static void put1(struct emit *e, uint8_t b)
{
	put(e, &b, 1);
}

/* An instruction whose last 4 bytes (then tail bytes of immediate) address off in the mapping */
static void rip_op(struct emit *e, const uint8_t *op, size_t n, uint32_t off, size_t tail)
{
	int32_t disp = (int32_t)off - (int32_t)(e->off + n + 4 + tail);

	put(e, op, n);
	put(e, (const uint8_t *)&disp, 4);
}

/* cmpb $0, guard(%rip): is this the profiled process, not a forked child? */
static void check_guard(struct emit *e)
{
	static const uint8_t cmpb[] = { 0x80, 0x3d };

	rip_op(e, cmpb, sizeof(cmpb), TRAMP_GUARD_OFF, 1);
	put1(e, 0x00);
}

/* check the guard; je over the nop5; nop5 */
static void probe_point(struct emit *e, uint32_t *probe)
{
	check_guard(e);
	put1(e, 0x74);
	put1(e, sizeof(nop5));
	*probe = e->off;
	put(e, nop5, sizeof(nop5));
}

/* call/jmp *disp32(%rip), aimed at an 8-byte slot */
static void indirect(struct emit *e, uint8_t modrm, uint32_t slot)
{
	const uint8_t op[] = { 0xff, modrm };

	rip_op(e, op, sizeof(op), slot, 0);
}

/* mov seq(%rip),%r8: what the BPF side needs to know of the batched frees */
static void seq_to_r8(struct emit *e)
{
	static const uint8_t op[] = { 0x4c, 0x8b, 0x05 };

	rip_op(e, op, sizeof(op), TRAMP_BATCH_OFF + offsetof(struct free_batch, seq), 0);
}

/* A short forward jump to be aimed by land() */
static uint32_t jump_fwd(struct emit *e, uint8_t opcode)
{
	put1(e, opcode);
	put1(e, 0);
	return e->off;
}

static void land(struct emit *e, uint32_t from)
{
	e->p[from - 1] = (uint8_t)(e->off - from);
}

static void emit_alloc(struct emit *e, uint32_t slot, bool three_args, uint32_t *probe)
{
	static const uint8_t sub8[] = { 0x48, 0x83, 0xec, 0x08 }, add8[] = { 0x48, 0x83, 0xc4, 0x08 };
	static const uint8_t caller_to_rcx[] = { 0x48, 0x8b, 0x0c, 0x24 };	/* mov (%rsp),%rcx */

	put1(e, 0x56);			/* push %rsi */
	if (three_args) {
		put1(e, 0x52);		/* push %rdx */
		put(e, sub8, 4);	/* keep the call 16-byte aligned */
	}
	indirect(e, 0x15, slot);	/* call *slot(%rip) */
	if (three_args) {
		put(e, add8, 4);
		put1(e, 0x5a);		/* pop %rdx */
	}
	put1(e, 0x5e);			/* pop %rsi */
	put(e, caller_to_rcx, sizeof(caller_to_rcx));
	seq_to_r8(e);
	probe_point(e, probe);
	put1(e, 0xc3);			/* ret */
}

static void emit_free(struct emit *e, uint32_t slot, uint32_t *probe)
{
	seq_to_r8(e);
	probe_point(e, probe);
	indirect(e, 0x25, slot);	/* jmp *slot(%rip) */
}

/*
 * A GIL domain's free: the block goes into the next slot of the batch and
 * the real free runs at once; only every PYMEM_FREE_FLUSH-th free reaches
 * the probe point (with the count in %r8).  Clobbers %rax, %rcx, %rdx and
 * %r8, which free(ctx, p) leaves to its callee.
 */
static void emit_batched_free(struct emit *e, uint32_t slot, uint32_t *probe)
{
	static const uint8_t test_rsi[] = { 0x48, 0x85, 0xf6 };
	static const uint8_t load_seq[] = { 0x48, 0x8b, 0x05 };		/* mov seq(%rip),%rax */
	static const uint8_t index[] = { 0x89, 0xc1,			/* mov %eax,%ecx */
					 0x83, 0xe1, PYMEM_FREE_BATCH - 1 };	/* and $N-1,%ecx */
	static const uint8_t lea_slots[] = { 0x48, 0x8d, 0x15 };	/* lea addr(%rip),%rdx */
	static const uint8_t store[] = { 0x48, 0x89, 0x34, 0xca,	/* mov %rsi,(%rdx,%rcx,8) */
					 0x48, 0xff, 0xc0 };		/* inc %rax */
	static const uint8_t store_seq[] = { 0x48, 0x89, 0x05 };	/* mov %rax,seq(%rip) */
	static const uint8_t full[] = { 0xa8, PYMEM_FREE_FLUSH - 1 };	/* test $F-1,%al */
	static const uint8_t seq_r8[] = { 0x49, 0x89, 0xc0 };		/* mov %rax,%r8 */
	uint32_t seq = TRAMP_BATCH_OFF + offsetof(struct free_batch, seq);
	uint32_t null, child, part;

	put(e, test_rsi, sizeof(test_rsi));
	null = jump_fwd(e, 0x74);		/* free(NULL): nothing to see */
	check_guard(e);
	child = jump_fwd(e, 0x74);		/* a forked child keeps no batch */
	rip_op(e, load_seq, sizeof(load_seq), seq, 0);
	put(e, index, sizeof(index));
	rip_op(e, lea_slots, sizeof(lea_slots), TRAMP_BATCH_OFF, 0);
	put(e, store, sizeof(store));
	/* the slot before the count: a reader that sees the count sees the block */
	rip_op(e, store_seq, sizeof(store_seq), seq, 0);
	put(e, full, sizeof(full));
	part = jump_fwd(e, 0x75);
	put(e, seq_r8, sizeof(seq_r8));
	*probe = e->off;
	put(e, nop5, sizeof(nop5));
	land(e, null);
	land(e, child);
	land(e, part);
	indirect(e, 0x25, slot);		/* jmp *slot(%rip) */
}

void tramp_build(struct tramp_image *img, const uint64_t orig[TRAMP_DOMAINS][TRAMP__MAX])
{
	struct emit e = { .p = img->bytes };
	int d, f;

	memset(img, 0, sizeof(*img));
	/* int3 filler: a stray jump into padding traps instead of running on */
	memset(img->bytes, 0xcc, TRAMP_CODE_SIZE);
	for (d = 0; d < TRAMP_DOMAINS; d++) {
		for (f = 0; f < TRAMP__MAX; f++) {
			uint32_t slot = TRAMP_CODE_SIZE + (d * TRAMP__MAX + f) * 8;

			if (!orig[d][f])
				continue;
			memcpy(img->bytes + slot, &orig[d][f], 8);
			e.off = (d * TRAMP__MAX + f) * TRAMP_SLOT;
			img->entry[d][f] = e.off;
			if (f == TRAMP_FREE && TRAMP_BATCHED(d))
				emit_batched_free(&e, slot, &img->probe[d][f]);
			else if (f == TRAMP_FREE)
				emit_free(&e, slot, &img->probe[d][f]);
			else
				emit_alloc(&e, slot, f != TRAMP_MALLOC, &img->probe[d][f]);
		}
	}
}
