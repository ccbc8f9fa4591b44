// SPDX-License-Identifier: GPL-2.0
/*
 * Sampled mode's shared routines (see trampoline.h), in x86-64: the
 * draws, the threads' slots and the GIL domains' cached countdown, and
 * the set of sampled blocks; and the data they start from.
 */
#include <assert.h>
#include <math.h>
#include "tramp_sample.h"

_Static_assert(TRAMP_DRAWS == 1 << 12, "draws are indexed by a 64-bit value's top 12 bits");

/* Knuth's MMIX LCG: its top bits pick a draw */
#define LCG_MUL		6364136223846793005ULL
#define SET_HASH_MUL	0x9e3779b97f4a7c15ULL
#define THREAD_HASH_MUL	0x9e3779b1U

static const uint8_t ret[] = { 0xc3 };

/* In %r11 the thread's slot: its countdown reset to a new draw.  Clobbers %r9, %r10. */
static void emit_draw(struct emit *e)
{
	static const uint8_t load_rng[] = { 0x4d, 0x8b, 0x4b, 0x10 };	/* mov 16(%r11),%r9 */
	static const uint8_t mul[] = { 0x49, 0xba };			/* movabs $imm64,%r10 */
	static const uint8_t step[] = { 0x4d, 0x0f, 0xaf, 0xca,		/* imul %r10,%r9 */
					0x49, 0x83, 0xc1, 0x01,		/* add $1,%r9 */
					0x4d, 0x89, 0x4b, 0x10,		/* mov %r9,16(%r11) */
					0x49, 0xc1, 0xe9, 0x34 };	/* shr $52,%r9 */
	static const uint8_t lea_draws[] = { 0x4c, 0x8d, 0x15 };	/* lea draws(%rip),%r10 */
	static const uint8_t pick[] = { 0x4f, 0x8b, 0x14, 0xca,		/* mov (%r10,%r9,8),%r10 */
					0x4d, 0x89, 0x53, 0x08 };	/* mov %r10,8(%r11) */
	uint64_t m = LCG_MUL;

	put(e, load_rng, sizeof(load_rng));
	put(e, mul, sizeof(mul));
	put(e, (const uint8_t *)&m, 8);
	put(e, step, sizeof(step));
	rip_op(e, lea_draws, sizeof(lea_draws), TRAMP_DRAWS_OFF, 0);
	put(e, pick, sizeof(pick));
	put(e, ret, 1);
}

/* %r11 = the first slot thread %r9's hash points at */
static void thread_hash(struct emit *e)
{
	static const uint8_t hash[] = { 0x4d, 0x69, 0xd9 };		/* imul $imm32,%r9,%r11 */
	static const uint8_t index[] = { 0x49, 0xc1, 0xeb, 0x38,	/* shr $56,%r11 */
					 0x49, 0xc1, 0xe3, 0x05 };	/* shl $5,%r11 */
	static const uint8_t lea_threads[] = { 0x4c, 0x8d, 0x15 };	/* lea threads(%rip),%r10 */
	static const uint8_t add[] = { 0x4d, 0x01, 0xd3 };		/* add %r10,%r11 */

	_Static_assert(TRAMP_THREAD_HASH == 1 << 8, "a thread's hash is a product's top byte");
	put(e, hash, sizeof(hash));
	put4(e, (uint32_t)THREAD_HASH_MUL);
	put(e, index, sizeof(index));
	rip_op(e, lea_threads, sizeof(lea_threads), TRAMP_THREADS_OFF, 0);
	put(e, add, sizeof(add));
}

/*
 * Thread %r9's slot, in %r11, when it is not the first its hash points
 * at: a later one, or the first free one taken by compare-and-swap and
 * given its generator and first draw, or the shared last one.  Clobbers %r10.
 */
static void emit_thread_slot(struct emit *e)
{
	static const uint8_t probes[] = { 0x41, 0xba, TRAMP_THREAD_PROBES, 0, 0, 0 };	/* mov $P,%r10d */
	static const uint8_t mine[] = { 0x4d, 0x39, 0x0b };		/* cmp %r9,(%r11) */
	static const uint8_t free_slot[] = { 0x49, 0x83, 0x3b, 0x00 };	/* cmpq $0,(%r11) */
	static const uint8_t claim[] = { 0x50, 0x31, 0xc0,		/* push %rax; xor %eax,%eax */
					 0xf0, 0x4d, 0x0f, 0xb1, 0x0b,	/* lock cmpxchg %r9,(%r11) */
					 0x58 };			/* pop %rax */
	static const uint8_t mask[] = { 0x4c, 0x8b, 0x15 };		/* mov mask(%rip),%r10 */
	static const uint8_t and_fs[] = { 0x4d, 0x21, 0xca };		/* and %r9,%r10 */
	static const uint8_t seed[] = { 0x4c, 0x33, 0x15 };		/* xor seed(%rip),%r10 */
	static const uint8_t set_rng[] = { 0x4d, 0x89, 0x53, 0x10 };	/* mov %r10,16(%r11) */
	static const uint8_t step[] = { 0x49, 0x83, 0xc3, 0x20,	/* add $32,%r11 */
					0x41, 0xff, 0xca };		/* dec %r10d */
	static const uint8_t shared[] = { 0x4c, 0x8d, 0x1d };		/* lea shared(%rip),%r11 */
	uint32_t loop, found, taken_by_other, used;

	thread_hash(e);
	put(e, probes, sizeof(probes));
	loop = e->off;
	put(e, mine, sizeof(mine));
	found = jump_fwd(e, JE);
	put(e, free_slot, sizeof(free_slot));
	used = jump_fwd(e, JNE);
	put(e, claim, sizeof(claim));
	taken_by_other = jump_fwd(e, JNE);
	rip_op(e, mask, sizeof(mask), TRAMP_SEED_MASK_OFF, 0);
	put(e, and_fs, sizeof(and_fs));
	rip_op(e, seed, sizeof(seed), TRAMP_SEED_OFF, 0);
	put(e, set_rng, sizeof(set_rng));
	put1(e, 0xe9);				/* jmp draw: it returns to our caller */
	put4(e, (uint32_t)((int32_t)DRAW_OFF - (int32_t)(e->off + 4)));
	land(e, used);
	land(e, taken_by_other);
	put(e, step, sizeof(step));
	put1(e, JNE);
	put1(e, (uint8_t)(loop - (e->off + 1)));
	rip_op(e, shared, sizeof(shared), TRAMP_THREADS_OFF + (TRAMP_THREAD_SLOTS - 1) * 32, 0);
	land(e, found);
	put(e, ret, 1);
}

/*
 * %r11 = the slot of the thread whose %fs base is in %r9: the one its hash
 * points at, checked inline, else emit_thread_slot's (which may draw a new
 * thread's first countdown, clobbering %r9).  Clobbers %r10.
 */
void tramp_thread_lookup(struct emit *e)
{
	static const uint8_t mine[] = { 0x4d, 0x39, 0x0b };		/* cmp %r9,(%r11) */
	uint32_t hit;

	thread_hash(e);
	put(e, mine, sizeof(mine));
	hit = jump_fwd(e, JE);
	call_at(e, THREAD_OFF);
	land(e, hit);
}

/*
 * The block's address folded (a ^ a >> 17), then multiplied: its top bits
 * alone spread an allocator's evenly spaced blocks unevenly (a tenth of
 * the buckets held 5 or more of 4,000 aligned blocks, and one overflowed),
 * the fold as evenly as random ones.
 */
void tramp_set_index(struct emit *e, const uint8_t mov_r9[3])
{
	static const uint8_t fold[] = { 0x4d, 0x89, 0xcb,		/* mov %r9,%r11 */
					0x49, 0xc1, 0xeb, 0x11,		/* shr $17,%r11 */
					0x4d, 0x31, 0xd9 };		/* xor %r11,%r9 */
	static const uint8_t mul[] = { 0x49, 0xbb };			/* movabs $imm64,%r11 */
	static const uint8_t index[] = { 0x4d, 0x0f, 0xaf, 0xcb,	/* imul %r11,%r9 */
					 0x49, 0xc1, 0xe9, 64 - TRAMP_SET_BITS };	/* shr */
	static const uint8_t lea_counts[] = { 0x4c, 0x8d, 0x1d };	/* lea counts(%rip),%r11 */
	uint64_t m = SET_HASH_MUL;

	put(e, mov_r9, 3);
	put(e, fold, sizeof(fold));
	put(e, mul, sizeof(mul));
	put(e, (const uint8_t *)&m, 8);
	put(e, index, sizeof(index));
	rip_op(e, lea_counts, sizeof(lea_counts), TRAMP_SET_COUNTS_OFF, 0);
}

/* %r11 = bucket %r9's first way; %r9 = the ways to look at */
static void set_bucket(struct emit *e)
{
	static const uint8_t shl[] = { 0x49, 0xc1, 0xe1, 0x06 };	/* shl $6,%r9 */
	static const uint8_t lea_set[] = { 0x4c, 0x8d, 0x1d };		/* lea set(%rip),%r11 */
	static const uint8_t add_ways[] = { 0x4d, 0x01, 0xcb,		/* add %r9,%r11 */
					    0x41, 0xb9, TRAMP_SET_WAYS, 0, 0, 0 };	/* mov $W,%r9d */

	put(e, shl, sizeof(shl));
	rip_op(e, lea_set, sizeof(lea_set), TRAMP_SET_OFF, 0);
	put(e, add_ways, sizeof(add_ways));
}

/* Next way (%r11 += 8), and back to loop while %r9 ways are left */
static void next_way(struct emit *e, uint32_t loop)
{
	static const uint8_t step[] = { 0x49, 0x83, 0xc3, 0x08,	/* add $8,%r11 */
					0x41, 0xff, 0xc9 };		/* dec %r9d */

	put(e, step, sizeof(step));
	put1(e, JNE);
	put1(e, (uint8_t)(loop - (e->off + 1)));
}

static const uint8_t r10_r9[] = { 0x4d, 0x89, 0xd1 };		/* mov %r10,%r9 */
static const uint8_t push_idx[] = { 0x41, 0x51 };		/* push %r9 */

/*
 * Put the block in %r10 into the set: its bucket's count up first (a free
 * never finds a block its count does not cover), then the first empty way
 * taken by compare-and-swap (the raw domain inserts without the GIL), or
 * the count back down and the bucket marked full.  Clobbers %r9, %r11.
 */
static void emit_insert(struct emit *e)
{
	static const uint8_t inc[] = { 0xf0, 0x43, 0xfe, 0x04, 0x0b };	/* lock incb (%r11,%r9) */
	static const uint8_t cas[] = { 0x31, 0xc0,			/* xor %eax,%eax */
				       0xf0, 0x4d, 0x0f, 0xb1, 0x13 };	/* lock cmpxchg %r10,(%r11) */
	static const uint8_t full[] = { 0x58, 0x41, 0x59,		/* pop %rax; pop %r9 */
					0x4c, 0x8d, 0x1d };		/* lea counts(%rip),%r11 */
	static const uint8_t mark[] = { 0xf0, 0x43, 0xfe, 0x0c, 0x0b,	/* lock decb (%r11,%r9) */
					0xf0, 0x43, 0x80, 0x0c, 0x0b, TRAMP_SET_FULL, /* lock orb */
					0xc3 };
	static const uint8_t done[] = { 0x58, 0x41, 0x59, 0xc3 };	/* pop %rax; pop %r9; ret */
	uint32_t loop, taken;

	tramp_set_index(e, r10_r9);
	put(e, inc, sizeof(inc));
	put(e, push_idx, sizeof(push_idx));
	put1(e, 0x50);				/* push %rax */
	set_bucket(e);
	loop = e->off;
	put(e, cas, sizeof(cas));
	taken = jump_fwd(e, JE);
	next_way(e, loop);
	rip_op(e, full, sizeof(full), TRAMP_SET_COUNTS_OFF, 0);
	put(e, mark, sizeof(mark));
	land(e, taken);
	put(e, done, sizeof(done));
}

/*
 * Take the block in %r10 out of the set: %r9 = 1 if it was there (or its
 * bucket was ever full), else 0.  Only the block's owner removes it, so a
 * plain store does, before its bucket's count goes down.  Clobbers %r11.
 */
static void emit_remove(struct emit *e)
{
	static const uint8_t empty[] = { 0x43, 0x80, 0x3c, 0x0b, 0x00 };	/* cmpb $0,(%r11,%r9) */
	static const uint8_t cmp[] = { 0x4d, 0x39, 0x13 };		/* cmp %r10,(%r11) */
	static const uint8_t counts[] = { 0x41, 0x59,			/* pop %r9 */
					  0x4c, 0x8d, 0x1d };		/* lea counts(%rip),%r11 */
	static const uint8_t was_full[] = { 0x43, 0xf6, 0x04, 0x0b, TRAMP_SET_FULL };	/* testb */
	static const uint8_t no[] = { 0x45, 0x31, 0xc9, 0xc3 };		/* xor %r9d,%r9d; ret */
	static const uint8_t clear[] = { 0x49, 0xc7, 0x03, 0, 0, 0, 0 };	/* movq $0,(%r11) */
	static const uint8_t dec[] = { 0xf0, 0x43, 0xfe, 0x0c, 0x0b };	/* lock decb (%r11,%r9) */
	static const uint8_t yes[] = { 0x41, 0xb9, 1, 0, 0, 0, 0xc3 };	/* mov $1,%r9d; ret */
	uint32_t none, loop, hit, full;

	tramp_set_index(e, r10_r9);
	put(e, empty, sizeof(empty));
	none = jump_fwd(e, JE);
	put(e, push_idx, sizeof(push_idx));
	set_bucket(e);
	loop = e->off;
	put(e, cmp, sizeof(cmp));
	hit = jump_fwd(e, JE);
	next_way(e, loop);
	rip_op(e, counts, sizeof(counts), TRAMP_SET_COUNTS_OFF, 0);
	put(e, was_full, sizeof(was_full));
	full = jump_fwd(e, JNE);
	land(e, none);
	put(e, no, sizeof(no));
	land(e, hit);
	put(e, clear, sizeof(clear));
	rip_op(e, counts, sizeof(counts), TRAMP_SET_COUNTS_OFF, 0);
	put(e, dec, sizeof(dec));
	land(e, full);
	put(e, yes, sizeof(yes));
}

/* Emit a shared routine at its offset; it must end before the next one's. */
static void routine(struct emit *e, uint32_t at, uint32_t end, void (*emit)(struct emit *))
{
	e->off = at;
	emit(e);
	assert(e->off <= end);
}

/*
 * Thread %r9 takes over the GIL domains' cached countdown (see struct
 * tramp_sample_state): the last thread's goes back to its slot, this
 * one's comes out of its own; gil_fs last, so that the cache is whole
 * when the thread's next call finds it.  Clobbers %r9, %r10, %r11.
 */
static void emit_gil_switch(struct emit *e)
{
	static const uint8_t last[] = { 0x4c, 0x8b, 0x1d };		/* mov gil_slot(%rip),%r11 */
	static const uint8_t test_r11[] = { 0x4d, 0x85, 0xdb };
	static const uint8_t cached[] = { 0x4c, 0x8b, 0x15 };		/* mov countdown(%rip),%r10 */
	static const uint8_t back[] = { 0x4d, 0x89, 0x53, 0x08 };	/* mov %r10,8(%r11) */
	static const uint8_t own[] = { 0x4c, 0x89, 0x1d };		/* mov %r11,gil_slot(%rip) */
	static const uint8_t out[] = { 0x4d, 0x8b, 0x53, 0x08 };	/* mov 8(%r11),%r10 */
	static const uint8_t cache[] = { 0x4c, 0x89, 0x15 };		/* mov %r10,countdown(%rip) */
	static const uint8_t fsbase[] = { 0x64, 0x4c, 0x8b, 0x0c, 0x25, 0, 0, 0, 0 };
	static const uint8_t mine[] = { 0x4c, 0x89, 0x0d };		/* mov %r9,gil_fs(%rip) */
	uint32_t none;

	rip_op(e, last, sizeof(last), TRAMP_GIL_SLOT_OFF, 0);
	put(e, test_r11, sizeof(test_r11));
	none = jump_fwd(e, JE);
	rip_op(e, cached, sizeof(cached), TRAMP_GIL_COUNTDOWN_OFF, 0);
	put(e, back, sizeof(back));
	land(e, none);
	tramp_thread_lookup(e);
	rip_op(e, own, sizeof(own), TRAMP_GIL_SLOT_OFF, 0);
	put(e, out, sizeof(out));
	rip_op(e, cache, sizeof(cache), TRAMP_GIL_COUNTDOWN_OFF, 0);
	put(e, fsbase, sizeof(fsbase));		/* mov %fs:0,%r9: the lookup may clobber it */
	rip_op(e, mine, sizeof(mine), TRAMP_GIL_FS_OFF, 0);
	put(e, ret, 1);
}

/* The cached countdown crossed zero: a new draw, through its thread's slot.  Clobbers %r9-%r11. */
static void emit_gil_draw(struct emit *e)
{
	static const uint8_t slot[] = { 0x4c, 0x8b, 0x1d };		/* mov gil_slot(%rip),%r11 */
	static const uint8_t drawn[] = { 0x4d, 0x8b, 0x53, 0x08 };	/* mov 8(%r11),%r10 */
	static const uint8_t cache[] = { 0x4c, 0x89, 0x15 };		/* mov %r10,countdown(%rip) */

	rip_op(e, slot, sizeof(slot), TRAMP_GIL_SLOT_OFF, 0);
	call_at(e, DRAW_OFF);
	put(e, drawn, sizeof(drawn));
	rip_op(e, cache, sizeof(cache), TRAMP_GIL_COUNTDOWN_OFF, 0);
	put(e, ret, 1);
}

/*
 * Does the calling thread hold the GIL: is the interpreter's current thread
 * state (the getter's) its own?  ZF set if so.  Called from a trampoline's
 * own frame (%rsp 8 past a 16-byte boundary); keeps %rax, %rdi and %rsi,
 * clobbers the other registers a call may.
 */
static void emit_held(struct emit *e)
{
	static const uint8_t save[] = { 0x50, 0x57, 0x56,		/* push %rax; push %rdi; push %rsi */
					0x48, 0x83, 0xec, 0x08 };	/* sub $8,%rsp: aligned */
	static const uint8_t restore[] = { 0x49, 0x89, 0xc3,		/* mov %rax,%r11 */
					   0x48, 0x83, 0xc4, 0x08,	/* add $8,%rsp */
					   0x5e, 0x5f, 0x58,		/* pop %rsi; pop %rdi; pop %rax */
					   0x4d, 0x85, 0xdb };		/* test %r11,%r11 */
	static const uint8_t none[] = { 0x48, 0x85, 0xe4, 0xc3 };	/* test %rsp,%rsp: ZF clear; ret */
	static const uint8_t fsbase[] = { 0x64, 0x48, 0x8b, 0x14, 0x25, 0, 0, 0, 0 };	/* mov %fs:0,%rdx */
	static const uint8_t cmp_tid[] = { 0x49, 0x3b, 0x93 };		/* cmp disp32(%r11),%rdx */
	uint32_t some;

	put(e, save, sizeof(save));
	indirect(e, 0x15, TRAMP_GETTER_OFF);	/* call *getter(%rip) */
	put(e, restore, sizeof(restore));
	some = jump_fwd(e, JNE);
	put(e, none, sizeof(none));
	land(e, some);
	put(e, fsbase, sizeof(fsbase));
	disp_op(e, cmp_tid, sizeof(cmp_tid), e->held_tid);
	put(e, ret, 1);
}

/*
 * %rax = CLOCK_MONOTONIC's time in ns, the kernel's clock (bpf_ktime_get_ns),
 * read by libc's clock_gettime (its vDSO; 0 if it fails).  Keeps every
 * other register, whatever the caller's stack alignment.
 */
static void emit_stamp(struct emit *e)
{
	static const uint8_t enter[] = {
		0x55,				/* push %rbp */
		0x48, 0x89, 0xe5,		/* mov %rsp,%rbp */
		0x51, 0x52, 0x56, 0x57,		/* push %rcx; push %rdx; push %rsi; push %rdi */
		0x41, 0x50, 0x41, 0x51,		/* push %r8; push %r9 */
		0x41, 0x52, 0x41, 0x53,		/* push %r10; push %r11 */
		0x48, 0x83, 0xe4, 0xf0,		/* and $-16,%rsp */
		0x6a, 0x00, 0x6a, 0x00,		/* push $0; push $0: a struct timespec, zeroed */
		0xbf, 0x01, 0, 0, 0,		/* mov $CLOCK_MONOTONIC,%edi */
		0x48, 0x89, 0xe6,		/* mov %rsp,%rsi */
	};
	static const uint8_t leave[] = {
		0x48, 0x69, 0x04, 0x24, 0x00, 0xca, 0x9a, 0x3b,	/* imul $1000000000,(%rsp),%rax */
		0x48, 0x03, 0x44, 0x24, 0x08,	/* add 8(%rsp),%rax: tv_nsec */
		0x48, 0x8d, 0x65, 0xc0,		/* lea -64(%rbp),%rsp */
		0x41, 0x5b, 0x41, 0x5a,		/* pop %r11; pop %r10 */
		0x41, 0x59, 0x41, 0x58,		/* pop %r9; pop %r8 */
		0x5f, 0x5e, 0x5a, 0x59,		/* pop %rdi; pop %rsi; pop %rdx; pop %rcx */
		0x5d, 0xc3,			/* pop %rbp; ret */
	};

	put(e, enter, sizeof(enter));
	indirect(e, 0x15, TRAMP_CLOCK_OFF);	/* call *clock(%rip) */
	put(e, leave, sizeof(leave));
}

void tramp_sample_shared(struct emit *e)
{
	routine(e, DRAW_OFF, INSERT_OFF, emit_draw);
	routine(e, INSERT_OFF, REMOVE_OFF, emit_insert);
	routine(e, REMOVE_OFF, THREAD_OFF, emit_remove);
	routine(e, THREAD_OFF, GIL_SWITCH_OFF, emit_thread_slot);
	routine(e, GIL_SWITCH_OFF, GIL_DRAW_OFF, emit_gil_switch);
	routine(e, GIL_DRAW_OFF, HELD_OFF, emit_gil_draw);
	if (e->held_tid)
		routine(e, HELD_OFF, SAMPLE_CODE_END, emit_held);
	if (e->stamp)
		routine(e, TRAMP_STAMP_OFF, TRAMP_CODE_SIZE, emit_stamp);
}


/*
 * Draw k of TRAMP_DRAWS is the mean of the exponential distribution over
 * its k-th quantile band, so that the table's mean is the interval; the
 * generator picks bands at random, independent of the workload's period.
 */
void tramp_sample_fill(struct tramp_sample_state *st, int64_t draws[TRAMP_DRAWS],
		       struct tramp_thread *shared, uint64_t interval, uint64_t seed,
		       bool repeatable)
{
	double mean = (double)interval, a, b, pa, pb;
	int k;

	for (k = 0; k < TRAMP_DRAWS; k++) {
		pa = (double)k / TRAMP_DRAWS;
		pb = (double)(k + 1) / TRAMP_DRAWS;
		a = -mean * log1p(-pa);
		if (k == TRAMP_DRAWS - 1) {
			draws[k] = (int64_t)llround(a + mean);
			continue;
		}
		b = -mean * log1p(-pb);
		/* E[X | a <= X < b] = mean + (a e^(-a/mean) - b e^(-b/mean)) / (pb - pa) */
		draws[k] = (int64_t)llround(mean + (a * (1 - pa) - b * (1 - pb)) / (pb - pa));
		if (draws[k] < 1)
			draws[k] = 1;
	}
	st->seed = seed;
	st->seed_fs_mask = repeatable ? 0 : ~0ULL;
	st->owner = 0;
	st->gil_fs = 0;
	st->gil_slot = 0;
	st->gil_countdown = 0;
	/* as a thread's first draw is made: one step of the generator */
	shared->fs = 0;
	shared->rng = seed * LCG_MUL + 1;
	shared->countdown = draws[shared->rng >> 52];
	shared->pad = 0;
}
