/* SPDX-License-Identifier: GPL-2.0 */
/* Parsed /proc/PID/maps: which file backs an address, and where a DSO was loaded. */
#ifndef PYMEM_PROC_MAPS_H
#define PYMEM_PROC_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct proc_map {
	uint64_t start, end, offset;
	uint64_t inode;
	unsigned int dev_major, dev_minor;
	char perms[5];		/* "r-xp" */
	char *path;		/* NULL for anonymous; " (deleted)" is stripped */
	bool deleted;		/* the kernel said " (deleted)" */
	bool pseudo;		/* "[heap]", "[vdso]", "anon_inode:..": a name, not a file */
};

struct proc_maps {
	struct proc_map *v;	/* sorted by start */
	size_t n;
};

/*
 * Reads /proc/PID/maps (pid 0: this process), every path as the process
 * itself sees it (see proc_maps_target_path()). Returns 0, -ENOENT or -ESRCH
 * when the process is gone (an empty map, as a zombie has, is -ESRCH), or
 * another negative errno.
 */
int proc_maps_read(int pid, struct proc_maps *m);

/* /proc/PID/NAME's target, NUL-terminated in out ("" if unreadable): its length, or -errno */
ssize_t proc_readlink(int pid, const char *name, char *out, size_t len);
/*
 * The kernel names a process's files (in /proc/PID/maps, /proc/PID/exe) by
 * the reader's path to them where the reader can reach them: a process
 * chrooted below our root shows our path, its root's path in front of its
 * own.  Makes @path the process's own, in place.  (A container in a mount
 * namespace of its own is shown with its own paths already.)
 */
void proc_maps_target_path(int pid, char *path);
/* Parses maps text from @f; -EINVAL on a malformed line. */
int proc_maps_parse(FILE *f, struct proc_maps *m);
void proc_maps_free(struct proc_maps *m);

/* The mapping containing @addr, or NULL. */
const struct proc_map *proc_maps_find(const struct proc_maps *m, uint64_t addr);

/*
 * Runtime address minus ELF vaddr for the file mapped at @path: the
 * lowest-addressed mapping of that path with file offset 0, minus
 * @first_load_vaddr (see elf_syms_first_load_vaddr()). -ENOENT if not mapped.
 */
int proc_maps_load_bias(const struct proc_maps *m, const char *path, uint64_t first_load_vaddr,
			uint64_t *bias);

/* First mapping of a file (pseudo names skipped) whose path @match accepts, or NULL. */
const struct proc_map *proc_maps_find_path(const struct proc_maps *m,
					   bool (*match)(const char *path, void *arg), void *arg);

#endif /* PYMEM_PROC_MAPS_H */
