// SPDX-License-Identifier: GPL-2.0
/*
 * Run sampled mode's trampolines in this process against fake allocators:
 * which allocations and frees of the allocator tables' sets reach a probe
 * point, and with what.
 */
#include "tramp_sample_fixture.h"

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
	void *(*r)(void *, void *, size_t) = fn(GIL, TRAMP_REALLOC);
	void (*fr)(void *, void *) = fn(GIL, TRAMP_FREE);
	uint64_t an = ring(ALLOCS)->n, rn = ring(RAW_ALLOCS)->n, fn0 = ring(FREES)->n, fn1, seq;
	struct event_batch *b = (void *)(p + TRAMP_BATCH_OFF);
	void *x, *old;

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
	/* a realloc's too, whether its old block or its new one is sampled or not */
	raw_realloc = fn(RAW, TRAMP_REALLOC);
	countdown(6000);
	x = r(NULL, NULL, 5000);
	x = r(NULL, x, 400);
	assert_int_equal(my_countdown(), 600);
	force(true);
	x = r(NULL, x, 5000);
	assert_int_equal(ring(ALLOCS)->n, an + 2);
	/* sampled to unsampled: the old block's free goes into the batch, as a free's would */
	force(false);
	old = x;
	seq = b->seq;
	fn1 = ring(FREES)->n;
	x = r(NULL, x, 5000);
	assert_int_equal(ring(FREES)->n, fn1);
	assert_int_equal(b->seq, seq + 1);
	assert_ptr_equal((void *)b->ev[seq % PYMEM_BATCH].addr, old);
	assert_int_equal(BATCH_META_SITE(b->ev[seq % PYMEM_BATCH].meta), SITE_PYMEM_FREE);
	/* before: the GIL free's flush (with no clock, each sampled event flushes) and the raw free */
	assert_int_equal(fn1, fn0 + 2);
	assert_int_equal(ring(RAW_ALLOCS)->n, rn + 1);
	raw_realloc = fake_realloc;
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
		cmocka_unit_test(test_reallocs),
		cmocka_unit_test(test_gil_free),
		cmocka_unit_test(test_nested),
		cmocka_unit_test(test_gil_cache),
		cmocka_unit_test(test_child),
		cmocka_unit_test(test_draws),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
