/* SPDX-License-Identifier: GPL-2.0 */
/* Records shared by bpf/pymem.bpf.c and the userspace loader. */
#ifndef PYMEM_PYMEM_H
#define PYMEM_PYMEM_H

#ifdef __BPF__
#include "vmlinux.h"
#else
#include <linux/types.h>
#endif

#define PYMEM_MAX_FRAMES	128
#define PYMEM_MAX_NEST		4
#define PYMEM_MAX_THREADS	256	/* tstates walked to find the current one */
/* The walker reads a frame's first FRAME_CHUNK bytes, and the PyThreadState fields it needs, at once. */
#define PYMEM_FRAME_CHUNK	128
#define PYMEM_TSTATE_SPAN	512

/* Allocator entry points; the id is the uprobe's bpf cookie (low byte). */
enum pymem_site {
	SITE_PYOBJECT_MALLOC,
	SITE_PYOBJECT_CALLOC,
	SITE_PYOBJECT_REALLOC,
	SITE_PYOBJECT_FREE,
	SITE_PYMEM_MALLOC,
	SITE_PYMEM_CALLOC,
	SITE_PYMEM_REALLOC,
	SITE_PYMEM_FREE,
	SITE_PYMEM_RAW_MALLOC,
	SITE_PYMEM_RAW_CALLOC,
	SITE_PYMEM_RAW_REALLOC,
	SITE_PYMEM_RAW_FREE,
	SITE_MALLOC,
	SITE_CALLOC,
	SITE_REALLOC,
	SITE_FREE,
	SITE_POSIX_MEMALIGN,
	SITE_ALIGNED_ALLOC,
	SITE_MEMALIGN,
	SITE_VALLOC,
	SITE_MMAP,
	SITE_MUNMAP,
	SITE__MAX,
};

/* How an allocation entry point passes its size and result (cookie bits 8+). */
enum pymem_call_kind {
	CALL_MALLOC,		/* (size) -> ptr */
	CALL_CALLOC,		/* (n, size) -> ptr */
	CALL_REALLOC,		/* (ptr, size) -> ptr */
	CALL_ALIGNED,		/* (align, size) -> ptr */
	CALL_POSIX_MEMALIGN,	/* (ptr *, align, size) -> int */
	CALL_FREE,		/* (ptr) */
	CALL_IGNORED,		/* in flight but not an allocation (e.g. a file mmap) */
};

#define PYMEM_COOKIE(site, kind)	((__u64)(site) | ((__u64)(kind) << 8))
#define PYMEM_COOKIE_SITE(c)		((__u32)((c) & 0xff))
#define PYMEM_COOKIE_KIND(c)		((__u32)(((c) >> 8) & 0xff))

enum pymem_drop {
	DROP_LIVE_FULL,		/* live-allocation map full: block not tracked */
	DROP_STACKS_FULL,	/* stack map full: event not attributed */
	DROP_STATS_FULL,	/* per-stack counter map full */
	DROP_STACK_READ,	/* a frame could not be read: stack cut short */
	DROP_STACK_TRUNCATED,	/* deeper than PYMEM_MAX_FRAMES */
	DROP_NEST_OVERFLOW,	/* nesting deeper than PYMEM_MAX_NEST */
	DROP_MISSED_ENTRY,	/* return seen without its entry */
	DROP_MISSED_FREE,	/* address allocated again before its free was seen */
	DROP_UNKNOWN_FREE,	/* free of a block not allocated in the session */
	DROP_UNSYMBOLIZED,	/* userspace: a code object was gone before it was read */
	DROP__MAX,
};

/* Stack ids 0 and 1 are reserved: no stack, and "stack map full". */
#define STACK_ID_NONE		0
#define STACK_ID_MAP_FULL	1

/* Stack flags */
#define STACK_F_READ_ERROR	0x1
#define STACK_F_TRUNCATED	0x2
#define STACK_F_NO_THREAD	0x4	/* no Python thread state for this thread */

struct py_frame {
	__u64 code;		/* PyCodeObject * in the target */
	__u32 lasti;		/* f_lasti (<=3.10) or code-unit index (3.11+) */
	__s32 firstlineno;	/* read with the frame: validates a cached code object */
};

/* Deduplicated stack; frames[0] is the leaf. */
struct stack_rec {
	__u32 pid;
	__u32 nframes;
	__u32 site;
	__u32 flags;
	__u64 native_ip;	/* return address of the allocation call */
	struct py_frame frames[PYMEM_MAX_FRAMES];
};

struct live_key {
	__u32 pid;
	__u32 pad;
	__u64 addr;
};

struct live_val {
	__u64 size;
	__u64 stack_id;
	__u64 ts;
};

#define PYMEM_LIFETIME_BUCKETS	32	/* log2 of microseconds from alloc to free */

struct stack_stats {
	__u64 alloc_bytes;
	__u64 alloc_objects;
	__u64 free_bytes;
	__u64 free_objects;
	/* bytes freed within 1 ms, 100 ms and 1 s of their allocation */
	__u64 freed_within[3];
	/* bytes freed, by lifetime: bucket b holds [2^(b-1), 2^b) us, 0 holds < 1 us */
	__u64 lifetime_bytes[PYMEM_LIFETIME_BUCKETS];
	/* live bytes as they were at the session's peak (see struct peak_state) */
	__s64 live_bytes;	/* tracked blocks only: a block the live map */
	__s64 live_objects;	/* could not hold is allocated, never live */
	__s64 peak_snap;
	__u64 peak_gen;
};

/*
 * High-water mark of the live bytes of all stacks.  gen moves on with each
 * new peak; a stack touched after it first saves its live bytes in
 * peak_snap, so its value at the peak survives without copying all stacks.
 */
struct peak_state {
	__s64 live;
	__u64 peak;
	__u64 gen;
	__u64 peak_ns;
};

#endif /* PYMEM_PYMEM_H */
