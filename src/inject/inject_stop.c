// SPDX-License-Identifier: GPL-2.0
/*
 * Stopping every thread of a process, and releasing them.
 *
 * Threads are seized and interrupted (PTRACE_INTERRUPT sends no signal that
 * would have to be taken back), and each stop is waited for, one thread at a
 * time.  A thread caught delivering a signal keeps it and gets it back on
 * PTRACE_DETACH; a thread that dies meanwhile stays a zombie until we reap it.
 */
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include "inject_priv.h"

#define WAIT_MS		5000	/* longer to stop: stuck in D state */

/* "Key:" of /proc/PID[/task/TID]/status (pid 0: ours) into @val; false if absent. */
static bool status_line(pid_t pid, pid_t tid, const char *key, char *val, size_t len)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	bool found = false;
	FILE *f;

	if (tid)
		snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
	else
		snprintf(path, sizeof(path), pid ? "/proc/%d/status" : "/proc/self/status", pid);
	f = fopen(path, "re");
	while (f && !found && fgets(line, sizeof(line), f))
		if ((found = !strncmp(line, key, klen)))
			snprintf(val, len, "%s", line + klen + strspn(line + klen, "\t "));
	if (f)
		fclose(f);
	return found;
}

static long status_num(pid_t pid, const char *key, int base)
{
	char v[64];

	return status_line(pid, 0, key, v, sizeof(v)) ? strtol(v, NULL, base) : -1;
}

/* An exited thread lingers as a zombie (a dead leader does until the group ends). */
static bool task_dead(pid_t pid, pid_t tid)
{
	char v[64];

	return !status_line(pid, tid, "State:", v, sizeof(v)) || v[0] == 'Z' || v[0] == 'X';
}

/* Say why the kernel refused to let us trace @pid. */
static void explain_eperm(pid_t pid, int errnum, char *err, size_t errlen)
{
	long tracer = status_num(pid, "TracerPid:", 10);
	long capeff = status_num(0, "CapEff:", 16);
	bool cap = capeff > 0 && (capeff >> 19 & 1);	/* CAP_SYS_PTRACE */
	int yama = -1;
	FILE *f = fopen("/proc/sys/kernel/yama/ptrace_scope", "re");

	if (f) {
		if (fscanf(f, "%d", &yama) != 1)
			yama = -1;
		fclose(f);
	}
	if (tracer > 0)
		snprintf(err, errlen, "PID %d is already traced by PID %ld%s", pid, tracer,
			 tracer == getpid() ? " (this process)" : "");
	else if (yama >= 3 || (yama >= 1 && !cap))
		snprintf(err, errlen, "ptrace of PID %d denied by Yama (ptrace_scope=%d)%s", pid,
			 yama, yama >= 3 ? "" : ": run as root or lower kernel.yama.ptrace_scope");
	else if (status_num(0, "Seccomp:", 10) == 2)
		snprintf(err, errlen, "ptrace of PID %d refused (%s) by this process's seccomp "
			 "filter", pid, strerror(errnum));
	else
		snprintf(err, errlen, "ptrace of PID %d refused: another user's or non-dumpable "
			 "process, and no CAP_SYS_PTRACE", pid);
}

/* waitpid() on one thread, bounded in time: 0, -ESRCH (gone) or -ETIMEDOUT. */
static int wait_tid(struct inject *in, pid_t tid, int *status)
{
	struct timespec ts = { 0, 50000 }, t0, now;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0;; i++) {
		pid_t r = waitpid(tid, status, __WALL | WNOHANG);

		if (r == tid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -ESRCH;
		if (i < 32) {	/* most stops take microseconds */
			sched_yield();
			continue;
		}
		if (task_dead(in->pid, tid))
			return -ESRCH;	/* a dead leader reports only when its group ends */
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000 >
		    WAIT_MS)
			return -ETIMEDOUT;
		nanosleep(&ts, NULL);
	}
}

static enum stop classify(int status)
{
	if (!WIFSTOPPED(status))
		return S_EXIT;
	if (WSTOPSIG(status) == (SIGTRAP | 0x80))
		return S_SYSCALL;
	/* PTRACE_EVENT_STOP, or an event we never asked for: nothing to hand back */
	return status >> 16 ? S_EVENT : S_SIGNAL;
}

void inject_hold(struct inject *in, const siginfo_t *si)
{
	if (in->nheld == in->capheld) {
		size_t cap = in->capheld ? in->capheld * 2 : 4;
		siginfo_t *h = realloc(in->held, cap * sizeof(*h));

		if (!h)
			return;	/* better a lost signal than a target left half-way */
		in->held = h;
		in->capheld = cap;
	}
	in->held[in->nheld++] = *si;
}

/* Wait for @t's next stop; a signal-delivery stop is recorded (held or kept in t->si). */
int inject_next_stop(struct inject *in, struct thread *t, bool keep, enum stop *kind)
{
	siginfo_t si;
	int st, ret;

	ret = wait_tid(in, t->tid, &st);
	if (ret == -ESRCH || (!ret && classify(st) == S_EXIT)) {
		t->state = T_GONE;
		t->reaped = !ret;
		return -ESRCH;
	}
	if (ret)
		return ret;
	*kind = classify(st);
	t->state = T_EVENT;
	if (*kind != S_SIGNAL)
		return 0;
	if (ptrace(PTRACE_GETSIGINFO, t->tid, NULL, &si)) {
		memset(&si, 0, sizeof(si));
		si.si_signo = WSTOPSIG(st);
		si.si_code = SI_USER;
	}
	if (keep) {
		t->si = si;
		t->state = T_SIGNAL;
	} else {
		inject_hold(in, &si);
	}
	return 0;
}

static bool known(const struct inject *in, pid_t tid)
{
	for (size_t i = 0; i < in->n; i++)
		if (in->t[i].tid == tid)
			return true;
	return false;
}

/* Seize and interrupt the threads of /proc/PID/task not seen yet. */
static int seize_new(struct inject *in, DIR *d, char *err, size_t errlen)
{
	struct dirent *de;

	rewinddir(d);
	while ((de = readdir(d))) {
		pid_t tid = atoi(de->d_name);

		if (tid <= 0 || known(in, tid))
			continue;
		if (in->n == in->cap) {
			struct thread *t = realloc(in->t, (in->cap + 16) * sizeof(*t));

			if (!t)
				return -ENOMEM;
			in->t = t;
			in->cap += 16;
		}
		if (ptrace(PTRACE_SEIZE, tid, NULL, (void *)PTRACE_O_TRACESYSGOOD)) {
			int e = errno;

			if (e == ESRCH || task_dead(in->pid, tid))
				continue;	/* exited meanwhile */
			if (e != EPERM && e != EACCES && e != ENOSYS) {
				snprintf(err, errlen, "PTRACE_SEIZE of %d: %s", tid, strerror(e));
				return -e;
			}
			explain_eperm(in->pid, e, err, errlen);
			return -EPERM;
		}
		in->t[in->n++] = (struct thread){ .tid = tid, .state = T_RUNNING };
		ptrace(PTRACE_INTERRUPT, tid, NULL, NULL);	/* ESRCH: the wait sees it */
	}
	return 0;
}

/* Only a running thread can clone, so rescan until a pass finds none new with all stopped. */
static int seize_all(struct inject *in, char *err, size_t errlen)
{
	size_t first, i, live = 0;
	char path[64];
	enum stop kind;
	int ret;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", in->pid);
	d = opendir(path);
	if (!d) {
		snprintf(err, errlen, "no process with PID %d", in->pid);
		return -ESRCH;
	}
	do {
		first = in->n;
		ret = seize_new(in, d, err, errlen);
		for (i = first; i < in->n; i++) {	/* even on error: to be released */
			int r = inject_next_stop(in, &in->t[i], true, &kind);

			if (r && r != -ESRCH && !ret) {
				snprintf(err, errlen, "thread %d of PID %d did not stop: %s",
					 in->t[i].tid, in->pid, strerror(-r));
				ret = r;
			}
		}
	} while (!ret && in->n > first);
	closedir(d);
	for (i = 0; i < in->n; i++)
		live += in->t[i].state != T_GONE;
	if (!ret && !live) {
		snprintf(err, errlen, "PID %d exited", in->pid);
		ret = -ESRCH;
	}
	return ret;
}

int inject_stop(pid_t pid, struct inject **out, char *err, size_t errlen)
{
	long tgid = pid > 0 ? status_num(pid, "Tgid:", 10) : -1;	/* @pid may be a tid */
	struct inject *in;
	int ret;

	*out = NULL;
	if (pid <= 0 || tgid == getpid()) {
		snprintf(err, errlen, "cannot stop PID %d", pid);
		return -EINVAL;
	}
	in = calloc(1, sizeof(*in));
	if (!in)
		return -ENOMEM;
	in->pid = tgid > 0 ? tgid : pid;
	in->mem = -1;
	in->our_child = status_num(pid, "PPid:", 10) == getpid();
	ret = seize_all(in, err, errlen);
	if (!ret)
		ret = inject_prepare(in, err, errlen);
	if (ret) {
		inject_release(in);
		return ret;
	}
	*out = in;
	return 0;
}

static void detach(struct inject *in, struct thread *t)
{
	enum stop kind;

	if (t->state == T_RUNNING)	/* interrupted, not yet waited for */
		inject_next_stop(in, t, true, &kind);
	/* from a signal-delivery stop the signal goes on to the thread, siginfo intact */
	if (t->state != T_GONE && ptrace(PTRACE_DETACH, t->tid, NULL,
					 (void *)(long)(t->state == T_SIGNAL ? t->si.si_signo : 0)))
		t->state = T_GONE;
}

/* A traced thread that died stays a zombie until its tracer reaps it. */
static void reap(struct inject *in, struct thread *t)
{
	int st;

	/* the caller waits for its own child */
	if (t->state == T_GONE && !t->reaped && (t->tid != in->pid || !in->our_child))
		t->reaped = !wait_tid(in, t->tid, &st);
}

void inject_release(struct inject *in)
{
	size_t i;
	int pass;

	if (!in)
		return;
	for (pass = 0; in->nheld && pass < 3; pass++)
		inject_requeue_held(in);
	/* the leader last: dead, it reports only once its other threads are reaped */
	for (pass = 0; pass < 4; pass++)
		for (i = 0; i < in->n; i++)
			if ((in->t[i].tid == in->pid) == (pass & 1))
				pass < 2 ? detach(in, &in->t[i]) : reap(in, &in->t[i]);
	if (in->mem >= 0)
		close(in->mem);
	free(in->held);
	free(in->t);
	free(in);
}
