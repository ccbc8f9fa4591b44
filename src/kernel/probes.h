/* SPDX-License-Identifier: GPL-2.0 */
/* The BPF object's lifecycle: open, configure, load, attach, destroy. */
#ifndef PYMEM_PROBES_H
#define PYMEM_PROBES_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "pymem.h"
#include "pytarget.h"
#include "trampoline.h"

struct probes;

struct probes_opts {
	uint32_t max_live;	/* live-allocation map size */
	uint32_t max_stacks;	/* stack and counter map size */
	bool verbose;
	bool uprobe_multi;	/* attach with uprobe_multi links (kfeatures) */
};

/*
 * Load the BPF object for target t, attaching nothing.  0, or -errno with
 * the reason printed (a verifier's refusal in one line).
 */
int probes_load(const struct pytarget *t, const struct probes_opts *o, struct probes **out);
/* probes_load(), then attach libc's allocator and mmap probes. */
int probes_start(const struct pytarget *t, const struct probes_opts *o, struct probes **out);
/* The interpreter's allocator functions, by symbol (misses LTO's inlined fast path). */
int probes_attach_python(struct probes *p, const struct pytarget *t);
/* The nop5 probe points of trampolines in the file at path (a memfd of the target's). */
int probes_attach_tramp(struct probes *p, pid_t pid, const char *path,
			const struct tramp_image *img);
/* Where pid's trampolines batch their events, once the tables point at them. */
void probes_batch_at(struct probes *p, pid_t pid, uint64_t addr);
/*
 * Account the batched events the target made since the last probe hit
 * (see trampoline.h), before the maps are read.  0, or -errno (the
 * target is gone).
 */
int probes_drain_batch(const struct probes *p);
void probes_stop(struct probes *p);
/* Sampled mode: the interval the BPF side weighs each sample with (0: exact). */
void probes_sample_interval(struct probes *p, uint64_t interval);
/* Have the kernel count the programs' run time (BPF_ENABLE_STATS) while p lives; 0 or -errno. */
int probes_count_run_time(struct probes *p);
/* The time the target's probes have run so far, in ns (userspace's drain left out). */
int probes_run_time(const struct probes *p, uint64_t *ns);
/* Each program's verifier statistics (instructions, stack), and the load time. */
void probes_print_verifier(const struct probes *p, FILE *out);

int probes_stats_fd(const struct probes *p);
/* The live-block table (struct live_bucket by index) and its spill map (spill_key -> live_slot). */
int probes_live_fd(const struct probes *p);
int probes_spill_fd(const struct probes *p);
/* Blocks ever put in the spill map (none: it is empty). */
uint64_t probes_spilled(const struct probes *p);
/* Ring buffer of news_stack, news_code and news_table records, in the order they were met. */
int probes_news_fd(const struct probes *p);
/* Is gen still the incarnation of the code object at code?  (Never, once it died.) */
bool probes_code_current(const struct probes *p, uint64_t code, uint32_t gen);
/* No free of a Python object can bypass the probes now: number code objects' incarnations. */
void probes_every_free_seen(struct probes *p);
/* The high-water mark of live bytes, and its generation. */
int probes_peak(const struct probes *p, struct peak_state *out);
/* Sum the per-CPU drop counters. */
void probes_drops(const struct probes *p, uint64_t out[DROP__MAX]);
/* Name of the function behind a site, and the DSO it was attached in. */
const char *probes_site_name(enum pymem_site site);
const char *probes_site_dso(const struct probes *p, enum pymem_site site);

#endif
