/* SPDX-License-Identifier: GPL-2.0 */
/* The CPU time a process has used, from /proc/PID/stat. */
#ifndef PYMEM_PROC_CPU_H
#define PYMEM_PROC_CPU_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * utime + stime of the text of /proc/PID/stat (len bytes, not
 * NUL-terminated), in clock ticks; 0, or -EINVAL.  The command name may
 * hold spaces and parentheses: the fields follow its last ')'.
 */
int proc_cpu_parse(const char *text, size_t len, uint64_t *ticks);

/* Its CPU time (user and system, all threads) in ns; 0 or -errno. */
int proc_cpu_read(pid_t pid, uint64_t *ns);

#endif
