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
#include "py_offsets.h"
#include "trampoline.h"
#include "tramp_patch.h"

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

/* No thread state: the GIL domains' allocations hit their probe point, with no hash. */
static void *no_tstate(void)
{
	return NULL;
}

static struct tramp_image img;
static uint8_t *code;
/* Freed blocks must be memory: the object domain's free reads the type at +8. */
static uint8_t heap[0x70000];
#define BLOCK(off)	((uintptr_t)heap + (off))

static int setup(void **state)
{
	uint64_t orig[TRAMP_SETS][TRAMP__MAX] = {};
	struct tramp_walk walk = { .get_tstate = (uintptr_t)no_tstate,
				   .get_own_tstate = (uintptr_t)no_tstate, .code_type = 0x1234,
				   .cframe_current_frame = PY_OFF_NONE,
				   .frame_owner = PY_OFF_NONE };

	fake_tables(orig, fake_malloc, fake_calloc, fake_realloc, fake_free);
	orig[1][TRAMP_CALLOC] = 0;	/* left out */
	tramp_build(&img, orig, &walk, false, NULL);
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

		f(ctx, (void *)BLOCK(0x7777));
		assert_int_equal(seen.a, BLOCK(0x7777));
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

/* cmpb $0, flag(%rip) aimed at the guard page, then je over the nop5 at at */
static void assert_guarded(uint32_t at)
{
	int32_t disp;

	assert_int_equal(img.bytes[at - 9], 0x80);
	assert_int_equal(img.bytes[at - 8], 0x3d);
	memcpy(&disp, img.bytes + at - 7, 4);
	assert_int_equal(at - 2 + disp, TRAMP_GUARD_OFF);
	assert_int_equal(img.bytes[at - 3], 0x00);
	assert_int_equal(img.bytes[at - 2], 0x74);
	assert_int_equal(img.bytes[at - 1], 5);
}

static void test_probe_points(void **state)
{
	static const uint8_t nop5[] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 };
	static const uint8_t r8_load[] = { 0x4c, 0x8b, 0x05 }, r8_from_rax[] = { 0x49, 0x89, 0xc0 };
	static const uint8_t no_hash[] = { 0x45, 0x31, 0xc9 }, logged[] = { 0x85, 0xff, 0x74, 5 };
	int32_t disp;
	uint32_t at;
	int d, f;

	for (d = 0; d < TRAMP_DOMAINS; d++) {
		for (f = 0; f < TRAMP_TABLE_FNS; f++) {
			if (d == 1 && f == TRAMP_CALLOC) {
				assert_int_equal(img.probe[d][f], 0);
				continue;
			}
			at = img.probe[d][f];
			assert_true(at > img.entry[d][f] && at + 5 < img.entry[d][f] + TRAMP_SLOT);
			assert_memory_equal(img.bytes + at, nop5, 5);
			if (TRAMP_BATCHED(d) && f == TRAMP_FREE) {
				/* the count just stored, then the real free */
				assert_memory_equal(img.bytes + at - 3, r8_from_rax, 3);
				assert_int_equal(img.bytes[at + 5], 0xff);	/* jmp *slot */
				continue;
			}
			if (TRAMP_BATCHED(d)) {
				/* only when stack_tag (called just before) did not log it */
				assert_memory_equal(img.bytes + at - 4, logged, 4);
				assert_int_equal(img.bytes[at - 9], 0xe8);
				memcpy(&disp, img.bytes + at - 8, 4);
				assert_int_equal(at - 4 + disp, TRAMP_SHARED_OFF);
				assert_int_equal(img.bytes[at + 5], 0xc3);	/* ret */
				continue;
			}
			assert_guarded(at);
			if (f == TRAMP_FREE) {
				/* no hash in %r9, the batch's count in %r8: mov seq(%rip),%r8 */
				assert_memory_equal(img.bytes + at - 12, no_hash, 3);
				assert_memory_equal(img.bytes + at - 19, r8_load, 3);
				memcpy(&disp, img.bytes + at - 16, 4);
				assert_int_equal(at - 12 + disp, TRAMP_SEQ_OFF);
				/* a free is seen before it happens */
				assert_int_equal(at - 19, img.entry[d][f]);
				continue;
			}
			/* the count in %r8, after the raw domain's stack hash into %r9 */
			assert_memory_equal(img.bytes + at - 16, r8_load, 3);
			memcpy(&disp, img.bytes + at - 13, 4);
			assert_int_equal(at - 9 + disp, TRAMP_SEQ_OFF);
			assert_int_equal(img.bytes[at - 21], 0xe8);
			memcpy(&disp, img.bytes + at - 20, 4);
			assert_int_equal(at - 16 + disp, TRAMP_RAW_HASH_OFF);
			/* an allocation is seen after it */
			assert_int_equal(img.bytes[at + 5], 0xc3);	/* ret */
		}
	}
	/* the batched allocations' flush, with the count in %r8 */
	assert_true(img.flush > TRAMP_SHARED_OFF && img.flush + 5 < TRAMP_CODE_SIZE);
	assert_memory_equal(img.bytes + img.flush, nop5, 5);
	assert_memory_equal(img.bytes + img.flush - 3, r8_from_rax, 3);
}

/* Fill a GIL domain's batch with n frees through its trampoline; NULL is no free. */
static void free_n(int d, int n, uintptr_t first)
{
	void (*f)(void *, void *) = (void *)(code + img.entry[d][TRAMP_FREE]);
	int i;

	for (i = 0; i < n; i++)
		f((void *)0xc7c7, first ? (void *)BLOCK(first + i) : NULL);
}

/* A copy of the image whose probe points call the stub at stub; not yet executable. */
static uint8_t *map_patched(uint32_t stub, const uint8_t *stub_code, size_t n, bool frees)
{
	uint8_t *p = mmap(NULL, TRAMP_MAP_SIZE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int d, f;

	assert_ptr_not_equal(p, MAP_FAILED);
	memcpy(p, img.bytes, sizeof(img.bytes));
	memcpy(p + stub, stub_code, n);
	for (d = 0; d < TRAMP_DOMAINS; d++)
		for (f = 0; f < TRAMP__MAX; f++)
			if (img.probe[d][f] && (f != TRAMP_FREE || frees))
				call_at(p, img.probe[d][f], stub);
	call_at(p, img.flush, stub);
	return p;
}

/*
 * GIL-domain frees run at once, and land in the batch in order; the probe
 * point is passed every PYMEM_BATCH_FLUSH events with the count in %r8.
 */
static void test_batched_free(void **state)
{
	enum { STUB = (TRAMP_IMAGE_SIZE + 63) & ~63, SEEN = TRAMP_GUARD_OFF + 32 };
	static const uint8_t note_r8[] = {
		0x4c, 0x89, 0x05, 0, 0, 0, 0,	/* mov %r8,SEEN(%rip) */
		0xc3,				/* ret */
	};
	uint8_t *p = map_patched(STUB, note_r8, sizeof(note_r8), true);
	struct event_batch *b = (void *)(p + TRAMP_BATCH_OFF);
	uint64_t *seen_r8 = (void *)(p + SEEN);
	uint8_t *saved = code;
	int32_t rel = SEEN - (STUB + 7);
	int d, i;

	memcpy(p + STUB + 3, &rel, 4);
	assert_int_equal(mprotect(p, TRAMP_GUARD_OFF, PROT_READ | PROT_EXEC), 0);
	code = p;
	p[TRAMP_GUARD_OFF] = 1;

	memset(&seen, 0, sizeof(seen));
	free_n(2, PYMEM_BATCH_FLUSH - 1, 0x10000);
	assert_int_equal(seen.calls, PYMEM_BATCH_FLUSH - 1);	/* every free forwarded */
	assert_int_equal(seen.a, BLOCK(0x10000 + PYMEM_BATCH_FLUSH - 2));
	assert_int_equal(b->seq, PYMEM_BATCH_FLUSH - 1);
	assert_int_equal(*seen_r8, 0);				/* no hit yet */
	free_n(1, 1, 0x20000);					/* mem shares the batch */
	assert_int_equal(*seen_r8, PYMEM_BATCH_FLUSH);
	assert_int_equal(b->ev[PYMEM_BATCH_FLUSH - 1].addr, BLOCK(0x20000));
	assert_int_equal(BATCH_META_SITE(b->ev[PYMEM_BATCH_FLUSH - 1].meta), SITE_PYMEM_FREE);
	assert_int_equal(BATCH_META_SIZE(b->ev[PYMEM_BATCH_FLUSH - 1].meta), 0);
	free_n(2, 1, 0);					/* free(NULL): not a free */
	assert_int_equal(b->seq, PYMEM_BATCH_FLUSH);
	free_n(2, PYMEM_BATCH + 3, 0x30000);
	assert_int_equal(b->seq, PYMEM_BATCH_FLUSH + PYMEM_BATCH + 3);
	assert_int_equal(*seen_r8, PYMEM_BATCH_FLUSH + PYMEM_BATCH);
	/* event k sits in slot k % N, the last N of them */
	for (i = 3; i < PYMEM_BATCH + 3; i++) {
		struct batch_ev *ev = &b->ev[(PYMEM_BATCH_FLUSH + i) % PYMEM_BATCH];

		assert_int_equal(ev->addr, BLOCK(0x30000 + i));
		assert_int_equal(BATCH_META_SITE(ev->meta), SITE_PYOBJECT_FREE);
	}
	/*
	 * An allocation's hit, in any domain (no thread state: no hash, so the
	 * GIL domains' hit too), and a raw free's, see the count too.
	 */
	for (d = 0; d < TRAMP_DOMAINS; d++) {
		void *(*m)(void *, size_t) = (void *)(p + img.entry[d][TRAMP_MALLOC]);

		*seen_r8 = 0;
		m((void *)0xc7c7, 8);
		assert_int_equal(*seen_r8, b->seq);
	}
	*seen_r8 = 0;
	free_n(0, 1, 0x50000);
	assert_int_equal(*seen_r8, b->seq);
	assert_int_equal(seen.a, BLOCK(0x50000));

	/* a forked child (guard 0) forwards without touching the batch or a probe point */
	p[TRAMP_GUARD_OFF] = 0;
	memset(&seen, 0, sizeof(seen));
	*seen_r8 = 0xdead;
	free_n(2, PYMEM_BATCH, 0x40000);
	free_n(0, 1, 0x60000);
	for (d = 0; d < TRAMP_DOMAINS; d++)
		((void *(*)(void *, size_t))(p + img.entry[d][TRAMP_MALLOC]))((void *)0xc7c7, 8);
	assert_int_equal(seen.calls, PYMEM_BATCH + 1 + TRAMP_DOMAINS);
	assert_int_equal(*seen_r8, 0xdead);
	assert_int_equal(b->seq, PYMEM_BATCH_FLUSH + PYMEM_BATCH + 3);
	code = saved;
	munmap(p, TRAMP_MAP_SIZE);
}

/*
 * With each allocation probe point turned into a call to a checker, %rcx
 * at the probe must be the caller's return address, which the BPF side
 * takes from it instead of reading the stack.
 */
static void test_probe_sees_caller(void **state)
{
	enum { STUB = (TRAMP_IMAGE_SIZE + 63) & ~63, HITS = TRAMP_GUARD_OFF + 64 };
	static const uint8_t check[] = {
		0x4c, 0x8b, 0x5c, 0x24, 0x08,	/* mov 8(%rsp),%r11: above our own return */
		0x4c, 0x39, 0xd9,		/* cmp %r11,%rcx */
		0x75, 0x06,			/* jne over the incb */
		0xfe, 0x05, 0, 0, 0, 0,		/* incb HITS(%rip) */
		0xc3,				/* ret */
	};
	uint8_t *p = map_patched(STUB, check, sizeof(check), false);
	void *ctx = (void *)0xc7c7;
	int32_t rel = HITS - (STUB + 16);
	int d, calls = 0;

	memcpy(p + STUB + 12, &rel, 4);
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
		cmocka_unit_test(test_batched_free),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
