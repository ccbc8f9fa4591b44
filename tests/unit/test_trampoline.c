// SPDX-License-Identifier: GPL-2.0
/* Run the generated trampolines in this process against fake allocators. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <cmocka.h>
#include "trampoline.h"

static struct {
	void *ctx;
	uintptr_t a, b;
	int calls;
	bool aligned;
} seen;

/* A frame pointer at entry is 16-aligned exactly when the caller's call was. */
#define NOTE(ctx_, a_, b_) do {							\
	seen.ctx = (ctx_);							\
	seen.a = (uintptr_t)(a_);						\
	seen.b = (uintptr_t)(b_);						\
	seen.calls++;								\
	seen.aligned = ((uintptr_t)__builtin_frame_address(0) % 16) == 0;	\
} while (0)

__attribute__((noinline, optimize("no-omit-frame-pointer")))
static void *fake_malloc(void *ctx, size_t n)
{
	NOTE(ctx, n, 0);
	return (void *)(0x1000 + n);
}

__attribute__((noinline, optimize("no-omit-frame-pointer")))
static void *fake_calloc(void *ctx, size_t n, size_t sz)
{
	NOTE(ctx, n, sz);
	return (void *)(0x2000 + n * sz);
}

__attribute__((noinline, optimize("no-omit-frame-pointer")))
static void *fake_realloc(void *ctx, void *p, size_t n)
{
	NOTE(ctx, p, n);
	return (void *)((uintptr_t)p + n);
}

__attribute__((noinline, optimize("no-omit-frame-pointer")))
static void fake_free(void *ctx, void *p)
{
	NOTE(ctx, p, 0);
}

static struct tramp_image img;
static uint8_t *code;

static int setup(void **state)
{
	uint64_t orig[TRAMP_DOMAINS][TRAMP__MAX] = {};
	int d;

	for (d = 0; d < TRAMP_DOMAINS; d++) {
		orig[d][TRAMP_MALLOC] = (uintptr_t)fake_malloc;
		orig[d][TRAMP_CALLOC] = (uintptr_t)fake_calloc;
		orig[d][TRAMP_REALLOC] = (uintptr_t)fake_realloc;
		orig[d][TRAMP_FREE] = (uintptr_t)fake_free;
	}
	orig[1][TRAMP_CALLOC] = 0;	/* left out */
	tramp_build(&img, orig);
	/* the layout the target gets: code, then the guard flag's page */
	code = mmap(NULL, TRAMP_MAP_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	if (code == MAP_FAILED)
		return -1;
	memcpy(code, img.bytes, sizeof(img.bytes));
	return mprotect(code, TRAMP_GUARD_OFF, PROT_READ | PROT_EXEC);
}

static int teardown(void **state)
{
	return munmap(code, TRAMP_MAP_SIZE);
}

/* Every trampoline forwards its arguments and result, guard set (parent) or not (child). */
static void check_forwarding(uint8_t guard)
{
	void *ctx = (void *)0xc7c7;
	int d;

	code[TRAMP_GUARD_OFF] = guard;
	for (d = 0; d < TRAMP_DOMAINS; d++) {
		void *(*m)(void *, size_t) = (void *)(code + img.entry[d][TRAMP_MALLOC]);
		void *(*r)(void *, void *, size_t) = (void *)(code + img.entry[d][TRAMP_REALLOC]);
		void (*f)(void *, void *) = (void *)(code + img.entry[d][TRAMP_FREE]);

		memset(&seen, 0, sizeof(seen));
		assert_ptr_equal(m(ctx, 123), (void *)(0x1000 + 123));
		assert_ptr_equal(seen.ctx, ctx);
		assert_int_equal(seen.a, 123);
		assert_true(seen.aligned);

		assert_ptr_equal(r(ctx, (void *)0x5000, 16), (void *)0x5010);
		assert_int_equal(seen.a, 0x5000);
		assert_int_equal(seen.b, 16);
		assert_true(seen.aligned);

		f(ctx, (void *)0x7777);
		assert_int_equal(seen.a, 0x7777);
		assert_int_equal(seen.calls, 3);
		assert_true(seen.aligned);
		if (d != 1) {
			void *(*c)(void *, size_t, size_t) = (void *)(code + img.entry[d][TRAMP_CALLOC]);

			assert_ptr_equal(c(ctx, 3, 7), (void *)(0x2000 + 21));
			assert_int_equal(seen.a, 3);
			assert_int_equal(seen.b, 7);
			assert_true(seen.aligned);
		}
	}
}

static void test_forwarding(void **state)
{
	check_forwarding(1);
}

static void test_forwarding_in_child(void **state)
{
	check_forwarding(0);
}

static void test_probe_points(void **state)
{
	static const uint8_t nop5[] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 };
	int32_t disp;
	uint32_t at;
	int d, f;

	for (d = 0; d < TRAMP_DOMAINS; d++) {
		for (f = 0; f < TRAMP__MAX; f++) {
			if (d == 1 && f == TRAMP_CALLOC) {
				assert_int_equal(img.probe[d][f], 0);
				continue;
			}
			at = img.probe[d][f];
			assert_memory_equal(img.bytes + at, nop5, 5);
			/* guarded: cmpb $0, flag(%rip) aimed at the guard page; je over the nop5 */
			assert_int_equal(img.bytes[at - 9], 0x80);
			assert_int_equal(img.bytes[at - 8], 0x3d);
			memcpy(&disp, img.bytes + at - 7, 4);
			assert_int_equal(at - 2 + disp, TRAMP_GUARD_OFF);
			assert_int_equal(img.bytes[at - 3], 0x00);
			assert_int_equal(img.bytes[at - 2], 0x74);
			assert_int_equal(img.bytes[at - 1], 5);
			/* a free is seen before it happens, an allocation after */
			if (f == TRAMP_FREE)
				assert_int_equal(at - 9, img.entry[d][f]);
			else
				assert_int_equal(img.bytes[at + 5], 0xc3);	/* ret */
		}
	}
}

/*
 * With each allocation probe point turned into a call to a checker, %rcx
 * at the probe must be the caller's return address, which the BPF side
 * takes from it instead of reading the stack.
 */
static void test_probe_sees_caller(void **state)
{
	enum { STUB = 2048, HITS = TRAMP_GUARD_OFF + 64 };
	static const uint8_t check[] = {
		0x4c, 0x8b, 0x5c, 0x24, 0x08,	/* mov 8(%rsp),%r11: above our own return */
		0x4c, 0x39, 0xd9,		/* cmp %r11,%rcx */
		0x75, 0x06,			/* jne over the incb */
		0xfe, 0x05, 0, 0, 0, 0,		/* incb HITS(%rip) */
		0xc3,				/* ret */
	};
	uint8_t *p = mmap(NULL, TRAMP_MAP_SIZE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *ctx = (void *)0xc7c7;
	int32_t rel;
	int d, f, calls = 0;

	assert_ptr_not_equal(p, MAP_FAILED);
	memcpy(p, img.bytes, sizeof(img.bytes));
	memcpy(p + STUB, check, sizeof(check));
	rel = HITS - (STUB + 16);
	memcpy(p + STUB + 12, &rel, 4);
	for (d = 0; d < TRAMP_DOMAINS; d++)
		for (f = 0; f < TRAMP__MAX; f++) {
			uint32_t at = img.probe[d][f];

			if (f == TRAMP_FREE || !at)
				continue;
			p[at] = 0xe8;		/* call STUB */
			rel = STUB - (int32_t)(at + 5);
			memcpy(p + at + 1, &rel, 4);
		}
	assert_int_equal(mprotect(p, TRAMP_GUARD_OFF, PROT_READ | PROT_EXEC), 0);
	p[TRAMP_GUARD_OFF] = 1;
	for (d = 0; d < TRAMP_DOMAINS; d++) {
		void *(*m)(void *, size_t) = (void *)(p + img.entry[d][TRAMP_MALLOC]);
		void *(*r)(void *, void *, size_t) = (void *)(p + img.entry[d][TRAMP_REALLOC]);
		void *(*c)(void *, size_t, size_t) = (void *)(p + img.entry[d][TRAMP_CALLOC]);

		assert_ptr_equal(m(ctx, 5), (void *)(0x1000 + 5));
		assert_ptr_equal(r(ctx, (void *)0x5000, 1), (void *)0x5001);
		calls += 2;
		if (img.probe[d][TRAMP_CALLOC]) {
			assert_ptr_equal(c(ctx, 2, 2), (void *)(0x2000 + 4));
			calls++;
		}
	}
	assert_int_equal(p[HITS], calls);
	munmap(p, TRAMP_MAP_SIZE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forwarding),
		cmocka_unit_test(test_forwarding_in_child),
		cmocka_unit_test(test_probe_points),
		cmocka_unit_test(test_probe_sees_caller),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
