// SPDX-License-Identifier: GPL-2.0
/*
 * elf_got_slots() on this test's own executable: the entries it finds are
 * the ones the dynamic linker bound to libc's functions, as this process
 * holds them.
 */
#include <errno.h>
#include <link.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>
#include "elf_got.h"

/* where the executable is loaded: the first object dl_iterate_phdr reports */
static int first_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	*(uint64_t *)arg = info->dlpi_addr;
	return 1;
}

static void test_own_entries(void **state)
{
	static const char *const names[] = { "nothing_is_called_this", "malloc", "free" };
	void *(*volatile m)(size_t) = malloc;
	void (*volatile f)(void *) = free;
	struct elf_got_slot slots[16];
	uint64_t bias = 0, first = 1;
	int n, i, seen[3] = { 0 };

	/* called once, so that lazily bound entries are bound */
	f(m(1));
	dl_iterate_phdr(first_object, &bias);
	n = elf_got_slots("/proc/self/exe", names, 3, slots, 16, &first);
	assert_true(n >= 2 && n <= 16);
	assert_int_equal(first, 0);	/* a PIE executable: its first PT_LOAD at 0 */
	for (i = 0; i < n; i++) {
		void *bound = *(void **)(uintptr_t)(bias + slots[i].vaddr);

		assert_true(slots[i].name == 1 || slots[i].name == 2);
		assert_ptr_equal(bound, slots[i].name == 1 ? (void *)m : (void *)f);
		seen[slots[i].name]++;
	}
	assert_true(seen[1] >= 1 && seen[2] >= 1);
	/* room for one: the count is still all of them */
	assert_int_equal(elf_got_slots("/proc/self/exe", names, 3, slots, 1, &first), n);
}

static void test_errors(void **state)
{
	static const char *const names[] = { "malloc" };
	struct elf_got_slot slot;
	uint64_t first;

	assert_int_equal(elf_got_slots("/nonexistent/lib.so", names, 1, &slot, 1, &first), -ENOENT);
	assert_int_equal(elf_got_slots("/proc/self/status", names, 1, &slot, 1, &first), -ENOEXEC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_own_entries),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
