// SPDX-License-Identifier: GPL-2.0
/*
 * Sampled mode's trampolines (see trampoline.h): the sampling decision,
 * the set of sampled blocks and the draws, in x86-64.  An unsampled
 * allocation costs the real call, the guard test and a subtraction; the
 * free of an unsampled block the guard test and a look at one cache line
 * of the set.  Whatever is sampled then takes exact mode's path (the
 * batch and its stack tags, or the raw domain's probe point).
 *
 * A realloc takes its old block out of the set before the call (after it,
 * the address may already be another thread's), puts it back if the call
 * fails, and is sampled for its new size like any allocation: a sampled
 * old block whose successor is not sampled is reported freed at a probe
 * point of its own.  A GIL domain's call marks its thread as the owner
 * while it runs, so that the raw-domain calls pymalloc makes inside it
 * (large blocks) are left to it.
 */
#include <assert.h>
#include <math.h>
#include "tramp_emit.h"

/* Shared routines, after stack_tag */
#define DRAW_OFF	TRAMP_SAMPLE_CODE_OFF
#define INSERT_OFF	(TRAMP_SAMPLE_CODE_OFF + 64)
#define REMOVE_OFF	(TRAMP_SAMPLE_CODE_OFF + 192)
#define THREAD_OFF	(TRAMP_SAMPLE_CODE_OFF + 352)
#define SAMPLE_CODE_END	(TRAMP_SAMPLE_CODE_OFF + 512)
_Static_assert(SAMPLE_CODE_END <= TRAMP_SHARED_OFF + TRAMP_SHARED, "sampling code overflows");
_Static_assert(TRAMP_DRAWS == 1 << 12 && TRAMP_SET_BUCKETS == 1 << 12,
	       "draws and buckets are indexed by a 64-bit value's top 12 bits");

/* Knuth's MMIX LCG: its top bits pick a draw */
#define LCG_MUL		6364136223846793005ULL
#define SET_HASH_MUL	0x9e3779b97f4a7c15ULL
#define THREAD_HASH_MUL	0x9e3779b1U

static const uint8_t ret[] = { 0xc3 };

static void call_at(struct emit *e, uint32_t target)
{
	put1(e, 0xe8);
	put4(e, (uint32_t)((int32_t)target - (int32_t)(e->off + 4)));
}

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
 * points at, checked inline, else emit_thread_slot's.  Clobbers %r10.
 */
static void thread_lookup(struct emit *e)
{
	static const uint8_t mine[] = { 0x4d, 0x39, 0x0b };		/* cmp %r9,(%r11) */
	uint32_t hit;

	thread_hash(e);
	put(e, mine, sizeof(mine));
	hit = jump_fwd(e, JE);
	call_at(e, THREAD_OFF);
	land(e, hit);
}

/* %r9 = the set's bucket for the block in %src (a mov to %r9), %r11 = its count's table */
static void set_index(struct emit *e, const uint8_t mov_r9[3])
{
	static const uint8_t mul[] = { 0x49, 0xbb };			/* movabs $imm64,%r11 */
	static const uint8_t index[] = { 0x4d, 0x0f, 0xaf, 0xcb,	/* imul %r11,%r9 */
					 0x49, 0xc1, 0xe9, 0x34 };	/* shr $52,%r9 */
	static const uint8_t lea_counts[] = { 0x4c, 0x8d, 0x1d };	/* lea counts(%rip),%r11 */
	uint64_t m = SET_HASH_MUL;

	put(e, mov_r9, 3);
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

	set_index(e, r10_r9);
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

	set_index(e, r10_r9);
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

void tramp_sample_shared(struct emit *e)
{
	routine(e, DRAW_OFF, INSERT_OFF, emit_draw);
	routine(e, INSERT_OFF, REMOVE_OFF, emit_insert);
	routine(e, REMOVE_OFF, THREAD_OFF, emit_remove);
	routine(e, THREAD_OFF, SAMPLE_CODE_END, emit_thread_slot);
}

/* The block in %rsi into %r10, then a call of the shared routine at target */
static void set_op(struct emit *e, const uint8_t mov_r10[3], uint32_t target)
{
	put(e, mov_r10, 3);
	call_at(e, target);
}

static const uint8_t rsi_r10[] = { 0x49, 0x89, 0xf2 };	/* mov %rsi,%r10 */
static const uint8_t rax_r10[] = { 0x49, 0x89, 0xc2 };	/* mov %rax,%r10 */
static const uint8_t test_r8[] = { 0x4d, 0x85, 0xc0 };

/* A realloc's old block %rsi leaves the set before the call: %r8 = 1 if it was in it */
static void take_old(struct emit *e)
{
	static const uint8_t r9_r8[] = { 0x4d, 0x89, 0xc8 };		/* mov %r9,%r8 */
	uint32_t child, null;

	put(e, no_hash, sizeof(no_hash));
	check_guard(e);
	child = jump_fwd(e, JE);
	put(e, test_rsi, sizeof(test_rsi));
	null = jump_fwd(e, JE);
	set_op(e, rsi_r10, REMOVE_OFF);
	land(e, child);
	land(e, null);
	put(e, r9_r8, sizeof(r9_r8));
}

/*
 * The real call, its arguments kept across it (a realloc's %r8 too); a GIL
 * domain's call is marked as the thread's own while it runs, so that the
 * raw-domain calls it makes are left to it.
 */
static void marked_call(struct emit *e, uint32_t slot, enum tramp_fn f, bool gil)
{
	static const uint8_t fsbase[] = { 0x64, 0x4c, 0x8b, 0x1c, 0x25, 0, 0, 0, 0 };	/* mov %fs:0,%r11 */
	static const uint8_t own[] = { 0x4c, 0x89, 0x1d };		/* mov %r11,owner(%rip) */
	static const uint8_t disown[] = { 0x48, 0xc7, 0x05 };		/* movq $0,owner(%rip) */
	static const uint8_t sub8[] = { 0x48, 0x83, 0xec, 0x08 }, add8[] = { 0x48, 0x83, 0xc4, 0x08 };

	put1(e, 0x56);				/* push %rsi */
	if (f != TRAMP_MALLOC)
		put1(e, 0x52);			/* push %rdx */
	if (f == TRAMP_REALLOC) {
		put1(e, 0x41);			/* push %r8 */
		put1(e, 0x50);
	} else if (f == TRAMP_CALLOC) {
		put(e, sub8, sizeof(sub8));	/* keep the call 16-byte aligned */
	}
	if (gil) {
		put(e, fsbase, sizeof(fsbase));
		rip_op(e, own, sizeof(own), TRAMP_OWNER_OFF, 0);
	}
	indirect(e, 0x15, slot);		/* call *slot(%rip) */
	if (gil) {
		rip_op(e, disown, sizeof(disown), TRAMP_OWNER_OFF, 4);
		put4(e, 0);
	}
	if (f == TRAMP_REALLOC) {
		put1(e, 0x41);			/* pop %r8 */
		put1(e, 0x58);
	} else if (f == TRAMP_CALLOC) {
		put(e, add8, sizeof(add8));
	}
	if (f != TRAMP_MALLOC)
		put1(e, 0x5a);			/* pop %rdx */
	put1(e, 0x5e);				/* pop %rsi */
}

/* %r10 = the bytes the call asks for */
static void size_r10(struct emit *e, enum tramp_fn f)
{
	static const uint8_t rdx_r10[] = { 0x49, 0x89, 0xd2 };		/* mov %rdx,%r10 */
	static const uint8_t times_rdx[] = { 0x4c, 0x0f, 0xaf, 0xd2 };	/* imul %rdx,%r10 */

	if (f == TRAMP_REALLOC) {
		put(e, rdx_r10, sizeof(rdx_r10));
		return;
	}
	put(e, rsi_r10, sizeof(rsi_r10));
	if (f == TRAMP_CALLOC)
		put(e, times_rdx, sizeof(times_rdx));
}

/*
 * The sampling decision, before the call: in a child, or (raw domain) an
 * inner level of the thread's GIL-domain call, none (jump at *skip); else
 * the thread's countdown goes down by the size, and on crossing zero (not
 * jumped at *unsampled) a new draw is made.  Leaves the size in %r10.
 */
static void decide(struct emit *e, enum tramp_fn f, bool gil, uint32_t *skip, uint32_t *inner,
		   uint32_t *unsampled)
{
	static const uint8_t fsbase[] = { 0x64, 0x4c, 0x8b, 0x0c, 0x25, 0, 0, 0, 0 };	/* mov %fs:0,%r9 */
	static const uint8_t cmp_owner[] = { 0x4c, 0x3b, 0x0d };	/* cmp owner(%rip),%r9 */
	static const uint8_t sub_cd[] = { 0x4d, 0x29, 0x53, 0x08 };	/* sub %r10,8(%r11) */

	check_guard(e);
	*skip = jump_fwd32(e, JE32);
	put(e, fsbase, sizeof(fsbase));
	*inner = 0;
	if (!gil) {
		rip_op(e, cmp_owner, sizeof(cmp_owner), TRAMP_OWNER_OFF, 0);
		*inner = jump_fwd32(e, JE32);
	}
	thread_lookup(e);
	size_r10(e, f);
	put(e, sub_cd, sizeof(sub_cd));
	*unsampled = jump_fwd32(e, 0x8f);	/* jg: bytes are left before the next sample */
	call_at(e, DRAW_OFF);
}

/* After a sampled call: the block %rax into the set, then exact mode's path. */
static void report(struct emit *e, enum tramp_fn f, uint32_t site, bool batched, uint32_t *probe)
{
	uint32_t logged;

	set_op(e, rax_r10, INSERT_OFF);
	if (batched) {
		logged = tramp_batched_log(e, f, site, probe);
		land(e, logged);
	} else {
		tramp_alloc_report(e, probe);
	}
	put(e, ret, 1);
}

/*
 * A sampled-mode malloc or calloc trampoline.  The decision comes before
 * the call, so that an unsampled call is a tail jump; only a GIL domain's
 * call that pymalloc may hand to the raw domain (0 or more than 512 bytes:
 * SMALL_REQUEST_THRESHOLD in 3.8 to 3.15) runs marked, and returns here.
 * A sampled one is reported (batched: logged with its stack tag, else at
 * its probe point) unless it failed.
 */
static void sample_alloc(struct emit *e, uint32_t slot, enum tramp_fn f, uint32_t site, bool gil,
			 bool batched, uint32_t *probe)
{
	static const uint8_t small[] = { 0x4d, 0x8d, 0x4a, 0xff,	/* lea -1(%r10),%r9 */
					 0x49, 0x81, 0xf9, 0xff, 0x01, 0, 0 };	/* cmp $511,%r9 */
	uint32_t skip, inner, unsampled, failed, tail;

	decide(e, f, gil, &skip, &inner, &unsampled);
	marked_call(e, slot, f, gil);
	put(e, test_rax, sizeof(test_rax));
	failed = jump_fwd(e, JE);
	report(e, f, site, batched, probe);
	if (gil) {
		land(e, unsampled);
		put(e, small, sizeof(small));
		tail = jump_fwd32(e, 0x86);	/* jbe: pymalloc's own */
		marked_call(e, slot, f, gil);
	} else {
		tail = unsampled;
	}
	land(e, failed);
	put(e, ret, 1);
	land(e, skip);
	if (inner)
		land(e, inner);
	land(e, tail);
	indirect(e, 0x25, slot);		/* jmp *slot(%rip) */
}

/*
 * A sampled-mode realloc trampoline: the old block leaves the set first
 * (after the call, its address may already be another thread's), and is
 * put back if the call fails; the new one is sampled for its new size.
 * %r8 holds 1 (the old block was sampled) | 2 (the new one is).  Sampled:
 * reported with the old block (%rsi) only if that was sampled too.  Not:
 * a sampled old block is reported freed at realloc_free.  A raw-domain
 * realloc with nothing to report is a tail jump; a GIL domain's runs
 * marked, as pymalloc may hand it to the raw domain.
 */
static void sample_realloc(struct emit *e, uint32_t slot, uint32_t site, bool gil, bool batched,
			   uint32_t *probe, uint32_t *realloc_free)
{
	static const uint8_t is_new[] = { 0x49, 0x83, 0xc8, 0x02 };	/* or $2,%r8 */
	static const uint8_t was_old[] = { 0x41, 0xf6, 0xc0, 0x01 };	/* test $1,%r8b */
	static const uint8_t sampled_new[] = { 0x41, 0xf6, 0xc0, 0x02 };	/* test $2,%r8b */
	static const uint8_t no_old[] = { 0x31, 0xf6 };			/* xor %esi,%esi */
	uint32_t skip, inner, unsampled, call, tail = 0, ok, kept, not_new, quiet, gone;

	take_old(e);
	decide(e, TRAMP_REALLOC, gil, &skip, &inner, &unsampled);
	put(e, is_new, sizeof(is_new));
	call = jump_fwd(e, JMP8);
	land(e, unsampled);
	if (!gil) {
		put(e, test_r8, sizeof(test_r8));
		tail = jump_fwd32(e, JE32);
	}
	land(e, call);
	marked_call(e, slot, TRAMP_REALLOC, gil);
	put(e, test_rax, sizeof(test_rax));
	ok = jump_fwd(e, JNE);
	put(e, was_old, sizeof(was_old));	/* failed: the old block stays */
	gone = jump_fwd(e, JE);
	set_op(e, rsi_r10, INSERT_OFF);
	land(e, gone);
	put(e, ret, 1);
	land(e, ok);
	put(e, sampled_new, sizeof(sampled_new));
	not_new = jump_fwd(e, JE);
	put(e, was_old, sizeof(was_old));
	kept = jump_fwd(e, JNE);
	put(e, no_old, sizeof(no_old));
	land(e, kept);
	report(e, TRAMP_REALLOC, site, batched, probe);
	land(e, not_new);
	put(e, was_old, sizeof(was_old));
	quiet = jump_fwd(e, JE);
	seq_to_r8(e);
	*realloc_free = e->off;
	put(e, nop5, sizeof(nop5));
	land(e, quiet);
	put(e, ret, 1);
	land(e, skip);
	if (inner)
		land(e, inner);
	if (tail)
		land(e, tail);
	indirect(e, 0x25, slot);		/* jmp *slot(%rip) */
}

void tramp_sample_alloc(struct emit *e, uint32_t slot, enum tramp_fn f, uint32_t site, bool gil,
			bool batched, uint32_t *probe, uint32_t *realloc_free)
{
	if (f == TRAMP_REALLOC)
		sample_realloc(e, slot, site, gil, batched, probe, realloc_free);
	else
		sample_alloc(e, slot, f, site, gil, batched, probe);
}

/*
 * A sampled-mode free trampoline: the block is seen only if it leaves the
 * set, then as in exact mode (the batch, or the raw domain's probe point);
 * a code object's free changes the salt whether sampled or not.  A block
 * whose bucket counts none (most frees) is known unsampled from one byte.
 */
void tramp_sample_free(struct emit *e, uint32_t slot, uint32_t site, bool gil, bool obj,
		       uint32_t *probe)
{
	static const uint8_t rsi_r9[] = { 0x49, 0x89, 0xf1 };		/* mov %rsi,%r9 */
	static const uint8_t empty[] = { 0x43, 0x80, 0x3c, 0x0b, 0x00 };	/* cmpb $0,(%r11,%r9) */
	static const uint8_t test_r9[] = { 0x45, 0x85, 0xc9 };
	uint32_t null, child, none, unsampled, part = 0;

	put(e, test_rsi, sizeof(test_rsi));
	null = jump_fwd32(e, JE32);
	check_guard(e);
	child = jump_fwd32(e, JE32);
	if (obj)
		tramp_code_free(e);
	set_index(e, rsi_r9);
	put(e, empty, sizeof(empty));
	none = jump_fwd32(e, JE32);
	set_op(e, rsi_r10, REMOVE_OFF);
	put(e, test_r9, sizeof(test_r9));
	unsampled = jump_fwd32(e, JE32);
	if (gil) {
		part = tramp_batched_free_log(e, site, probe);
	} else {
		seq_to_r8(e);
		put(e, no_hash, sizeof(no_hash));
		*probe = e->off;
		put(e, nop5, sizeof(nop5));
	}
	land(e, null);
	land(e, child);
	land(e, none);
	land(e, unsampled);
	if (part)
		land(e, part);
	indirect(e, 0x25, slot);		/* jmp *slot(%rip) */
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
	/* as a thread's first draw is made: one step of the generator */
	shared->fs = 0;
	shared->rng = seed * LCG_MUL + 1;
	shared->countdown = draws[shared->rng >> 52];
	shared->pad = 0;
}
