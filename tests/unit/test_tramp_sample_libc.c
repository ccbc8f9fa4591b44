// SPDX-License-Identifier: GPL-2.0
/*
 * Run sampled mode's libc set in this process against fake allocators: a
 * library's malloc family and aligned allocators through it, and the set
 * of sampled blocks they fill.
 */
#include "tramp_sample_fixture.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_libc),
		cmocka_unit_test(test_libc_aligned),
		cmocka_unit_test(test_reallocarray),
		cmocka_unit_test(test_set_full),
		cmocka_unit_test(test_set_spread),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
