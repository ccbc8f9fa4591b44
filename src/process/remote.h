/* SPDX-License-Identifier: GPL-2.0 */
/* Reading (and writing) another process's memory. */
#ifndef PYMEM_REMOTE_H
#define PYMEM_REMOTE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Read exactly len bytes at addr in pid; 0 or -errno (-EFAULT on a short read). */
int remote_read(pid_t pid, uint64_t addr, void *buf, size_t len);
/* Write exactly len bytes at addr in pid, which keeps running; 0 or -errno. */
int remote_write(pid_t pid, uint64_t addr, const void *buf, size_t len);

#endif
