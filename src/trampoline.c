// SPDX-License-Identifier: GPL-2.0
/*
 * x86-64 trampoline code.  Allocation trampolines keep their arguments on
 * the stack across the call and restore them, so that at the NOP after
 * the call %rax is the result, %rsi/%rdx the arguments and %rcx a copy of
 * the caller's return address (the BPF side would otherwise read it from
 * (%rsp), a user-memory copy per event): one probe hit sees the whole
 * event.  %rcx is call-clobbered, so the caller expects nothing of it.
 * Frees are seen at the probe point before a tail jump.  Stack alignment
 * at the call is the ABI's (entry is 8 mod 16, so an odd number of 8-byte
 * pushes).  The guard check before each probe point clobbers only the
 * flags, which no caller of an allocator expects to survive it.
 */
#include <stdbool.h>
#include <string.h>
#include "trampoline.h"

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

/* cmpb $0, guard(%rip); je over the nop5; nop5 */
static void probe_point(struct emit *e, uint32_t *probe)
{
	int32_t disp = TRAMP_GUARD_OFF - (int32_t)(e->off + 7);

	put1(e, 0x80);
	put1(e, 0x3d);
	put(e, (const uint8_t *)&disp, 4);
	put1(e, 0x00);
	put1(e, 0x74);
	put1(e, sizeof(nop5));
	*probe = e->off;
	put(e, nop5, sizeof(nop5));
}

/* call/jmp *disp32(%rip), aimed at an 8-byte slot */
static void indirect(struct emit *e, uint8_t modrm, uint32_t slot)
{
	int32_t disp = (int32_t)slot - (int32_t)(e->off + 6);

	put1(e, 0xff);
	put1(e, modrm);
	put(e, (const uint8_t *)&disp, 4);
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
	probe_point(e, probe);
	put1(e, 0xc3);			/* ret */
}

static void emit_free(struct emit *e, uint32_t slot, uint32_t *probe)
{
	probe_point(e, probe);
	indirect(e, 0x25, slot);	/* jmp *slot(%rip) */
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
			if (f == TRAMP_FREE)
				emit_free(&e, slot, &img->probe[d][f]);
			else
				emit_alloc(&e, slot, f != TRAMP_MALLOC, &img->probe[d][f]);
		}
	}
}
