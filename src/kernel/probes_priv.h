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
	/* the maps userspace writes in place, mapped */
	struct pymem_target *targets;
	struct live_bucket *live;
	uint32_t live_buckets;
	uint64_t *code_cache;
	uint32_t *code_filter;
};

#endif
