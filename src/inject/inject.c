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
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include "inject_priv.h"
#include "proc_maps.h"

#ifndef __x86_64__
#error "inject.c drives x86_64 registers"
#endif

#define RED_ZONE	128
#define USER64_CS	0x33
#define MAX_TRIES	8
#define SCAN_CHUNK	65536
/* kernel-internal codes for "interrupted, restart me": never seen by user space */
#define ERESTARTSYS		512
#define ERESTART_RESTARTBLOCK	516

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
int inject_prepare(struct inject *in, char *err, size_t errlen)
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
		ret = inject_next_stop(in, t, false, &kind);
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
		inject_hold(in, &t->si);
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
		ret = inject_next_stop(in, t, false, &kind);
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
void inject_requeue_held(struct inject *in)
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
		inject_requeue_held(in);
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
