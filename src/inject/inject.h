/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Stop every thread of a live process with ptrace and run syscalls in it,
 * leaving it exactly as it was: registers, signal masks, pending signals,
 * interrupted blocking syscalls (restarted by the kernel's own logic) and a
 * group stop all survive.  x86_64 targets only.  Call everything from the
 * thread that called inject_stop() (ptrace binds the tracee to that thread).
 */
#ifndef PYMEM_INJECT_H
#define PYMEM_INJECT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct inject;	/* a stopped process */

/*
 * PTRACE_SEIZE (no PTRACE_O_EXITKILL: if we die, the kernel detaches and the
 * target runs on) and PTRACE_INTERRUPT every thread of @pid, rescanning
 * /proc/PID/task until no new thread appears, and wait until all are stopped.
 * -EPERM when ptrace is refused, with the reason (already traced, Yama,
 * seccomp, credentials) in @err; -ESRCH when the process is gone; -ENOEXEC
 * for a 32-bit target; -ETIMEDOUT when a thread does not stop within seconds.
 * On failure *out is NULL and nothing is left attached.
 */
int inject_stop(pid_t pid, struct inject **out, char *err, size_t errlen);

/*
 * Run syscall @nr in the target on one stopped thread, through an existing
 * `syscall` instruction (in the vdso or an executable file mapping).  Returns the syscall's result
 * (a negative errno from the kernel on failure) with *err = 0, or, when we
 * could not run it (ptrace failed, thread gone), a negative errno of ours,
 * also stored in *err.  Meant for calls that do not block.
 */
long inject_syscall(struct inject *in, long nr, long a1, long a2, long a3, long a4, long a5,
		    long a6, int *err);

/* Write/read target memory through /proc/PID/mem (works on read-only pages). 0 or -errno. */
int inject_write(struct inject *in, uint64_t addr, const void *buf, size_t len);
int inject_read(struct inject *in, uint64_t addr, void *buf, size_t len);

/*
 * @len bytes of target memory for syscall arguments, below the injecting
 * thread's stack pointer and red zone; valid until inject_release().
 * Each call returns a new 16-byte aligned block, or 0 when the stack
 * mapping has no room.
 */
uint64_t inject_scratch(struct inject *in, size_t len);

/* The thread that runs the injected syscalls. */
pid_t inject_tid(const struct inject *in);

/*
 * Hand back signals that arrived meanwhile and detach every thread: blocked
 * syscalls restart as the kernel decides, a group-stopped process stays
 * stopped.  Safe on any path, with NULL, and after the target died.
 */
void inject_release(struct inject *in);

#endif /* PYMEM_INJECT_H */
