/* SPDX-License-Identifier: GPL-2.0 */
/* The in-memory profile every output writer reads. */
#ifndef PYMEM_PROFILE_H
#define PYMEM_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "cgroup_id.h"
#include "pymem.h"

enum pm_frame_kind {
	PM_FRAME_PYTHON,
	PM_FRAME_NATIVE,
};

struct pm_frame {
	enum pm_frame_kind kind;
	char *function;		/* Python function, or native symbol */
	char *file;		/* Python file, or DSO basename for native frames */
	int line;		/* 0 for native frames */
};

/* Thresholds of freed_within[], in the order of struct stack_stats. */
#define PM_FREED_WITHIN_MS { 1, 100, 1000 }

struct pm_counts {
	uint64_t alloc_bytes;
	uint64_t alloc_objects;
	uint64_t free_bytes;
	uint64_t free_objects;
	uint64_t live_bytes;
	uint64_t live_objects;
	uint64_t peak_bytes;		/* live bytes at the session's peak */
	uint64_t freed_within[3];	/* bytes freed within 1 ms, 100 ms, 1 s */
	uint64_t lifetime_bytes[PYMEM_LIFETIME_BUCKETS];
};

/*
 * What changed over the interval just ended (tables printed every -i
 * SECONDS): rates are measured over it, not since attach.
 */
struct pm_delta {
	uint64_t alloc_bytes;
	uint64_t alloc_objects;
	int64_t live_bytes;		/* growth; negative when more was freed */
};

/* One point of a stack's time series: its counters at t, from the session start. */
struct pm_point {
	double t;
	uint64_t alloc_bytes;		/* allocated since attach, up to t */
	uint64_t live_bytes;		/* live at t */
};

/* One step of a retention path: how an object is reached from the one before (holders.h). */
struct pm_hold_step {
	char *kind;		/* "module", "attr", "key", "index", "local", "cell", "slot", "class" */
	char *name;
	char *function;		/* a local's function; NULL otherwise */
	uint64_t thread;	/* a local's thread (native id from 3.11, else pthread id) */
};

/* A stack's live blocks that one retention path holds, root first. */
struct pm_holder {
	size_t nsteps;		/* 0: not reached from any root */
	struct pm_hold_step *steps;
	char *type;		/* the holding object's type */
	uint64_t objects;
	uint64_t bytes;
};

struct pm_heap_type {
	char *type;
	uint64_t objects;
	uint64_t bytes;
	uint64_t address;	/* an example object (opaque containers only) */
};

/* A pymalloc size class: its pools and their blocks. */
struct pm_pool_class {
	uint32_t size;
	uint64_t pools, used_blocks, free_blocks;
};

/* The live heap read with the target stopped, at the session's end (--holders). */
struct pm_heap {
	double paused_ms;
	bool partial;			/* --max-pause cut the walk short */
	uint64_t objects_walked;
	size_t ntypes;
	struct pm_heap_type *types;	/* live blocks by type, most bytes first */
	size_t nopaque;
	struct pm_heap_type *opaque;	/* containers met whose layout is not known: not walked */
	char *pymalloc;			/* why pymalloc's arenas are not reported; NULL: they are */
	uint64_t arenas, arena_bytes, pool_size, empty_pools;
	size_t nclasses;
	struct pm_pool_class *classes;	/* the classes with pools in use */
	uint64_t rss_bytes, pss_bytes;
};

struct pm_stack {
	size_t nframes;
	struct pm_frame *frames;	/* root first, leaf last */
	struct pm_counts c;
	struct pm_delta d;		/* over the profile's interval_s, if any */
	size_t npoints;
	struct pm_point *series;	/* by t; NULL when the stack has none */
	size_t nholders;
	struct pm_holder *holders;	/* --holders: most bytes first */
};

/* How the series were bounded (see interval.h); zeroed when there are none. */
struct pm_series_info {
	double step_s;			/* time between points */
	uint32_t max_points;		/* points a series keeps at most */
	uint32_t max_stacks;		/* stacks given a point at each step, at most */
};

struct pm_index;

/*
 * A zeroed struct is an empty profile.  The profile owns executable,
 * libpython and every stack; pm_profile_free() releases them.
 */
struct pm_profile {
	int pid;
	char version[32];		/* "3.11.7" */
	char *executable;
	char *libpython;		/* NULL for a static interpreter */
	struct cgroup_id container;	/* its container and pod; "" on the host */
	double start_time;		/* attach, in seconds since the epoch; 0 unknown */
	double duration_s;
	bool target_exited;
	double interval_s;		/* > 0: stacks' d covers the last interval_s */
	/*
	 * Sampled mode: one allocation per sample_interval bytes on average was
	 * seen, and every count is an estimate scaled from those (0: exact).
	 */
	uint64_t sample_interval;
	/*
	 * --max-overhead: the share of the target's CPU time the interval was
	 * adapted to (sample_interval is the last in force; each sample is
	 * weighed with its own).  0: the interval was fixed.
	 */
	double max_overhead;
	/*
	 * Sampled mode: the libraries whose calls of libc's malloc family are
	 * seen (their GOT entries redirected), and the entries left alone, bound
	 * to another allocator, whose calls are not.
	 */
	struct {
		uint32_t libraries, entries, foreign;
	} libs;
	struct pm_counts totals;
	struct pm_delta dtotals;	/* sum of the stacks' d */
	struct pm_series_info series;
	uint64_t peak_live_bytes;	/* high-water mark of total live bytes */
	double peak_time_s;		/* when it was reached, from the session start */
	uint64_t dropped[DROP__MAX];
	/*
	 * Allocations whose stack the BPF side walked; the others' stack was
	 * named by a hash the trampolines made (the cheap way)
	 */
	uint64_t stack_walks;
	size_t nstacks;
	size_t cap;
	struct pm_stack *stacks;
	struct pm_heap *heap;		/* --holders; NULL without */
	struct pm_index *index;		/* private to profile.c: merge lookup */
};

enum pm_view {
	PM_VIEW_LIVE_BYTES,
	PM_VIEW_LIVE_OBJECTS,
	PM_VIEW_ALLOC_BYTES,
	PM_VIEW_ALLOC_OBJECTS,
	PM_VIEW_PEAK_BYTES,
};

const char *pm_drop_name(enum pymem_drop d);
/* The nonzero drops as name=value, lead before the first, sep between; returns how many. */
size_t pm_drops_print(FILE *f, const struct pm_profile *p, const char *lead, const char *sep);
/* "<prefix>dropped: name=value ..." or "<prefix>dropped: none", and a newline */
void pm_drops_line(FILE *f, const struct pm_profile *p, const char *prefix);
int pm_view_parse(const char *s, enum pm_view *view);
uint64_t pm_view_value(const struct pm_counts *c, enum pm_view view);
/* dst += c, every counter. */
void pm_counts_add(struct pm_counts *dst, const struct pm_counts *c);

/*
 * Add a symbolized stack; frames are copied (a NULL name is stored as "").
 * A stack whose frames equal an existing one's is merged into it.  Totals
 * are left alone: call pm_profile_sum() when done.
 */
int pm_profile_add(struct pm_profile *p, const struct pm_frame *frames,
		   size_t nframes, const struct pm_counts *c);
/*
 * pm_profile_add() of @s's counters under @frames, with its interval delta
 * and its series.  Two series merge into the points at the times both
 * have (summed), as a point known for only one part is not known whole.
 */
int pm_profile_add_stack(struct pm_profile *p, const struct pm_frame *frames,
			 size_t nframes, const struct pm_stack *s);
/* The stack with exactly these frames, or NULL. */
struct pm_stack *pm_profile_find(struct pm_profile *p, const struct pm_frame *frames,
				 size_t nframes);
/* "function (file:line)", "symbol [dso]" or "symbol"; malloc'd, NULL without memory. */
char *pm_frame_label(const struct pm_frame *fr);
/* Recompute totals from the stacks. */
void pm_profile_sum(struct pm_profile *p);
/*
 * Order of two stacks for a view: larger value first, then the other
 * counters, then the frames, so that equal values still sort the same way
 * on every run.  qsort-style result.
 */
int pm_stack_cmp(const struct pm_stack *a, const struct pm_stack *b, enum pm_view view);
/* Sort stacks by a view, largest first. */
void pm_profile_sort(struct pm_profile *p, enum pm_view view);
/*
 * Pointers to @p's stacks, largest @key first (ties as pm_stack_cmp() by
 * live bytes orders them), leaving @p as it is.  malloc'd; NULL without memory.
 */
const struct pm_stack **pm_profile_order_by(const struct pm_profile *p,
					    uint64_t (*key)(const struct pm_stack *s));
void pm_profile_free(struct pm_profile *p);

/* profile_holders.c */
/* Add src's holders to dst's, one entry per path and type. 0 or -ENOMEM. */
int pm_holders_merge(struct pm_stack *dst, const struct pm_stack *src);
/* Most bytes first, at most max kept: the rest become one entry with no path and type "(other paths)". */
void pm_holders_trim(struct pm_stack *s, size_t max);
void pm_holders_free(struct pm_stack *s);
void pm_holder_free(struct pm_holder *h);
void pm_heap_free(struct pm_heap *h);
/* "module __main__ . cache [*]": a holder's path as one line; malloc'd, NULL without memory. */
char *pm_holder_path(const struct pm_holder *h);

#endif /* PYMEM_PROFILE_H */
