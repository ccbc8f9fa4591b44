// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for inject: real processes (tests/unit/inject_target.c and
 * CPython 3.11) parked in blocking calls are stopped, made to create and map
 * a memfd, and released; each then reports what its blocked calls returned,
 * which must be what they return when nobody touches the process.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <cmocka.h>
#include "inject_harness.h"

#define PY311		"/root/.pyenv/versions/3.11.7/bin/python3"
#define SLEEP_MS	1500

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
	int i, j;

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
	finish_ok(&tg);
}

/* Relative and absolute sleeps end at their deadline: not early, not extended by the stop. */
static void sleep_case(const char *leader_abs)
{
	char line[256], ms[16];
	int i, id, ret;
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
	finish_ok(&tg);
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
	int i, id, ret, flag, timed;

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
	finish_ok(&tg);
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
	int i, id;

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
	finish_ok(&tg);
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
		cmocka_unit_test_teardown(test_epoll, teardown),
		cmocka_unit_test_teardown(test_scratch_bounds, teardown),
		cmocka_unit_test_teardown(test_python, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
