/* SPDX-License-Identifier: GPL-2.0 */
/* Records shared by bpf/pymem.bpf.c and the userspace loader. */
#ifndef PYMEM_PYMEM_H
#define PYMEM_PYMEM_H

#ifdef __BPF__
#include "vmlinux.h"
#else
#include <linux/types.h>
#endif
#include "py_offsets.h"

#define PYMEM_MAX_FRAMES	128
#define PYMEM_MAX_NEST		4
#define PYMEM_MAX_THREADS	256	/* tstates walked to find the current one */
/* The walker reads a frame's first FRAME_CHUNK bytes, and the PyThreadState fields it needs, at once. */
#define PYMEM_FRAME_CHUNK	128
#define PYMEM_TSTATE_SPAN	512
#define PYMEM_MAX_CODES		65536	/* code objects met in stacks and still alive */

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
	DROP_LIVE_FULL,		/* live table and its spill map full: block not tracked */
	DROP_STACKS_FULL,	/* stack map full: event not attributed */
	DROP_STATS_FULL,	/* per-stack counter map full */
	DROP_STACK_READ,	/* a frame (or the walker's state) was not had: stack cut short */
	DROP_STACK_TRUNCATED,	/* deeper than PYMEM_MAX_FRAMES */
	DROP_NEST_OVERFLOW,	/* nesting deeper than PYMEM_MAX_NEST */
	DROP_MISSED_ENTRY,	/* return seen without its entry */
	DROP_MISSED_FREE,	/* address allocated again before its free was seen */
	DROP_UNKNOWN_FREE,	/* free of a block not allocated in the session */
	DROP_UNSYMBOLIZED,	/* userspace: a code object was gone before it was read */
	DROP_CODES_FULL,	/* code object map full: a frame's code not told from a dead one's */
	DROP_STACK_LOST,	/* userspace: allocations whose stack never reached it (ring full) */
	DROP_BATCH_LOST,	/* batched events overwritten before they were accounted */
	DROP_STACK_UNREGISTERED,	/* batched allocation whose stack hash had no stack */
	DROP__MAX,
};

/*
 * A stack's id is a hash with bit 1 set.  Reserved, with bit 1 clear: 1,
 * "stack map full"; and per allocator site, the events whose stack is not
 * known (its walk failed, or a batched event's hash was never learnt).
 */
#define STACK_ID_MAP_FULL	1
#define STACK_ID_UNKNOWN(site)	(((__u64)(site) + 1) << 2)
#define STACK_ID_IS_UNKNOWN(id)	(!((id) & 2) && (id) >= 4)
#define STACK_ID_SITE(id)	((__u32)((id) >> 2) - 1)

/* Stack flags */
#define STACK_F_READ_ERROR	0x1
#define STACK_F_TRUNCATED	0x2
#define STACK_F_NO_THREAD	0x4	/* no Python thread state for this thread */

struct py_frame {
	__u64 code;		/* PyCodeObject * in the target */
	__u32 lasti;		/* f_lasti (<=3.10) or code-unit index (3.11+) */
	/*
	 * Which code object lived at that address: numbered when a walk first
	 * meets it, forgotten when its free is seen.  0: unknown (not every
	 * free is seen, or the code map is full).
	 */
	__u32 gen;
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

/*
 * Map "code_filter": how many of the codes entries hash to each slot, and
 * the slot of process pid's code object at code (both sides count).
 */
#define CODE_FILTER_BITS	15
#define CODE_FILTER_SLOTS	(1 << CODE_FILTER_BITS)
#define CODE_FILTER_INDEX(pid, code) \
	((__u32)((((code) >> 4) ^ (pid)) * 0x9e3779b1U) >> (32 - CODE_FILTER_BITS))

/* Map "code_cache": slots of each process's recently met code objects */
#define CODE_CACHE_BITS		13
#define CODE_CACHE_SLOTS	(1 << CODE_CACHE_BITS)

/* A live code object the BPF side met (map "codes") */
struct code_ent {
	__u32 gen;		/* its incarnation number */
	__u32 unsent;		/* its news_code did not fit in the ring yet */
};

/* Records on the "news" ring, in the order the BPF side met them. */
enum pymem_news {
	NEWS_STACK = 1,		/* struct news_stack: a stack met for the first time */
	NEWS_CODE,		/* struct news_code: a code object a walk met first */
	NEWS_TABLE,		/* struct news_table: a piece of that code object's line table */
	NEWS_LOADED,		/* struct news_loaded: sampled, dlopen returned a library */
};

/* A wakeup: the process's libs_loaded is set (struct pymem_target) */
struct news_loaded {
	__u32 type;
	__u32 pid;
};

#define PYMEM_NAME_MAX	256	/* bytes of a function name taken with a code object */
#define PYMEM_FILE_MAX	1024	/* bytes of a file name */
#define PYMEM_TABLE_CHUNK	4096	/* bytes of line table a NEWS_TABLE record carries */
#define PYMEM_TABLE_CHUNKS	16	/* module code's tables run to tens of KiB */

/* A compact str's characters as stored: len characters of kind (1, 2 or 4) bytes. */
struct news_str {
	__u32 kind;		/* 0: not taken (too long or unreadable) */
	__u32 len;
};

/*
 * What symbolizing a code object needs, taken while it certainly lives:
 * module code dies right after it runs, before userspace could read it.
 * Its line table follows in NEWS_TABLE records, in order.
 */
struct news_code {
	__u32 type;
	__u32 gen;
	__u64 code;
	__s32 firstlineno;
	__u32 table_len;	/* 0xffffffff: too long or unreadable, not sent */
	__u32 pid;		/* whose code object */
	__u32 pad;
	struct news_str name;	/* co_qualname (3.11+) or co_name */
	struct news_str file;
	__u8 name_data[PYMEM_NAME_MAX];
	__u8 file_data[PYMEM_FILE_MAX];
};

/* Bytes [off, off + len) of a code object's line table; cut after data[len - 1]. */
struct news_table {
	__u32 type;
	__u32 gen;
	__u64 code;
	__u32 off;
	__u32 len;
	__u32 pid;
	__u32 pad;
	__u8 data[PYMEM_TABLE_CHUNK];
};

/*
 * A new stack travels to userspace only on the ring, cut after its last
 * frame: the kernel keeps just its id (PYMEM_MAX_FRAMES frames a stack
 * would cost 2 KiB each, and an import-heavy start makes 100k stacks).
 */
struct news_stack {
	__u32 type;
	__u32 pad;
	__u64 id;
	struct stack_rec rec;
};

/* Its size without frames */
#define NEWS_STACK_HEAD		offsetof(struct news_stack, rec.frames)

/*
 * Events of the GIL domains, logged by the trampolines in the target's
 * memory (see src/inject/trampoline.h): event k (from 0) is in ev[k % N], and seq
 * counts them.  The slot is written before seq, and seq comes after the
 * slots, so a copy made in address order that reads seq = S holds intact
 * every event k > S - N: event S + 1 overwriting k = S + 1 - N would be
 * stored after seq = S + 1.  The trampolines hit a probe every N/2 events,
 * so that all the events not yet seen stay well inside that window.  Each
 * hit costs a trap and a copy of the batch: at 64 events (a hit per 32) the
 * hits were an eighth of exact mode's time on a request-handler loop.  128
 * is the most the slot index's 8-bit immediate and a drain's copy in task
 * storage allow.
 */
#define PYMEM_BATCH		128
#define PYMEM_BATCH_FLUSH	(PYMEM_BATCH / 2)

/* A logged event's meta word: its size, and its site in the top byte. */
#define BATCH_META_SITE(m)	((__u32)((m) >> 56))
/*
 * The site of a sampled-mode event that is no block's free: a code
 * object's, not sampled, which the BPF side must still see to forget its
 * incarnation (else a new code object at its address would take its name)
 */
#define BATCH_CODE_FREE		0xfe
#define BATCH_META_SIZE(m)	((m) & ((1ULL << 56) - 1))

struct batch_ev {
	__u64 addr;		/* the block allocated or freed */
	__u64 old;		/* a realloc's block given, else 0; not written for a free */
	__u64 meta;
	/*
	 * An allocation's stack as the trampoline hashed it (sites, return
	 * address, each frame's code and instruction); the BPF side learnt the
	 * stack it stands for when the trampoline first met it.  Not written for
	 * a free.
	 */
	__u64 hash;
};

struct event_batch {
	struct batch_ev ev[PYMEM_BATCH];
	/*
	 * Sampled mode: event k's CLOCK_MONOTONIC time (ns) in ts[k % N], as
	 * the trampoline read it.  Samples are far apart, and a batch may take
	 * seconds to fill: the BPF side dates each event by its own time, not
	 * its drain's.  0 (not read, or not sampled mode): its drain's.
	 */
	__u64 ts[PYMEM_BATCH];
	__u64 seq;
};

/* What userspace hands the drain_batch program: a copy of the target's batch. */
struct batch_args {
	__u32 pid;
	__u32 pad;
	struct event_batch batch;
};

/*
 * What the maps every process shares are keyed by: the process and its
 * stack id (maps "stacks" and "stats"), its trampoline's stack hash (map
 * "alias") or its code object's address (map "codes").  Userspace frees a
 * process's entries when it leaves.
 */
struct pid_key {
	__u32 pid;
	__u32 pad;
	__u64 key;
};

/*
 * The live-block table (bpf/live_table.bpf.h): buckets of LIVE_WAYS slots,
 * each bucket for 2^LIVE_SPAN_SHIFT bytes of address space.
 */
#define LIVE_WAYS	8
#define LIVE_SPAN_SHIFT	7	/* 8 blocks of 16 bytes, the smallest aligned */
#define LIVE_PAGE_BUCKETS	(1u << (12 - LIVE_SPAN_SHIFT))	/* a 4 KiB page's, side by side */

/* A live block; addr is 0 in a free slot. */
struct live_slot {
	__u64 addr;
	__u32 pid;
	__u16 site;		/* a batched outer level takes over a block an inner one made */
	__u16 spilled;		/* held in "spill", not in a bucket */
	__u64 size;
	__u64 stack_id;
	__u64 ts;
};

/*
 * An add holds the bucket (adding: 1), so that one block never gets two
 * places; finds and takes do not (a take is a compare-and-swap of addr).
 * bpf_spin_lock is not allowed in tracing programs.  Userspace takes a
 * process's blocks out the same way when it leaves.
 */
struct live_bucket {
	__u64 adding;		/* 64-bit: clang 14 has no 32-bit BPF compare-and-swap */
	struct live_slot slot[LIVE_WAYS];
};

#define PYMEM_LIFETIME_BUCKETS	32	/* log2 of microseconds from alloc to free */

struct stack_stats {
	__u64 alloc_bytes;
	__u64 alloc_objects;
	__u64 free_bytes;
	__u64 free_objects;
	/*
	 * bytes freed within 1 ms of their allocation, then from 1 to 100 ms,
	 * then from 100 ms to 1 s: a release adds to one (userspace sums them
	 * into "within 1 ms, 100 ms, 1 s")
	 */
	__u64 freed_within[3];
	/* bytes freed, by lifetime: bucket b holds [2^(b-1), 2^b) us, 0 holds < 1 us */
	__u64 lifetime_bytes[PYMEM_LIFETIME_BUCKETS];
	/* live bytes as they were at the session's peak (see struct peak_state) */
	__s64 live_bytes;	/* tracked blocks only: a block the live map */
	__s64 live_objects;	/* could not hold is allocated, never live */
	__s64 peak_snap;
	__u64 peak_gen;
	/*
	 * Sampled mode: the bytes the samples asked for, every byte counter
	 * above being their weighed estimates (bpf/sample.bpf.h); the ratio
	 * turns the sample counts into object estimates.
	 */
	__u64 alloc_raw_bytes;
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

/*
 * One process served by the loaded object (map "targets", by slot; map
 * "target_slots" gives a pid's slot): what the probes of that process need
 * to know of it, and what they count for it alone.  Userspace writes it
 * before the process's probes are attached, then only batch_addr and
 * every_free_seen, each before the events that read it, and libs_loaded.
 */
struct pymem_target {
	__u32 pid;			/* 0: a free slot */
	/*
	 * every free of the process's objects is seen (through trampolines, or
	 * symbols on a non-LTO build), so a code object's death is seen before
	 * its address is reused (pycode.bpf.h)
	 */
	__u32 every_free_seen;
	__u64 py_runtime;		/* &_PyRuntime, 0 if unknown */
	/* the interpreter's own code: mmaps it makes directly are pymalloc's arenas */
	__u64 interp_text_lo;
	__u64 interp_text_hi;
	/* libc's: mmaps it makes itself are its malloc's, or reserve a thread's stack */
	__u64 libc_text_lo;
	__u64 libc_text_hi;
	__u64 batch_addr;		/* its struct event_batch, once its trampolines are in */
	__u64 batch_done;		/* how many of those events are accounted */
	/* the mean bytes between the samples its trampolines draw; 0: exact */
	__u64 sample_interval;
	/* bytes of a frame holding every field the walker reads (at most PYMEM_FRAME_CHUNK) */
	__u32 frame_need;
	/* the PyThreadState fields the walker reads: [tstate_span_lo, + tstate_span_len) */
	__u32 tstate_span_lo;
	__u32 tstate_span_len;
	__u32 slot;			/* its own: where its code_cache slots are */
	/*
	 * Sampled: dlopen returned since userspace last cleared it.  The new
	 * library's GOT entries for libc's malloc family are not redirected yet
	 * (src/inject/got.c); a NEWS_LOADED record wakes userspace, and a lost
	 * one leaves this set for its next look.
	 */
	__u32 libs_loaded;
	__u32 pad;
	struct peak_state peak;
	__u64 drops[DROP__MAX];
	/*
	 * Allocations whose Python stack the BPF side walked (the costly part
	 * of a probe hit): any other was named by a stack hash learnt before.
	 */
	__u64 stack_walks;
	struct py_offsets off;
};

#endif /* PYMEM_PYMEM_H */
