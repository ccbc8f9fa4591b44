// SPDX-License-Identifier: GPL-2.0
/* /proc/PID/stat's CPU time, and sampled mode's object estimates. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "proc_cpu.h"
#include "sample_scale.h"

/* A command name with spaces and parentheses: the fields follow its last ')' */
static void test_parse(void **state)
{
	static const char stat[] = "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 1234 0 5 0 "
				   "731 269 0 0 20 0 3 0 12345 1000000 100 18446744073709551615";
	uint64_t ticks = 0;

	assert_int_equal(proc_cpu_parse(stat, strlen(stat), &ticks), 0);
	assert_int_equal(ticks, 731 + 269);
	assert_int_equal(proc_cpu_parse("4242 (x", 7, &ticks), -EINVAL);
}

/* This process has used some CPU, and the count only grows. */
static void test_read_self(void **state)
{
	uint64_t a, b;
	volatile uint64_t spin = 0;

	assert_int_equal(proc_cpu_read(getpid(), &a), 0);
	while (proc_cpu_read(getpid(), &b) == 0 && b == a)
		spin++;
	assert_true(b > a);
}

/*
 * Bytes come weighed from the BPF side; objects are the samples times the
 * stack's weighed bytes per byte sampled: 10 samples of 1,000 bytes, each
 * weighed to 50,000, stand for 500 objects.
 */
static void test_objects(void **state)
{
	struct pm_counts c = { .alloc_bytes = 500000, .alloc_objects = 10, .free_bytes = 400000,
			       .free_objects = 8, .live_bytes = 100000, .live_objects = 2 };

	pm_sample_objects(&c, 10000);
	assert_int_equal(c.alloc_objects, 500);
	assert_int_equal(c.free_objects, 400);
	assert_int_equal(c.live_objects, 100);
	assert_int_equal(c.alloc_bytes, 500000);
	/* exact mode: nothing sampled, nothing scaled */
	pm_sample_objects(&c, 0);
	assert_int_equal(c.alloc_objects, 500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_read_self),
		cmocka_unit_test(test_objects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
