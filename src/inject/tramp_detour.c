// SPDX-License-Identifier: GPL-2.0
/*
 * Exact mode: the raw domain's default functions (CPython's
 * _PyMem_RawMalloc and the rest, in obmalloc.c and pycore_pymem_init.h
 * from 3.8 to 3.15) done by the trampolines themselves, entering libc past
 * its probe point (libc_detour.h), so that a raw event hits one probe, its
 * trampoline's, not also the int3 and the uretprobe on libc's malloc.
 * In: the table's arguments (ctx, then libc's own); out: libc's.
 */
#include "tramp_emit.h"

static const uint8_t one_eax[] = { 0xb8, 1, 0, 0, 0 };			/* mov $1,%eax */

/* malloc(size ? size : 1) */
static void raw_malloc(struct emit *e)
{
	static const uint8_t code[] = { 0x48, 0x85, 0xf6,		/* test %rsi,%rsi */
					0x48, 0x0f, 0x44, 0xf0,		/* cmove %rax,%rsi */
					0x48, 0x89, 0xf7 };		/* mov %rsi,%rdi */

	put(e, one_eax, sizeof(one_eax));
	put(e, code, sizeof(code));
}

/* calloc(1, 1) if either is 0, else calloc(nelem, elsize) */
static void raw_calloc(struct emit *e)
{
	static const uint8_t code[] = { 0x48, 0x85, 0xf6,		/* test %rsi,%rsi */
					0x74, 0x05,			/* je 1f */
					0x48, 0x85, 0xd2,		/* test %rdx,%rdx */
					0x75, 0x04,			/* jne 2f */
					0x89, 0xc6,			/* 1: mov %eax,%esi */
					0x89, 0xc2,			/* mov %eax,%edx */
					0x48, 0x89, 0xf7,		/* 2: mov %rsi,%rdi */
					0x48, 0x89, 0xd6 };		/* mov %rdx,%rsi */

	put(e, one_eax, sizeof(one_eax));
	put(e, code, sizeof(code));
}

/* realloc(ptr, size ? size : 1) */
static void raw_realloc(struct emit *e)
{
	static const uint8_t code[] = { 0x48, 0x85, 0xd2,		/* test %rdx,%rdx */
					0x48, 0x0f, 0x44, 0xd0,		/* cmove %rax,%rdx */
					0x48, 0x89, 0xf7,		/* mov %rsi,%rdi */
					0x48, 0x89, 0xd6 };		/* mov %rdx,%rsi */

	put(e, one_eax, sizeof(one_eax));
	put(e, code, sizeof(code));
}

/* free(ptr) */
static void raw_free(struct emit *e)
{
	static const uint8_t code[] = { 0x48, 0x89, 0xf7 };		/* mov %rsi,%rdi */

	put(e, code, sizeof(code));
}

void tramp_raw_detours(struct emit *e, const uint64_t raw[TRAMP__MAX],
		       const struct libc_detour detour[TRAMP_TABLE_FNS])
{
	static void (*const args[TRAMP_TABLE_FNS])(struct emit *) = {
		[TRAMP_MALLOC] = raw_malloc, [TRAMP_CALLOC] = raw_calloc,
		[TRAMP_REALLOC] = raw_realloc, [TRAMP_FREE] = raw_free,
	};
	int f;

	for (f = 0; f < TRAMP_TABLE_FNS; f++) {
		if (!raw[f] || !detour[f].len)
			continue;
		e->off = TRAMP_INDEX(TRAMP_LIBC, f) * TRAMP_SLOT;
		e->raw_detour[f] = e->off;
		args[f](e);
		put(e, detour[f].code, detour[f].len);
		assert(e->off <= e->raw_detour[f] + TRAMP_SLOT);
	}
}
