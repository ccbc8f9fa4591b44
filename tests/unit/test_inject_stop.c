// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for inject_stop() and inject_release() on tests/unit/inject_target.c:
 * signals sent while its threads are held, a group stop, the injector killed,
 * refusals, threads coming and going, and a leader or a whole target that dies.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <cmocka.h>
#include "inject_harness.h"

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
	double end;
	int i;

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
	expect_reads(&tg, 3, "0123456789abcdef");
	expect_line(&tg, "done");
	finish_ok(&tg);
}

/* pymem-bpf SIGKILLed while it holds the target: the kernel detaches, the target runs on. */
static void test_injector_killed(void **state)
{
	char v[64], c;
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
	expect_reads(&tg, 3, "fedcba9876543210");
	expect_line(&tg, "done");
	finish_ok(&tg);
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
	spawn_target(&tg, "leaderless", "3", NULL, NULL);
	expect_line(&tg, "ready");
	wait_in(tg.pid, SYS_read, 2);
	for (double end = now_ms() + 5000; thread_state(tg.pid, tg.pid) != 'Z'; sleep_ms(5))
		assert_true(now_ms() < end);
	stop_inject_release(tg.pid);
	wait_in(tg.pid, SYS_read, 2);
	send_str(&tg, "zzzzzzzzzzzzzzzzyyyyyyyyyyyyyyyy");
	expect_reads(&tg, 2, "");
	finish_ok(&tg);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_signal_while_stopped, teardown),
		cmocka_unit_test_teardown(test_signal_storm, teardown),
		cmocka_unit_test_teardown(test_group_stop, teardown),
		cmocka_unit_test_teardown(test_injector_killed, teardown),
		cmocka_unit_test_teardown(test_eperm, teardown),
		cmocka_unit_test_teardown(test_threads_churn, teardown),
		cmocka_unit_test_teardown(test_leader_gone, teardown),
		cmocka_unit_test_teardown(test_target_dies, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
