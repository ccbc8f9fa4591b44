// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for inject: real processes (tests/unit/inject_target.c and
 * CPython 3.11) parked in blocking calls are stopped, made to create and map
 * a memfd, and released; each then reports what its blocked calls returned,
 * which must be what they return when nobody touches the process.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <cmocka.h>
#include "inject.h"
#include "inject_fixtures.h"

#define PY311		"/root/.pyenv/versions/3.11.7/bin/python3"
#define MEMFD_NAME	"pymem-inject-test"
#define LINE_MS		10000
#define SLEEP_MS	1500

struct target {
	pid_t pid;
	int in, out;		/* its stdin (write end), its stdout (read end) */
	char buf[8192];
	size_t len;
};

static struct target tg;	/* the current test's target, killed by teardown */

static void spawn(struct target *t, char *const argv[])
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

static void spawn_target(struct target *t, const char *mode, const char *n, const char *arg,
			 const char *arg2)
{
	char *argv[] = { INJECT_TARGET, (char *)mode, (char *)n, (char *)arg, (char *)arg2, NULL };

	spawn(t, argv);
}

/* Next line of the target's output into @line, false on timeout or EOF. */
static bool read_line(struct target *t, char *line, size_t size, int ms)
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

static void expect_line(struct target *t, const char *want)
{
	char line[256];

	assert_true(read_line(t, line, sizeof(line), LINE_MS));
	assert_string_equal(line, want);
}

static void send_str(struct target *t, const char *s)
{
	assert_int_equal(write(t->in, s, strlen(s)), (ssize_t)strlen(s));
}

static int finish(struct target *t)
{
	int st = -1;

	close(t->in);
	close(t->out);
	assert_int_equal(waitpid(t->pid, &st, 0), t->pid);
	t->pid = 0;
	return st;
}

static int teardown(void **state)
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

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, ms % 1000 * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Read a /proc file of @pid (@tid 0: the process) into @buf; length or -1. */
static ssize_t proc_read(pid_t pid, pid_t tid, const char *name, char *buf, size_t size)
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

static int tids(pid_t pid, pid_t *out, int max)
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
static int count_in(pid_t pid, long nr)
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

static void wait_in(pid_t pid, long nr, int n)
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
static void status_of(pid_t pid, pid_t tid, const char *key, char *out, size_t size)
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

static void assert_untraced(pid_t pid)
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

static long sys(struct inject *in, long nr, long a1, long a2, long a3, long a4, long a5, long a6)
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
static void stop_inject_release(pid_t pid)
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

/* Signal state (blocked, ignored, caught) of every thread, as one string. */
static void sig_state(pid_t pid, char *out, size_t size)
{
	static const char *keys[] = { "SigBlk:", "SigIgn:", "SigCgt:", "SigPnd:", "ShdPnd:" };
	size_t len = 0;
	char v[64];
	pid_t t[64];
	int i, k, n = tids(pid, t, 64);

	for (i = 0; i < n; i++)
		for (k = 0; k < 5; k++) {
			status_of(pid, t[i], keys[k], v, sizeof(v));
			len += snprintf(out + len, size - len, "%d %s%s ", t[i], keys[k], v);
		}
}

static void test_read_blocked(void **state)
{
	static const char *msg[] = { "aaaaaaaaaaaaaaa1", "bbbbbbbbbbbbbbb2", "ccccccccccccccc3",
				     "ddddddddddddddd4" };
	char before[4096], after[4096], line[256];
	bool seen[4] = { 0 };
	int i, j, st;

	spawn_target(&tg, "read", "4", NULL, NULL);
	expect_line(&tg, "ready");
	wait_in(tg.pid, SYS_read, 4);
	sig_state(tg.pid, before, sizeof(before));
	stop_inject_release(tg.pid);
	sig_state(tg.pid, after, sizeof(after));
	assert_string_equal(before, after);
	wait_in(tg.pid, SYS_read, 4);	/* restarted, blocked again */
	for (i = 0; i < 4; i++)
		send_str(&tg, msg[i]);
	for (i = 0; i < 4; i++) {
		assert_true(read_line(&tg, line, sizeof(line), LINE_MS));
		assert_non_null(strstr(line, " n=16 errno=0 msg="));
		for (j = 0; j < 4; j++)
			if (!strcmp(strstr(line, "msg=") + 4, msg[j]) && !seen[j])
				break;
		assert_true(j < 4);
		seen[j] = true;
	}
	expect_line(&tg, "done");
	st = finish(&tg);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* Relative and absolute sleeps end at their deadline: not early, not extended by the stop. */
static void sleep_case(const char *leader_abs)
{
	char line[256], ms[16];
	int i, id, ret, st;
	double slept;

	snprintf(ms, sizeof(ms), "%d", SLEEP_MS);
	spawn_target(&tg, "sleep", "4", ms, leader_abs);
	expect_line(&tg, "ready");
	wait_in(tg.pid, SYS_clock_nanosleep, 4);
	stop_inject_release(tg.pid);
	/* relative sleeps go on in restart_syscall (-ERESTART_RESTARTBLOCK), absolute ones anew */
	wait_in(tg.pid, SYS_restart_syscall, 2);
	wait_in(tg.pid, SYS_clock_nanosleep, 2);
	assert_int_equal(count_in(tg.pid, SYS_restart_syscall), 2);
	{
		struct inject *in;
		char err[256];

		/* hold it stopped a while: the sleeps must not restart from zero */
		assert_int_equal(inject_stop(tg.pid, &in, err, sizeof(err)), 0);
		sleep_ms(400);
		inject_release(in);
	}
	for (i = 0; i < 4; i++) {
		assert_true(read_line(&tg, line, sizeof(line), LINE_MS));
		assert_int_equal(sscanf(line, "sleep %d ret=%d ms=%lf", &id, &ret, &slept), 3);
		assert_int_equal(ret, 0);
		assert_true(slept >= SLEEP_MS - 1);
		assert_true(slept < SLEEP_MS + 250);
	}
	expect_line(&tg, "done");
	st = finish(&tg);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_sleep_blocked(void **state)
{
	sleep_case("0");	/* the injecting leader in a relative nanosleep: restart_block */
	sleep_case("1");	/* in an absolute clock_nanosleep: -ERESTARTNOHAND */
}

static void cond_case(const char *leader_timed)
{
	char line[256];
	bool seen[4] = { 0 };
	int i, id, ret, flag, st, timed;

	spawn_target(&tg, "cond", "4", leader_timed, NULL);
	expect_line(&tg, "ready");
	wait_in(tg.pid, SYS_futex, 3);	/* threads 0, 2, 3; thread 1 in read */
	wait_in(tg.pid, SYS_read, 1);
	stop_inject_release(tg.pid);
	/* timed waits go on in restart_syscall, untimed ones in futex again */
	timed = 1 + (leader_timed[0] == '1');
	wait_in(tg.pid, SYS_restart_syscall, timed);
	wait_in(tg.pid, SYS_futex, 3 - timed);
	assert_int_equal(count_in(tg.pid, SYS_restart_syscall), timed);
	assert_int_equal(count_in(tg.pid, SYS_futex), 3 - timed);
	send_str(&tg, "G");
	for (i = 0; i < 3; i++) {
		assert_true(read_line(&tg, line, sizeof(line), LINE_MS));
		assert_int_equal(sscanf(line, "cond %d ret=%d flag=%d", &id, &ret, &flag), 3);
		assert_true(id >= 0 && id < 4 && id != 1 && !seen[id]);
		seen[id] = true;
		assert_int_equal(ret, 0);
		assert_int_equal(flag, 'G');
	}
	expect_line(&tg, "done");
	st = finish(&tg);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_cond_blocked(void **state)
{
	cond_case("0");	/* the injecting leader in futex without timeout: -ERESTARTSYS */
	cond_case("1");	/* with timeout: -ERESTART_RESTARTBLOCK, restart_block kept */
}

#define BUSY_ITERS "150000000"

static void busy_results(bool poke, char out[3][64])
{
	char line[256];
	int i, id, st;

	spawn_target(&tg, "busy", "3", BUSY_ITERS, NULL);
	expect_line(&tg, "ready");
	if (poke) {
		wait_in(tg.pid, -2, 3);
		for (i = 0; i < 3; i++) {
			stop_inject_release(tg.pid);
			sleep_ms(30);
		}
	}
	for (i = 0; i < 3; i++) {
		assert_true(read_line(&tg, line, sizeof(line), LINE_MS * 3));
		assert_int_equal(sscanf(line, "busy %d", &id), 1);
		assert_true(id >= 0 && id < 3);
		snprintf(out[id], 64, "%.63s", line);
	}
	expect_line(&tg, "done");
	st = finish(&tg);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* Threads stopped mid-computation compute what an untouched run computes. */
static void test_busy_loop(void **state)
{
	char base[3][64] = { "" }, poked[3][64] = { "" };

	busy_results(false, base);
	busy_results(true, poked);
	for (int i = 0; i < 3; i++)
		assert_string_equal(poked[i], base[i]);
}

/* Any thread, not just the one that prints, may still have signals to take. */
static void counts(struct target *t, int usr1, int rt)
{
	double end = now_ms() + 5000;
	char want[64], buf[4096];
	pid_t tid[64];
	int i, n, pending;

	do {
		sleep_ms(10);
		assert_true(now_ms() < end);
		n = tids(t->pid, tid, 64);
		for (i = pending = 0; i < n; i++)
			if (proc_read(t->pid, tid[i], "status", buf, sizeof(buf)) > 0 &&
			    (!strstr(buf, "\nSigPnd:\t0000000000000000\n") ||
			     !strstr(buf, "\nShdPnd:\t0000000000000000\n")))
				pending++;
	} while (pending);
	sleep_ms(20);
	send_str(t, "q");
	snprintf(want, sizeof(want), "usr1=%d rt=%d", usr1, rt);
	expect_line(t, want);
	assert_int_equal(finish(t), 0);
}

/* Signals sent while stopped: each delivered once after release, none while held. */
static void test_signal_while_stopped(void **state)
{
	union sigval v = { .sival_int = 7 };
	struct inject *in;
	char err[256];
	pid_t t[8], tid;
	int i, n;

	spawn_target(&tg, "signal", "3", NULL, NULL);
	expect_line(&tg, "ready");
	wait_in(tg.pid, SYS_read, 1);
	wait_in(tg.pid, SYS_pause, 2);
	assert_int_equal(inject_stop(tg.pid, &in, err, sizeof(err)), 0);
	tid = inject_tid(in);
	n = tids(tg.pid, t, 8);
	assert_int_equal(n, 3);
	assert_int_equal(kill(tg.pid, SIGUSR1), 0);			/* process-directed */
	assert_int_equal(syscall(SYS_tgkill, tg.pid, tid, SIGRTMIN), 0);	/* the injector */
	for (i = 0; i < n; i++)						/* every thread */
		assert_int_equal(sigqueue(tg.pid, SIGRTMIN, v), 0);
	for (i = 0; i < n; i++)
		if (t[i] != tid)
			assert_int_equal(syscall(SYS_tgkill, tg.pid, t[i], SIGRTMIN), 0);
	for (i = 0; i < 5; i++)
		assert_int_equal(sys(in, SYS_getpid, 0, 0, 0, 0, 0, 0), tg.pid);
	inject_release(in);
	counts(&tg, 1, 1 + n + (n - 1));
}

/* Queued signals sent all along while we stop and release again and again. */
static void test_signal_storm(void **state)
{
	enum { SENT = 3000 };
	union sigval v = { .sival_int = 0 };
	int rounds = 0, st;
	pid_t sender;

	spawn_target(&tg, "signal", "3", NULL, NULL);
	expect_line(&tg, "ready");
	wait_in(tg.pid, SYS_read, 1);
	sender = fork();
	assert_true(sender >= 0);
	if (!sender) {
		for (int i = 0; i < SENT; i++) {
			if (sigqueue(tg.pid, SIGRTMIN, v))
				_exit(1);
			if (i % 4 == 0)
				usleep(100);
		}
		_exit(0);
	}
	while (waitpid(sender, &st, WNOHANG) == 0 || rounds < 5) {
		struct inject *in;
		char err[256];

		assert_int_equal(inject_stop(tg.pid, &in, err, sizeof(err)), 0);
		assert_int_equal(sys(in, SYS_getpid, 0, 0, 0, 0, 0, 0), tg.pid);
		assert_int_equal(sys(in, SYS_getppid, 0, 0, 0, 0, 0, 0), getpid());
		inject_release(in);
		rounds++;
	}
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	print_message("storm: %d stop/inject/release rounds\n", rounds);
	counts(&tg, 0, SENT);
}

static char thread_state(pid_t pid, pid_t tid)
{
	char buf[512], *p;

	assert_true(proc_read(pid, tid, "stat", buf, sizeof(buf)) > 0);
	p = strrchr(buf, ')');
	return p ? p[2] : '?';
}

static bool all_in_state(pid_t pid, char s)
{
	pid_t t[64];
	int i, n = tids(pid, t, 64);

	for (i = 0; i < n; i++)
		if (thread_state(pid, t[i]) != s)
			return false;
	return true;
}

/* A process the user stopped stays stopped, then carries on at SIGCONT. */
static void test_group_stop(void **state)
{
	struct pollfd pfd;
	char line[256];
	double end;
	int i, st;

	spawn_target(&tg, "read", "3", NULL, NULL);
	expect_line(&tg, "ready");
	wait_in(tg.pid, SYS_read, 3);
	kill(tg.pid, SIGSTOP);
	for (end = now_ms() + 5000; !all_in_state(tg.pid, 'T'); sleep_ms(5))
		assert_true(now_ms() < end);
	stop_inject_release(tg.pid);
	sleep_ms(100);
	assert_true(all_in_state(tg.pid, 'T'));
	for (i = 0; i < 3; i++)
		send_str(&tg, "0123456789abcdef");
	pfd = (struct pollfd){ .fd = tg.out, .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 200), 0);	/* nothing ran */
	kill(tg.pid, SIGCONT);
	for (i = 0; i < 3; i++) {
		assert_true(read_line(&tg, line, sizeof(line), LINE_MS));
		assert_non_null(strstr(line, " n=16 errno=0 msg=0123456789abcdef"));
	}
	expect_line(&tg, "done");
	st = finish(&tg);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* pymem-bpf SIGKILLed while it holds the target: the kernel detaches, the target runs on. */
static void test_injector_killed(void **state)
{
	char line[256], v[64], c;
	pid_t child, t[8];
	int i, n, st, sync[2];

	spawn_target(&tg, "read", "3", NULL, NULL);
	expect_line(&tg, "ready");
	wait_in(tg.pid, SYS_read, 3);
	assert_int_equal(pipe(sync), 0);
	child = fork();
	assert_true(child >= 0);
	if (!child) {
		struct inject *in;
		char err[256];
		int e;

		if (inject_stop(tg.pid, &in, err, sizeof(err)) ||
		    inject_syscall(in, SYS_getpid, 0, 0, 0, 0, 0, 0, &e) != tg.pid || e)
			_exit(1);
		if (write(sync[1], "k", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(sync[1]);
	assert_int_equal(read(sync[0], &c, 1), 1);
	close(sync[0]);
	n = tids(tg.pid, t, 8);
	for (i = 0; i < n; i++) {
		status_of(tg.pid, t[i], "TracerPid:", v, sizeof(v));
		assert_int_equal(atoi(v), child);
	}
	kill(child, SIGKILL);
	assert_int_equal(waitpid(child, &st, 0), child);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	sleep_ms(50);
	assert_untraced(tg.pid);
	wait_in(tg.pid, SYS_read, 3);
	for (i = 0; i < 3; i++)
		send_str(&tg, "fedcba9876543210");
	for (i = 0; i < 3; i++) {
		assert_true(read_line(&tg, line, sizeof(line), LINE_MS));
		assert_non_null(strstr(line, " n=16 errno=0 msg=fedcba9876543210"));
	}
	expect_line(&tg, "done");
	st = finish(&tg);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* Refusals say why: already traced (by us, by another), seccomp. */
static void test_eperm(void **state)
{
	struct inject *in, *in2 = (void *)1;
	char err[256], want[128];
	pid_t child;
	int st;

	spawn_target(&tg, "read", "2", NULL, NULL);
	expect_line(&tg, "ready");
	wait_in(tg.pid, SYS_read, 2);
	assert_int_equal(inject_stop(tg.pid, &in, err, sizeof(err)), 0);
	assert_int_equal(inject_stop(tg.pid, &in2, err, sizeof(err)), -EPERM);
	assert_null(in2);
	snprintf(want, sizeof(want), "already traced by PID %d (this process)", getpid());
	assert_non_null(strstr(err, want));
	child = fork();
	assert_true(child >= 0);
	if (!child)	/* another tracer */
		_exit(inject_stop(tg.pid, &in2, err, sizeof(err)) == -EPERM &&
		      strstr(err, "already traced by PID") && !strstr(err, "this process") ? 0 : 1);
	assert_int_equal(waitpid(child, &st, 0), child);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	inject_release(in);

	child = fork();
	assert_true(child >= 0);
	if (!child) {	/* a seccomp filter denying ptrace with EPERM */
		struct sock_filter f[] = {
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_ptrace, 0, 1),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		struct sock_fprog prog = { .len = 4, .filter = f };

		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
			_exit(2);
		_exit(inject_stop(tg.pid, &in2, err, sizeof(err)) == -EPERM &&
		      strstr(err, "seccomp") ? 0 : 1);
	}
	assert_int_equal(waitpid(child, &st, 0), child);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_untraced(tg.pid);
	{	/* a thread id stands for its process */
		pid_t t[4];
		int i, n = tids(tg.pid, t, 4);

		for (i = 0; i < n && t[i] == tg.pid; i++)
			;
		assert_true(i < n);
		assert_int_equal(inject_stop(t[i], &in, err, sizeof(err)), 0);
		assert_int_equal(sys(in, SYS_getpid, 0, 0, 0, 0, 0, 0), tg.pid);
		inject_release(in);
	}
	assert_int_equal(inject_stop(getpid(), &in2, err, sizeof(err)), -EINVAL);
	assert_int_equal(inject_stop(INT_MAX, &in2, err, sizeof(err)), -ESRCH);
	teardown(state);
}

/* The leader exited (a zombie until the group ends); its threads are stopped and used. */
static void test_leader_gone(void **state)
{
	char line[256];
	int i, st;

	spawn_target(&tg, "leaderless", "3", NULL, NULL);
	expect_line(&tg, "ready");
	wait_in(tg.pid, SYS_read, 2);
	for (double end = now_ms() + 5000; thread_state(tg.pid, tg.pid) != 'Z'; sleep_ms(5))
		assert_true(now_ms() < end);
	stop_inject_release(tg.pid);
	wait_in(tg.pid, SYS_read, 2);
	send_str(&tg, "zzzzzzzzzzzzzzzzyyyyyyyyyyyyyyyy");
	for (i = 0; i < 2; i++) {
		assert_true(read_line(&tg, line, sizeof(line), LINE_MS));
		assert_non_null(strstr(line, " n=16 errno=0 msg="));
	}
	st = finish(&tg);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* Threads created and exiting while we seize them. */
static void test_threads_churn(void **state)
{
	long made, bad;
	char line[256];
	int i;

	spawn_target(&tg, "churn", "1", NULL, NULL);
	expect_line(&tg, "ready");
	for (i = 0; i < 40; i++) {
		struct inject *in;
		char err[256];

		assert_int_equal(inject_stop(tg.pid, &in, err, sizeof(err)), 0);
		assert_int_equal(sys(in, SYS_getpid, 0, 0, 0, 0, 0, 0), tg.pid);
		inject_release(in);
		sleep_ms(2);
	}
	assert_untraced(tg.pid);
	send_str(&tg, "q");
	assert_true(read_line(&tg, line, sizeof(line), LINE_MS));
	assert_int_equal(sscanf(line, "churn made=%ld bad=%ld", &made, &bad), 2);
	assert_true(made > 0);
	assert_int_equal(bad, 0);
	assert_int_equal(finish(&tg), 0);
}

/* The target killed while stopped: calls fail cleanly, release reaps, the parent sees the kill. */
static void test_target_dies(void **state)
{
	struct inject *in;
	char err[256];
	int e = 0, st;

	spawn_target(&tg, "read", "3", NULL, NULL);
	expect_line(&tg, "ready");
	wait_in(tg.pid, SYS_read, 3);
	assert_int_equal(inject_stop(tg.pid, &in, err, sizeof(err)), 0);
	kill(tg.pid, SIGKILL);
	sleep_ms(50);
	assert_true(inject_syscall(in, SYS_getpid, 0, 0, 0, 0, 0, 0, &e) < 0);
	assert_int_equal(e, -ESRCH);
	inject_release(in);
	inject_release(NULL);
	st = finish(&tg);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

/* epoll_wait is never restarted: the interrupt shows as EINTR, as under any ptrace attach. */
static void test_epoll(void **state)
{
	char line[256];
	int n, eintr;

	spawn_target(&tg, "epoll", "1", NULL, NULL);
	expect_line(&tg, "ready");
	wait_in(tg.pid, SYS_epoll_wait, 1);
	stop_inject_release(tg.pid);
	send_str(&tg, "epollepollepoll!");
	assert_true(read_line(&tg, line, sizeof(line), LINE_MS));
	assert_int_equal(sscanf(line, "epoll n=%d eintr=%d", &n, &eintr), 2);
	assert_int_equal(n, 16);
	assert_int_equal(eintr, 1);
	assert_non_null(strstr(line, "msg=epollepollepoll!"));
	assert_int_equal(finish(&tg), 0);
}

/* Scratch comes from the stack mapping only. */
static void test_scratch_bounds(void **state)
{
	struct inject *in;
	char err[256], line[512];
	uint64_t a, b;

	spawn_target(&tg, "read", "1", NULL, NULL);
	expect_line(&tg, "ready");
	wait_in(tg.pid, SYS_read, 1);
	assert_int_equal(inject_stop(tg.pid, &in, err, sizeof(err)), 0);
	a = inject_scratch(in, 100);
	b = inject_scratch(in, 1);
	assert_true(a && b && !(a & 15) && !(b & 15) && b + 16 <= a);
	assert_int_equal(inject_scratch(in, 1UL << 40), 0);
	assert_int_equal(inject_scratch(in, 0), 0);
	{
		char path[64], l[512];
		unsigned long lo, hi;
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/maps", tg.pid);
		f = fopen(path, "r");
		*line = '\0';
		while (fgets(l, sizeof(l), f))
			if (sscanf(l, "%lx-%lx", &lo, &hi) == 2 && lo <= b && a < hi)
				snprintf(line, sizeof(line), "%s", l);
		fclose(f);
		assert_non_null(strstr(line, "[stack]"));
	}
	inject_release(in);
	send_str(&tg, "ssssssssssssssss");
	expect_line(&tg, "read 0 n=16 errno=0 msg=ssssssssssssssss");
	expect_line(&tg, "done");
	assert_int_equal(finish(&tg), 0);
}

/* CPython 3.11 with threads in time.sleep, Event.wait, stdin and pure computation. */
static void test_python(void **state)
{
	static const char script[] =
		"import sys, threading, time\n"
		"ev = threading.Event(); res = {}\n"
		"def sleeper():\n"
		"    t0 = time.monotonic(); time.sleep(1.5); res['sleep'] = time.monotonic() - t0\n"
		"def waiter(): res['event'] = ev.wait(60)\n"
		"def worker(): res['sum'] = sum(i * i for i in range(3000000))\n"
		"ths = [threading.Thread(target=f) for f in (sleeper, waiter, worker)]\n"
		"for t in ths: t.start()\n"
		"print('ready', flush=True)\n"
		"line = sys.stdin.readline(); ev.set()\n"
		"for t in ths: t.join()\n"
		"print('line=%s sleep=%.3f event=%s sum=%d' % (line.strip(), res['sleep'],"
		" res['event'], res['sum']), flush=True)\n";
	char *argv[] = { PY311, "-c", (char *)script, NULL };
	unsigned __int128 n = 3000000, sum = (n - 1) * n * (2 * n - 1) / 6;
	char line[256], word[64], ev[16], want[64];
	double slept;
	long long got;

	if (access(PY311, X_OK))
		skip();
	spawn(&tg, argv);
	expect_line(&tg, "ready");
	wait_in(tg.pid, SYS_read, 1);
	wait_in(tg.pid, SYS_clock_nanosleep, 1);
	stop_inject_release(tg.pid);
	send_str(&tg, "hello\n");
	assert_true(read_line(&tg, line, sizeof(line), LINE_MS));
	assert_int_equal(sscanf(line, "line=%63s sleep=%lf event=%15s sum=%lld", word, &slept, ev,
				&got), 4);
	assert_string_equal(word, "hello");
	assert_true(slept >= 1.5 && slept < 1.75);
	assert_string_equal(ev, "True");
	snprintf(want, sizeof(want), "%llu", (unsigned long long)sum);
	snprintf(word, sizeof(word), "%lld", got);
	assert_string_equal(word, want);
	assert_int_equal(finish(&tg), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_read_blocked, teardown),
		cmocka_unit_test_teardown(test_sleep_blocked, teardown),
		cmocka_unit_test_teardown(test_cond_blocked, teardown),
		cmocka_unit_test_teardown(test_busy_loop, teardown),
		cmocka_unit_test_teardown(test_signal_while_stopped, teardown),
		cmocka_unit_test_teardown(test_signal_storm, teardown),
		cmocka_unit_test_teardown(test_group_stop, teardown),
		cmocka_unit_test_teardown(test_injector_killed, teardown),
		cmocka_unit_test_teardown(test_eperm, teardown),
		cmocka_unit_test_teardown(test_threads_churn, teardown),
		cmocka_unit_test_teardown(test_leader_gone, teardown),
		cmocka_unit_test_teardown(test_target_dies, teardown),
		cmocka_unit_test_teardown(test_epoll, teardown),
		cmocka_unit_test_teardown(test_scratch_bounds, teardown),
		cmocka_unit_test_teardown(test_python, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
