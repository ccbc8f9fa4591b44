/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Trampolines that stand in for an allocator table's functions: each
 * forwards to the original and holds one NOP where a single uprobe sees the
 * whole event (size, result and caller after the call; the block before a
 * free).
 *
 * The GIL domains (mem and obj) hit no probe per event: their trampolines
 * log each event in a batch in the target's memory and run the real call at
 * once, and every PYMEM_BATCH_FLUSH-th event hits a probe that has the BPF
 * side account the batch (the events since: userspace's drain before it
 * reads the maps, or libc's _exit if the process exits first).  An
 * allocation is logged with a hash of its Python stack, which the
 * trampoline computes itself (a few ns a frame, no copy); the first time a
 * hash is met (it is not in the tag table), the allocation hits its own
 * probe instead, and the BPF side walks that stack and keeps its id under
 * the hash.  A code object's free (in sampled mode, its tp_dealloc) changes
 * the tag table's salt, so that no hash outlives the code objects it was
 * made of.
 * Every probe hit, batched or not, first accounts the batch's events before
 * it, so an address is never seen allocated again before its free.
 *
 * The probe point is a 5-byte NOP, which kernel 6.18 turns into a call to
 * a [uprobes-trampoline] page after the first hit (about 10x cheaper than
 * an int3).  fork does not copy that page, yet the child inherits the
 * rewritten call, and would die of SIGSEGV on its next allocation (seen
 * with os.fork under test_threading).  So each probe point is guarded by a
 * flag in a page of its own that the target marks MADV_WIPEONFORK: it reads
 * 1 in the profiled process and 0 in any child, which jumps over the NOP.
 * Stack hashing is skipped while the batch's probe point is a bare NOP
 * (no probe attached: pymem-bpf is gone), so trampolines left behind cost
 * a few instructions.
 *
 * Sampled mode (tramp_sample.c) decides in the trampolines which events
 * are seen at all, as Go's heap profiler does: a countdown of the bytes a
 * thread allocates, reset on crossing zero to a draw from an exponential
 * distribution of mean the interval, samples each allocation of s bytes
 * with probability 1 - e^(-s/interval).  Only a sampled block enters the
 * batch or hits a probe, and goes into a set in the data pages that the
 * free trampolines check, so that an unsampled block's free is seen by
 * no one either.  Each event it logs is dated by a clock read (libc's
 * clock_gettime, a vDSO read), so that samples wait in the batch for its
 * flush as exact mode's events do, yet are timed as they happened: a
 * sample of the raw domain or of libc hits its probe point, and so does
 * the free of one by a thread without the GIL; by the thread holding it,
 * the free is logged in the batch.
 */
#ifndef PYMEM_TRAMPOLINE_H
#define PYMEM_TRAMPOLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "libc_detour.h"
#include "pymem.h"

/*
 * PyMemAllocatorEx slots after ctx, in table order; then libc's aligned
 * allocators and reallocarray, which only sampled mode's TRAMP_LIBC set
 * has (a C library's own posix_memalign, as PyTorch's tensors are
 * allocated).
 */
enum tramp_fn {
	TRAMP_MALLOC,
	TRAMP_CALLOC,
	TRAMP_REALLOC,
	TRAMP_FREE,
	TRAMP_POSIX_MEMALIGN,
	TRAMP_ALIGNED_ALLOC,
	TRAMP_MEMALIGN,
	TRAMP_VALLOC,
	TRAMP_REALLOCARRAY,
	TRAMP__MAX,
};

/* An allocator table's functions */
#define TRAMP_TABLE_FNS	TRAMP_POSIX_MEMALIGN

/* In alloc_table's order: raw, mem, obj */
#define TRAMP_DOMAINS	3
#define TRAMP_OBJ	2
/*
 * Sampled mode adds a set for libc's malloc, calloc, realloc and free and
 * the others of enum tramp_fn, which the GOT entries of the target's libraries
 * are pointed at (a C extension's direct calls): libc's calling
 * convention, the raw domain's handling otherwise.
 */
#define TRAMP_LIBC	TRAMP_DOMAINS
#define TRAMP_SETS	(TRAMP_DOMAINS + 1)
/*
 * The mem and obj domains are called only with the GIL held, so one batch
 * without a lock serves them; the raw domain is called without.
 */
#define TRAMP_BATCHED(d)	((d) != 0 && (d) != TRAMP_LIBC)
/* Set d's function f is trampoline number TRAMP_INDEX(d, f): the libc set, last, has all */
#define TRAMP_INDEX(d, f)	((d) * TRAMP_TABLE_FNS + (f))
#define TRAMP_COUNT	TRAMP_INDEX(TRAMP_LIBC, TRAMP__MAX)
#define TRAMP_SLOT	464	/* bytes of code per trampoline */
#define TRAMP_SHARED_OFF (TRAMP_COUNT * TRAMP_SLOT)
/*
 * The stack hashing code the batched allocations call, then sampled mode's
 * routines, then the stack hashing code the raw domain's (and the libc
 * set's) allocations call before their probe point, then sampled mode's
 * clock read.
 */
#define TRAMP_SHARED	2128
#define TRAMP_SAMPLE_CODE_OFF (TRAMP_SHARED_OFF + 512)
#define TRAMP_RAW_HASH_OFF (TRAMP_SHARED_OFF + 1280)
#define TRAMP_STAMP_OFF	(TRAMP_SHARED_OFF + 2048)
#define TRAMP_CODE_SIZE	(TRAMP_SHARED_OFF + TRAMP_SHARED)
/*
 * the original function pointers the code calls through, then the getters,
 * &PyCode_Type and its tp_dealloc, and libc's clock_gettime
 */
#define TRAMP_SLOTS_OFF	TRAMP_CODE_SIZE
#define TRAMP_GETTER_OFF (TRAMP_SLOTS_OFF + TRAMP_COUNT * 8)
#define TRAMP_OWN_GETTER_OFF (TRAMP_GETTER_OFF + 8)
#define TRAMP_CODETYPE_OFF (TRAMP_OWN_GETTER_OFF + 8)
#define TRAMP_DEALLOC_OFF (TRAMP_CODETYPE_OFF + 8)
#define TRAMP_CLOCK_OFF	(TRAMP_DEALLOC_OFF + 8)
#define TRAMP_IMAGE_SIZE (TRAMP_CLOCK_OFF + 8)
/*
 * The image fills the mapping's first three pages.  The data pages follow:
 * the guard flag is the first byte of the fourth page, then the batch
 * (struct event_batch, 5 KiB), the salt and sampled mode's state (struct
 * tramp_sample_state) in the fifth, and from the sixth page the tag table
 * of stack hashes met, then sampled mode's table of draws and set of
 * sampled blocks.
 */
#define TRAMP_PAGE	4096
#define TRAMP_GUARD_OFF	(3 * TRAMP_PAGE)
#define TRAMP_BATCH_OFF	(TRAMP_GUARD_OFF + 64)
#define TRAMP_SEQ_OFF	(TRAMP_BATCH_OFF + offsetof(struct event_batch, seq))
#define TRAMP_BATCH_TS_OFF (TRAMP_BATCH_OFF + offsetof(struct event_batch, ts))
#define TRAMP_SALT_OFF	(TRAMP_GUARD_OFF + TRAMP_PAGE + 1536)
#define TRAMP_SAMPLE_OFF (TRAMP_SALT_OFF + 64)
#define TRAMP_TAGS	8192
#define TRAMP_WAYS	4	/* tags a set holds: 32 bytes, in one cache line */
#define TRAMP_TAGS_OFF	(TRAMP_GUARD_OFF + 2 * TRAMP_PAGE)
/* exponential draws, picked at random: a power of two */
#define TRAMP_DRAWS	4096
#define TRAMP_DRAWS_OFF	(TRAMP_TAGS_OFF + TRAMP_TAGS * 8)
/*
 * The set of sampled blocks: buckets of one cache line, TRAMP_SET_WAYS
 * addresses each, and a byte per bucket that counts its blocks (0: a free
 * that hashes there is not sampled, known from a 16 KiB table), its top
 * bit set once a sampled block found the bucket full (from then on every
 * free that hashes there is reported).  Buckets begin to fill at about
 * one block a bucket on average: the samples of an 8 GB heap at 512 KiB.
 */
#define TRAMP_SET_BITS	14
#define TRAMP_SET_BUCKETS (1 << TRAMP_SET_BITS)
#define TRAMP_SET_WAYS	8
#define TRAMP_SET_FULL	0x80
#define TRAMP_SET_COUNTS_OFF (TRAMP_DRAWS_OFF + TRAMP_DRAWS * 8)
#define TRAMP_SET_OFF	(TRAMP_SET_COUNTS_OFF + TRAMP_SET_BUCKETS)
/* the threads' sampling state (struct tramp_thread) */
#define TRAMP_THREADS_OFF (TRAMP_SET_OFF + TRAMP_SET_BUCKETS * 64)
#define TRAMP_MAP_SIZE	(TRAMP_THREADS_OFF + TRAMP_THREAD_SLOTS * 32)
#define TRAMP_DATA_SIZE	(TRAMP_MAP_SIZE - TRAMP_GUARD_OFF)
/* frames a trampoline hashes at most; a deeper stack is the BPF walker's */
#define TRAMP_MAX_FRAMES	PYMEM_MAX_FRAMES

/*
 * What hashing a stack needs: a function of the interpreter's returning the
 * calling thread's PyThreadState (or NULL), checked against the thread's fs
 * base, and the frame layout (offsets as in struct py_offsets).  The GIL
 * domains' own, with the GIL held, is the current thread state's getter;
 * the raw domain and libc are also called by threads that released the
 * GIL (a C extension's work), whose state only the thread's own TLS key
 * has (PyGILState_GetThisThreadState).
 */
struct tramp_walk {
	uint64_t get_tstate;	/* runtime address; 0: batched allocations hit their probe each */
	uint64_t get_own_tstate;	/* 0: the raw domain's and libc's probe hits walk each */
	uint64_t code_type;	/* &PyCode_Type at runtime */
	/*
	 * Sampled mode: PyCode_Type's tp_dealloc at runtime, when both GIL
	 * domains are pymalloc's (0: they are not, or exact mode).  Their frees
	 * then get no trampoline (see tramp_build) and a hook that stands in for
	 * this function sees a code object die instead.
	 */
	uint64_t code_dealloc;
	/*
	 * Sampled mode: libc's clock_gettime at runtime, with which the
	 * trampolines date each batched event (0: none, or the target's
	 * CLOCK_MONOTONIC is not the kernel's: each sampled event flushes the
	 * batch at once, and is dated by that).
	 */
	uint64_t clock;
	uint32_t tstate_thread_id;
	uint32_t tstate_frame;
	uint32_t cframe_current_frame;	/* PY_OFF_NONE: tstate_frame is the frame */
	uint32_t frame_code;
	uint32_t frame_back;
	uint32_t frame_lasti;
	uint32_t frame_owner;		/* PY_OFF_NONE: no shim frames */
	bool lasti_is_int;		/* f_lasti (an int), not an instruction pointer */
};

struct tramp_image {
	uint8_t bytes[TRAMP_IMAGE_SIZE];
	uint32_t entry[TRAMP_SETS][TRAMP__MAX];	/* offset of each trampoline */
	uint32_t probe[TRAMP_SETS][TRAMP__MAX];	/* offset of its nop5 */
	uint32_t flush;		/* the batched allocations' flush nop5 (0: none) */
	/*
	 * Sampled mode: the nop5 where a realloc reports its old block freed
	 * (it was sampled, the new one is not), as a free's probe point sees
	 * it: the block in %rsi, the batch's count in %r8.  0: none.
	 */
	uint32_t realloc_free[TRAMP_SETS];
	/*
	 * Sampled mode: where a sampled block's free, logged in the batch by a
	 * GIL domain's realloc (or a raw-domain or libc realloc or free by the
	 * thread holding the GIL), flushes it as the GIL domains' frees do.
	 * 0: none.
	 */
	uint32_t realloc_flush[TRAMP_SETS];
	uint32_t free_flush[TRAMP_SETS];
	/* sampled mode: the hook for PyCode_Type's tp_dealloc (0: none), and its batch's nop5 */
	uint32_t code_dealloc, code_dealloc_probe;
};

/*
 * Sampled mode's state at TRAMP_SAMPLE_OFF: each thread's generator
 * starts from seed ^ (its %fs base & seed_fs_mask) (mask 0: every thread
 * draws the same sequence, so that a seeded run repeats whatever the
 * threads' interleaving); and the thread (its %fs base) inside a GIL
 * domain's call, whose raw-domain calls are that call's inner level
 * (pymalloc's large blocks), not events of their own.
 *
 * Then the countdown of the thread that last called a GIL domain, kept
 * here rather than in its slot (whose copy is stale meanwhile): with the
 * GIL held, an allocation checks one %fs base and subtracts from one
 * place, where finding a thread's slot by hash doubled the instructions
 * an unsampled allocation costs.  Another thread's call writes it back to
 * its slot first.  That thread's own raw-domain calls use it too; if it
 * makes one without the GIL while another thread takes the cache over,
 * the bytes may count against the other's countdown, which only moves a
 * sample point.  gil_fs is 0 in a forked child (the data pages are wiped),
 * whose every call so goes the way that checks the guard.
 */
struct tramp_sample_state {
	uint64_t seed;
	uint64_t seed_fs_mask;
	uint64_t owner;
	uint64_t gil_fs;
	uint64_t gil_slot;		/* its struct tramp_thread's address */
	int64_t gil_countdown;
};

#define TRAMP_SEED_OFF	(TRAMP_SAMPLE_OFF + offsetof(struct tramp_sample_state, seed))
#define TRAMP_SEED_MASK_OFF (TRAMP_SAMPLE_OFF + offsetof(struct tramp_sample_state, seed_fs_mask))
#define TRAMP_OWNER_OFF	(TRAMP_SAMPLE_OFF + offsetof(struct tramp_sample_state, owner))
#define TRAMP_GIL_FS_OFF (TRAMP_SAMPLE_OFF + offsetof(struct tramp_sample_state, gil_fs))
#define TRAMP_GIL_SLOT_OFF (TRAMP_SAMPLE_OFF + offsetof(struct tramp_sample_state, gil_slot))
#define TRAMP_GIL_COUNTDOWN_OFF \
	(TRAMP_SAMPLE_OFF + offsetof(struct tramp_sample_state, gil_countdown))

/*
 * A thread's sampling state, found by its %fs base: the bytes left before
 * its next sample, and its generator.  A thread takes the first free slot
 * of TRAMP_THREAD_PROBES from its hash; if none is, it shares the last
 * slot, whose updates may race (a lost one only moves a sample point).
 */
struct tramp_thread {
	uint64_t fs;		/* 0: free */
	int64_t countdown;
	uint64_t rng;
	uint64_t pad;
};

#define TRAMP_THREAD_HASH	256
#define TRAMP_THREAD_PROBES	8
#define TRAMP_THREAD_SLOTS	(TRAMP_THREAD_HASH + TRAMP_THREAD_PROBES + 1)

_Static_assert(TRAMP_IMAGE_SIZE <= TRAMP_GUARD_OFF, "the image must end before the guard page");
_Static_assert(TRAMP_BATCH_OFF + sizeof(struct event_batch) <= TRAMP_SALT_OFF,
	       "the batch must end before the salt");
_Static_assert(TRAMP_SAMPLE_OFF + sizeof(struct tramp_sample_state) <= TRAMP_TAGS_OFF,
	       "the sampling state must end before the tags");
_Static_assert(!(TRAMP_TAGS & (TRAMP_TAGS - 1)) && TRAMP_WAYS * 8 == 32,
	       "the tag table is indexed by a mask, a set is 1 << 5 bytes");

/* The site a trampoline reports: set d (alloc_table's domains, then TRAMP_LIBC), function f */
enum pymem_site tramp_site(int d, enum tramp_fn f);

/*
 * Build the image for a mapping at any address (the code is position
 * independent, the data pages TRAMP_GUARD_OFF bytes after its start):
 * orig[d][f] is the runtime address each trampoline forwards to; a zero
 * leaves that trampoline out (its probe offset stays 0).  The TRAMP_LIBC
 * set is built only in sampled mode.  walk NULL or
 * without get_tstate: the GIL domains' allocations hit their probe each.
 * sampled: sampled mode's trampolines, whose state tramp_sample_fill() makes.
 *
 * Sampled mode with walk->code_dealloc: the GIL domains' frees are left out
 * too, and their tables keep pymalloc's free, which a PGO build inlines at
 * its call sites behind a check of the table (on Debian's python3.11, a
 * trampoline there cost a request handler 5 to 6% in-process:
 * tests/bench/floor_parts.py).  A sampled block of 1 to 512 bytes
 * is asked of pymalloc as 513 (SMALL_REQUEST_THRESHOLD is 512 in 3.8 to
 * 3.15): pymalloc hands it to the raw domain, as any larger one, and its
 * free, finding it outside the arenas, to the raw domain's free, whose
 * trampoline sees it; pymalloc's own counts of blocks stay right.  A code
 * object's death is seen at the hook for tp_dealloc instead of at its free.
 *
 * Exact mode with detour (NULL: none): the raw table holds CPython's own
 * functions, which call libc's through an entry bound to it, and
 * detour[f].len says libc's function f can be entered past its probe (see
 * libc_detour.h).  The raw trampoline then does what the table's function
 * does (0 bytes asked as 1) and enters libc so, in place of the call: its
 * own probe point reports the event, and libc's probes stay for the calls
 * of everything else.
 */
void tramp_build(struct tramp_image *img, const uint64_t orig[TRAMP_SETS][TRAMP__MAX],
		 const struct tramp_walk *walk, bool sampled,
		 const struct libc_detour detour[TRAMP_TABLE_FNS]);

/*
 * Sampled mode's data for a mean interval of interval bytes: the state,
 * the TRAMP_DRAWS draws and the shared last thread slot, for
 * TRAMP_SAMPLE_OFF, TRAMP_DRAWS_OFF and TRAMP_THREADS_OFF +
 * (TRAMP_THREAD_SLOTS - 1) * 32.  repeatable: every thread draws the same
 * sequence from seed (see struct tramp_sample_state).
 */
void tramp_sample_fill(struct tramp_sample_state *st, int64_t draws[TRAMP_DRAWS],
		       struct tramp_thread *shared, uint64_t interval, uint64_t seed,
		       bool repeatable);

#endif
