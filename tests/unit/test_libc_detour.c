// SPDX-License-Identifier: GPL-2.0
/*
 * libc's functions entered past their probe points (libc_detour.c), run in
 * this process: this machine's glibc's own malloc, calloc, realloc and free
 * (no probes here, so their first bytes are the file's), functions of known
 * shape, and exact mode's raw trampolines built with them (tramp_detour.c).
 */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <cmocka.h>
#include "libc_detour.h"
#include "probe_site.h"
#include "py_offsets.h"
#include "trampoline.h"

/* glibc's free begins so: a probe on the je, as probe_site.c puts it */
int shape_test_je(long v);
/* a RIP-relative load, a call, a jump: not moved */
int shape_rip(void);
int shape_call(void);
int shape_jmp(void);
__asm__(".text\n"
	".globl shape_test_je\nshape_test_je:\ntest %rdi,%rdi\nje 1f\nmov $2,%eax\nret\n"
	"1:\nmov $1,%eax\nret\n"
	".globl shape_rip\nshape_rip:\nmov 0(%rip),%eax\nret\n"
	".globl shape_call\nshape_call:\ncall shape_rip\nret\n"
	".globl shape_jmp\nshape_jmp:\njmp shape_rip\n");

static uint8_t *page;

static int setup(void **state)
{
	page = mmap(NULL, TRAMP_MAP_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		    0);
	return page == MAP_FAILED ? -1 : 0;
}

static int teardown(void **state)
{
	return munmap(page, TRAMP_MAP_SIZE);
}

/* libc's function name: its detour, for a probe where probe_target.c puts one */
static void detour_of(const char *name, struct libc_detour *d)
{
	uint8_t *fn = dlsym(RTLD_DEFAULT, name);
	size_t probe;

	assert_non_null(fn);
	probe = strcmp(name, "free") ? 0 : probe_site_entry_skip(fn, 64, (uintptr_t)fn);
	assert_true(libc_detour_make(fn, 64, (uintptr_t)fn, probe, d));
	/* it ends in a jump back to the instruction after the probed one */
	assert_true(d->len > 14);
}

/* A detour's code, runnable */
static void *placed(const struct libc_detour *d)
{
	assert_int_equal(mprotect(page, TRAMP_GUARD_OFF, PROT_READ | PROT_WRITE), 0);
	memcpy(page, d->code, d->len);
	assert_int_equal(mprotect(page, TRAMP_GUARD_OFF, PROT_READ | PROT_EXEC), 0);
	return page;
}

static void test_this_glibc(void **state)
{
	struct libc_detour m, c, r, f;
	void *(*dm)(size_t), *(*dc)(size_t, size_t), *(*dr)(void *, size_t);
	void (*df)(void *);
	uint8_t *p, *q;
	int i;

	detour_of("malloc", &m);
	detour_of("calloc", &c);
	detour_of("realloc", &r);
	detour_of("free", &f);

	dm = placed(&m);
	p = dm(1000);
	assert_non_null(p);
	memset(p, 0x5a, 1000);
	dc = placed(&c);
	q = dc(100, 10);
	assert_non_null(q);
	for (i = 0; i < 1000; i++)
		assert_int_equal(q[i], 0);
	dr = placed(&r);
	p = dr(p, 100000);
	assert_non_null(p);
	for (i = 0; i < 1000; i++)
		assert_int_equal(p[i], 0x5a);
	/* free's detour takes both ways of its moved je: a block, and NULL */
	df = placed(&f);
	df(p);
	df(q);
	df(NULL);
	/* the heap is whole: libc's own calls go on */
	p = malloc(1000);
	assert_non_null(p);
	free(p);
}

static void test_conditional_jump_moved(void **state)
{
	struct libc_detour d;
	int (*fn)(long);

	assert_true(libc_detour_make((const uint8_t *)shape_test_je, 32, (uintptr_t)shape_test_je,
				     3, &d));
	fn = placed(&d);
	assert_int_equal(fn(0), 1);
	assert_int_equal(fn(7), 2);
}

static void test_refused(void **state)
{
	struct libc_detour d;

	assert_false(libc_detour_make((const uint8_t *)shape_rip, 16, (uintptr_t)shape_rip, 0, &d));
	assert_int_equal(d.len, 0);
	assert_false(libc_detour_make((const uint8_t *)shape_call, 16, (uintptr_t)shape_call, 0,
				      &d));
	assert_false(libc_detour_make((const uint8_t *)shape_jmp, 16, (uintptr_t)shape_jmp, 0, &d));
	/* a probe inside an instruction (test %rdi,%rdi is 3 bytes) */
	assert_false(libc_detour_make((const uint8_t *)shape_test_je, 32,
				      (uintptr_t)shape_test_je, 1, &d));
	/* the probed instruction cut off */
	assert_false(libc_detour_make((const uint8_t *)shape_test_je, 4,
				      (uintptr_t)shape_test_je, 3, &d));
}

/* Not called: the raw trampolines run libc's functions instead */
static void *never(void)
{
	fail();
	return NULL;
}

/*
 * The raw trampolines of exact mode, built with this glibc's detours: they
 * do what CPython's raw functions do (0 bytes asked as 1) and reach libc.
 */
static void test_raw_trampolines(void **state)
{
	uint64_t orig[TRAMP_SETS][TRAMP__MAX] = {};
	struct libc_detour d[TRAMP_TABLE_FNS];
	static struct tramp_image img;
	void *ctx = (void *)0xc7c7;
	void *(*m)(void *, size_t), *(*c)(void *, size_t, size_t), *(*r)(void *, void *, size_t);
	void (*f)(void *, void *);
	uint8_t *p, *q, *z;
	int fn, i;

	for (fn = 0; fn < TRAMP_TABLE_FNS; fn++)
		orig[0][fn] = (uintptr_t)never;
	detour_of("malloc", &d[TRAMP_MALLOC]);
	detour_of("calloc", &d[TRAMP_CALLOC]);
	detour_of("realloc", &d[TRAMP_REALLOC]);
	detour_of("free", &d[TRAMP_FREE]);
	tramp_build(&img, orig, NULL, false, d);
	assert_int_equal(mprotect(page, TRAMP_GUARD_OFF, PROT_READ | PROT_WRITE), 0);
	memcpy(page, img.bytes, sizeof(img.bytes));
	assert_int_equal(mprotect(page, TRAMP_GUARD_OFF, PROT_READ | PROT_EXEC), 0);
	page[TRAMP_GUARD_OFF] = 1;
	m = (void *)(page + img.entry[0][TRAMP_MALLOC]);
	c = (void *)(page + img.entry[0][TRAMP_CALLOC]);
	r = (void *)(page + img.entry[0][TRAMP_REALLOC]);
	f = (void *)(page + img.entry[0][TRAMP_FREE]);

	p = m(ctx, 0);
	assert_non_null(p);
	p = r(ctx, p, 5000);
	assert_non_null(p);
	memset(p, 0x77, 5000);
	p = r(ctx, p, 0);
	assert_non_null(p);
	assert_int_equal(p[0], 0x77);
	q = c(ctx, 0, 8);
	z = c(ctx, 300, 3);
	assert_non_null(q);
	assert_non_null(z);
	for (i = 0; i < 900; i++)
		assert_int_equal(z[i], 0);
	f(ctx, p);
	f(ctx, q);
	f(ctx, z);
	f(ctx, NULL);
	p = malloc(64);
	assert_non_null(p);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_this_glibc),
		cmocka_unit_test(test_conditional_jump_moved),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_raw_trampolines),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
