/* SPDX-License-Identifier: GPL-2.0 */
/*
 * uprobe_multi links (kernel 6.6+): many probe points in one link, so that
 * detaching waits for one RCU grace period instead of one per probe (each
 * took ~120 ms here, seconds in all).  libbpf 1.1 predates them.
 */
#ifndef PYMEM_UPROBE_MULTI_H
#define PYMEM_UPROBE_MULTI_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* The attach type a program must be loaded with to be used here. */
#define UPROBE_MULTI_ATTACH_TYPE 48	/* BPF_TRACE_UPROBE_MULTI */

/* One link for prog at cnt offsets of path in pid; the link's fd, or -errno. */
int uprobe_multi_attach(int prog_fd, const char *path, const uint64_t *offsets,
			const uint64_t *cookies, uint32_t cnt, bool retprobe, pid_t pid);

#endif
