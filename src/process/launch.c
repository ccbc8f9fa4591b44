// SPDX-License-Identifier: GPL-2.0
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include "launch.h"
#include "pytarget.h"

#define INT3 0xccUL

static int child_exec(char *const argv[], int errfd)
{
	int e;

	if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) == 0)
		raise(SIGSTOP);
	execvp(argv[0], argv);
	e = errno;
	if (write(errfd, &e, sizeof(e)) < 0)
		_exit(127);
	_exit(127);
}

static int entry_point(pid_t pid, unsigned long *entry)
{
	unsigned long av[2];
	char path[64];
	int fd, ret = -ENOENT;

	snprintf(path, sizeof(path), "/proc/%d/auxv", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (read(fd, av, sizeof(av)) == sizeof(av) && av[0] != AT_NULL) {
		if (av[0] == AT_ENTRY) {
			*entry = av[1];
			ret = 0;
			break;
		}
	}
	close(fd);
	return ret;
}

/* Run to the entry point with a temporary int3; the process is single-threaded here. */
static int run_to_entry(pid_t pid, char *err, size_t errlen)
{
	struct user_regs_struct regs;
	unsigned long entry = 0, orig;
	int status, sig = 0;

	if (entry_point(pid, &entry)) {
		snprintf(err, errlen, "cannot find the entry point of PID %d", pid);
		return -ENOENT;
	}
	errno = 0;
	orig = ptrace(PTRACE_PEEKTEXT, pid, (void *)entry, NULL);
	if (errno || ptrace(PTRACE_POKETEXT, pid, (void *)entry, (void *)((orig & ~0xffUL) | INT3)))
		goto fail;
	for (;;) {
		if (ptrace(PTRACE_CONT, pid, NULL, (void *)(long)sig) || waitpid(pid, &status, 0) < 0)
			goto fail;
		if (!WIFSTOPPED(status)) {
			snprintf(err, errlen, "the command exited before Python started");
			return -ECHILD;
		}
		sig = WSTOPSIG(status);
		if (sig != SIGTRAP)
			continue;
		if (ptrace(PTRACE_GETREGS, pid, NULL, &regs))
			goto fail;
		if (regs.rip == entry + 1)
			break;
		sig = 0;
	}
	regs.rip = entry;
	if (ptrace(PTRACE_POKETEXT, pid, (void *)entry, (void *)orig) ||
	    ptrace(PTRACE_SETREGS, pid, NULL, &regs))
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "ptrace on PID %d failed: %s", pid, strerror(errno));
	return -errno;
}

/* Follow execs until the image is Python. */
static int wait_for_python(pid_t pid, char *err, size_t errlen)
{
	char exe[64];
	int status, sig = 0;

	snprintf(exe, sizeof(exe), "/proc/%d/exe", pid);
	for (;;) {
		if (ptrace(PTRACE_CONT, pid, NULL, (void *)(long)sig) || waitpid(pid, &status, 0) < 0)
			return -errno;
		if (!WIFSTOPPED(status))
			return -ECHILD;
		sig = WSTOPSIG(status);
		if (status >> 8 != (SIGTRAP | (PTRACE_EVENT_EXEC << 8))) {
			if (sig == SIGTRAP)
				sig = 0;
			continue;
		}
		sig = 0;
		/* the link itself: its target is another path in a chroot or container */
		if (pytarget_exe_is_python(exe))
			return run_to_entry(pid, err, errlen);
	}
}

int launch_start(char *const argv[], pid_t *out, char *err, size_t errlen)
{
	int fds[2], status, e, ret;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		goto out;
	}
	if (pid == 0) {
		close(fds[0]);
		child_exec(argv, fds[1]);
	}
	close(fds[1]);
	fds[1] = -1;
	if (waitpid(pid, &status, 0) < 0 || !WIFSTOPPED(status) ||
	    ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)(PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL))) {
		snprintf(err, errlen, "cannot trace the command: %s", strerror(errno));
		ret = -EPERM;
		goto kill;
	}
	ret = wait_for_python(pid, err, errlen);
	if (ret == -ECHILD && read(fds[0], &e, sizeof(e)) == sizeof(e)) {
		snprintf(err, errlen, "cannot run %s: %s", argv[0], strerror(e));
		ret = -e;
	} else if (ret == -ECHILD && !err[0]) {
		snprintf(err, errlen, "%s exited without starting Python", argv[0]);
	} else if (ret && !err[0]) {
		snprintf(err, errlen, "cannot follow %s: %s", argv[0], strerror(-ret));
	}
	if (ret)
		goto kill;
	*out = pid;
	goto out;
kill:
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
out:
	close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	return ret;
}

int launch_release_stopped(pid_t pid)
{
	return ptrace(PTRACE_DETACH, pid, NULL, (void *)(long)SIGSTOP) ? -errno : 0;
}
