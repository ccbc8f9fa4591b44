/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What inject_stop.c (stopping and releasing the threads) and inject.c
 * (running syscalls in one of them) share; other modules use inject.h.
 */
#ifndef PYMEM_INJECT_PRIV_H
#define PYMEM_INJECT_PRIV_H

#include <signal.h>
#include <stdbool.h>
#include <sys/user.h>
#include "inject.h"

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

/* inject_stop.c */
void inject_hold(struct inject *in, const siginfo_t *si);
int inject_next_stop(struct inject *in, struct thread *t, bool keep, enum stop *kind);

/* inject.c */
int inject_prepare(struct inject *in, char *err, size_t errlen);
void inject_requeue_held(struct inject *in);

#endif /* PYMEM_INJECT_PRIV_H */
