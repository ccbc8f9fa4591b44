// SPDX-License-Identifier: GPL-2.0
/*
 * The allocation trampolines hash the calling thread's Python stack
 * themselves: run them in this process over fake thread states and
 * frames (laid out as 3.11's and as 3.8's), with the probe points turned
 * into calls to stubs that note what the BPF side would see.
 */
#include <pthread.h>
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

struct fake_frame {
	uint64_t pad[3];
	uint64_t code;
	struct fake_frame *back;
	uint64_t lasti;		/* an instruction pointer, or an int in its low half */
	uint8_t pad2[5];
	uint8_t owner;
};

struct fake_cframe {
	uint64_t pad;
	struct fake_frame *current;
};

struct fake_tstate {
	uint64_t pad[2];
	void *frame;		/* the cframe or the frame */
	uint64_t thread_id;
};

static struct fake_tstate ts;
static struct fake_cframe cf;
/* the current thread state (the GIL's holder), and this thread's own (its TLS key) */
static void *cur_ts, *own_ts;
static int getter_calls;
static bool getter_aligned = true;
/* a free block that is a code object: its type at +8 */
static uint64_t code_block[4];

__attribute__((noinline, optimize("no-omit-frame-pointer")))
static void *getter(void)
{
	getter_calls++;
	getter_aligned &= ((uintptr_t)__builtin_frame_address(0) % 16) == 0;
	return cur_ts;
}

__attribute__((noinline, optimize("no-omit-frame-pointer")))
static void *own_getter(void)
{
	getter_calls++;
	getter_aligned &= ((uintptr_t)__builtin_frame_address(0) % 16) == 0;
	return own_ts;
}

static void *fake_malloc(void *ctx, size_t n)
{
	return (void *)(0x1000 + n);
}

static void *fake_calloc(void *ctx, size_t n, size_t sz)
{
	return (void *)(0x2000 + n * sz);
}

static void *fake_realloc(void *ctx, void *p, size_t n)
{
	return (void *)((uintptr_t)p + n);
}

static void fake_free(void *ctx, void *p)
{
}

/* Probe stubs: the allocation's notes %r9 and counts; the flush's notes %r8 and counts. */
/* past the image, in its executable pages */
enum { STUB_ALLOC = (TRAMP_IMAGE_SIZE + 63) & ~63, STUB_FLUSH = STUB_ALLOC + 32 };
enum { HASH = TRAMP_GUARD_OFF + 8, HITS = HASH + 8, FLUSH_SEQ = HITS + 8, FLUSHES = FLUSH_SEQ + 8 };

struct fixture {
	struct tramp_image img;
	uint8_t *p;
	struct event_batch *b;
};

static void stub(uint8_t *p, uint32_t at, uint8_t reg_modrm, uint32_t note, uint32_t count)
{
	uint8_t code[] = {
		0x4c, 0x89, reg_modrm, 0, 0, 0, 0,	/* mov %r8/%r9,note(%rip) */
		0xff, 0x05, 0, 0, 0, 0,			/* incl count(%rip) */
		0xc3,
	};
	int32_t rel = note - (at + 7);

	memcpy(code + 3, &rel, 4);
	rel = count - (at + 13);
	memcpy(code + 9, &rel, 4);
	memcpy(p + at, code, sizeof(code));
}

static struct fixture *fixture_new(bool like_311)
{
	static struct fixture fx;
	uint64_t orig[TRAMP_SETS][TRAMP__MAX] = {};
	struct tramp_walk w = {
		.get_tstate = (uintptr_t)getter,
		.get_own_tstate = (uintptr_t)own_getter,
		.code_type = 0xc0de,
		.tstate_thread_id = offsetof(struct fake_tstate, thread_id),
		.tstate_frame = offsetof(struct fake_tstate, frame),
		.cframe_current_frame = like_311 ? offsetof(struct fake_cframe, current) : PY_OFF_NONE,
		.frame_code = offsetof(struct fake_frame, code),
		.frame_back = offsetof(struct fake_frame, back),
		.frame_lasti = offsetof(struct fake_frame, lasti),
		.frame_owner = like_311 ? offsetof(struct fake_frame, owner) : PY_OFF_NONE,
		.lasti_is_int = !like_311,
	};
	int d, f;

	fake_tables(orig, fake_malloc, fake_calloc, fake_realloc, fake_free);
	tramp_build(&fx.img, orig, &w, false, NULL);
	fx.p = mmap(NULL, TRAMP_MAP_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	assert_ptr_not_equal(fx.p, MAP_FAILED);
	memcpy(fx.p, fx.img.bytes, sizeof(fx.img.bytes));
	stub(fx.p, STUB_ALLOC, 0x0d, HASH, HITS);	/* %r9 */
	stub(fx.p, STUB_FLUSH, 0x05, FLUSH_SEQ, FLUSHES);	/* %r8 */
	for (d = 0; d < TRAMP_DOMAINS; d++)
		for (f = 0; f < TRAMP_FREE; f++)
			call_at(fx.p, fx.img.probe[d][f], STUB_ALLOC);
	call_at(fx.p, fx.img.flush, STUB_FLUSH);
	assert_int_equal(mprotect(fx.p, TRAMP_GUARD_OFF, PROT_READ | PROT_EXEC), 0);
	fx.p[TRAMP_GUARD_OFF] = 1;
	fx.b = (void *)(fx.p + TRAMP_BATCH_OFF);

	memset(&ts, 0, sizeof(ts));
	memset(&cf, 0, sizeof(cf));
	ts.thread_id = (uint64_t)pthread_self();	/* glibc: the fs base */
	ts.frame = like_311 ? (void *)&cf : NULL;
	cur_ts = &ts;
	own_ts = &ts;
	code_block[1] = w.code_type;
	return &fx;
}

static void set_top(bool like_311, struct fake_frame *f)
{
	if (like_311)
		cf.current = f;
	else
		ts.frame = f;
}

static uint64_t u64_at(struct fixture *fx, uint32_t off)
{
	uint64_t v;

	memcpy(&v, fx->p + off, 8);
	return v;
}

/* One allocation through domain d's malloc, from one call site; returns %r9 if it hit. */
__attribute__((noipa))
static uint64_t alloc_at(struct fixture *fx, int d, size_t n, bool *hit)
{
	void *(*m)(void *, size_t) = (void *)(fx->p + fx->img.entry[d][TRAMP_MALLOC]);
	uint64_t hits = u64_at(fx, HITS);

	assert_ptr_equal(m(NULL, n), (void *)(0x1000 + n));
	*hit = u64_at(fx, HITS) != hits;
	return *hit ? u64_at(fx, HASH) : 0;
}

/* The same from another call site (noipa: not folded into one): another stack */
__attribute__((noipa))
static uint64_t alloc_elsewhere(struct fixture *fx, int d, size_t n, bool *hit)
{
	void *(*m)(void *, size_t) = (void *)(fx->p + fx->img.entry[d][TRAMP_MALLOC]);
	uint64_t hits = u64_at(fx, HITS);

	assert_ptr_equal(m(NULL, n), (void *)(0x1000 + n));
	*hit = u64_at(fx, HITS) != hits;
	return *hit ? u64_at(fx, HASH) : 0;
}

/* The object domain's realloc or calloc, from one call site (not a tail call) */
__attribute__((noinline, optimize("no-optimize-sibling-calls")))
static void call3(struct fixture *fx, enum tramp_fn f, uint64_t a, uint64_t b)
{
	((void *(*)(void *, uint64_t, uint64_t))(fx->p + fx->img.entry[TRAMP_OBJ][f]))(NULL, a, b);
}

static struct batch_ev *last_ev(struct fixture *fx)
{
	return &fx->b->ev[(fx->b->seq - 1) % PYMEM_BATCH];
}

static void obj_free(struct fixture *fx, int d, void *block)
{
	((void (*)(void *, void *))(fx->p + fx->img.entry[d][TRAMP_FREE]))(NULL, block);
}

static void check_hashing(bool like_311)
{
	struct fixture *fx = fixture_new(like_311);
	struct fake_frame f0 = { .code = 0xa0, .lasti = 10 }, f1 = { .code = 0xb0, .lasti = 20 };
	struct fake_frame shim = { .code = 0xee, .lasti = 1, .owner = 3 };
	uint64_t h1, h, seq;
	bool hit;
	int i;

	f0.back = &f1;
	set_top(like_311, &f0);

	/* first meeting: the probe point, with the hash to learn; nothing logged */
	h1 = alloc_at(fx, TRAMP_OBJ, 100, &hit);
	assert_true(hit);
	assert_int_not_equal(h1, 0);
	assert_int_equal(fx->b->seq, 0);
	assert_true(getter_aligned);
	/* met again: logged with the hash, no hit */
	alloc_at(fx, TRAMP_OBJ, 100, &hit);
	assert_false(hit);
	assert_int_equal(fx->b->seq, 1);
	assert_int_equal(last_ev(fx)->addr, 0x1000 + 100);
	assert_int_equal(last_ev(fx)->old, 0);
	assert_int_equal(BATCH_META_SIZE(last_ev(fx)->meta), 100);
	assert_int_equal(BATCH_META_SITE(last_ev(fx)->meta), SITE_PYOBJECT_MALLOC);
	assert_int_equal(last_ev(fx)->hash, h1);
	/* the size is not part of the stack; the site, the caller and each frame are */
	alloc_at(fx, TRAMP_OBJ, 7, &hit);
	assert_false(hit);
	h = alloc_at(fx, 1, 100, &hit);
	assert_true(hit);
	assert_true(h && h != h1);
	h = alloc_elsewhere(fx, TRAMP_OBJ, 100, &hit);
	assert_true(hit);
	assert_true(h && h != h1);
	f0.lasti = 11;
	h = alloc_at(fx, TRAMP_OBJ, 100, &hit);
	assert_true(hit);
	assert_true(h && h != h1);
	f0.lasti = 10;
	f1.code = 0xb1;
	h = alloc_at(fx, TRAMP_OBJ, 100, &hit);
	assert_true(hit);
	assert_true(h && h != h1);
	f1.code = 0xb0;
	alloc_at(fx, TRAMP_OBJ, 100, &hit);
	assert_false(hit);
	assert_int_equal(last_ev(fx)->hash, h1);
	if (!like_311)
		goto deaths;
	/* a shim frame (owned by the C stack) is not part of it */
	f0.back = &shim;
	shim.back = &f1;
	alloc_at(fx, TRAMP_OBJ, 100, &hit);
	assert_false(hit);
	shim.owner = 0;
	h = alloc_at(fx, TRAMP_OBJ, 100, &hit);
	assert_true(hit);
	assert_true(h && h != h1);
	f0.back = &f1;
deaths:
	/* a code object's death: every hash is learnt again (the same hash) */
	obj_free(fx, 1, code_block);		/* the mem domain holds no code objects */
	alloc_at(fx, TRAMP_OBJ, 100, &hit);
	assert_false(hit);
	obj_free(fx, TRAMP_OBJ, code_block);
	assert_int_equal(last_ev(fx)->addr, (uintptr_t)code_block);
	h = alloc_at(fx, TRAMP_OBJ, 100, &hit);
	assert_true(hit);
	assert_int_equal(h, h1);
	alloc_at(fx, TRAMP_OBJ, 100, &hit);
	assert_false(hit);

	/* realloc and calloc are logged with their old block and n * size (met once first) */
	seq = fx->b->seq;
	for (i = 0; i < 2; i++)
		call3(fx, TRAMP_REALLOC, 0x5000, 50);
	assert_int_equal(fx->b->seq, seq + 1);
	assert_int_equal(last_ev(fx)->addr, 0x5000 + 50);
	assert_int_equal(last_ev(fx)->old, 0x5000);
	assert_int_equal(BATCH_META_SIZE(last_ev(fx)->meta), 50);
	assert_int_equal(BATCH_META_SITE(last_ev(fx)->meta), SITE_PYOBJECT_REALLOC);
	for (i = 0; i < 2; i++)
		call3(fx, TRAMP_CALLOC, 3, 9);
	assert_int_equal(fx->b->seq, seq + 2);
	assert_int_equal(BATCH_META_SIZE(last_ev(fx)->meta), 27);
	assert_int_equal(last_ev(fx)->old, 0);
	munmap(fx->p, TRAMP_MAP_SIZE);
}

static void test_hashing_311(void **state)
{
	check_hashing(true);
}

static void test_hashing_38(void **state)
{
	check_hashing(false);
}

/* Not this thread's state, no state, or deeper than the walker goes: the probe, no hash. */
static void test_no_hash(void **state)
{
	static struct fake_frame chain[TRAMP_MAX_FRAMES + 1];
	struct fixture *fx = fixture_new(true);
	int i, j;
	bool hit;

	for (i = 0; i < TRAMP_MAX_FRAMES; i++) {
		chain[i].code = 0x100 + 16 * i;
		chain[i].back = &chain[i + 1];
	}
	set_top(true, &chain[1]);		/* just the walker's depth: hashed */
	assert_int_not_equal(alloc_at(fx, TRAMP_OBJ, 8, &hit), 0);
	set_top(true, &chain[0]);		/* one deeper */
	for (j = 0; j < 2; j++) {
		assert_int_equal(alloc_at(fx, TRAMP_OBJ, 8, &hit), 0);
		assert_true(hit);
	}
	set_top(true, &chain[1]);
	ts.thread_id++;
	for (j = 0; j < 2; j++) {
		assert_int_equal(alloc_at(fx, TRAMP_OBJ, 8, &hit), 0);
		assert_true(hit);
	}
	cur_ts = NULL;
	assert_int_equal(alloc_at(fx, TRAMP_OBJ, 8, &hit), 0);
	assert_true(hit);
	assert_int_equal(fx->b->seq, 0);
	munmap(fx->p, TRAMP_MAP_SIZE);
}

/*
 * The raw domain's allocations hit their probe point each, with the
 * stack's hash: its low bit set the first time (to be learnt), clear once
 * the tag table knows it (the BPF side then names the stack without a
 * walk); from the thread's own state, the GIL held or not; none without
 * one.  Nothing goes into the batch.
 */
static void test_raw_hash(void **state)
{
	struct fixture *fx = fixture_new(true);
	struct fake_frame f0 = { .code = 0xa0, .lasti = 10 };
	uint64_t h1, h;
	bool hit;

	set_top(true, &f0);
	h1 = alloc_at(fx, 0, 100, &hit);
	assert_true(hit && (h1 & 1));
	h = alloc_at(fx, 0, 100, &hit);
	assert_true(hit);
	assert_int_equal(h, h1 & ~1ULL);
	assert_true(getter_aligned);
	/* the site is part of the hash: the object domain's from here is another */
	h = alloc_at(fx, TRAMP_OBJ, 100, &hit);
	assert_true(hit && h != h1);
	h = alloc_elsewhere(fx, 0, 100, &hit);
	assert_true(hit && (h & 1) && h != h1);
	f0.lasti = 11;
	h = alloc_at(fx, 0, 100, &hit);
	assert_true(hit && (h & 1) && h != h1);
	f0.lasti = 10;
	/* the GIL released: no current thread state, this thread's own still */
	cur_ts = NULL;
	assert_int_equal(alloc_at(fx, 0, 100, &hit), h1 & ~1ULL);
	assert_int_equal(alloc_at(fx, TRAMP_OBJ, 100, &hit), 0);
	own_ts = NULL;
	assert_int_equal(alloc_at(fx, 0, 100, &hit), 0);
	assert_true(hit);
	assert_int_equal(fx->b->seq, 0);
	munmap(fx->p, TRAMP_MAP_SIZE);
}

/*
 * Stacks whose tags share a set: TRAMP_WAYS of them stay known together;
 * one more evicts the one learnt first.
 */
static void test_tag_set(void **state)
{
	enum { N = TRAMP_WAYS + 1 };
	struct fixture *fx = fixture_new(false);
	struct fake_frame f0 = { .code = 0xa0 };
	uint64_t lasti[N], set = 0, h;
	int i, j, found = 0;
	bool hit;

	set_top(false, &f0);
	/* the salt starts at 0, so a hash's set is its low bits; find N in one set */
	for (f0.lasti = 0; found < N && f0.lasti < 1000000; f0.lasti++) {
		h = alloc_at(fx, TRAMP_OBJ, 8, &hit);
		if (!hit)
			continue;
		if (!found)
			set = h % (TRAMP_TAGS / TRAMP_WAYS);
		if (h % (TRAMP_TAGS / TRAMP_WAYS) == set)
			lasti[found++] = f0.lasti;
	}
	assert_int_equal(found, N);
	munmap(fx->p, TRAMP_MAP_SIZE);

	fx = fixture_new(false);
	set_top(false, &f0);
	for (j = 0; j < 2; j++)
		for (i = 0; i < TRAMP_WAYS; i++) {
			f0.lasti = lasti[i];
			alloc_at(fx, TRAMP_OBJ, 8, &hit);
			assert_int_equal(hit, j == 0);
		}
	f0.lasti = lasti[N - 1];
	alloc_at(fx, TRAMP_OBJ, 8, &hit);
	assert_true(hit);
	for (i = 1; i < N; i++) {
		f0.lasti = lasti[i];
		alloc_at(fx, TRAMP_OBJ, 8, &hit);
		assert_false(hit);
	}
	f0.lasti = lasti[0];
	alloc_at(fx, TRAMP_OBJ, 8, &hit);
	assert_true(hit);
	munmap(fx->p, TRAMP_MAP_SIZE);
}

/* Every PYMEM_BATCH_FLUSH-th event, allocation or free, hits the flush with the count. */
static void test_flush(void **state)
{
	struct fixture *fx = fixture_new(false);
	struct fake_frame f0 = { .code = 0xa0 };
	bool hit;
	int i;

	set_top(false, &f0);
	alloc_at(fx, TRAMP_OBJ, 8, &hit);
	for (i = 0; i < PYMEM_BATCH_FLUSH - 2; i++)
		alloc_at(fx, TRAMP_OBJ, 8, &hit);
	obj_free(fx, 1, code_block);
	assert_int_equal(u64_at(fx, FLUSHES), 0);
	assert_int_equal(fx->b->seq, PYMEM_BATCH_FLUSH - 1);
	alloc_at(fx, TRAMP_OBJ, 8, &hit);
	assert_int_equal(u64_at(fx, FLUSHES), 1);
	assert_int_equal(u64_at(fx, FLUSH_SEQ), PYMEM_BATCH_FLUSH);
	munmap(fx->p, TRAMP_MAP_SIZE);
}

/*
 * No probe attached (the flush's NOP is bare: pymem-bpf is gone): nothing
 * hashed, logged or hit, and the thread state is not even asked for.
 */
static void test_quiet_when_unprobed(void **state)
{
	static const uint8_t nop5[] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 };
	struct fixture *fx = fixture_new(true);
	struct fake_frame f0 = { .code = 0xa0 };
	bool hit;
	int i;

	set_top(true, &f0);
	assert_int_equal(mprotect(fx->p, TRAMP_GUARD_OFF, PROT_READ | PROT_WRITE), 0);
	memcpy(fx->p + fx->img.flush, nop5, 5);
	assert_int_equal(mprotect(fx->p, TRAMP_GUARD_OFF, PROT_READ | PROT_EXEC), 0);
	getter_calls = 0;
	for (i = 0; i < 3; i++) {
		alloc_at(fx, TRAMP_OBJ, 8, &hit);
		assert_false(hit);
	}
	/* the raw domain's probe point is hit, with no hash */
	assert_int_equal(alloc_at(fx, 0, 8, &hit), 0);
	assert_true(hit);
	assert_int_equal(getter_calls, 0);
	assert_int_equal(fx->b->seq, 0);
	munmap(fx->p, TRAMP_MAP_SIZE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hashing_311),
		cmocka_unit_test(test_hashing_38),
		cmocka_unit_test(test_no_hash),
		cmocka_unit_test(test_raw_hash),
		cmocka_unit_test(test_tag_set),
		cmocka_unit_test(test_flush),
		cmocka_unit_test(test_quiet_when_unprobed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
