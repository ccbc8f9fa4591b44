// SPDX-License-Identifier: GPL-2.0
/*
 * smaps_rollup: a real one from this project's machine (Debian's python3.11,
 * kernel 6.18: `python3.11 -c "print(open('/proc/self/smaps_rollup').read())"`),
 * broken ones, and this process's own before and after it touches a known
 * number of anonymous bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>
#include "proc_mem.h"

#define FIXTURE	"tests/unit/fixtures/smaps_rollup_python3.11"
#define TOUCHED	(64u << 20)

static void test_real_rollup(void **state)
{
	char text[4096];
	struct proc_mem m;
	size_t len;
	FILE *f = fopen(FIXTURE, "r");

	(void)state;
	assert_non_null(f);
	len = fread(text, 1, sizeof(text), f);
	fclose(f);
	assert_int_equal(proc_mem_parse(text, len, &m), 0);
	/* the fixture's own lines: Rss 8044 kB, Pss 3556 kB, Anonymous 2756 kB, Swap 0 kB */
	assert_int_equal(m.rss_bytes, 8044ull << 10);
	assert_int_equal(m.pss_bytes, 3556ull << 10);
	assert_int_equal(m.anon_bytes, 2756ull << 10);
	assert_int_equal(m.swap_bytes, 0);
	/* "Pss_Anon:" and friends are not "Pss:" */
	assert_non_null(strstr(text, "Pss_Anon:"));
}

static void test_broken(void **state)
{
	static const char *const bad[] = {
		"",
		"Rss: 10 kB\n",				/* no Pss */
		"Pss: 10 kB\n",				/* no Rss */
		"Rss: 10 MB\nPss: 5 kB\n",		/* not kB */
		"Rss: kB\nPss: 5 kB\n",			/* no digits */
		"Rss: 99999999999999999999 kB\nPss: 5 kB\n",	/* overflows */
		"Rss:10",				/* cut short */
	};
	struct proc_mem m;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(proc_mem_parse(bad[i], strlen(bad[i]), &m), -EINVAL);
	/* not NUL-terminated: only len bytes are read */
	assert_int_equal(proc_mem_parse("Rss: 7 kB\nPss: 3 kB\nSwap: 1 kB", 20, &m), 0);
	assert_int_equal(m.rss_bytes, 7 << 10);
	assert_int_equal(m.pss_bytes, 3 << 10);
	assert_int_equal(m.swap_bytes, 0);
}

/* Ground truth: 64 MiB of anonymous pages written here show up as Rss and Anonymous. */
static void test_self(void **state)
{
	struct proc_mem before, after;
	char *p;

	(void)state;
	assert_int_equal(proc_mem_read(0, &before), 0);
	p = mmap(NULL, TOUCHED, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(p != MAP_FAILED);
	memset(p, 1, TOUCHED);
	assert_int_equal(proc_mem_read(getpid(), &after), 0);
	print_message("rss %llu -> %llu kB, anon %llu -> %llu kB\n",
		      (unsigned long long)before.rss_bytes >> 10,
		      (unsigned long long)after.rss_bytes >> 10,
		      (unsigned long long)before.anon_bytes >> 10,
		      (unsigned long long)after.anon_bytes >> 10);
	assert_true(after.anon_bytes - before.anon_bytes >= TOUCHED);
	assert_true(after.anon_bytes - before.anon_bytes < TOUCHED + (4u << 20));
	assert_true(after.rss_bytes - before.rss_bytes >= TOUCHED);
	/*
	 * private pages count whole in PSS; the shared part of the rest (file
	 * pages: libc's, cmocka's) may go down meanwhile as other processes
	 * map the same files, by at most what it was
	 */
	assert_true(after.pss_bytes - before.pss_bytes >=
		    TOUCHED - (before.rss_bytes - before.anon_bytes));
	munmap(p, TOUCHED);
	assert_int_equal(proc_mem_read(-1, &after), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_rollup),
		cmocka_unit_test(test_broken),
		cmocka_unit_test(test_self),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
