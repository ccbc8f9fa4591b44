// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for alloc_table. Ground truth: the LOCAL _PyObject/_PyMem/
 * _PyMem_Raw symbols of the pyenv builds 3.8-3.11, _PyRuntime plus offsetof()
 * from each 3.12+ build's internal headers (alloc_table_fixtures.h; pyenv's,
 * and Debian's stripped LTO 3.13-3.15 in the sid root), the inlined
 * `cmp $default` sites of Debian's stripped LTO builds, and the tables of
 * live interpreters read with process_vm_readv.
 */
#include <capstone/capstone.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include "alloc_table.h"
#include "elf_syms.h"
#include "proc_maps.h"
#include "sid_root.h"

#define PYENV		"/root/.pyenv/versions/"
#define DEBIAN_PY	"/usr/bin/python3.11"

struct rt_off {
	const char *build;		/* "pyenv" or "debian" */
	int major, minor;
	size_t off[DOMAIN__MAX];	/* offsetof(_PyRuntimeState, allocators.standard.X) */
	size_t size;			/* sizeof(PyMemAllocatorEx) */
};

static const struct rt_off rt_offs[] = {
#include "alloc_table_fixtures.h"
};

struct build {
	const char *ver;
	int minor;
	const char *lib;	/* the file holding the tables */
	const char *exe;
	const char *root;	/* the root it runs in, NULL for ours */
};

#define PYENV_BUILD(v, m) \
	{ v, m, PYENV v "/lib/libpython3." #m ".so.1.0", PYENV v "/bin/python3." #m, NULL }
#define SID_BUILD(m) \
	{ "3." #m " (Debian sid LTO)", m, SID_ROOT "/usr/bin/python3." #m, \
	  SID_ROOT "/usr/bin/python3." #m, SID_ROOT }

static const struct build builds[] = {
	PYENV_BUILD("3.8.18", 8),
	PYENV_BUILD("3.9.18", 9),
	PYENV_BUILD("3.10.13", 10),
	PYENV_BUILD("3.11.7", 11),
	PYENV_BUILD("3.12.1", 12),
	PYENV_BUILD("3.13.0", 13),
	SID_BUILD(13),
	SID_BUILD(14),
	SID_BUILD(15),
	{ "3.11.2 (Debian LTO)", 11, DEBIAN_PY, DEBIAN_PY, NULL },
};
#define NBUILDS		(sizeof(builds) / sizeof(builds[0]))
#define DEBIAN		(&builds[NBUILDS - 1])
#define SID_FIRST	6
#define NSID		3

static const char *const legacy_syms[DOMAIN__MAX] = { "_PyMem_Raw", "_PyMem", "_PyObject" };

static void find_all(const struct build *b, struct elf_syms *e, struct alloc_table t[DOMAIN__MAX])
{
	for (int d = 0; d < DOMAIN__MAX; d++) {
		int err = alloc_table_find(e, b->lib, d, &t[d]);

		if (err)
			fail_msg("%s: %s table not found: %s", b->ver, alloc_domain_name(d),
				 strerror(-err));
		assert_memory_equal(t[d].raw_defaults, t[DOMAIN_RAW].defaults, ALLOC_TABLE_SIZE);
	}
	/* mem and obj both default to pymalloc, raw to something else */
	assert_memory_equal(t[DOMAIN_MEM].defaults + 1, t[DOMAIN_OBJ].defaults + 1, 32);
	assert_int_not_equal(t[DOMAIN_OBJ].defaults[ALLOC_SLOT_MALLOC],
			     t[DOMAIN_RAW].defaults[ALLOC_SLOT_MALLOC]);
}

/* The default functions, named by .symtab: pymalloc for obj/mem, the libc wrappers for raw. */
static void check_default_names(const struct elf_syms *e, const struct alloc_table t[])
{
	static const char *const obj[] = { "_PyObject_Malloc", "_PyObject_Calloc",
					   "_PyObject_Realloc", "_PyObject_Free" };
	static const char *const raw[] = { "_PyMem_RawMalloc", "_PyMem_RawCalloc",
					   "_PyMem_RawRealloc", "_PyMem_RawFree" };

	for (int d = 0; d < DOMAIN__MAX; d++) {
		const char *const *want = d == DOMAIN_RAW ? raw : obj;

		assert_int_equal(t[d].defaults[ALLOC_SLOT_CTX], 0);
		for (int i = 0; i < 4; i++) {
			uint64_t off = 1;
			const char *got = elf_syms_symbolize(e, t[d].defaults[i + 1], &off);

			assert_non_null(got);
			assert_string_equal(got, want[i]);
			assert_int_equal(off, 0);
		}
	}
}

static void test_pyenv_legacy_statics(void **state)
{
	for (size_t i = 0; i < NBUILDS; i++) {
		const struct build *b = &builds[i];
		struct alloc_table t[DOMAIN__MAX];
		struct elf_syms *e;

		if (b == DEBIAN || b->minor > 11)
			continue;
		e = elf_syms_open(b->lib);
		assert_non_null(e);
		assert_true(elf_syms_has_symtab(e));
		find_all(b, e, t);
		for (int d = 0; d < DOMAIN__MAX; d++) {
			uint64_t vaddr, size;

			assert_int_equal(elf_syms_lookup(e, legacy_syms[d], &vaddr, &size), 0);
			assert_int_equal(size, ALLOC_TABLE_SIZE);
			if (t[d].vaddr != vaddr)
				fail_msg("%s %s: found %#lx, %s is at %#lx", b->ver,
					 alloc_domain_name(d), t[d].vaddr, legacy_syms[d], vaddr);
		}
		check_default_names(e, t);
		elf_syms_close(e);
	}
}

static const struct rt_off *rt_off_for(const char *build, int minor)
{
	for (size_t i = 0; i < sizeof(rt_offs) / sizeof(rt_offs[0]); i++)
		if (!strcmp(rt_offs[i].build, build) && rt_offs[i].major == 3 &&
		    rt_offs[i].minor == minor)
			return &rt_offs[i];
	fail_msg("no offsetof fixture for %s 3.%d", build, minor);
	return NULL;
}

static bool is_sid(const struct build *b)
{
	return b >= &builds[SID_FIRST] && b < &builds[SID_FIRST + NSID];
}

/* 3.12+: each table is where the build's headers put it in _PyRuntime. */
static void check_runtime_state(const struct build *b, const struct elf_syms *e,
				const struct alloc_table t[DOMAIN__MAX])
{
	const struct rt_off *ro = rt_off_for(is_sid(b) ? "debian" : "pyenv", b->minor);
	uint64_t rt, size;

	assert_int_equal(ro->size, ALLOC_TABLE_SIZE);
	assert_int_equal(elf_syms_lookup(e, "_PyRuntime", &rt, &size), 0);
	for (int d = 0; d < DOMAIN__MAX; d++) {
		if (t[d].vaddr != rt + ro->off[d])
			fail_msg("%s %s: found %#lx, _PyRuntime+%zu is %#lx", b->ver,
				 alloc_domain_name(d), t[d].vaddr, ro->off[d], rt + ro->off[d]);
	}
}

static void test_pyenv_runtime_state(void **state)
{
	int seen = 0;

	for (size_t i = 0; i < NBUILDS; i++) {
		const struct build *b = &builds[i];
		struct alloc_table t[DOMAIN__MAX];
		struct elf_syms *e;

		if (b == DEBIAN || is_sid(b) || b->minor < 12)
			continue;
		e = elf_syms_open(b->lib);
		assert_non_null(e);
		find_all(b, e, t);
		check_runtime_state(b, e, t);
		check_default_names(e, t);
		elf_syms_close(e);
		seen++;
	}
	assert_int_equal(seen, 2);
}

/* Executable PT_LOAD ranges, read independently of the module under test. */
static size_t exec_segments(const char *path, uint64_t start[], uint64_t size[], size_t max)
{
	int fd = open(path, O_RDONLY);
	size_t n = 0, nph;
	Elf *elf;

	assert_true(fd >= 0);
	assert_int_not_equal(elf_version(EV_CURRENT), EV_NONE);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	assert_non_null(elf);
	assert_int_equal(elf_getphdrnum(elf, &nph), 0);
	for (size_t i = 0; i < nph && n < max; i++) {
		GElf_Phdr ph;

		assert_non_null(gelf_getphdr(elf, i, &ph));
		if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X)) {
			start[n] = ph.p_vaddr;
			size[n++] = ph.p_filesz;
		}
	}
	elf_end(elf);
	close(fd);
	return n;
}

/* Linear sweep of all code counting `cmp $imm, reg` against @imm. */
static size_t count_cmp_imm(const struct elf_syms *e, const char *path, uint64_t imm)
{
	uint64_t start[8], size[8];
	size_t nseg = exec_segments(path, start, size, 8), hits = 0;
	csh cs;
	cs_insn *in;

	assert_int_equal(cs_open(CS_ARCH_X86, CS_MODE_64, &cs), CS_ERR_OK);
	assert_int_equal(cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON), CS_ERR_OK);
	in = cs_malloc(cs);
	for (size_t s = 0; s < nseg; s++) {
		uint8_t *buf = malloc(size[s]);
		const uint8_t *code = buf;
		size_t len = size[s];
		uint64_t pc = start[s];

		assert_non_null(buf);
		assert_int_equal(elf_syms_read(e, start[s], buf, size[s]), 0);
		while (len) {
			const cs_x86 *x;

			if (!cs_disasm_iter(cs, &code, &len, &pc, in)) {
				code++, len--, pc++;	/* data in code: resync */
				continue;
			}
			x = &in->detail->x86;
			if (in->id == X86_INS_CMP && x->op_count == 2 &&
			    x->operands[1].type == X86_OP_IMM && (uint64_t)x->operands[1].imm == imm)
				hits++;
		}
		free(buf);
	}
	cs_free(in, 1);
	cs_close(&cs);
	return hits;
}

/*
 * A stripped LTO build: no .symtab to name the tables, and GCC devirtualised
 * dispatch through them at many sites, each comparing the loaded entry with
 * the default it expects, so those compares confirm the defaults found.
 */
static void check_lto(const struct build *b)
{
	struct alloc_table t[DOMAIN__MAX];
	struct elf_syms *e = elf_syms_open(b->lib);
	uint64_t v;
	size_t sites;

	assert_non_null(e);
	assert_false(elf_syms_has_symtab(e));
	assert_int_not_equal(elf_syms_lookup(e, "_PyObject", &v, NULL), 0);
	find_all(b, e, t);
	if (b->minor >= 12)
		check_runtime_state(b, e, t);
	sites = count_cmp_imm(e, b->lib, t[DOMAIN_OBJ].defaults[ALLOC_SLOT_MALLOC]);
	print_message("%s obj.malloc default %#lx: %zu inlined cmp sites\n", b->ver,
		      t[DOMAIN_OBJ].defaults[ALLOC_SLOT_MALLOC], sites);
	assert_true(sites > 100);
	/* fewer frees and raw mallocs got inlined (python3.11, objdump: 52 and 175), but many did */
	assert_true(count_cmp_imm(e, b->lib, t[DOMAIN_OBJ].defaults[ALLOC_SLOT_FREE]) > 10);
	assert_true(count_cmp_imm(e, b->lib, t[DOMAIN_RAW].defaults[ALLOC_SLOT_MALLOC]) > 10);
	elf_syms_close(e);
}

static void test_debian_lto(void **state)
{
	check_lto(DEBIAN);
}

static void test_sid_lto(void **state)
{
	for (int i = 0; i < NSID; i++)
		check_lto(&builds[SID_FIRST + i]);
}

static void test_errors(void **state)
{
	const char *libc = "/lib/x86_64-linux-gnu/libc.so.6";
	struct elf_syms *e = elf_syms_open(libc);
	struct alloc_table t;

	assert_non_null(e);
	assert_int_equal(alloc_table_find(e, libc, DOMAIN_OBJ, &t), -ENOENT);
	assert_int_equal(alloc_table_find(e, libc, DOMAIN__MAX, &t), -EINVAL);
	assert_int_equal(alloc_table_find(e, "/nonexistent/x", DOMAIN_OBJ, &t), -ENOENT);
	elf_syms_close(e);
}

/* ---- live processes ---- */

struct live {
	pid_t pid;
	int to_child;		/* closing it lets the interpreter exit */
};

/* A path of @b's as it sees it: under its root, if it has one. */
static const char *in_root(const struct build *b, const char *path)
{
	return b->root ? path + strlen(b->root) : path;
}

static const char *exe_path(const struct build *b)
{
	return in_root(b, b->exe);
}

/* Starts @b with @env_var and -X @xopt (either may be NULL); returns once it runs Python code. */
static void live_start(const struct build *b, const char *env_var, const char *xopt,
		       struct live *l)
{
	const char *prog = "import sys; sys.stdout.write('ready\\n'); sys.stdout.flush(); "
			   "sys.stdin.read()";
	char *envp[] = { "PATH=/usr/bin:/bin", "LC_ALL=C", (char *)env_var, NULL };
	int in[2], out[2];
	char buf[8] = { 0 };

	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(out), 0);
	l->pid = fork();
	assert_true(l->pid >= 0);
	if (!l->pid) {
		char *argv[8];
		int n = 0;

		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		if (b->root && (chroot(b->root) || chdir("/")))
			_exit(126);
		argv[n++] = (char *)exe_path(b);
		argv[n++] = "-s";	/* not -I: that would ignore PYTHONMALLOC */
		if (xopt) {
			argv[n++] = "-X";
			argv[n++] = (char *)xopt;
		}
		argv[n++] = "-c";
		argv[n++] = (char *)prog;
		argv[n] = NULL;
		execve(exe_path(b), argv, envp);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	l->to_child = in[1];
	assert_int_equal(read(out[0], buf, 6), 6);
	assert_string_equal(buf, "ready\n");
	close(out[0]);
}

static void live_stop(struct live *l)
{
	int status;

	close(l->to_child);
	assert_int_equal(waitpid(l->pid, &status, 0), l->pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static uint64_t live_bias(const struct live *l, const struct build *b, const struct elf_syms *e)
{
	char real[PATH_MAX];
	struct proc_maps m;
	uint64_t bias = 0;

	assert_non_null(realpath(b->lib, real));
	/* the maps name the file as the target sees it */
	assert_int_equal(proc_maps_read(l->pid, &m), 0);
	assert_int_equal(proc_maps_load_bias(&m, in_root(b, real), elf_syms_first_load_vaddr(e),
					     &bias), 0);
	proc_maps_free(&m);
	return bias;
}

/* A live table as file vaddrs; NULL stays NULL. */
static void live_table(const struct live *l, uint64_t bias, const struct alloc_table *t,
		       uint64_t cur[5])
{
	struct iovec local = { cur, ALLOC_TABLE_SIZE };
	struct iovec remote = { (void *)(uintptr_t)(bias + t->vaddr), ALLOC_TABLE_SIZE };

	assert_int_equal(process_vm_readv(l->pid, &local, 1, &remote, 1, 0), ALLOC_TABLE_SIZE);
	for (int i = 0; i < ALLOC_SLOT__MAX; i++)
		if (cur[i])
			cur[i] -= bias;
}

struct mode {
	const char *name;
	const char *env;
	const char *xopt;
	enum alloc_table_state want[DOMAIN__MAX];	/* raw, mem, obj */
	const char *symtab_word;			/* in the description when named */
};

static const struct mode modes[] = {
	{ "default", NULL, NULL,
	  { ALLOC_TABLE_DEFAULT, ALLOC_TABLE_DEFAULT, ALLOC_TABLE_DEFAULT }, "default" },
	{ "PYTHONMALLOC=malloc", "PYTHONMALLOC=malloc", NULL,
	  { ALLOC_TABLE_DEFAULT, ALLOC_TABLE_MALLOC, ALLOC_TABLE_MALLOC }, NULL },
	{ "-X tracemalloc", NULL, "tracemalloc",
	  { ALLOC_TABLE_HOOKED, ALLOC_TABLE_HOOKED, ALLOC_TABLE_HOOKED }, "tracemalloc installed" },
	{ "PYTHONMALLOC=pymalloc_debug", "PYTHONMALLOC=pymalloc_debug", NULL,
	  { ALLOC_TABLE_HOOKED, ALLOC_TABLE_HOOKED, ALLOC_TABLE_HOOKED }, "debug hooks" },
	{ "-X dev", NULL, "dev",
	  { ALLOC_TABLE_HOOKED, ALLOC_TABLE_HOOKED, ALLOC_TABLE_HOOKED }, "debug hooks" },
};

static void classify_build(const struct build *b)
{
	struct alloc_table t[DOMAIN__MAX];
	struct elf_syms *e = elf_syms_open(b->lib);

	assert_non_null(e);
	find_all(b, e, t);
	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		const struct mode *md = &modes[m];
		struct live l;
		uint64_t bias;

		live_start(b, md->env, md->xopt, &l);
		bias = live_bias(&l, b, e);
		for (int d = 0; d < DOMAIN__MAX; d++) {
			uint64_t cur[5];
			char desc[256] = "";
			enum alloc_table_state st;

			live_table(&l, bias, &t[d], cur);
			st = alloc_table_classify(e, d, &t[d], cur, desc, sizeof(desc));
			if (st != md->want[d])
				fail_msg("%s %s %s: state %d, want %d (%s)", b->ver, md->name,
					 alloc_domain_name(d), st, md->want[d], desc);
			assert_non_null(strstr(desc, alloc_domain_name(d)));
			if (md->want[d] == ALLOC_TABLE_DEFAULT)
				assert_memory_equal(cur, t[d].defaults, ALLOC_TABLE_SIZE);
			if (md->symtab_word && elf_syms_has_symtab(e))
				assert_non_null(strstr(desc, md->symtab_word));
		}
		live_stop(&l);
	}
	elf_syms_close(e);
}

static void test_classify_live(void **state)
{
	for (size_t i = 0; i < NBUILDS; i++)
		classify_build(&builds[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pyenv_legacy_statics),
		cmocka_unit_test(test_pyenv_runtime_state),
		cmocka_unit_test(test_debian_lto),
		cmocka_unit_test(test_sid_lto),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_classify_live),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
