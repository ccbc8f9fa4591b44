// SPDX-License-Identifier: GPL-2.0
/* Reserved stack ids never meet the ids of real stacks, and name their site. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "pymem.h"

static void test_unknown_per_site(void **state)
{
	uint64_t id;
	int site;

	(void)state;
	for (site = 0; site < SITE__MAX; site++) {
		id = STACK_ID_UNKNOWN(site);
		assert_true(STACK_ID_IS_UNKNOWN(id));
		assert_int_equal(STACK_ID_SITE(id), site);
		assert_int_not_equal(id, STACK_ID_MAP_FULL);
		/* a real stack's id has bit 1 set (capture_stack) */
		assert_int_equal(id & 2, 0);
	}
	assert_false(STACK_ID_IS_UNKNOWN(STACK_ID_MAP_FULL));
	assert_false(STACK_ID_IS_UNKNOWN(0));
}

static void test_real_ids_are_not_reserved(void **state)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	int i;

	(void)state;
	/* ids as capture_stack makes them: any hash, with bit 1 set */
	for (i = 0; i < 100000; i++) {
		h = (h ^ (uint64_t)i) * 0x100000001b3ULL;
		assert_false(STACK_ID_IS_UNKNOWN(h | 2));
		assert_int_not_equal(h | 2, STACK_ID_MAP_FULL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unknown_per_site),
		cmocka_unit_test(test_real_ids_are_not_reserved),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
