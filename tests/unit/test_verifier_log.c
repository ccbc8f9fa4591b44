// SPDX-License-Identifier: GPL-2.0
/* The verifier's statistics and refusals, read from logs as kernels wrote them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "verifier_log.h"

/* kernel 6.18.44, log level BPF_LOG_STATS, a program it accepted */
static const char accepted[] =
	"func#13 ('code_gen_slow') is safe for any args that match its prototype\n"
	"verification time 57013 usec\n"
	"stack depth 64+88+16+0+40+32+48+16+88+56+8+0+96+80+56\n"
	"processed 62452 insns (limit 1000000) max_states_per_insn 17 total_states 3088 "
	"peak_states 1839 mark_read 0\n";

/* the same kernel refusing the object the project shipped before */
static const char refused[] =
	"Func#13 ('code_gen_slow') is safe for any args that match its prototype\n"
	"combined stack size of 5 calls is 528. Too large\n"
	"verification time 190213 usec\n"
	"stack depth 168+112+16+0+40+32+48+16+136+56+8+0+224+80\n"
	"processed 231975 insns (limit 1000000) max_states_per_insn 17 total_states 8088 "
	"peak_states 2839 mark_read 0\n";

static void test_stats(void **state)
{
	struct verifier_stats s;

	(void)state;
	verifier_stats_parse(accepted, &s);
	assert_int_equal(s.insns, 62452);
	assert_int_equal(s.usec, 57013);
	assert_string_equal(s.stack, "64+88+16+0+40+32+48+16+88+56+8+0+96+80+56");
}

/* kernel 7.2.13: per-subprogram figures before the total, and the verifier's own maximum */
static const char accepted_72[] =
	"verification time 221170 usec\n"
	"stack depth 8+56+24+0+40+32+48+16+88+96 max 176\n"
	"insns processed 96+333+6197+2920+514+2805+78+737+14718\n"
	"processed 28398 insns (limit 1000000) max_states_per_insn 17 total_states 1175 "
	"peak_states 545 mark_read 0\n";

static void test_stats_72(void **state)
{
	struct verifier_stats s;

	(void)state;
	verifier_stats_parse(accepted_72, &s);
	assert_int_equal(s.insns, 28398);
	assert_int_equal(s.usec, 221170);
	assert_string_equal(s.stack, "8+56+24+0+40+32+48+16+88+96");
	verifier_stats_parse("processed 77 insns (limit 1000000)\n", &s);
	assert_int_equal(s.insns, 77);
}

static void test_stats_missing(void **state)
{
	struct verifier_stats s;

	(void)state;
	verifier_stats_parse("", &s);
	assert_int_equal(s.insns, -1);
	assert_int_equal(s.usec, -1);
	assert_string_equal(s.stack, "");
}

static void test_refusal_reason(void **state)
{
	char why[256];

	(void)state;
	verifier_refusal(refused, why, sizeof(why));
	assert_string_equal(why, "combined stack size of 5 calls is 528. Too large");
	verifier_refusal("", why, sizeof(why));
	assert_string_equal(why, "no reason given");
	/* cut to fit, still one terminated line */
	verifier_refusal(refused, why, 9);
	assert_string_equal(why, "combined");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_stats_72),
		cmocka_unit_test(test_stats_missing),
		cmocka_unit_test(test_refusal_reason),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
