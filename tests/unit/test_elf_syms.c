// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for elf_syms. Ground truth comes from the dynamic loader (dlsym,
 * dladdr, link_map l_addr), from memory of live processes, from the Python
 * interpreters themselves, and from fixtures whose strings the test names.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <limits.h>
#include <link.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include "elf_syms.h"
#include "proc_maps.h"
#include "elf_syms_fixtures.h"

#define LIBC		"/lib/x86_64-linux-gnu/libc.so.6"
#define PYENV		"/root/.pyenv/versions/"
#define LIBPY311	PYENV "3.11.7/lib/libpython3.11.so.1.0"
#define DEBIAN_PY	"/usr/bin/python3.11"

/* Load bias of @path in this process, from /proc/self/maps. */
static uint64_t self_bias(const char *path, const struct elf_syms *e)
{
	char real[PATH_MAX];
	struct proc_maps m;
	uint64_t bias = 0;

	assert_non_null(realpath(path, real));
	assert_int_equal(proc_maps_read(0, &m), 0);
	assert_int_equal(proc_maps_load_bias(&m, real, elf_syms_first_load_vaddr(e), &bias), 0);
	proc_maps_free(&m);
	return bias;
}

static uint64_t link_map_bias(void *handle)
{
	struct link_map *lm;

	assert_int_equal(dlinfo(handle, RTLD_DI_LINKMAP, &lm), 0);
	return lm->l_addr;
}

static void test_libc_malloc(void **state)
{
	void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	struct elf_syms *e = elf_syms_open(LIBC);
	uint64_t vaddr, size, bias, off;
	const char *name;
	void *rt;

	assert_non_null(libc);
	assert_non_null(e);
	rt = dlsym(libc, "malloc");
	assert_non_null(rt);
	bias = self_bias(LIBC, e);
	assert_int_equal(bias, link_map_bias(libc));

	assert_int_equal(elf_syms_lookup(e, "malloc", &vaddr, &size), 0);
	assert_int_equal(vaddr + bias, (uintptr_t)rt);
	assert_true(size > 0);
	/* A versioned query names the same definition. */
	assert_int_equal(elf_syms_lookup(e, "malloc@@GLIBC_2.2.5", &vaddr, NULL), 0);
	assert_int_equal(vaddr + bias, (uintptr_t)rt);
	assert_int_equal(elf_syms_lookup(e, "no_such_symbol_xyz", &vaddr, NULL), -ENOENT);
	assert_int_equal(elf_syms_lookup(e, "mallo", &vaddr, NULL), -ENOENT);

	/* malloc and __libc_malloc share this address; the public name wins every time. */
	name = elf_syms_symbolize(e, vaddr, &off);
	assert_non_null(name);
	assert_string_equal(name, "malloc");
	assert_int_equal(off, 0);
	name = elf_syms_symbolize(e, vaddr + size - 1, &off);
	assert_non_null(name);
	assert_string_equal(name, "malloc");
	assert_int_equal(off, size - 1);
	name = elf_syms_symbolize(e, vaddr + size, NULL);
	assert_true(!name || strcmp(name, "malloc"));
	/* WEAK calloc and GLOBAL __libc_calloc: the name without underscores wins. */
	assert_int_equal(elf_syms_lookup(e, "calloc", &vaddr, NULL), 0);
	assert_int_equal(elf_syms_lookup(e, "__libc_calloc", &off, NULL), 0);
	assert_int_equal(vaddr, off);
	assert_string_equal(elf_syms_symbolize(e, vaddr, NULL), "calloc");
	elf_syms_close(e);
	dlclose(libc);
}

/* Every symbolization starts where dladdr() says the containing symbol starts. */
static void test_libc_symbolize_vs_dladdr(void **state)
{
	static const char *const fns[] = { "free", "calloc", "realloc", "qsort", "strtol",
					   "getpid", "fopen", "memalign" };
	void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	struct elf_syms *e = elf_syms_open(LIBC);
	uint64_t vaddr, size, bias, off, start, k;
	const char *name;
	Dl_info info;
	size_t i;

	assert_non_null(libc);
	assert_non_null(e);
	bias = link_map_bias(libc);
	for (i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		assert_int_equal(elf_syms_lookup(e, fns[i], &vaddr, &size), 0);
		assert_int_equal(vaddr + bias, (uintptr_t)dlsym(libc, fns[i]));
		for (k = 0; k < size; k += size / 3 + 1) {
			assert_true(dladdr((void *)(uintptr_t)(vaddr + bias + k), &info));
			assert_non_null(info.dli_saddr);
			name = elf_syms_symbolize(e, vaddr + k, &off);
			assert_non_null(name);
			assert_int_equal(elf_syms_lookup(e, name, &start, NULL), 0);
			assert_int_equal(start + bias, (uintptr_t)info.dli_saddr);
			assert_int_equal(start + off, vaddr + k);
		}
	}
	elf_syms_close(e);
	dlclose(libc);
}

static void test_libpython_symbols(void **state)
{
	void *py = dlopen(LIBPY311, RTLD_NOW | RTLD_LOCAL);
	struct elf_syms *e = elf_syms_open(LIBPY311);
	uint64_t vaddr, bias;
	unsigned long ver;
	void *rt;

	assert_non_null(py);
	assert_non_null(e);
	assert_true(elf_syms_has_symtab(e));
	bias = self_bias(LIBPY311, e);
	assert_int_equal(bias, link_map_bias(py));

	rt = dlsym(py, "PyObject_Malloc");
	assert_non_null(rt);
	assert_int_equal(elf_syms_lookup(e, "PyObject_Malloc", &vaddr, NULL), 0);
	assert_int_equal(vaddr + bias, (uintptr_t)rt);
	assert_string_equal(elf_syms_symbolize(e, vaddr + 1, NULL), "PyObject_Malloc");

	rt = dlsym(py, "_PyRuntime");
	assert_non_null(rt);
	assert_int_equal(elf_syms_lookup(e, "_PyRuntime", &vaddr, NULL), 0);
	assert_int_equal(vaddr + bias, (uintptr_t)rt);
	/* An object, not code. */
	assert_null(elf_syms_symbolize(e, vaddr, NULL));

	/* Py_Version is a const in .rodata: file bytes equal the loaded value. */
	rt = dlsym(py, "Py_Version");
	assert_non_null(rt);
	assert_int_equal(elf_syms_lookup(e, "Py_Version", &vaddr, NULL), 0);
	assert_int_equal(elf_syms_read(e, vaddr, &ver, sizeof(ver)), 0);
	assert_int_equal(ver, *(const unsigned long *)rt);
	assert_int_equal(ver >> 16, 0x30b);
	elf_syms_close(e);
	dlclose(py);
}

static void test_vaddr_to_offset(void **state)
{
	void *py = dlopen(LIBPY311, RTLD_NOW | RTLD_LOCAL);
	struct elf_syms *e = elf_syms_open(LIBPY311);
	unsigned char file[32];
	uint64_t vaddr, off, bias;
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	size_t shstr;
	Elf *elf;
	int fd;

	assert_non_null(py);
	assert_non_null(e);
	bias = link_map_bias(py);
	fd = open(LIBPY311, O_RDONLY);
	assert_true(fd >= 0);
	/* File bytes at the computed offset are the bytes the loader mapped there. */
	assert_int_equal(elf_syms_lookup(e, "PyObject_Free", &vaddr, NULL), 0);
	assert_int_equal(elf_syms_vaddr_to_offset(e, vaddr, &off), 0);
	assert_int_equal(pread(fd, file, sizeof(file), off), sizeof(file));
	assert_memory_equal(file, (void *)(uintptr_t)(vaddr + bias), sizeof(file));
	assert_int_equal(elf_syms_lookup(e, "Py_Version", &vaddr, NULL), 0);
	assert_int_equal(elf_syms_vaddr_to_offset(e, vaddr, &off), 0);
	assert_int_equal(pread(fd, file, 8, off), 8);
	assert_memory_equal(file, (void *)(uintptr_t)(vaddr + bias), 8);

	/* .bss has an address but no file bytes. */
	assert_int_equal(elf_version(EV_CURRENT), EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	assert_non_null(elf);
	assert_int_equal(elf_getshdrstrndx(elf, &shstr), 0);
	while ((scn = elf_nextscn(elf, scn)))
		if (gelf_getshdr(scn, &sh) && !strcmp(elf_strptr(elf, shstr, sh.sh_name), ".bss"))
			break;
	assert_non_null(scn);
	assert_int_equal(sh.sh_type, SHT_NOBITS);
	assert_int_equal(elf_syms_vaddr_to_offset(e, sh.sh_addr + 16, &off), -ERANGE);
	assert_int_equal(elf_syms_read(e, sh.sh_addr + 16, file, 4), -ERANGE);
	/* Here the file-backed part of the segment ends exactly where .bss starts. */
	assert_int_equal(elf_syms_read(e, sh.sh_addr - 4, file, 4), 0);
	assert_int_equal(elf_syms_read(e, sh.sh_addr - 4, file, 8), -ERANGE);
	assert_int_equal(elf_syms_vaddr_to_offset(e, 0x7fff00000000ULL, &off), -ERANGE);
	elf_end(elf);
	close(fd);
	elf_syms_close(e);
	dlclose(py);
}

/* Runs @argv with pipes on stdin and stdout; the child holds until stdin closes. */
static pid_t spawn(char *const argv[], int *in_fd, FILE **out)
{
	int in[2], o[2];
	pid_t pid;

	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(o, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		dup2(in[0], 0);
		dup2(o[1], 1);
		execv(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	close(o[1]);
	*in_fd = in[1];
	*out = fdopen(o[0], "r");
	assert_non_null(*out);
	return pid;
}

/* Debian's static, stripped python3.11: .dynsym only, non-PIE, checked in a live process. */
static void test_debian_python(void **state)
{
	char *argv[] = { DEBIAN_PY, "-c",
		"import ctypes, os, sys\n"
		"api = ctypes.pythonapi\n"
		"print(os.getpid(), ctypes.cast(api.PyObject_Malloc, ctypes.c_void_p).value,\n"
		"      ctypes.addressof(ctypes.c_char.in_dll(api, '_PyRuntime')), sys.hexversion,\n"
		"      flush=True)\n"
		"sys.stdin.read()\n", NULL };
	struct elf_syms *e = elf_syms_open(DEBIAN_PY);
	unsigned long long rpid, rmalloc, rruntime, rhex;
	uint64_t vaddr, bias, ver, file_ver, off;
	struct proc_maps m;
	char real[PATH_MAX];
	int in_fd, status, fd;
	FILE *out;
	pid_t pid;

	assert_non_null(e);
	assert_false(elf_syms_has_symtab(e));
	pid = spawn(argv, &in_fd, &out);
	assert_int_equal(fscanf(out, "%llu %llu %llu %llu", &rpid, &rmalloc, &rruntime, &rhex), 4);
	assert_int_equal(rpid, pid);

	assert_non_null(realpath(DEBIAN_PY, real));
	assert_int_equal(proc_maps_read(pid, &m), 0);
	assert_int_equal(proc_maps_load_bias(&m, real, elf_syms_first_load_vaddr(e), &bias), 0);
	proc_maps_free(&m);
	/* Non-PIE: file offsets differ from vaddrs. Compare file and live memory. */
	assert_int_equal(elf_syms_lookup(e, "Py_Version", &vaddr, NULL), 0);
	assert_int_equal(elf_syms_vaddr_to_offset(e, vaddr, &off), 0);
	assert_int_not_equal(off, vaddr);
	snprintf(real, sizeof(real), "/proc/%d/mem", pid);
	fd = open(real, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &ver, sizeof(ver), vaddr + bias), sizeof(ver));
	close(fd);
	fd = open(DEBIAN_PY, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &file_ver, sizeof(file_ver), off), sizeof(file_ver));
	close(fd);
	assert_int_equal(ver, file_ver);
	assert_int_equal(ver, rhex);
	close(in_fd);
	fclose(out);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	assert_int_equal(elf_syms_lookup(e, "PyObject_Malloc", &vaddr, NULL), 0);
	assert_int_equal(vaddr + bias, rmalloc);
	/* libm defines atanh; this executable's .dynsym has only an undefined PLT entry. */
	assert_int_equal(elf_syms_lookup(e, "atanh", &vaddr, NULL), -ENOENT);
	assert_int_equal(elf_syms_lookup(e, "PyObject_Malloc", &vaddr, NULL), 0);
	assert_string_equal(elf_syms_symbolize(e, vaddr + 4, NULL), "PyObject_Malloc");
	assert_int_equal(elf_syms_lookup(e, "_PyRuntime", &vaddr, NULL), 0);
	assert_int_equal(vaddr + bias, rruntime);
	assert_int_equal(elf_syms_lookup(e, "Py_Version", &vaddr, NULL), 0);
	assert_int_equal(elf_syms_read(e, vaddr, &ver, sizeof(ver)), 0);
	assert_int_equal(ver, rhex);
	elf_syms_close(e);
}

/* PY_VERSION as the interpreter itself reports it: the first word of sys.version. */
static void interpreter_version(const char *python, char *buf, size_t len)
{
	char cmd[PATH_MAX + 64];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "%s -c 'import sys; print(sys.version.split()[0])'", python);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(buf, len, p));
	buf[strcspn(buf, "\n")] = 0;
	assert_int_equal(pclose(p), 0);
}

static void check_version(const char *lib, const char *python, int major, int minor)
{
	struct elf_syms *e = elf_syms_open(lib);
	char want[64], got[64];

	assert_non_null(e);
	interpreter_version(python, want, sizeof(want));
	assert_int_equal(elf_syms_find_python_version(e, major, minor, got, sizeof(got)), 0);
	assert_string_equal(got, want);
	elf_syms_close(e);
}

static void test_versions(void **state)
{
	static const char *const pyenv[] = { "3.8.18", "3.9.18", "3.10.13", "3.11.7", "3.12.1",
					     "3.13.0" };
	char lib[PATH_MAX], python[PATH_MAX];
	int major, minor;
	size_t i;

	for (i = 0; i < sizeof(pyenv) / sizeof(pyenv[0]); i++) {
		assert_int_equal(sscanf(pyenv[i], "%d.%d", &major, &minor), 2);
		snprintf(lib, sizeof(lib), PYENV "%s/lib/libpython%d.%d.so.1.0", pyenv[i], major,
			 minor);
		snprintf(python, sizeof(python), PYENV "%s/bin/python3", pyenv[i]);
		check_version(lib, python, major, minor);
	}
	check_version(DEBIAN_PY, DEBIAN_PY, 3, 11);
}

static void check_fixture(const char *name, int major, int minor, const char *want)
{
	struct elf_syms *e;
	char path[PATH_MAX], got[32];

	snprintf(path, sizeof(path), ELF_SYMS_FIX_DIR "/elf_syms_fix_%s.so", name);
	e = elf_syms_open(path);
	assert_non_null(e);
	assert_int_equal(elf_syms_find_python_version(e, major, minor, got, sizeof(got)), 0);
	assert_string_equal(got, want);
	elf_syms_close(e);
}

static void test_version_forms(void **state)
{
	struct elf_syms *e;
	char buf[8];

	check_fixture("rc", 3, 12, "3.12.0rc1");
	check_fixture("plus", 3, 11, "3.11.2+");	/* "3.11.25x" is no version */
	/* Tail-merged into "/opt/Python-3.10.4"; "x13.10.9" and "2.3.10.8" are not 3.10. */
	check_fixture("tail", 3, 10, "3.10.4");
	/* A whole string beats a suffix that occurs more often. */
	check_fixture("pick", 3, 9, "3.9.1");
	/* Py_Version = 0x030c00c1 outranks the whole string "3.12.0". */
	check_fixture("hex", 3, 12, "3.12.0rc1");

	e = elf_syms_open(ELF_SYMS_FIX_DIR "/elf_syms_fix_rc.so");
	assert_non_null(e);
	assert_int_equal(elf_syms_find_python_version(e, 3, 11, buf, sizeof(buf)), -ENOENT);
	assert_int_equal(elf_syms_find_python_version(e, 3, 12, buf, sizeof(buf)), -ENOSPC);
	elf_syms_close(e);
}

/* The dynamic loader's choice between a GLOBAL and a LOCAL of one name. */
static void test_local_global(void **state)
{
	const char *path = ELF_SYMS_FIX_DIR "/elf_syms_fix_dup.so";
	void *so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	struct elf_syms *e = elf_syms_open(path);
	uint64_t vaddr, alias, bias;
	int (*fn)(void);

	assert_non_null(so);
	assert_non_null(e);
	bias = link_map_bias(so);
	fn = (int (*)(void))dlsym(so, "dup_fn");
	assert_non_null(fn);
	assert_int_equal(fn(), 2);	/* the GLOBAL one */
	assert_int_equal(elf_syms_lookup(e, "dup_fn", &vaddr, NULL), 0);
	assert_int_equal(vaddr + bias, (uintptr_t)fn);
	/* The LOCAL one is still there to symbolize. */
	fn = ((int (*(*)(void))(void))dlsym(so, "get_local"))();
	assert_int_equal(fn(), 1);
	assert_string_equal(elf_syms_symbolize(e, (uintptr_t)fn - bias, NULL), "dup_fn");

	/* Same address: a GLOBAL name beats a LOCAL one, underscores or not. */
	assert_int_equal(elf_syms_lookup(e, "alias_l", &alias, NULL), 0);
	assert_int_equal(elf_syms_lookup(e, "_alias_g", &vaddr, NULL), 0);
	assert_int_equal(vaddr, alias);
	assert_int_equal(vaddr + bias, (uintptr_t)dlsym(so, "_alias_g"));
	assert_string_equal(elf_syms_symbolize(e, vaddr, NULL), "_alias_g");
	elf_syms_close(e);
	dlclose(so);
}

static void test_open_errors(void **state)
{
	errno = 0;
	assert_null(elf_syms_open("/nonexistent/libfoo.so"));
	assert_int_equal(errno, ENOENT);
	errno = 0;
	assert_null(elf_syms_open("/etc/passwd"));
	assert_int_equal(errno, ENOEXEC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_libc_malloc),
		cmocka_unit_test(test_libc_symbolize_vs_dladdr),
		cmocka_unit_test(test_libpython_symbols),
		cmocka_unit_test(test_vaddr_to_offset),
		cmocka_unit_test(test_debian_python),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_version_forms),
		cmocka_unit_test(test_local_global),
		cmocka_unit_test(test_open_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
