// SPDX-License-Identifier: GPL-2.0
/*
 * Sampled mode with pymalloc's frees left off the trampolines (the GIL
 * domains' tables keep pymalloc's free, see tramp_build): run in this
 * process against a fake pymalloc that, as the real one, serves 1 to 512
 * bytes from its arenas and hands anything else, and the free of any
 * block not in them, to the raw domain.  A sampled block must so come
 * from the raw domain, where its free is seen; a code object's death is
 * seen at the hook for PyCode_Type's tp_dealloc.
 */
#include "tramp_sample_fixture.h"

static uint8_t arena[1 << 16];
static size_t arena_used;
static struct { int calls; void *op; } dealloc;
static size_t realloc_asked;	/* the size the last py_realloc was asked for */

static bool in_arena(const void *b)
{
	return (const uint8_t *)b >= arena && (const uint8_t *)b < arena + sizeof(arena);
}

static void *raw(enum tramp_fn f)
{
	return fn(RAW, f);
}

static void *py_malloc(void *ctx, size_t n)
{
	void *b = arena + arena_used;

	if (n - 1 >= 512)
		return ((void *(*)(void *, size_t))raw(TRAMP_MALLOC))(ctx, n);
	arena_used = (arena_used + 512) % sizeof(arena);
	NOTE(ctx, n, 0, b);
	return b;
}

static void *py_calloc(void *ctx, size_t n, size_t sz)
{
	if (n * sz - 1 >= 512)
		return ((void *(*)(void *, size_t, size_t))raw(TRAMP_CALLOC))(ctx, n, sz);
	return py_malloc(ctx, n * sz);
}

static void py_free(void *ctx, void *b)
{
	if (b && !in_arena(b))
		((void (*)(void *, void *))raw(TRAMP_FREE))(ctx, b);
	else if (b)
		NOTE(ctx, b, 0, NULL);
}

/* A block outside the arenas is the raw domain's; one grown past 512 bytes moves there */
static void *py_realloc(void *ctx, void *old, size_t n)
{
	void *b;

	realloc_asked = n;
	if (old && !in_arena(old))
		return ((void *(*)(void *, void *, size_t))raw(TRAMP_REALLOC))(ctx, old, n);
	if (n - 1 < 512 && old) {
		NOTE(ctx, old, n, old);
		return old;
	}
	b = py_malloc(ctx, n);
	py_free(ctx, old);
	return b;
}

static void code_dealloc(void *op)
{
	dealloc.calls++;
	dealloc.op = op;
}

static int setup_pymalloc(void **state)
{
	static struct tramp_walk walk;
	uint64_t orig[TRAMP_SETS][TRAMP__MAX] = {};

	fake_tables(orig, py_malloc, py_calloc, py_realloc, py_free);
	orig[RAW][TRAMP_MALLOC] = (uintptr_t)fake_malloc;
	orig[RAW][TRAMP_CALLOC] = (uintptr_t)fake_calloc;
	orig[RAW][TRAMP_REALLOC] = (uintptr_t)fake_realloc;
	orig[RAW][TRAMP_FREE] = (uintptr_t)fake_free;
	walk.code_dealloc = (uintptr_t)code_dealloc;
	build_walk = &walk;
	return setup_with(orig, 8192);
}

/* The GIL domains' frees have no trampoline (their tables keep pymalloc's); the raw domain's has */
static void test_no_gil_free(void **state)
{
	assert_int_equal(img.probe[GIL][TRAMP_FREE], 0);
	assert_int_equal(img.probe[TRAMP_OBJ][TRAMP_FREE], 0);
	assert_int_not_equal(img.probe[RAW][TRAMP_FREE], 0);
	assert_int_not_equal(img.code_dealloc, 0);
}

/*
 * A sampled block of 1 to 512 bytes is asked of pymalloc as 513 (a
 * calloc's as 1 x 513), so that it comes from the raw domain; it is
 * reported at the caller's size, and its free (pymalloc's, handing it to
 * the raw domain) is seen.  Unsampled, each keeps its size, stays in the
 * arenas and its free is seen by no one.
 */
static void test_small_samples_from_raw(void **state)
{
	static const size_t sizes[] = { 1, 100, 512, 513, 5000 };
	void *(*m)(void *, size_t) = fn(GIL, TRAMP_MALLOC);
	void *(*c)(void *, size_t, size_t) = fn(TRAMP_OBJ, TRAMP_CALLOC);
	struct ring *a = ring(ALLOCS), *f = ring(FREES);
	uint64_t an = a->n, fn0 = f->n, rn = ring(RAW_ALLOCS)->n;
	size_t i, n;
	void *b;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		n = sizes[i];
		force(true);
		b = m(NULL, n);
		assert_int_equal(real.a, n < 513 ? 513 : n);
		assert_false(in_arena(b));
		assert_int_equal(a->n, ++an);
		assert_ptr_equal((void *)a->ev[(an - 1) % RING].rax, b);
		assert_int_equal(a->ev[(an - 1) % RING].rsi, n);
		py_free(NULL, b);
		assert_int_equal(f->n, ++fn0);
		assert_ptr_equal((void *)f->ev[(fn0 - 1) % RING].rsi, b);
		force(false);
		b = m(NULL, n);
		assert_int_equal(real.a, n);
		assert_true(in_arena(b) == (n <= 512));
		py_free(NULL, b);
		assert_int_equal(f->n, fn0);
	}
	force(true);
	b = c(NULL, 4, 25);
	assert_int_equal(real.a, 1);
	assert_int_equal(real.b, 513);
	assert_int_equal(a->ev[an % RING].rsi, 4);
	py_free(NULL, b);
	assert_int_equal(f->n, fn0 + 1);
	/* the raw domain's calls were the GIL domains' inner levels: none sampled on its own */
	assert_int_equal(ring(RAW_ALLOCS)->n, rn);
	assert_true(set_empty());
}

/*
 * A realloc whose new block is sampled asks pymalloc for 513 bytes if it
 * asked for 512 or fewer; one whose old block was sampled leaves it (the
 * raw domain's) to pymalloc, which hands it to the raw domain's realloc.
 */
static void test_reallocs(void **state)
{
	void *(*m)(void *, size_t) = fn(TRAMP_OBJ, TRAMP_MALLOC);
	void *(*r)(void *, void *, size_t) = fn(TRAMP_OBJ, TRAMP_REALLOC);
	struct event_batch *b = (void *)(p + TRAMP_BATCH_OFF);
	struct ring *f = ring(FREES);
	uint64_t fn0 = f->n, seq;
	void *x, *y;

	force(false);
	x = m(NULL, 100);
	force(true);
	y = r(NULL, x, 200);			/* unsampled to sampled: out of the arenas */
	assert_int_equal(realloc_asked, 513);
	assert_false(in_arena(y));
	force(false);
	seq = b->seq;
	x = r(NULL, y, 50);			/* sampled to unsampled: freed, stays raw */
	assert_int_equal(realloc_asked, 50);
	/* logged in the batch, as the object domain's free would be */
	assert_int_equal(b->seq, seq + 1);
	assert_ptr_equal((void *)b->ev[seq % PYMEM_BATCH].addr, y);
	assert_int_equal(BATCH_META_SITE(b->ev[seq % PYMEM_BATCH].meta), SITE_PYOBJECT_FREE);
	py_free(NULL, x);			/* unsampled: seen by no one */
	assert_int_equal(b->seq, seq + 1);
	assert_int_equal(f->n, fn0);
	x = r(NULL, NULL, 300);			/* unsampled: as asked */
	assert_int_equal(realloc_asked, 300);
	assert_true(in_arena(x));
	py_free(NULL, x);
	assert_true(set_empty());
}

/*
 * The hook for tp_dealloc changes the salt and logs the code object's
 * death in the batch (site BATCH_CODE_FREE), then calls the original with
 * the object; in a forked child (guard 0) it only calls the original.
 */
static void test_code_dealloc(void **state)
{
	void (*hook)(void *) = (void (*)(void *))(p + img.code_dealloc);
	struct event_batch *b = (void *)(p + TRAMP_BATCH_OFF);
	uint64_t *salt = (uint64_t *)(p + TRAMP_SALT_OFF), s0 = *salt, seq = b->seq;
	void *op = (void *)0x5eed5eed0;

	hook(op);
	assert_int_equal(dealloc.calls, 1);
	assert_ptr_equal(dealloc.op, op);
	assert_int_equal(*salt, s0 + 1);
	assert_int_equal(b->seq, seq + 1);
	assert_ptr_equal((void *)b->ev[seq % PYMEM_BATCH].addr, op);
	assert_int_equal(BATCH_META_SITE(b->ev[seq % PYMEM_BATCH].meta), BATCH_CODE_FREE);
	p[TRAMP_GUARD_OFF] = 0;
	hook(op);
	p[TRAMP_GUARD_OFF] = 1;
	assert_int_equal(dealloc.calls, 2);
	assert_ptr_equal(dealloc.op, op);
	assert_int_equal(*salt, s0 + 1);
	assert_int_equal(b->seq, seq + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_gil_free),
		cmocka_unit_test(test_small_samples_from_raw),
		cmocka_unit_test(test_reallocs),
		cmocka_unit_test(test_code_dealloc),
	};

	return cmocka_run_group_tests(tests, setup_pymalloc, teardown);
}
