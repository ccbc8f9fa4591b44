/* SPDX-License-Identifier: GPL-2.0 */
/*
 * For the tests that run sampled mode's trampolines in this process
 * (test_tramp_sample.c, test_tramp_sample_libc.c): fake allocators, probe
 * stubs that log what reaches a probe point, and the image mapped with
 * every set built.  Each test file is one program: the state is its own.
 */
#ifndef PYMEM_TESTS_TRAMP_SAMPLE_FIXTURE_H
#define PYMEM_TESTS_TRAMP_SAMPLE_FIXTURE_H

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <cmocka.h>
#include "trampoline.h"
#include "tramp_patch.h"

#define RAW	0
#define GIL	1	/* the mem domain */

/*
 * The probe stubs log (%rax, %rsi) in rings in the tag table's pages (no
 * stack hashing without a thread-state getter): allocations of the GIL
 * domains, of the raw domain, and frees (the raw domain's, and reallocs'
 * old blocks).
 */
enum { ALLOCS, RAW_ALLOCS, FREES, NLOGS };
#define RING		1024
#define LOG_OFF(k)	(TRAMP_TAGS_OFF + (k) * (8 + RING * 16))
#define STUB_OFF(k)	(((TRAMP_IMAGE_SIZE + 63) & ~63) + (k) * 64)

struct ring {
	uint64_t n;
	struct { uint64_t rax, rsi; } ev[RING];
};

static struct tramp_image img;
/* what the image is built with (NULL: no stack hashing, pymalloc's frees have trampolines) */
static const struct tramp_walk *build_walk;
static uint8_t *p;
static uint8_t heap[1 << 24];	/* blocks: the object domain's free reads +8 */
static size_t bump;
static struct {
	int calls;
	void *ctx, *ret;	/* the last call's */
	size_t a, b;
} real;

#define NOTE(ctx_, a_, b_, ret_) do {						\
	real.calls++;								\
	real.ctx = (ctx_);							\
	real.a = (size_t)(a_);							\
	real.b = (size_t)(b_);							\
	real.ret = (ret_);							\
} while (0)
static void *(*raw_malloc)(void *, size_t);
static void *(*raw_realloc)(void *, void *, size_t);

/* an address the next allocation returns instead (libc's set never reads its block) */
static uintptr_t chosen;

static inline void *block(void)
{
	void *b = heap + bump;

	if (chosen) {
		b = (void *)chosen;
		chosen = 0;
		return b;
	}
	bump = (bump + 64) % sizeof(heap);
	return b;
}

static inline void *fake_malloc(void *ctx, size_t n)
{
	void *b = block();

	NOTE(ctx, n, 0, b);
	return b;
}

static inline void *fake_calloc(void *ctx, size_t n, size_t sz)
{
	void *b = block();

	NOTE(ctx, n, sz, b);
	return b;
}

/* in place for 1 byte, fails for 999 */
static inline void *fake_realloc(void *ctx, void *old, size_t n)
{
	void *b = n == 999 ? NULL : n == 1 ? old : block();

	NOTE(ctx, old, n, b);
	return b;
}

static inline void fake_free(void *ctx, void *b)
{
	NOTE(ctx, b, 0, NULL);
}

/* libc's, for the TRAMP_LIBC set (ctx noted as NULL): realloc(p, 0) frees p */
static inline void *libc_malloc(size_t n)
{
	return fake_malloc(NULL, n);
}

static inline void *libc_calloc(size_t n, size_t sz)
{
	return fake_calloc(NULL, n, sz);
}

static inline void *libc_realloc(void *old, size_t n)
{
	if (!n) {
		NOTE(NULL, old, 0, NULL);
		return NULL;
	}
	return fake_realloc(NULL, old, n);
}

static inline void libc_free(void *b)
{
	fake_free(NULL, b);
}

/* libc's aligned allocators: (alignment, size) noted; posix_memalign fails for 999 bytes */
static inline int libc_posix_memalign(void **out, size_t align, size_t n)
{
	void *b = n == 999 ? NULL : block();

	NOTE(NULL, align, n, b);
	if (!b)
		return ENOMEM;
	*out = b;
	return 0;
}

static inline void *libc_aligned_alloc(size_t align, size_t n)
{
	return fake_calloc(NULL, align, n);
}

static inline void *libc_valloc(size_t n)
{
	return fake_malloc(NULL, n);
}

/* libc's reallocarray: reached only when n * size overflows, and fails */
static inline void *libc_reallocarray(void *old, size_t n, size_t sz)
{
	(void)sz;
	NOTE(NULL, old, n, NULL);
	return NULL;
}

/* A GIL domain's allocator that takes its block from the raw domain's (pymalloc's large blocks) */
static inline void *nested_malloc(void *ctx, size_t n)
{
	return raw_malloc(ctx, n);
}

/* and one that reallocates there (pymalloc's realloc of a large block) */
static inline void *nested_realloc(void *ctx, void *old, size_t n)
{
	return raw_realloc(ctx, old, n);
}

static inline struct ring *ring(int k)
{
	return (struct ring *)(p + LOG_OFF(k));
}

/* mov n(%rip),%r11; and $RING-1; shl $4; lea ev(%rip),%r10; add; mov %rax,(%r10); mov %rsi,8(%r10); incq n(%rip); ret */
static inline void put_stub(int k)
{
	static const uint8_t code[] = {
		0x4c, 0x8b, 0x1d, 0, 0, 0, 0,
		0x41, 0x81, 0xe3, (RING - 1) & 0xff, (RING - 1) >> 8, 0, 0,
		0x49, 0xc1, 0xe3, 0x04,
		0x4c, 0x8d, 0x15, 0, 0, 0, 0,
		0x4d, 0x01, 0xda,
		0x49, 0x89, 0x02,
		0x49, 0x89, 0x72, 0x08,
		0x48, 0xff, 0x05, 0, 0, 0, 0,
		0xc3,
	};
	uint32_t at = STUB_OFF(k), n = LOG_OFF(k), ev = n + 8;
	int32_t rel;

	memcpy(p + at, code, sizeof(code));
	rel = (int32_t)n - (int32_t)(at + 7);
	memcpy(p + at + 3, &rel, 4);
	rel = (int32_t)ev - (int32_t)(at + 25);
	memcpy(p + at + 21, &rel, 4);
	rel = (int32_t)n - (int32_t)(at + 42);
	memcpy(p + at + 38, &rel, 4);
}

/*
 * Every thread's bytes left before its next sample; the GIL domains'
 * cache let go (not written back), so that the next call loads its slot's
 */
static inline void countdown(int64_t v)
{
	struct tramp_thread *t = (struct tramp_thread *)(p + TRAMP_THREADS_OFF);
	struct tramp_sample_state *st = (struct tramp_sample_state *)(p + TRAMP_SAMPLE_OFF);
	int i;

	for (i = 0; i < TRAMP_THREAD_SLOTS; i++)
		t[i].countdown = v;
	st->gil_fs = 0;
	st->gil_slot = 0;
}

/* This thread's %fs base, as the trampolines read it */
static inline uint64_t my_fs(void)
{
	uint64_t fs;

	__asm__ volatile("mov %%fs:0,%0" : "=r"(fs));
	return fs;
}

/* This thread's slot */
static inline struct tramp_thread *my_slot(void)
{
	struct tramp_thread *t = (struct tramp_thread *)(p + TRAMP_THREADS_OFF);
	int i;

	for (i = 0; i < TRAMP_THREAD_SLOTS - 1; i++)
		if (t[i].fs == my_fs())
			return &t[i];
	return NULL;
}

/* This thread's bytes left before its next sample: the GIL domains' cache's while it holds it */
static inline int64_t my_countdown(void)
{
	struct tramp_sample_state *st = (struct tramp_sample_state *)(p + TRAMP_SAMPLE_OFF);

	if (st->gil_fs == my_fs())
		return st->gil_countdown;
	return my_slot()->countdown;
}

/* Every allocation sampled (always) or none, from now on */
static inline void force(bool always)
{
	int64_t *draws = (int64_t *)(p + TRAMP_DRAWS_OFF), v = always ? 1 : INT64_MAX / 2;
	int i;

	for (i = 0; i < TRAMP_DRAWS; i++)
		draws[i] = v;
	countdown(v);
}

/* The draws for a mean interval, as the target gets them */
static inline void draws_for(uint64_t interval)
{
	struct tramp_sample_state st;
	struct tramp_thread shared;

	tramp_sample_fill(&st, (int64_t *)(p + TRAMP_DRAWS_OFF), &shared, interval, 15, true);
	countdown(shared.countdown);
}

static inline void *fn(int d, enum tramp_fn f)
{
	return p + img.entry[d][f];
}

static inline int setup_with(uint64_t (*orig)[TRAMP__MAX], uint64_t interval)
{
	static int64_t draws[TRAMP_DRAWS];
	struct tramp_sample_state st;
	struct tramp_thread shared;
	int d, f;

	tramp_build(&img, (const uint64_t (*)[TRAMP__MAX])orig, build_walk, true, NULL);
	p = mmap(NULL, TRAMP_MAP_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	memcpy(p, img.bytes, sizeof(img.bytes));
	for (d = 0; d < NLOGS; d++)
		put_stub(d);
	/* the TRAMP_LIBC set is not batched: its allocations go with the raw domain's */
	for (d = 0; d < TRAMP_SETS; d++) {
		for (f = 0; f < TRAMP__MAX; f++)
			if (img.probe[d][f])
				call_at(p, img.probe[d][f], STUB_OFF(f == TRAMP_FREE ? FREES :
							     TRAMP_BATCHED(d) ? ALLOCS : RAW_ALLOCS));
		if (img.realloc_free[d])
			call_at(p, img.realloc_free[d], STUB_OFF(FREES));
	}
	tramp_sample_fill(&st, draws, &shared, interval, 15, true);
	memcpy(p + TRAMP_SAMPLE_OFF, &st, sizeof(st));
	memcpy(p + TRAMP_DRAWS_OFF, draws, sizeof(draws));
	memcpy(p + TRAMP_THREADS_OFF + (TRAMP_THREAD_SLOTS - 1) * 32, &shared, sizeof(shared));
	p[TRAMP_GUARD_OFF] = 1;
	return mprotect(p, TRAMP_GUARD_OFF, PROT_READ | PROT_EXEC);
}

static inline int setup(void **state)
{
	uint64_t orig[TRAMP_SETS][TRAMP__MAX] = {};

	fake_tables(orig, fake_malloc, fake_calloc, fake_realloc, fake_free);
	orig[GIL][TRAMP_MALLOC] = (uintptr_t)nested_malloc;
	orig[GIL][TRAMP_REALLOC] = (uintptr_t)nested_realloc;
	raw_realloc = fake_realloc;
	orig[TRAMP_LIBC][TRAMP_MALLOC] = (uintptr_t)libc_malloc;
	orig[TRAMP_LIBC][TRAMP_CALLOC] = (uintptr_t)libc_calloc;
	orig[TRAMP_LIBC][TRAMP_REALLOC] = (uintptr_t)libc_realloc;
	orig[TRAMP_LIBC][TRAMP_FREE] = (uintptr_t)libc_free;
	orig[TRAMP_LIBC][TRAMP_POSIX_MEMALIGN] = (uintptr_t)libc_posix_memalign;
	orig[TRAMP_LIBC][TRAMP_ALIGNED_ALLOC] = (uintptr_t)libc_aligned_alloc;
	orig[TRAMP_LIBC][TRAMP_MEMALIGN] = (uintptr_t)libc_aligned_alloc;
	orig[TRAMP_LIBC][TRAMP_VALLOC] = (uintptr_t)libc_valloc;
	orig[TRAMP_LIBC][TRAMP_REALLOCARRAY] = (uintptr_t)libc_reallocarray;
	return setup_with(orig, 8192);
}

static inline int teardown(void **state)
{
	return munmap(p, TRAMP_MAP_SIZE);
}

/* The bucket counts: all zero once every sampled block is freed */
static inline bool set_empty(void)
{
	size_t i;

	for (i = 0; i < TRAMP_SET_BUCKETS; i++)
		if (p[TRAMP_SET_COUNTS_OFF + i])
			return false;
	return true;
}

#endif
