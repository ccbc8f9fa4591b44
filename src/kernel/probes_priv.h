/* SPDX-License-Identifier: GPL-2.0 */
/* The loaded object as probes.c and probe_target.c share it. */
#ifndef PYMEM_PROBES_PRIV_H
#define PYMEM_PROBES_PRIV_H

#include <stdbool.h>
#include <stddef.h>
/* the skeleton names the shared structs: theirs first */
#include "probes.h"
#include "pymem.skel.h"

struct probes {
	struct pymem_bpf *skel;
	bool multi;			/* the kernel has uprobe_multi links */
	bool verbose;
	char *logs;			/* each program's verifier log */
	double load_ms;
	uint32_t max_targets;
	bool *used;			/* slots of targets taken */
	/*
	 * The small maps userspace writes in place, mapped for good; the live
	 * table and the code cache only while a target's entries are freed
	 * (mapped, their pages count in the agent's RSS).
	 */
	struct pymem_target *targets;
	uint32_t *code_filter;
	uint32_t live_buckets;
	int stats_fd;			/* keeps the kernel counting run time, or -1 */
};

/* A map userspace writes in place, mapped whole; NULL on failure (errno set) */
void *probes_map_whole(struct bpf_map *m);
void probes_unmap_whole(void *at, struct bpf_map *m);

#endif
