/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The BPF object's lifecycle: loaded once (probes_load), it serves every
 * process profiled; each process is a target of it (probes_target_open):
 * a slot of configuration, its own probes, and its entries in the shared
 * maps, all freed when it leaves (probes_target_close).
 */
#ifndef PYMEM_PROBES_H
#define PYMEM_PROBES_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include "pymem.h"
#include "pytarget.h"
#include "trampoline.h"

struct probes;
struct probe_target;

struct probes_opts {
	uint32_t max_live;	/* live blocks of all targets together */
	uint32_t max_stacks;	/* stacks (and counters) of all targets together */
	uint32_t max_targets;	/* processes served at once (0: 1) */
	uint32_t max_codes;	/* code objects met (0: PYMEM_MAX_CODES) */
	uint32_t news_bytes;	/* the news ring (0: the object's 16 MiB) */
	bool verbose;
	bool uprobe_multi;	/* attach with uprobe_multi links (kfeatures) */
};

/* Load the BPF object, serving no process yet.  0, or -errno with the reason printed. */
int probes_load(const struct probes_opts *o, struct probes **out);
void probes_stop(struct probes *p);
/* Each program's verifier statistics (instructions, stack), and the load time. */
void probes_print_verifier(const struct probes *p, FILE *out);
/* Bytes of kernel memory each map takes (bpf_map_info's memlock where the kernel tells it) */
uint64_t probes_map_bytes(const struct probes *p);

/* Counters per (pid, stack id) of every target: struct pid_key -> struct stack_stats */
int probes_stats_fd(const struct probes *p);
/* fn on every (pid, stack) counter, in batches; stops at fn's first nonzero return, its value */
int probes_stats_each(const struct probes *p,
		      int (*fn)(void *arg, const struct pid_key *k, const struct stack_stats *s),
		      void *arg);
/* Ring buffer of news_stack, news_code and news_table records of every target, in order met. */
int probes_news_fd(const struct probes *p);
/* The live-block table (struct live_bucket by index) and its spill map (pid_key -> live_slot). */
int probes_live_fd(const struct probes *p);
int probes_spill_fd(const struct probes *p);
/* Blocks ever put in the spill map (none: it is empty). */
uint64_t probes_spilled(const struct probes *p);
/* Have the kernel count the programs' run time (BPF_ENABLE_STATS) while p lives; 0 or -errno. */
int probes_count_run_time(struct probes *p);
/*
 * The time the probes of every target have run so far, in ns (userspace's
 * drain left out): one target's when the object serves one.
 */
int probes_run_time(const struct probes *p, uint64_t *ns);

/*
 * Serve target t: its slot, and libc's allocator and mmap probes in it,
 * unless it is sampled (sample_interval bytes, 0: exact): each libc probe
 * would cost a trap per event.  0, or -errno with the reason printed
 * (-ENOSPC: every slot is taken).
 */
int probes_target_open(struct probes *p, const struct pytarget *t, uint64_t sample_interval,
		       struct probe_target **out);
/* Sampled mode: the interval the BPF side weighs the target's samples with from now on. */
void probes_sample_interval(struct probe_target *pt, uint64_t interval);
/* Detach its probes and free its slot and every entry it has in the maps. */
void probes_target_close(struct probe_target *pt);
struct probes *probes_of(const struct probe_target *pt);
pid_t probes_target_pid(const struct probe_target *pt);
/* The interpreter's allocator functions, by symbol (misses LTO's inlined fast path). */
int probes_attach_python(struct probe_target *pt, const struct pytarget *t);
/* The nop5 probe points of trampolines in the file at path (a memfd of the target's). */
int probes_attach_tramp(struct probe_target *pt, const char *path,
			const struct tramp_image *img);
/* Where the target's trampolines batch their events, once the tables point at them. */
void probes_batch_at(struct probe_target *pt, uint64_t addr);
/*
 * Sampled mode: has the target's dlopen returned since the last call (and
 * is that seen at all: false when its libc has no dlopen, as before glibc
 * 2.34, whose libdl holds it)?
 */
bool probes_take_loaded(struct probe_target *pt);
bool probes_sees_dlopen(const struct probe_target *pt);
/*
 * Account the batched events the target made since the last probe hit
 * (see trampoline.h), before the maps are read.  0, or -errno (the
 * target is gone).
 */
int probes_drain_batch(const struct probe_target *pt);
/* Is gen still the incarnation of the target's code object at code?  (Never, once it died.) */
bool probes_code_current(const struct probe_target *pt, uint64_t code, uint32_t gen);
/* No free of a Python object can bypass the probes now: number code objects' incarnations. */
void probes_every_free_seen(struct probe_target *pt);
/* The target's high-water mark of live bytes, and its generation. */
void probes_peak(const struct probe_target *pt, struct peak_state *out);
/* The target's drop counters. */
void probes_drops(const struct probe_target *pt, uint64_t out[DROP__MAX]);
/* How many of the target's allocations had their Python stack walked (struct pymem_target) */
uint64_t probes_stack_walks(const struct probe_target *pt);
/* Name of the function behind a site, and the DSO it was attached in. */
const char *probes_site_name(enum pymem_site site);
const char *probes_site_dso(const struct probe_target *pt, enum pymem_site site);

#endif
