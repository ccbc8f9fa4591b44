/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reads of a stopped process's memory through a cache of 64 KiB chunks.
 * A heap walk follows millions of pointers; one process_vm_readv per
 * pointer costs a syscall each, while Python's objects sit packed in
 * arenas, so a chunk read once serves every object in it.
 */
#ifndef PYMEM_RCACHE_H
#define PYMEM_RCACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct rcache;

struct rcache *rcache_new(pid_t pid);
void rcache_free(struct rcache *c);

/*
 * Copy every writable mapping of the stopped process now, if they come to
 * budget bytes at most (else -E2BIG, and the cache reads on as before).
 * From then on the process may run: the cache answers from the copy, and
 * a miss is read only where a mapping was not writable (its bytes cannot
 * have changed since).  0 or -errno.
 */
int rcache_snapshot(struct rcache *c, uint64_t budget);

/* Copy len bytes at addr; 0, or -EFAULT when any of them is not mapped. */
int rcache_read(struct rcache *c, uint64_t addr, void *buf, size_t len);
/*
 * Where len bytes at addr (within one page) already are in the cache, or
 * NULL: reads nothing, for prefetching.
 */
const void *rcache_peek(struct rcache *c, uint64_t addr, size_t len);
/* One pointer-sized word at addr; 0 when unreadable. */
uint64_t rcache_word(struct rcache *c, uint64_t addr);

/* Chunks read so far, and the bytes they held. */
void rcache_stats(const struct rcache *c, uint64_t *chunks, uint64_t *bytes);

#endif
