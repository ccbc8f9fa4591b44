// SPDX-License-Identifier: GPL-2.0
/*
 * Target for test_inject: threads parked in one kind of blocking call (or
 * a busy loop), each reporting afterwards what that call returned, so the
 * test can tell whether stopping the process and injecting syscalls changed
 * anything.  Usage: inject_target MODE NTHREADS [ARG [ARG2]]; prints "ready" once
 * its threads are started, then one line per thread, then "done".
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>

#define MSG_LEN 16

static const char *mode;
static long arg, arg2;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int flag;
static int n_usr1, n_rt;

static void say(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (write(1, buf, n) != n)	/* one write per line: lines from threads never mix */
		exit(3);
}

static double now_ms(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Integer and floating point state both carried in registers across the loop. */
static uint64_t busy(uint64_t seed, long iters)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;
	double d = 1.0;

	for (long i = 0; i < iters; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		d = d * 1.0000001 + (double)(x & 0xff) * 1e-9;
	}
	return x ^ (uint64_t)(d * 1e6);
}

static void do_read(long id)
{
	char buf[MSG_LEN + 1] = "";
	ssize_t n = read(0, buf, MSG_LEN);

	say("read %ld n=%zd errno=%d msg=%s\n", id, n, n < 0 ? errno : 0, buf);
}

static void do_sleep(long id)
{
	double t0 = now_ms(CLOCK_MONOTONIC);
	struct timespec ts;
	int r;

	if ((id + arg2) & 1) {	/* absolute monotonic deadline, as CPython's time.sleep() */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += arg / 1000;
		ts.tv_nsec += arg % 1000 * 1000000;
		if (ts.tv_nsec >= 1000000000)
			ts.tv_sec++, ts.tv_nsec -= 1000000000;
		r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	} else {	/* relative: restarted through restart_syscall() */
		ts.tv_sec = arg / 1000;
		ts.tv_nsec = arg % 1000 * 1000000;
		r = nanosleep(&ts, NULL) ? errno : 0;
	}
	say("sleep %ld ret=%d ms=%.1f\n", id, r, now_ms(CLOCK_MONOTONIC) - t0);
}

/*
 * Thread 1 reads the go from stdin and broadcasts; the others wait, odd ids
 * with a timeout (futex -ERESTART_RESTARTBLOCK), even ones without
 * (-ERESTARTSYS), the leader as ARG says (1: timed).
 */
static void do_cond(long id)
{
	bool timed = id ? id & 1 : arg == 1;
	struct timespec ts;
	int r = 0;
	char c;

	if (id == 1) {
		ssize_t n = read(0, &c, 1);

		pthread_mutex_lock(&lock);
		flag = n == 1 ? c : -1;
		pthread_cond_broadcast(&cond);
		pthread_mutex_unlock(&lock);
		return;
	}

	pthread_mutex_lock(&lock);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 60;
	while (!flag && !r)
		r = timed ? pthread_cond_timedwait(&cond, &lock, &ts)
			  : pthread_cond_wait(&cond, &lock);
	say("cond %ld ret=%d flag=%d\n", id, r, flag);
	pthread_mutex_unlock(&lock);
}

static void *thread_main(void *p)
{
	long id = (long)p;

	if (!strcmp(mode, "read"))
		do_read(id);
	else if (!strcmp(mode, "sleep"))
		do_sleep(id);
	else if (!strcmp(mode, "cond"))
		do_cond(id);
	else if (!strcmp(mode, "busy"))
		say("busy %ld %016llx\n", id, (unsigned long long)busy(id, arg));
	return NULL;
}

/* Handlers run on any thread, concurrently: count atomically. */
static void on_signal(int sig)
{
	__atomic_add_fetch(sig == SIGUSR1 ? &n_usr1 : &n_rt, 1, __ATOMIC_RELAXED);
}

static void *pauser(void *p)
{
	for (;;)
		pause();
	return NULL;
}

/* Handlers count SIGUSR1 and SIGRTMIN; the leader waits in read() for the go. */
static int signals(long n)
{
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
	pthread_t th;
	char c;

	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGRTMIN, &sa, NULL);
	while (--n > 0)
		if (pthread_create(&th, NULL, pauser, NULL))
			return 2;
	say("ready\n");
	while (read(0, &c, 1) < 0 && errno == EINTR)
		;
	say("usr1=%d rt=%d\n", n_usr1, n_rt);
	return 0;
}

static void *churn_one(void *p)
{
	long s = 0;

	for (long i = 1; i <= 1000; i++)
		s += i;
	*(long *)p = s;
	return NULL;
}

/* Threads come and go until a byte arrives on stdin. */
static int churn(void)
{
	struct pollfd pfd = { .fd = 0, .events = POLLIN };
	long made = 0, bad = 0;

	say("ready\n");
	while (!poll(&pfd, 1, 0)) {
		pthread_t th[4];
		long v[4];

		for (int i = 0; i < 4; i++)
			if (pthread_create(&th[i], NULL, churn_one, &v[i]))
				return 2;
		for (int i = 0; i < 4; i++, made++) {
			pthread_join(th[i], NULL);
			bad += v[i] != 500500;
		}
	}
	say("churn made=%ld bad=%ld\n", made, bad);
	return 0;
}

/* epoll_wait() is never restarted by the kernel: count the EINTRs it returns. */
static int epoll(void)
{
	struct epoll_event ev = { .events = EPOLLIN }, out;
	char buf[MSG_LEN + 1] = "";
	int ep = epoll_create1(0), n, eintr = 0;

	epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev);
	say("ready\n");
	while ((n = epoll_wait(ep, &out, 1, -1)) < 0 && errno == EINTR)
		eintr++;
	n = read(0, buf, MSG_LEN);
	say("epoll n=%d eintr=%d msg=%s\n", n, eintr, buf);
	return 0;
}

int main(int argc, char **argv)
{
	long i, n = argc > 2 ? atol(argv[2]) : 1;
	pthread_t th[64];
	bool leaderless;

	if (argc < 3 || n < 1 || n > 64)
		return 2;
	mode = argv[1];
	arg = argc > 3 ? atol(argv[3]) : 0;
	arg2 = argc > 4 ? atol(argv[4]) : 0;
	if (!strcmp(mode, "signal"))
		return signals(n);
	if (!strcmp(mode, "churn"))
		return churn();
	if (!strcmp(mode, "epoll"))
		return epoll();
	leaderless = !strcmp(mode, "leaderless");	/* readers outlive the leader */
	if (leaderless)
		mode = "read";
	if (!strcmp(mode, "read")) {	/* signal state the test checks is left alone */
		sigset_t set;

		signal(SIGTRAP, SIG_IGN);
		sigemptyset(&set);
		sigaddset(&set, SIGUSR2);
		sigprocmask(SIG_BLOCK, &set, NULL);
	}
	for (i = 1; i < n; i++)
		if (pthread_create(&th[i], NULL, thread_main, (void *)i))
			return 2;
	if (!strcmp(mode, "cond") && n < 2)
		return 2;
	if (leaderless) {
		say("ready\n");
		pthread_exit(NULL);
	}
	say("ready\n");
	thread_main((void *)0);
	for (i = 1; i < n; i++)
		pthread_join(th[i], NULL);
	say("done\n");
	return 0;
}
