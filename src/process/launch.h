/* SPDX-License-Identifier: GPL-2.0 */
/* Launch mode: start a command and hold it at its entry point until the probes are live. */
#ifndef PYMEM_LAUNCH_H
#define PYMEM_LAUNCH_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Start argv[0] and follow its execs (shells, pyenv shims) until the image
 * is a Python interpreter, then stop it at its ELF entry point, after the
 * dynamic loader mapped libpython and libc but before any Python code ran.
 * On success *pid is stopped under ptrace: launch_release_stopped() lets it
 * run on to its entry point, SIGCONT then starts it.
 */
int launch_start(char *const argv[], pid_t *pid, char *err, size_t errlen);
/*
 * Stop tracing the child but leave it stopped (SIGSTOP), so that other
 * tracers can take it over; SIGCONT lets it run.
 */
int launch_release_stopped(pid_t pid);

#endif
