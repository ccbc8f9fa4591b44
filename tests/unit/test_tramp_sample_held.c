// SPDX-License-Identifier: GPL-2.0
/*
 * Sampled mode's raw-domain and libc frees by the thread that holds the
 * GIL: with the interpreter's current thread state getter known, the free
 * of a sampled block (most are pymalloc's, of the blocks it handed to the
 * raw domain) goes into the batch when the calling thread's state is the
 * current one, and hits its probe point when another thread's is, or none
 * is.  The real free then gets its arguments as they came.  Each event
 * logged is dated by libc's clock_gettime (a fake one here), and the
 * batch is not flushed for it.
 */
#include <time.h>
#include "py_offsets.h"
#include "tramp_sample_fixture.h"

#define NOW_NS	1234567890123ULL

static struct {
	int calls;
	clockid_t id;
} clock_seen;

static int fake_clock(clockid_t id, struct timespec *ts)
{
	clock_seen.calls++;
	clock_seen.id = id;
	ts->tv_sec = NOW_NS / 1000000000;
	ts->tv_nsec = NOW_NS % 1000000000;
	return 0;
}

struct fake_tstate {
	uint64_t pad[3];
	uint64_t thread_id;	/* pthread_self(): the %fs base */
	void *frame;		/* none: an empty stack */
};

static struct fake_tstate ts;
static struct fake_tstate *current;	/* what the getter returns */

static void *getter(void)
{
	return current;
}

static int setup_held(void **state)
{
	static struct tramp_walk walk = {
		.get_tstate = (uintptr_t)getter,
		.code_type = 0xc0de,
		.tstate_thread_id = offsetof(struct fake_tstate, thread_id),
		.tstate_frame = offsetof(struct fake_tstate, frame),
		.cframe_current_frame = PY_OFF_NONE,
		.frame_owner = PY_OFF_NONE,
		.clock = (uintptr_t)fake_clock,
	};

	build_walk = &walk;
	return setup(state);
}

static struct event_batch *batch(void)
{
	return (struct event_batch *)(p + TRAMP_BATCH_OFF);
}

/* A block the raw domain sampled, of n bytes */
static void *raw_sample(size_t n)
{
	void *(*m)(void *, size_t) = fn(RAW, TRAMP_MALLOC);
	uint64_t rn = ring(RAW_ALLOCS)->n;
	void *b;

	force(true);
	b = m(NULL, n);
	force(false);
	assert_int_equal(ring(RAW_ALLOCS)->n, rn + 1);
	return b;
}

/* Is the batch's newest event the free of b at site, dated by CLOCK_MONOTONIC? */
static void logged_free(uint64_t seq, void *b, enum pymem_site site)
{
	struct event_batch *eb = batch();

	assert_int_equal(eb->seq, seq + 1);
	assert_ptr_equal((void *)eb->ev[seq % PYMEM_BATCH].addr, b);
	assert_int_equal(BATCH_META_SITE(eb->ev[seq % PYMEM_BATCH].meta), site);
	assert_int_equal(eb->ts[seq % PYMEM_BATCH], NOW_NS);
	assert_int_equal(clock_seen.id, CLOCK_MONOTONIC);
	eb->ts[seq % PYMEM_BATCH] = 0;
}

/* The raw domain's free: batched while this thread's state is the current one, else its probe */
static void test_raw_free(void **state)
{
	void (*fr)(void *, void *) = fn(RAW, TRAMP_FREE);
	void *ctx = (void *)0xc7c7, *b;
	uint64_t seq, fn0 = ring(FREES)->n;

	ts.thread_id = my_fs();
	current = &ts;
	b = raw_sample(300);
	seq = batch()->seq;
	real.calls = 0;
	fr(ctx, b);
	logged_free(seq, b, SITE_PYMEM_RAW_FREE);
	assert_int_equal(ring(FREES)->n, fn0);
	assert_int_equal(real.calls, 1);
	assert_ptr_equal(real.ctx, ctx);
	assert_ptr_equal((void *)real.a, b);

	/* no current thread state (the GIL released), or another thread's: the probe */
	current = NULL;
	b = raw_sample(300);
	fr(ctx, b);
	assert_int_equal(ring(FREES)->n, fn0 + 1);
	assert_ptr_equal((void *)ring(FREES)->ev[fn0 % RING].rsi, b);
	assert_ptr_equal((void *)real.a, b);
	current = &ts;
	ts.thread_id = my_fs() + 64;
	b = raw_sample(300);
	fr(ctx, b);
	assert_int_equal(ring(FREES)->n, fn0 + 2);
	assert_int_equal(batch()->seq, seq + 1);

	/* unsampled: seen by no one, the getter not even asked */
	ts.thread_id = my_fs();
	b = ((void *(*)(void *, size_t))fn(RAW, TRAMP_MALLOC))(NULL, 300);
	fr(ctx, b);
	assert_int_equal(batch()->seq, seq + 1);
	assert_int_equal(ring(FREES)->n, fn0 + 2);
	assert_true(set_empty());
}

/* A raw realloc that moves a sampled block to an unsampled one: its free batched, its result kept */
static void test_raw_realloc(void **state)
{
	void *(*r)(void *, void *, size_t) = fn(RAW, TRAMP_REALLOC);
	uint64_t seq, fn0 = ring(FREES)->n;
	void *b, *moved;

	ts.thread_id = my_fs();
	current = &ts;
	b = raw_sample(300);
	seq = batch()->seq;
	moved = r(NULL, b, 600);
	assert_ptr_equal(moved, real.ret);
	assert_ptr_not_equal(moved, b);
	logged_free(seq, b, SITE_PYMEM_RAW_FREE);
	current = NULL;
	b = raw_sample(300);
	moved = r(NULL, b, 600);
	assert_ptr_equal(moved, real.ret);
	assert_int_equal(ring(FREES)->n, fn0 + 1);
	assert_ptr_equal((void *)ring(FREES)->ev[fn0 % RING].rsi, b);
	assert_true(set_empty());
}

/* libc's free from a C extension, as the raw domain's: logged at libc's site */
static void test_libc_free(void **state)
{
	void *(*m)(size_t) = fn(TRAMP_LIBC, TRAMP_MALLOC);
	void (*fr)(void *) = fn(TRAMP_LIBC, TRAMP_FREE);
	uint64_t seq, fn0 = ring(FREES)->n;
	void *b;

	ts.thread_id = my_fs();
	current = &ts;
	force(true);
	b = m(300);
	force(false);
	seq = batch()->seq;
	fr(b);
	logged_free(seq, b, SITE_FREE);
	assert_ptr_equal((void *)real.a, b);
	assert_int_equal(ring(FREES)->n, fn0);
	assert_true(set_empty());
}

/* A GIL domain's free of a sampled block: dated, and left in the batch (its flush not due) */
static void test_gil_free_dated(void **state)
{
	void *(*m)(void *, size_t) = fn(GIL, TRAMP_MALLOC);
	void (*fr)(void *, void *) = fn(GIL, TRAMP_FREE);
	uint64_t seq, fn0 = ring(FREES)->n;
	int calls;
	void *b;

	raw_malloc = fake_malloc;
	force(true);
	b = m(NULL, 100);
	force(false);
	seq = batch()->seq;
	calls = clock_seen.calls;
	fr(NULL, b);
	logged_free(seq, b, SITE_PYMEM_FREE);
	assert_int_equal(clock_seen.calls, calls + 1);
	/* its flush point, which would log into the FREES ring, is not reached */
	assert_int_equal(ring(FREES)->n, fn0);
	assert_true(seq % PYMEM_BATCH_FLUSH != PYMEM_BATCH_FLUSH - 1);
	assert_true(set_empty());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gil_free_dated),
		cmocka_unit_test(test_raw_free),
		cmocka_unit_test(test_raw_realloc),
		cmocka_unit_test(test_libc_free),
	};

	return cmocka_run_group_tests(tests, setup_held, teardown);
}
