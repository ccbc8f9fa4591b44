// SPDX-License-Identifier: GPL-2.0
/* Helpers of the inject unit tests: see inject_harness.h. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <cmocka.h>
#include "inject_fixtures.h"
#include "inject_harness.h"

#define MEMFD_NAME	"pymem-inject-test"

struct target tg;

void spawn(struct target *t, char *const argv[])
{
	int pin[2], pout[2];

	assert_int_equal(pipe2(pin, O_CLOEXEC), 0);
	assert_int_equal(pipe2(pout, O_CLOEXEC), 0);
	memset(t, 0, sizeof(*t));
	t->pid = fork();
	assert_true(t->pid >= 0);
	if (!t->pid) {
		dup2(pin[0], 0);
		dup2(pout[1], 1);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pin[0]);
	close(pout[1]);
	t->in = pin[1];
	t->out = pout[0];
}

void spawn_target(struct target *t, const char *mode, const char *n, const char *arg,
		  const char *arg2)
{
	char *argv[] = { INJECT_TARGET, (char *)mode, (char *)n, (char *)arg, (char *)arg2, NULL };

	spawn(t, argv);
}

/* Next line of the target's output into @line, false on timeout or EOF. */
bool read_line(struct target *t, char *line, size_t size, int ms)
{
	struct pollfd pfd = { .fd = t->out, .events = POLLIN };
	char *nl;
	ssize_t n;

	while (!(nl = memchr(t->buf, '\n', t->len))) {
		if (poll(&pfd, 1, ms) != 1)
			return false;
		n = read(t->out, t->buf + t->len, sizeof(t->buf) - 1 - t->len);
		if (n <= 0)
			return false;
		t->len += n;
	}
	*nl = '\0';
	n = nl - t->buf < (ssize_t)size ? nl - t->buf : (ssize_t)size - 1;
	memcpy(line, t->buf, n);
	line[n] = '\0';
	t->len -= nl + 1 - t->buf;
	memmove(t->buf, nl + 1, t->len);
	return true;
}

void expect_line(struct target *t, const char *want)
{
	char line[256];

	assert_true(read_line(t, line, sizeof(line), LINE_MS));
	assert_string_equal(line, want);
}

void send_str(struct target *t, const char *s)
{
	assert_int_equal(write(t->in, s, strlen(s)), (ssize_t)strlen(s));
}

int finish(struct target *t)
{
	int st = -1;

	close(t->in);
	close(t->out);
	assert_int_equal(waitpid(t->pid, &st, 0), t->pid);
	t->pid = 0;
	return st;
}

void finish_ok(struct target *t)
{
	int st = finish(t);

	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

void expect_reads(struct target *t, int n, const char *msg)
{
	char line[256], want[64];
	int i;

	snprintf(want, sizeof(want), " n=16 errno=0 msg=%s", msg);
	for (i = 0; i < n; i++) {
		assert_true(read_line(t, line, sizeof(line), LINE_MS));
		assert_non_null(strstr(line, want));
	}
}

int teardown(void **state)
{
	if (tg.pid > 0) {
		kill(tg.pid, SIGKILL);
		waitpid(tg.pid, NULL, 0);
		close(tg.in);
		close(tg.out);
		tg.pid = 0;
	}
	return 0;
}

double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, ms % 1000 * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Read a /proc file of @pid (@tid 0: the process) into @buf; length or -1. */
ssize_t proc_read(pid_t pid, pid_t tid, const char *name, char *buf, size_t size)
{
	char path[128];
	ssize_t n;
	int fd;

	if (tid)
		snprintf(path, sizeof(path), "/proc/%d/task/%d/%s", pid, tid, name);
	else
		snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return n;
}

int tids(pid_t pid, pid_t *out, int max)
{
	char path[64];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	assert_non_null(d);
	while ((de = readdir(d)) && n < max)
		if (isdigit(de->d_name[0]))
			out[n++] = atoi(de->d_name);
	closedir(d);
	return n;
}

/* Threads blocked in syscall @nr (-2: threads running in user space). */
int count_in(pid_t pid, long nr)
{
	char buf[256];
	pid_t t[64];
	int i, n = tids(pid, t, 64), hits = 0;

	for (i = 0; i < n; i++) {
		if (proc_read(pid, t[i], "syscall", buf, sizeof(buf)) <= 0)
			continue;
		if (nr == -2 ? !strncmp(buf, "running", 7) || !strncmp(buf, "-1 ", 3)
			     : atol(buf) == nr && isdigit(buf[0]))
			hits++;
	}
	return hits;
}

void wait_in(pid_t pid, long nr, int n)
{
	double end = now_ms() + 5000;

	while (count_in(pid, nr) < n) {
		assert_true(now_ms() < end);
		sleep_ms(5);
	}
	sleep_ms(20);	/* settled */
	assert_true(count_in(pid, nr) >= n);
}

/* "Key:\t..." of a thread's status. */
void status_of(pid_t pid, pid_t tid, const char *key, char *out, size_t size)
{
	char buf[4096], *p, *e;

	assert_true(proc_read(pid, tid, "status", buf, sizeof(buf)) > 0);
	p = strstr(buf, key);
	assert_non_null(p);
	p += strlen(key);
	while (*p == '\t' || *p == ' ')
		p++;
	e = strchr(p, '\n');
	snprintf(out, size, "%.*s", (int)(e ? e - p : (long)strlen(p)), p);
}

void assert_untraced(pid_t pid)
{
	pid_t t[64];
	int i, n = tids(pid, t, 64);

	for (i = 0; i < n; i++) {
		char buf[4096];

		if (proc_read(pid, t[i], "status", buf, sizeof(buf)) <= 0)
			continue;	/* exited meanwhile */
		assert_non_null(strstr(buf, "\nTracerPid:\t0\n"));
	}
}

/* The line of @tid's maps starting at @addr, or "". */
static void maps_line(pid_t pid, pid_t tid, uint64_t addr, char *out, size_t size)
{
	char path[64], line[512];
	unsigned long lo;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/maps", pid, tid);
	f = fopen(path, "r");
	assert_non_null(f);
	*out = '\0';
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-", &lo) == 1 && lo == addr) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(out, size, "%s", line);
		}
	fclose(f);
}

long sys(struct inject *in, long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	int err = 1;
	long r = inject_syscall(in, nr, a1, a2, a3, a4, a5, a6, &err);

	assert_int_equal(err, 0);
	return r;
}

/*
 * What pymem-bpf does to a target: stop it, memfd_create with the name in
 * scratch, fill it with pwrite64, mmap it PROT_READ|PROT_EXEC MAP_PRIVATE,
 * close the fd, release; the mapping must be there with the bytes we wrote.
 */
void stop_inject_release(pid_t pid)
{
	unsigned char code[64], back[64];
	char err[256] = "", line[512], path[64];
	uint64_t name, data;
	struct inject *in = NULL;
	long fd, addr;
	pid_t tid;
	size_t i;

	assert_int_equal(inject_stop(pid, &in, err, sizeof(err)), 0);
	assert_non_null(in);
	tid = inject_tid(in);
	assert_true(tid > 0);
	assert_int_equal(sys(in, SYS_getpid, 0, 0, 0, 0, 0, 0), pid);
	assert_int_equal(sys(in, SYS_gettid, 0, 0, 0, 0, 0, 0), tid);

	name = inject_scratch(in, sizeof(MEMFD_NAME));
	data = inject_scratch(in, sizeof(code));
	assert_true(name && data && data + sizeof(code) <= name);
	for (i = 0; i < sizeof(code); i++)
		code[i] = 0x90 ^ (i * 7);
	assert_int_equal(inject_write(in, name, MEMFD_NAME, sizeof(MEMFD_NAME)), 0);
	assert_int_equal(inject_write(in, data, code, sizeof(code)), 0);
	fd = sys(in, SYS_memfd_create, name, MFD_CLOEXEC, 0, 0, 0, 0);
	assert_true(fd >= 0);
	assert_int_equal(sys(in, SYS_pwrite64, fd, data, sizeof(code), 0, 0, 0), sizeof(code));
	addr = sys(in, SYS_mmap, 0, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
	assert_true(addr > 0 && !(addr & 4095));
	assert_int_equal(sys(in, SYS_close, fd, 0, 0, 0, 0, 0), 0);
	assert_int_equal(sys(in, SYS_close, fd, 0, 0, 0, 0, 0), -EBADF);
	assert_int_equal(inject_read(in, addr, back, sizeof(back)), 0);
	assert_memory_equal(back, code, sizeof(code));
	/* /proc/PID/mem writes through read-only mappings (a private copy of the page) */
	assert_int_equal(inject_write(in, addr + 8, "\xcc\xcc\xcc\xcc", 4), 0);
	memset(code + 8, 0xcc, 4);
	assert_int_equal(inject_read(in, addr, back, sizeof(back)), 0);
	assert_memory_equal(back, code, sizeof(code));
	inject_release(in);

	maps_line(pid, tid, addr, line, sizeof(line));
	assert_non_null(strstr(line, " r-xp 00000000 "));
	assert_non_null(strstr(line, "/memfd:" MEMFD_NAME " (deleted)"));
	snprintf(path, sizeof(path), "/proc/%d/task/%d/fd/%ld", pid, tid, fd);
	assert_int_equal(access(path, F_OK), -1);
	assert_untraced(pid);
}
