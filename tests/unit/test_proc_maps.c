// SPDX-License-Identifier: GPL-2.0
/* Unit tests for proc_maps: crafted maps text and this process's own maps. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include "proc_maps.h"
#include "pytarget.h"

/* Out of order on purpose: the heap line comes last. */
static const char crafted[] =
	"00400000-00452000 r-xp 00000000 08:02 173521     /usr/bin/dbus-daemon\n"
	"00651000-00652000 r--p 00051000 08:02 173521     /usr/bin/dbus-daemon\n"
	"7f2c00000000-7f2c00001000 r--p 00001000 fd:01 42 /opt/my dir/lib x.so\n"
	"7f2c00002000-7f2c00003000 r--p 00000000 fd:01 42 /opt/my dir/lib x.so\n"
	"7f2c00004000-7f2c00006000 r-xp 00000000 fd:01 42 /opt/my dir/lib x.so\n"
	"7f3c00000000-7f3c00001000 r-xp 00000000 00:01 1025 /memfd:jit (deleted)\n"
	"7f4c00000000-7f4c00001000 rw-p 00000000 00:00 0 \n"
	"7f5c00000000-7f5c00001000 rw-s 00000000 103:0a 99 /dev/shm/with  two  spaces\n"
	"7ffd00000000-7ffd00002000 r-xp 00000000 00:00 0                  [vdso]\n"
	"7ffe00000000-7ffe00001000 rw-p 00000000 00:0e 77 anon_inode:[perf_event]\n"
	"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0          [vsyscall]\n"
	"01f0f000-01f30000 rw-p 00000000 00:00 0                          [heap]\n";

static int parse_text(const char *text, struct proc_maps *m)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int err;

	assert_non_null(f);
	err = proc_maps_parse(f, m);
	fclose(f);
	return err;
}

static void test_parse_fields(void **state)
{
	struct proc_maps m;
	const struct proc_map *pm;

	assert_int_equal(parse_text(crafted, &m), 0);
	assert_int_equal(m.n, 12);
	for (size_t i = 1; i < m.n; i++)
		assert_true(m.v[i - 1].start < m.v[i].start);

	pm = &m.v[0];
	assert_int_equal(pm->start, 0x400000);
	assert_int_equal(pm->end, 0x452000);
	assert_string_equal(pm->perms, "r-xp");
	assert_int_equal(pm->dev_major, 8);
	assert_int_equal(pm->dev_minor, 2);
	assert_int_equal(pm->inode, 173521);
	assert_string_equal(pm->path, "/usr/bin/dbus-daemon");
	assert_false(pm->deleted);
	assert_false(pm->pseudo);

	pm = &m.v[1];
	assert_int_equal(pm->offset, 0x51000);
	assert_string_equal(pm->perms, "r--p");

	pm = &m.v[2];		/* heap sorted into place */
	assert_int_equal(pm->start, 0x1f0f000);
	assert_string_equal(pm->path, "[heap]");
	assert_true(pm->pseudo);

	assert_string_equal(m.v[3].path, "/opt/my dir/lib x.so");
	assert_int_equal(m.v[3].dev_major, 0xfd);

	pm = &m.v[6];
	assert_string_equal(pm->path, "/memfd:jit");
	assert_true(pm->deleted);
	assert_false(pm->pseudo);

	pm = &m.v[7];
	assert_null(pm->path);
	assert_string_equal(pm->perms, "rw-p");

	pm = &m.v[8];
	assert_string_equal(pm->path, "/dev/shm/with  two  spaces");
	assert_int_equal(pm->dev_major, 0x103);
	assert_int_equal(pm->dev_minor, 0xa);
	assert_string_equal(pm->perms, "rw-s");

	assert_string_equal(m.v[9].path, "[vdso]");
	assert_true(m.v[9].pseudo);
	assert_string_equal(m.v[10].path, "anon_inode:[perf_event]");
	assert_true(m.v[10].pseudo);
	assert_int_equal(m.v[11].start, 0xffffffffff600000ULL);
	assert_true(m.v[11].pseudo);
	proc_maps_free(&m);
	assert_null(m.v);
	assert_int_equal(m.n, 0);
}

static void test_parse_malformed(void **state)
{
	struct proc_maps m;

	assert_int_equal(parse_text("00400000-00452000 r-xp 00000000 08:02\n", &m), -EINVAL);
	assert_null(m.v);
	assert_int_equal(parse_text("hello world\n", &m), -EINVAL);
	assert_int_equal(parse_text("", &m), 0);
	assert_int_equal(m.n, 0);
	proc_maps_free(&m);
}

static void test_find(void **state)
{
	struct proc_maps m;
	const struct proc_map *pm;

	assert_int_equal(parse_text(crafted, &m), 0);
	pm = proc_maps_find(&m, 0x400000);
	assert_non_null(pm);
	assert_int_equal(pm->start, 0x400000);
	pm = proc_maps_find(&m, 0x451fff);
	assert_non_null(pm);
	assert_int_equal(pm->start, 0x400000);
	assert_null(proc_maps_find(&m, 0x452000));	/* end is exclusive */
	assert_null(proc_maps_find(&m, 0x3fffff));
	assert_null(proc_maps_find(&m, 0x7f2c00001800));	/* gap */
	pm = proc_maps_find(&m, 0x7f2c00005abc);
	assert_non_null(pm);
	assert_string_equal(pm->perms, "r-xp");
	pm = proc_maps_find(&m, 0xffffffffff600010ULL);
	assert_non_null(pm);
	assert_string_equal(pm->path, "[vsyscall]");
	proc_maps_free(&m);
}

static void test_load_bias(void **state)
{
	struct proc_maps m;
	uint64_t bias = 0;

	assert_int_equal(parse_text(crafted, &m), 0);
	/* The offset-0x1000 mapping sits lower but is not the file's start. */
	assert_int_equal(proc_maps_load_bias(&m, "/opt/my dir/lib x.so", 0, &bias), 0);
	assert_int_equal(bias, 0x7f2c00002000);
	/* A non-PIE executable linked at its mapped address has no bias. */
	assert_int_equal(proc_maps_load_bias(&m, "/usr/bin/dbus-daemon", 0x400000, &bias), 0);
	assert_int_equal(bias, 0);
	assert_int_equal(proc_maps_load_bias(&m, "/memfd:jit", 0x1000, &bias), 0);
	assert_int_equal(bias, 0x7f3c00000000 - 0x1000);
	assert_int_equal(proc_maps_load_bias(&m, "[vdso]", 0, &bias), -ENOENT);
	assert_int_equal(proc_maps_load_bias(&m, "/opt/my dir/lib", 0, &bias), -ENOENT);
	proc_maps_free(&m);
}

static bool has_substr(const char *path, void *arg)
{
	return strstr(path, arg) != NULL;
}

static void test_find_path(void **state)
{
	struct proc_maps m;

	assert_int_equal(parse_text(crafted, &m), 0);
	assert_string_equal(proc_maps_find_path(&m, has_substr, "lib x")->path,
			    "/opt/my dir/lib x.so");
	assert_string_equal(proc_maps_find_path(&m, has_substr, "jit")->path, "/memfd:jit");
	/* Pseudo names are not files, so a match on them is never returned. */
	assert_null(proc_maps_find_path(&m, has_substr, "["));
	assert_null(proc_maps_find_path(&m, has_substr, "no such"));
	proc_maps_free(&m);
}

/* A libc function's address lies in an r-xp mapping of the file dladdr() names. */
static void test_self_libc(void **state)
{
	void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	char real[PATH_MAX];
	const struct proc_map *pm;
	struct proc_maps m;
	uint64_t bias;
	Dl_info info;
	void *fn;

	assert_non_null(libc);
	fn = dlsym(libc, "qsort");
	assert_non_null(fn);
	assert_true(dladdr(fn, &info));
	assert_non_null(realpath(info.dli_fname, real));

	assert_int_equal(proc_maps_read(0, &m), 0);
	pm = proc_maps_find(&m, (uintptr_t)fn);
	assert_non_null(pm);
	assert_string_equal(pm->perms, "r-xp");
	assert_string_equal(pm->path, real);
	assert_false(pm->pseudo);
	assert_true(pm->inode != 0);
	/* glibc's first PT_LOAD is at vaddr 0, so the bias is the base dladdr reports. */
	assert_int_equal(proc_maps_load_bias(&m, real, 0, &bias), 0);
	assert_int_equal(bias, (uintptr_t)info.dli_fbase);
	assert_non_null(proc_maps_find(&m, (uintptr_t)&m));	/* the stack */
	proc_maps_free(&m);
	dlclose(libc);
}

/* A mapped file with spaces in its name, then unlinked, as the kernel shows it. */
static void test_self_deleted_with_spaces(void **state)
{
	char path[] = "/tmp/proc maps test XXXXXX";
	const struct proc_map *pm;
	struct proc_maps m;
	void *p;
	int fd;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 4096), 0);
	p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	assert_true(p != MAP_FAILED);
	close(fd);

	assert_int_equal(proc_maps_read(getpid(), &m), 0);
	pm = proc_maps_find(&m, (uintptr_t)p);
	assert_non_null(pm);
	assert_string_equal(pm->path, path);
	assert_false(pm->deleted);
	proc_maps_free(&m);

	assert_int_equal(unlink(path), 0);
	assert_int_equal(proc_maps_read(0, &m), 0);
	pm = proc_maps_find(&m, (uintptr_t)p);
	assert_non_null(pm);
	assert_string_equal(pm->path, path);
	assert_true(pm->deleted);
	assert_int_equal(pm->start, (uintptr_t)p);
	assert_int_equal(pm->end - pm->start, 4096);
	proc_maps_free(&m);
	munmap(p, 4096);
}

/*
 * A child chrooted to /usr: the kernel names its libc by our path
 * (/usr/lib/...), the maps by its own (/lib/...), through which it opens
 * under /proc/PID/root; a file outside its root (this test's binary) keeps
 * our path and opens through /proc/PID/map_files.
 */
static void test_chrooted_child(void **state)
{
	const struct proc_map *libc, *self;
	char real[PATH_MAX], want[PATH_MAX + 32], open_path[PATH_MAX + 32];
	char root[PATH_MAX] = "", path[PATH_MAX];
	struct proc_maps m;
	Dl_info info;
	int go[2], status;
	pid_t pid;

	assert_true(dladdr((void *)qsort, &info));
	assert_non_null(realpath(info.dli_fname, real));
	assert_int_equal(strncmp(real, "/usr/", 5), 0);
	assert_int_equal(pipe(go), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		char c;

		close(go[1]);
		if (chroot("/usr") || chdir("/"))
			_exit(1);
		/* until the parent is done looking */
		_exit(read(go[0], &c, 1) == 0 ? 0 : 2);
	}
	close(go[0]);
	/* its root is /usr once /proc says so */
	for (int i = 0; i < 1000 && strcmp(root, "/usr"); i++) {
		char link[64];
		ssize_t n;

		snprintf(link, sizeof(link), "/proc/%d/root", pid);
		n = readlink(link, root, sizeof(root) - 1);
		root[n > 0 ? n : 0] = '\0';
		usleep(1000);
	}
	assert_string_equal(root, "/usr");

	assert_int_equal(proc_maps_read(pid, &m), 0);
	libc = proc_maps_find(&m, (uintptr_t)qsort);
	self = proc_maps_find(&m, (uintptr_t)test_chrooted_child);
	assert_non_null(libc);
	assert_non_null(self);
	assert_string_equal(libc->path, real + 4);
	pytarget_map_path(pid, libc, open_path, sizeof(open_path));
	snprintf(want, sizeof(want), "/proc/%d/root%s", pid, real + 4);
	assert_string_equal(open_path, want);
	/* outside its root: no path of its own, the mapping itself is the way in */
	assert_non_null(realpath("/proc/self/exe", path));
	assert_string_equal(self->path, path);
	pytarget_map_path(pid, self, open_path, sizeof(open_path));
	snprintf(want, sizeof(want), "/proc/%d/map_files/%llx-%llx", pid,
		 (unsigned long long)self->start, (unsigned long long)self->end);
	assert_string_equal(open_path, want);
	proc_maps_free(&m);

	snprintf(path, sizeof(path), "/usr/bin/true");
	proc_maps_target_path(pid, path);
	assert_string_equal(path, "/bin/true");
	snprintf(path, sizeof(path), "/usrx/bin/true");
	proc_maps_target_path(pid, path);
	assert_string_equal(path, "/usrx/bin/true");

	close(go[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_gone_process(void **state)
{
	struct proc_maps m;
	siginfo_t si;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (!pid)
		_exit(0);
	/* Wait for it to become a zombie: still in /proc, no address space. */
	assert_int_equal(waitid(P_PID, pid, &si, WEXITED | WNOWAIT), 0);
	assert_int_equal(proc_maps_read(pid, &m), -ESRCH);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_int_equal(proc_maps_read(pid, &m), -ENOENT);
	assert_null(m.v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_fields),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_load_bias),
		cmocka_unit_test(test_find_path),
		cmocka_unit_test(test_self_libc),
		cmocka_unit_test(test_self_deleted_with_spaces),
		cmocka_unit_test(test_chrooted_child),
		cmocka_unit_test(test_gone_process),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
