// SPDX-License-Identifier: GPL-2.0
/* Entry probe placement: past a flags-only compare before its jump, nowhere else. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "probe_site.h"

#define SKIP(...) ({							\
	static const uint8_t code_[] = { __VA_ARGS__ };			\
	probe_site_entry_skip(code_, sizeof(code_), 0x98ef0);		\
})

static void test_compare_then_jump(void **state)
{
	/* glibc 2.36 free: test %rdi,%rdi; je rel32 */
	assert_int_equal(SKIP(0x48, 0x85, 0xff, 0x0f, 0x84, 0xbf, 0x00, 0x00, 0x00), 3);
	/* cmp $0x10,%rsi; jbe rel8 */
	assert_int_equal(SKIP(0x48, 0x83, 0xfe, 0x10, 0x76, 0x05), 4);
}

static void test_stays_at_entry(void **state)
{
	/* push %r12 (malloc): emulated already */
	assert_int_equal(SKIP(0x41, 0x54, 0x55), 0);
	/* test %rdi,%rdi; mov %rdi,%rax: no jump follows */
	assert_int_equal(SKIP(0x48, 0x85, 0xff, 0x48, 0x89, 0xf8), 0);
	/* test %rdi,%rdi; jmp rel8: unconditional, the compare was for something else */
	assert_int_equal(SKIP(0x48, 0x85, 0xff, 0xeb, 0x05), 0);
	/* cmpq $0,(%rdi); je: reads memory, left alone */
	assert_int_equal(SKIP(0x48, 0x83, 0x3f, 0x00, 0x74, 0x05), 0);
	/* sub $8,%rsp; je: writes a register */
	assert_int_equal(SKIP(0x48, 0x83, 0xec, 0x08, 0x74, 0x05), 0);
	/* too short to hold two instructions */
	assert_int_equal(SKIP(0x48, 0x85), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compare_then_jump),
		cmocka_unit_test(test_stays_at_entry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
