/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A process's resident memory as the kernel counts it, from
 * /proc/PID/smaps_rollup: RSS, and PSS (each shared page divided among the
 * processes that map it), which is what a fleet pays for.
 */
#ifndef PYMEM_PROC_MEM_H
#define PYMEM_PROC_MEM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct proc_mem {
	uint64_t rss_bytes;
	uint64_t pss_bytes;
	uint64_t anon_bytes;	/* Anonymous: the heap side of RSS */
	uint64_t swap_bytes;
};

/* Parse the text of smaps_rollup (len bytes, not NUL-terminated); 0, or -EINVAL without Rss and Pss. */
int proc_mem_parse(const char *text, size_t len, struct proc_mem *out);

/* Read /proc/PID/smaps_rollup (pid 0: this process); 0 or -errno. */
int proc_mem_read(pid_t pid, struct proc_mem *out);

#endif
