// SPDX-License-Identifier: GPL-2.0
/*
 * Syscall injection into a stopped process.
 *
 * A seized, interrupted thread sits in a ptrace stop inside get_signal(); a
 * blocking call it was in has returned -ERESTART*, and the kernel rewinds and
 * restarts it only after get_signal() returns, from the registers it has then.
 * So every injection ends with the thread trapped there again with its own
 * registers, and restarts, SA_RESTART and restart_block work as if we had
 * never been there.  One injection: registers -> a `syscall` already in the
 * target, orig_rax = -1 (no restart logic for our call); PTRACE_SYSCALL to
 * the exit stop (a single step's forced SIGTRAP would reset an ignored or
 * blocked SIGTRAP to SIG_DFL); PTRACE_INTERRUPT + PTRACE_CONT back into
 * get_signal(); saved registers back.  Signals the thread dequeues meanwhile
 * are queued to it again with their siginfo, by an injected
 * rt_tgsigqueueinfo() with all signals blocked.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include "inject.h"
#include "proc_maps.h"

#ifndef __x86_64__
#error "inject.c drives x86_64 registers"
#endif

#define WAIT_MS		5000	/* longer to stop: stuck in D state */
#define RED_ZONE	128
#define USER64_CS	0x33
#define MAX_TRIES	8
#define SCAN_CHUNK	65536
/* kernel-internal codes for "interrupted, restart me": never seen by user space */
#define ERESTARTSYS		512
#define ERESTART_RESTARTBLOCK	516

enum tstate { T_RUNNING, T_EVENT, T_SIGNAL, T_GONE };
enum stop { S_EXIT, S_EVENT, S_SIGNAL, S_SYSCALL };

struct thread {
	pid_t tid;
	enum tstate state;
	bool reaped;		/* T_GONE and its exit collected by us */
	siginfo_t si;		/* T_SIGNAL: the signal it stopped to deliver */
};

struct inject {
	pid_t pid;
	bool our_child;		/* also its real parent: the caller reaps it */
	int mem;		/* /proc/PID/mem */
	struct thread *t;
	size_t n, cap, cur;	/* cur: the thread that runs our syscalls */
	struct user_regs_struct saved;
	uint64_t gadget;	/* address of a 0f 05 */
	uint64_t stack_lo, scratch, si_slot;
	siginfo_t *held;	/* signals cur dequeued while running for us */
	size_t nheld, capheld;
};

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

static void hold(struct inject *in, const siginfo_t *si)
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
static int next_stop(struct inject *in, struct thread *t, bool keep, enum stop *kind)
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
		hold(in, &si);
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
			int r = next_stop(in, &in->t[i], true, &kind);

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

/* Prefer a thread in a plain interrupt or group stop, the leader first. */
static size_t pick_thread(const struct inject *in)
{
	size_t i, best = 0;
	int rank, top = 0;

	for (i = 0; i < in->n; i++) {
		const struct thread *t = &in->t[i];

		rank = t->state == T_EVENT ? 2 + (t->tid == in->pid) : t->state == T_SIGNAL;
		if (rank > top)
			top = rank, best = i;
	}
	return best;
}

/* First 0f 05 in [start, end) of the target; 0 if none. */
static uint64_t scan_syscall(struct inject *in, uint64_t start, uint64_t end)
{
	unsigned char *buf = malloc(SCAN_CHUNK + 1), *p;
	uint64_t a, hit = 0;

	for (a = start; buf && a < end && !hit; a += SCAN_CHUNK) {
		size_t len = end - a > SCAN_CHUNK ? SCAN_CHUNK + 1 : end - a;
		ssize_t n = pread(in->mem, buf, len, a);

		if (n < 2)
			break;
		p = memmem(buf, n, "\x0f\x05", 2);
		if (p)
			hit = a + (p - buf);
	}
	free(buf);
	return hit;
}

/* The vdso first (always there, never patched), then any executable file mapping. */
static uint64_t find_gadget(struct inject *in, const struct proc_maps *m)
{
	uint64_t hit = 0;
	size_t i;

	for (i = 0; i < m->n && !hit; i++)
		if (m->v[i].path && !strcmp(m->v[i].path, "[vdso]"))
			hit = scan_syscall(in, m->v[i].start, m->v[i].end);
	for (i = 0; i < m->n && !hit; i++)
		if (m->v[i].perms[2] == 'x' && m->v[i].path && !m->v[i].pseudo)
			hit = scan_syscall(in, m->v[i].start, m->v[i].end);
	return hit;
}

/* Choose the injecting thread, save its registers, find the stack and a syscall insn. */
static int prepare(struct inject *in, char *err, size_t errlen)
{
	const struct proc_map *stack;
	struct proc_maps m = { 0 };
	char path[64];
	pid_t tid;
	int ret;

	in->cur = pick_thread(in);
	tid = in->t[in->cur].tid;
	if (ptrace(PTRACE_GETREGS, tid, NULL, &in->saved)) {
		ret = -errno;
		snprintf(err, errlen, "PTRACE_GETREGS of thread %d: %s", tid, strerror(-ret));
		return ret;
	}
	if (in->saved.cs != USER64_CS) {
		snprintf(err, errlen, "PID %d is not a 64-bit process", in->pid);
		return -ENOEXEC;
	}
	/* through the thread: the leader may have exited and have no memory left */
	snprintf(path, sizeof(path), "/proc/%d/task/%d/mem", in->pid, tid);
	in->mem = open(path, O_RDWR | O_CLOEXEC);
	ret = in->mem < 0 ? -errno : proc_maps_read(tid, &m);
	if (ret) {
		snprintf(err, errlen, "cannot read PID %d's memory: %s", in->pid, strerror(-ret));
		return ret;
	}
	in->si_slot = (in->saved.rsp - RED_ZONE - sizeof(siginfo_t)) & ~15ULL;
	in->scratch = in->si_slot;
	stack = proc_maps_find(&m, in->saved.rsp - 1);
	if (stack && stack->perms[1] == 'w' && stack->start <= in->si_slot)
		in->stack_lo = stack->start;
	else
		in->stack_lo = in->scratch = in->si_slot = 0;	/* no scratch */
	in->gadget = find_gadget(in, &m);
	proc_maps_free(&m);
	if (!in->gadget) {
		snprintf(err, errlen, "no syscall instruction found in PID %d", in->pid);
		return -ENOENT;
	}
	return 0;
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
		ret = prepare(in, err, errlen);
	if (ret) {
		inject_release(in);
		return ret;
	}
	*out = in;
	return 0;
}

/*
 * Bring @t from a stop (or from running, @stopped false) back to a trap in
 * get_signal() and give it its saved registers.
 */
static int settle(struct inject *in, struct thread *t, bool stopped)
{
	enum stop kind = S_SYSCALL;
	int ret;

	if (ptrace(PTRACE_INTERRUPT, t->tid, NULL, NULL))
		goto gone;
	while (kind != S_EVENT) {	/* signal stops first, if any: each takes one */
		if (stopped && ptrace(PTRACE_CONT, t->tid, NULL, NULL))
			goto gone;
		stopped = true;
		ret = next_stop(in, t, false, &kind);
		if (ret)
			return ret;
	}
	if (ptrace(PTRACE_SETREGS, t->tid, NULL, &in->saved))
		goto gone;
	return 0;
gone:
	t->state = T_GONE;
	return -ESRCH;
}

/* One pass of the injected syscall; 0 with *res, or our own -errno. */
static int run_once(struct inject *in, long nr, const long a[6], long *res)
{
	struct thread *t = &in->t[in->cur];
	struct user_regs_struct r = in->saved;
	int ret, exits = 0;
	enum stop kind;

	if (t->state == T_GONE)
		return -ESRCH;
	if (t->state == T_SIGNAL) {	/* its signal is queued again once we are done */
		hold(in, &t->si);
		t->state = T_EVENT;
	}
	r.rip = in->gadget;
	r.rax = nr;
	r.orig_rax = -1;
	r.rdi = a[0], r.rsi = a[1], r.rdx = a[2], r.r10 = a[3], r.r8 = a[4], r.r9 = a[5];
	if (ptrace(PTRACE_SETREGS, t->tid, NULL, &r)) {
		t->state = T_GONE;
		return -ESRCH;
	}
	while (exits < 2) {	/* syscall-enter stop, then syscall-exit stop */
		if (ptrace(PTRACE_SYSCALL, t->tid, NULL, NULL))
			return settle(in, t, true) ?: -EIO;
		ret = next_stop(in, t, false, &kind);
		if (ret == -ETIMEDOUT)
			return settle(in, t, false) ?: ret;
		if (ret)
			return ret;
		exits += kind == S_SYSCALL;
	}
	ret = ptrace(PTRACE_GETREGS, t->tid, NULL, &r) ? -EIO : 0;
	if (!ret && (r.rip != in->gadget + 2 || (long)r.orig_rax != nr))
		ret = -EIO;	/* not the stop we drove it to: report, restore */
	*res = r.rax;
	return settle(in, t, true) ?: ret;
}

/* Nothing in the way of a signal's side effects: interrupted calls are run again. */
static int run(struct inject *in, long nr, const long a[6], long *res)
{
	int i, ret = 0;

	for (i = 0; i < MAX_TRIES; i++) {
		ret = run_once(in, nr, a, res);
		if (ret || *res > -ERESTARTSYS || *res < -ERESTART_RESTARTBLOCK)
			return ret;
	}
	*res = -EINTR;
	return 0;
}

/*
 * Queue the held signals to cur again, each with its own siginfo, from cur
 * itself (rt_tgsigqueueinfo may forge SI_USER and kernel codes only for the
 * calling thread), all signals blocked so it does not take them right back.
 * tgkill() as the fallback loses only the siginfo.
 */
static void requeue_held(struct inject *in)
{
	struct thread *t = &in->t[in->cur];
	uint64_t mask, all = ~0ULL;
	size_t i, n = in->nheld;
	siginfo_t *list = in->held;
	bool masked;
	long a[6], res;

	if (!n)
		return;
	in->held = NULL;
	in->nheld = in->capheld = 0;
	masked = !ptrace(PTRACE_GETSIGMASK, t->tid, sizeof(mask), &mask) &&
		 !ptrace(PTRACE_SETSIGMASK, t->tid, sizeof(all), &all);
	for (i = 0; i < n; i++) {
		siginfo_t *si = &list[i];

		/* unblockable: cur would dequeue SIGSTOP again during the next call */
		if (masked && si->si_signo != SIGSTOP && in->si_slot &&
		    !inject_write(in, in->si_slot, si, sizeof(*si))) {
			a[0] = in->pid, a[1] = t->tid, a[2] = si->si_signo, a[3] = in->si_slot;
			a[4] = a[5] = 0;
			if (!run(in, SYS_rt_tgsigqueueinfo, a, &res) && !res)
				continue;
		}
		if (t->state != T_GONE)
			syscall(SYS_tgkill, in->pid, t->tid, si->si_signo);
	}
	if (masked)
		ptrace(PTRACE_SETSIGMASK, t->tid, sizeof(mask), &mask);
	free(list);
}

long inject_syscall(struct inject *in, long nr, long a1, long a2, long a3, long a4, long a5,
		    long a6, int *err)
{
	long a[6] = { a1, a2, a3, a4, a5, a6 }, res = 0;
	int ret = -EINVAL;

	if (in) {
		ret = run(in, nr, a, &res);
		requeue_held(in);
	}
	if (err)
		*err = ret;
	return ret ? ret : res;
}

static int mem_io(struct inject *in, uint64_t addr, void *buf, size_t len, bool write)
{
	size_t done = 0;

	if (!in || in->mem < 0)
		return -EINVAL;
	while (done < len) {
		ssize_t n = write ? pwrite(in->mem, (char *)buf + done, len - done, addr + done)
				  : pread(in->mem, (char *)buf + done, len - done, addr + done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EFAULT;
		done += n;
	}
	return 0;
}

int inject_write(struct inject *in, uint64_t addr, const void *buf, size_t len)
{
	return mem_io(in, addr, (void *)buf, len, true);
}

int inject_read(struct inject *in, uint64_t addr, void *buf, size_t len)
{
	return mem_io(in, addr, buf, len, false);
}

uint64_t inject_scratch(struct inject *in, size_t len)
{
	uint64_t a;

	if (!in || !in->scratch || !len || len > in->scratch - in->stack_lo)
		return 0;
	a = (in->scratch - len) & ~15ULL;
	if (a < in->stack_lo)
		return 0;
	in->scratch = a;
	return a;
}

pid_t inject_tid(const struct inject *in)
{
	return in && in->cur < in->n ? in->t[in->cur].tid : 0;
}

static void detach(struct inject *in, struct thread *t)
{
	enum stop kind;

	if (t->state == T_RUNNING)	/* interrupted, not yet waited for */
		next_stop(in, t, true, &kind);
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
		requeue_held(in);
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
