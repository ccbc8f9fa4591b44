// SPDX-License-Identifier: GPL-2.0
/*
 * Run sampled mode's trampolines in this process against fake allocators:
 * which allocations and frees reach a probe point, and with what.
 */
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

/* an address the next allocation returns instead (libc's set never reads its block) */
static uintptr_t chosen;

static void *block(void)
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

static void *fake_malloc(void *ctx, size_t n)
{
	void *b = block();

	NOTE(ctx, n, 0, b);
	return b;
}

static void *fake_calloc(void *ctx, size_t n, size_t sz)
{
	void *b = block();

	NOTE(ctx, n, sz, b);
	return b;
}

/* in place for 1 byte, fails for 999 */
static void *fake_realloc(void *ctx, void *old, size_t n)
{
	void *b = n == 999 ? NULL : n == 1 ? old : block();

	NOTE(ctx, old, n, b);
	return b;
}

static void fake_free(void *ctx, void *b)
{
	NOTE(ctx, b, 0, NULL);
}

/* libc's, for the TRAMP_LIBC set (ctx noted as NULL): realloc(p, 0) frees p */
static void *libc_malloc(size_t n)
{
	return fake_malloc(NULL, n);
}

static void *libc_calloc(size_t n, size_t sz)
{
	return fake_calloc(NULL, n, sz);
}

static void *libc_realloc(void *old, size_t n)
{
	if (!n) {
		NOTE(NULL, old, 0, NULL);
		return NULL;
	}
	return fake_realloc(NULL, old, n);
}

static void libc_free(void *b)
{
	fake_free(NULL, b);
}

/* libc's aligned allocators: (alignment, size) noted; posix_memalign fails for 999 bytes */
static int libc_posix_memalign(void **out, size_t align, size_t n)
{
	void *b = n == 999 ? NULL : block();

	NOTE(NULL, align, n, b);
	if (!b)
		return ENOMEM;
	*out = b;
	return 0;
}

static void *libc_aligned_alloc(size_t align, size_t n)
{
	return fake_calloc(NULL, align, n);
}

static void *libc_valloc(size_t n)
{
	return fake_malloc(NULL, n);
}

/* libc's reallocarray: reached only when n * size overflows, and fails */
static void *libc_reallocarray(void *old, size_t n, size_t sz)
{
	(void)sz;
	NOTE(NULL, old, n, NULL);
	return NULL;
}

/* A GIL domain's allocator that takes its block from the raw domain's (pymalloc's large blocks) */
static void *nested_malloc(void *ctx, size_t n)
{
	return raw_malloc(ctx, n);
}

static struct ring *ring(int k)
{
	return (struct ring *)(p + LOG_OFF(k));
}

/* mov n(%rip),%r11; and $RING-1; shl $4; lea ev(%rip),%r10; add; mov %rax,(%r10); mov %rsi,8(%r10); incq n(%rip); ret */
static void put_stub(int k)
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
static void countdown(int64_t v)
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
static uint64_t my_fs(void)
{
	uint64_t fs;

	__asm__ volatile("mov %%fs:0,%0" : "=r"(fs));
	return fs;
}

/* This thread's slot */
static struct tramp_thread *my_slot(void)
{
	struct tramp_thread *t = (struct tramp_thread *)(p + TRAMP_THREADS_OFF);
	int i;

	for (i = 0; i < TRAMP_THREAD_SLOTS - 1; i++)
		if (t[i].fs == my_fs())
			return &t[i];
	return NULL;
}

/* This thread's bytes left before its next sample: the GIL domains' cache's while it holds it */
static int64_t my_countdown(void)
{
	struct tramp_sample_state *st = (struct tramp_sample_state *)(p + TRAMP_SAMPLE_OFF);

	if (st->gil_fs == my_fs())
		return st->gil_countdown;
	return my_slot()->countdown;
}

/* Every allocation sampled (always) or none, from now on */
static void force(bool always)
{
	int64_t *draws = (int64_t *)(p + TRAMP_DRAWS_OFF), v = always ? 1 : INT64_MAX / 2;
	int i;

	for (i = 0; i < TRAMP_DRAWS; i++)
		draws[i] = v;
	countdown(v);
}

/* The draws for a mean interval, as the target gets them */
static void draws_for(uint64_t interval)
{
	struct tramp_sample_state st;
	struct tramp_thread shared;

	tramp_sample_fill(&st, (int64_t *)(p + TRAMP_DRAWS_OFF), &shared, interval, 15, true);
	countdown(shared.countdown);
}

static void *fn(int d, enum tramp_fn f)
{
	return p + img.entry[d][f];
}

static int setup_with(uint64_t (*orig)[TRAMP__MAX], uint64_t interval)
{
	static int64_t draws[TRAMP_DRAWS];
	struct tramp_sample_state st;
	struct tramp_thread shared;
	int d, f;

	tramp_build(&img, (const uint64_t (*)[TRAMP__MAX])orig, NULL, true);
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

static int setup(void **state)
{
	uint64_t orig[TRAMP_SETS][TRAMP__MAX] = {};

	fake_tables(orig, fake_malloc, fake_calloc, fake_realloc, fake_free);
	orig[GIL][TRAMP_MALLOC] = (uintptr_t)nested_malloc;
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

static int teardown(void **state)
{
	return munmap(p, TRAMP_MAP_SIZE);
}

/* The bucket counts: all zero once every sampled block is freed */
static bool set_empty(void)
{
	size_t i;

	for (i = 0; i < TRAMP_SET_BUCKETS; i++)
		if (p[TRAMP_SET_COUNTS_OFF + i])
			return false;
	return true;
}

/*
 * 200,000 raw malloc(128)s at an 8 KiB interval: about 1 - e^(-128/8192)
 * of them sampled (3,101; the spread is 1.8%), each freed, and no free of
 * an unsampled block seen.
 */
static void test_rate(void **state)
{
	void *(*m)(void *, size_t) = fn(RAW, TRAMP_MALLOC);
	void (*fr)(void *, void *) = fn(RAW, TRAMP_FREE);
	uint64_t n = 200000, i, want = llround(n * -expm1(-128.0 / 8192));
	uint64_t a0 = ring(RAW_ALLOCS)->n, f0 = ring(FREES)->n, sampled;

	draws_for(8192);
	for (i = 0; i < n; i++)
		fr(NULL, m(NULL, 128));
	sampled = ring(RAW_ALLOCS)->n - a0;
	assert_true(sampled > want * 0.9 && sampled < want * 1.1);
	assert_int_equal(ring(FREES)->n - f0, sampled);
	assert_true(set_empty());
}

/* Every trampoline forwards its arguments and the result, sampled or not, small or large. */
static void test_forwarding(void **state)
{
	static const size_t sizes[] = { 0, 8, 512, 513, 100000 };
	void *ctx = (void *)0xc7c7, *b;
	int d, always, i;

	for (always = 0; always < 2; always++) {
		force(always);
		for (d = 0; d < TRAMP_DOMAINS; d++) {
			void *(*m)(void *, size_t) = fn(d, TRAMP_MALLOC);
			void *(*c)(void *, size_t, size_t) = fn(d, TRAMP_CALLOC);
			void *(*r)(void *, void *, size_t) = fn(d, TRAMP_REALLOC);
			void (*f)(void *, void *) = fn(d, TRAMP_FREE);

			for (i = 0; i < (int)(sizeof(sizes) / sizeof(sizes[0])); i++) {
				raw_malloc = fn(RAW, TRAMP_MALLOC);
				real.calls = 0;
				b = m(ctx, sizes[i]);
				assert_ptr_equal(b, real.ret);
				assert_ptr_equal(real.ctx, ctx);
				assert_int_equal(real.a, sizes[i]);
				b = r(ctx, b, sizes[i] + 1);
				assert_ptr_equal(b, real.ret);
				assert_int_equal(real.b, sizes[i] + 1);
				f(ctx, b);
				assert_ptr_equal((void *)real.a, b);
				b = c(ctx, 3, sizes[i]);
				assert_ptr_equal(b, real.ret);
				assert_int_equal(real.a, 3);
				assert_int_equal(real.b, sizes[i]);
				f(ctx, b);
				assert_int_equal(real.calls, 5);
			}
		}
	}
	assert_true(set_empty());
}

/*
 * libc's set takes libc's arguments and hands them on as they came,
 * sampled or not; the probe points see them as the raw domain's do (the
 * block or size in %rsi).  Its calls count against the same countdown.
 */
static void test_libc(void **state)
{
	void *(*m)(size_t) = fn(TRAMP_LIBC, TRAMP_MALLOC);
	void *(*c)(size_t, size_t) = fn(TRAMP_LIBC, TRAMP_CALLOC);
	void *(*r)(void *, size_t) = fn(TRAMP_LIBC, TRAMP_REALLOC);
	void (*f)(void *) = fn(TRAMP_LIBC, TRAMP_FREE);
	struct ring *a = ring(RAW_ALLOCS), *fr = ring(FREES);
	uint64_t an, fn0, n = 200000, i, want = llround(n * -expm1(-128.0 / 8192)), sampled;
	void *b, *old;
	int always;

	for (always = 0; always < 2; always++) {
		force(always);
		an = a->n;
		fn0 = fr->n;
		real.calls = 0;
		b = m(100);
		assert_ptr_equal(b, real.ret);
		assert_int_equal(real.a, 100);
		old = b;
		b = r(b, 300);
		assert_ptr_equal(b, real.ret);
		assert_ptr_equal((void *)real.a, old);
		assert_int_equal(real.b, 300);
		f(b);
		assert_ptr_equal((void *)real.a, b);
		b = c(3, 40);
		assert_ptr_equal(b, real.ret);
		assert_int_equal(real.a, 3);
		assert_int_equal(real.b, 40);
		/* realloc(p, 0) frees p: a sampled p is reported freed */
		assert_null(r(b, 0));
		assert_ptr_equal((void *)real.a, b);
		assert_int_equal(real.calls, 5);
		assert_int_equal(a->n - an, always ? 3 : 0);
		assert_int_equal(fr->n - fn0, always ? 2 : 0);
		if (always) {
			assert_int_equal(a->ev[an % RING].rsi, 100);
			assert_int_equal(a->ev[(an + 2) % RING].rsi, 3);
			assert_ptr_equal((void *)fr->ev[(fn0 + 1) % RING].rsi, b);
		}
		assert_true(set_empty());
	}
	/* sampled at the rate the raw domain is */
	draws_for(8192);
	an = a->n;
	fn0 = fr->n;
	for (i = 0; i < n; i++)
		f(m(128));
	sampled = a->n - an;
	assert_true(sampled > want * 0.9 && sampled < want * 1.1);
	assert_int_equal(fr->n - fn0, sampled);
	assert_true(set_empty());
}

/*
 * libc's aligned allocators hand their arguments on as they came, and a
 * failed posix_memalign its error back; a sampled block reaches the probe
 * point as a malloc's (block in %rax, size in %rsi) and is freed by libc's
 * free.  They count against the same countdown as malloc.
 */
static void test_libc_aligned(void **state)
{
	int (*pm)(void **, size_t, size_t) = fn(TRAMP_LIBC, TRAMP_POSIX_MEMALIGN);
	void *(*aligned[2])(size_t, size_t) = { fn(TRAMP_LIBC, TRAMP_ALIGNED_ALLOC),
					       fn(TRAMP_LIBC, TRAMP_MEMALIGN) };
	void *(*va)(size_t) = fn(TRAMP_LIBC, TRAMP_VALLOC);
	void (*f)(void *) = fn(TRAMP_LIBC, TRAMP_FREE);
	struct ring *a = ring(RAW_ALLOCS), *fr = ring(FREES);
	static const size_t sizes[4] = { 100, 200, 300, 400 };
	uint64_t an, fn0, n = 200000, i, want = llround(n * -expm1(-128.0 / 8192)), sampled;
	void *b, *blocks[4];
	int always, k;

	for (always = 0; always < 2; always++) {
		force(always);
		an = a->n;
		fn0 = fr->n;
		real.calls = 0;
		assert_int_equal(pm(&blocks[0], 64, sizes[0]), 0);
		assert_ptr_equal(blocks[0], real.ret);
		assert_int_equal(real.a, 64);
		assert_int_equal(real.b, sizes[0]);
		for (k = 1; k < 3; k++) {
			blocks[k] = aligned[k - 1](128 << k, sizes[k]);
			assert_ptr_equal(blocks[k], real.ret);
			assert_int_equal(real.a, 128 << k);
			assert_int_equal(real.b, sizes[k]);
		}
		blocks[3] = va(sizes[3]);
		assert_ptr_equal(blocks[3], real.ret);
		assert_int_equal(real.a, sizes[3]);
		b = NULL;
		assert_int_equal(pm(&b, 64, 999), ENOMEM);
		assert_null(b);
		for (k = 0; k < 4; k++) {
			f(blocks[k]);
			assert_ptr_equal((void *)real.a, blocks[k]);
		}
		assert_int_equal(real.calls, 9);
		assert_int_equal(a->n - an, always ? 4 : 0);
		assert_int_equal(fr->n - fn0, always ? 4 : 0);
		for (k = 0; always && k < 4; k++) {
			assert_ptr_equal((void *)a->ev[(an + k) % RING].rax, blocks[k]);
			assert_int_equal(a->ev[(an + k) % RING].rsi, sizes[k]);
			assert_ptr_equal((void *)fr->ev[(fn0 + k) % RING].rsi, blocks[k]);
		}
		assert_true(set_empty());
	}
	draws_for(8192);
	an = a->n;
	for (i = 0; i < n; i++) {
		assert_int_equal(pm(&b, 64, 128), 0);
		f(b);
	}
	sampled = a->n - an;
	assert_true(sampled > want * 0.9 && sampled < want * 1.1);
	assert_true(set_empty());
}

/*
 * reallocarray goes as a realloc of n * size bytes (its old block leaves
 * the set, its new one is sampled), and to libc's own if that overflows.
 */
static void test_reallocarray(void **state)
{
	void *(*m)(size_t) = fn(TRAMP_LIBC, TRAMP_MALLOC);
	void *(*ra)(void *, size_t, size_t) = fn(TRAMP_LIBC, TRAMP_REALLOCARRAY);
	void (*f)(void *) = fn(TRAMP_LIBC, TRAMP_FREE);
	struct ring *a = ring(RAW_ALLOCS), *fr = ring(FREES);
	uint64_t an, fn0;
	void *b, *c;

	force(true);
	an = a->n;
	fn0 = fr->n;
	b = m(100);
	c = ra(b, 3, 40);
	assert_ptr_equal(c, real.ret);
	assert_ptr_equal((void *)real.a, b);
	assert_int_equal(real.b, 120);
	assert_int_equal(a->n - an, 2);
	assert_ptr_equal((void *)a->ev[(an + 1) % RING].rax, c);
	assert_ptr_equal((void *)a->ev[(an + 1) % RING].rsi, b);
	assert_null(ra(c, SIZE_MAX / 2, 3));
	assert_ptr_equal((void *)real.a, c);
	assert_int_equal(real.b, SIZE_MAX / 2);
	assert_int_equal(a->n - an, 2);
	f(c);
	assert_int_equal(fr->n - fn0, 1);
	assert_true(set_empty());
}

static uint8_t *set_counts(void)
{
	return p + TRAMP_SET_COUNTS_OFF;
}

/* libc's malloc of address a, sampled or not as forced; returns the bucket it raised, or -1 */
static int insert_at(uintptr_t a)
{
	void *(*m)(size_t) = fn(TRAMP_LIBC, TRAMP_MALLOC);
	static uint8_t before[TRAMP_SET_BUCKETS];
	int i;

	memcpy(before, set_counts(), sizeof(before));
	chosen = a;
	assert_ptr_equal(m(64), (void *)a);
	for (i = 0; i < TRAMP_SET_BUCKETS; i++)
		if (set_counts()[i] != before[i])
			return i;
	return -1;
}

/*
 * A bucket holds TRAMP_SET_WAYS blocks; one more is reported all the same
 * but not kept, and marks the bucket full: from then on every free that
 * hashes there is reported, sampled or not.
 */
static void test_set_full(void **state)
{
	void (*f)(void *) = fn(TRAMP_LIBC, TRAMP_FREE);
	struct ring *a = ring(RAW_ALLOCS), *fr = ring(FREES);
	uintptr_t in[TRAMP_SET_WAYS + 1], x, other = 0, base = 0x100000000000;
	uint64_t an = a->n, fn0;
	int n = 1, k, b0;

	force(true);
	in[0] = base;
	b0 = insert_at(base);
	assert_true(b0 >= 0);
	for (x = base + 64; n < TRAMP_SET_WAYS; x += 64) {
		if (insert_at(x) == b0) {
			in[n++] = x;
			continue;
		}
		other = other ?: x;
		f((void *)x);
	}
	assert_int_equal(set_counts()[b0], TRAMP_SET_WAYS);
	/* the next one there: found by no count changing */
	for (;; x += 64) {
		if (insert_at(x) < 0 && set_counts()[b0] == (TRAMP_SET_WAYS | TRAMP_SET_FULL))
			break;
		f((void *)x);
	}
	in[n++] = x;
	fn0 = fr->n;
	for (k = 0; k < n; k++)
		f((void *)in[k]);
	assert_int_equal(fr->n - fn0, n);
	assert_int_equal(set_counts()[b0], TRAMP_SET_FULL);
	/* an unsampled block there is reported freed too; one elsewhere is not */
	force(false);
	assert_int_equal(insert_at(in[n - 1]), -1);
	f((void *)in[n - 1]);
	assert_int_equal(fr->n - fn0, n + 1);
	assert_int_equal(insert_at(other), -1);
	f((void *)other);
	assert_int_equal(fr->n - fn0, n + 1);
	assert_true(a->n - an > (uint64_t)n);
	set_counts()[b0] = 0;
	assert_true(set_empty());
}

/*
 * Blocks of several allocators' spacings (16-byte, 64-byte and page
 * aligned, 2 MB mappings), a random part of each: 8,192 of them (a 4 GB
 * heap's samples at 512 KiB), and none is left out.
 */
static void test_set_spread(void **state)
{
	static const uintptr_t step[] = { 10016, 4160, 12288, (2 << 20) + 4096 };
	enum { KEPT = 8192, STEPS = sizeof(step) / sizeof(*step) };
	static uintptr_t kept[KEPT];
	void (*f)(void *) = fn(TRAMP_LIBC, TRAMP_FREE);
	size_t n = 0, k, i, per = KEPT / STEPS;
	uint8_t most = 0;

	force(true);
	srand(3);
	for (k = 0; k < STEPS; k++)
		for (i = 0; i < 4 * per && n < (k + 1) * per; i++)
			if (rand() % 4 == 0) {
				kept[n] = 0x7f0000000000 + (k << 36) + i * step[k];
				insert_at(kept[n++]);
			}
	for (i = 0; i < TRAMP_SET_BUCKETS; i++)
		most = set_counts()[i] > most ? set_counts()[i] : most;
	assert_true(most < TRAMP_SET_WAYS);
	for (i = 0; i < n; i++)
		f((void *)kept[i]);
	assert_true(set_empty());
}

/* A realloc's old block is reported only if it was sampled, and freed if its successor is not. */
static void test_reallocs(void **state)
{
	void *(*m)(void *, size_t) = fn(RAW, TRAMP_MALLOC);
	void *(*r)(void *, void *, size_t) = fn(RAW, TRAMP_REALLOC);
	void (*fr)(void *, void *) = fn(RAW, TRAMP_FREE);
	struct ring *a = ring(RAW_ALLOCS), *f = ring(FREES);
	uint64_t an = a->n, fn0 = f->n;
	void *x, *y, *z, *w;

	force(true);
	x = m(NULL, 100);
	y = r(NULL, x, 200);				/* sampled to sampled */
	assert_int_equal(a->n, an + 2);
	assert_ptr_equal((void *)a->ev[(an + 1) % RING].rax, y);
	assert_ptr_equal((void *)a->ev[(an + 1) % RING].rsi, x);
	force(false);
	z = r(NULL, y, 300);				/* sampled to unsampled: y freed */
	assert_int_equal(a->n, an + 2);
	assert_int_equal(f->n, fn0 + 1);
	assert_ptr_equal((void *)f->ev[fn0 % RING].rsi, y);
	force(true);
	w = r(NULL, z, 400);				/* unsampled to sampled: no old block */
	assert_int_equal(a->n, an + 3);
	assert_ptr_equal((void *)a->ev[(an + 2) % RING].rax, w);
	assert_null((void *)a->ev[(an + 2) % RING].rsi);
	assert_null(r(NULL, w, 999));			/* failed: w stays sampled */
	assert_int_equal(a->n, an + 3);
	assert_ptr_equal(r(NULL, w, 1), w);		/* in place, sampled again */
	assert_int_equal(a->n, an + 4);
	assert_ptr_equal((void *)a->ev[(an + 3) % RING].rsi, w);
	fr(NULL, w);
	assert_int_equal(f->n, fn0 + 2);
	assert_ptr_equal((void *)f->ev[(fn0 + 1) % RING].rsi, w);
	assert_true(set_empty());
}

/* A GIL domain's sampled free goes into the batch; an unsampled one nowhere. */
static void test_gil_free(void **state)
{
	void *(*c)(void *, size_t, size_t) = fn(GIL, TRAMP_CALLOC);
	void (*fr)(void *, void *) = fn(GIL, TRAMP_FREE);
	struct event_batch *b = (void *)(p + TRAMP_BATCH_OFF);
	uint64_t seq = b->seq, an = ring(ALLOCS)->n;
	void *x, *y;

	force(true);
	x = c(NULL, 4, 8);
	force(false);
	y = c(NULL, 4, 8);
	assert_int_equal(ring(ALLOCS)->n, an + 1);
	fr(NULL, y);
	assert_int_equal(b->seq, seq);
	fr(NULL, x);
	assert_int_equal(b->seq, seq + 1);
	assert_ptr_equal((void *)b->ev[seq % PYMEM_BATCH].addr, x);
	assert_true(set_empty());
}

/* The raw call a GIL domain's call makes is its inner level: only the outer one is sampled. */
static void test_nested(void **state)
{
	void *(*m)(void *, size_t) = fn(GIL, TRAMP_MALLOC);
	void (*fr)(void *, void *) = fn(GIL, TRAMP_FREE);
	uint64_t an = ring(ALLOCS)->n, rn = ring(RAW_ALLOCS)->n;
	void *x;

	raw_malloc = fn(RAW, TRAMP_MALLOC);
	force(true);
	x = m(NULL, 5000);
	assert_int_equal(ring(ALLOCS)->n, an + 1);
	assert_int_equal(ring(RAW_ALLOCS)->n, rn);
	assert_ptr_equal((void *)ring(ALLOCS)->ev[an % RING].rax, x);
	/* the raw domain called alone is sampled */
	fr(NULL, x);
	raw_malloc(NULL, 10);
	assert_int_equal(ring(RAW_ALLOCS)->n, rn + 1);
	((void (*)(void *, void *))fn(RAW, TRAMP_FREE))(NULL,
		(void *)ring(RAW_ALLOCS)->ev[rn % RING].rax);
	/* unsampled, a large block's inner level still takes nothing off the countdown */
	force(false);
	countdown(6000);
	m(NULL, 5000);
	assert_int_equal(ring(ALLOCS)->n, an + 1);
	assert_int_equal(ring(RAW_ALLOCS)->n, rn + 1);
	assert_int_equal(my_countdown(), 1000);
	assert_true(set_empty());
}

static void *gil_malloc_3000(void *arg)
{
	((void *(*)(void *, size_t))fn(GIL, TRAMP_MALLOC))(NULL, 3000);
	return arg;
}

/*
 * The GIL domains' countdown is cached for the thread that last called
 * them; another thread's call puts it back in its slot and takes its own:
 * each thread counts its own bytes, called in turn as the GIL has them.
 */
static void test_gil_cache(void **state)
{
	void *(*m)(void *, size_t) = fn(GIL, TRAMP_MALLOC);
	struct tramp_thread *t = (struct tramp_thread *)(p + TRAMP_THREADS_OFF), *other = NULL;
	uint64_t an = ring(ALLOCS)->n;
	pthread_t th;
	void *x;
	int i;

	raw_malloc = fake_malloc;	/* pymalloc's own blocks: no inner level */
	force(false);
	countdown(10000);
	m(NULL, 1000);
	assert_int_equal(my_countdown(), 9000);
	assert_int_equal(pthread_create(&th, NULL, gil_malloc_3000, NULL), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	/* the other thread's slot got a first draw, and the cache took 3000 off it */
	for (i = 0; i < TRAMP_THREAD_SLOTS - 1; i++)
		if (t[i].fs && &t[i] != my_slot())
			other = &t[i];
	assert_non_null(other);
	assert_int_equal(((struct tramp_sample_state *)(p + TRAMP_SAMPLE_OFF))->gil_countdown,
			 INT64_MAX / 2 - 3000);
	/* this thread's 9000 was written back, and comes out again */
	assert_int_equal(my_slot()->countdown, 9000);
	m(NULL, 500);
	assert_int_equal(my_countdown(), 8500);
	assert_int_equal(other->countdown, INT64_MAX / 2 - 3000);
	/* crossing zero samples the call and draws the cached countdown afresh */
	x = m(NULL, 8500);
	assert_int_equal(ring(ALLOCS)->n, an + 1);
	assert_true(my_countdown() >= INT64_MAX / 4);
	((void (*)(void *, void *))fn(GIL, TRAMP_FREE))(NULL, x);
	assert_true(set_empty());
	other->fs = 0;
}

/* A forked child (guard 0) samples nothing and reports nothing. */
static void test_child(void **state)
{
	void *(*m)(void *, size_t) = fn(RAW, TRAMP_MALLOC);
	void (*fr)(void *, void *) = fn(RAW, TRAMP_FREE);
	uint64_t an = ring(RAW_ALLOCS)->n, fn0 = ring(FREES)->n;

	force(true);
	p[TRAMP_GUARD_OFF] = 0;
	fr(NULL, m(NULL, 64));
	p[TRAMP_GUARD_OFF] = 1;
	assert_int_equal(ring(RAW_ALLOCS)->n, an);
	assert_int_equal(ring(FREES)->n, fn0);
	assert_true(set_empty());
}

/* The draws' mean is the interval, and their distribution exponential. */
static void test_draws(void **state)
{
	static int64_t draws[TRAMP_DRAWS];
	struct tramp_sample_state st;
	struct tramp_thread shared;
	double sum = 0;
	int k, below = 0;

	tramp_sample_fill(&st, draws, &shared, 524288, 1, false);
	for (k = 0; k < TRAMP_DRAWS; k++) {
		sum += draws[k];
		below += draws[k] < 524288;
	}
	assert_true(fabs(sum / TRAMP_DRAWS / 524288 - 1) < 1e-3);
	/* P(X < mean) = 1 - 1/e */
	assert_true(fabs((double)below / TRAMP_DRAWS - (1 - exp(-1))) < 2.0 / TRAMP_DRAWS);
	assert_int_equal(st.seed_fs_mask, ~0ULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forwarding),
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_libc),
		cmocka_unit_test(test_libc_aligned),
		cmocka_unit_test(test_reallocarray),
		cmocka_unit_test(test_set_full),
		cmocka_unit_test(test_set_spread),
		cmocka_unit_test(test_reallocs),
		cmocka_unit_test(test_gil_free),
		cmocka_unit_test(test_nested),
		cmocka_unit_test(test_gil_cache),
		cmocka_unit_test(test_child),
		cmocka_unit_test(test_draws),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
