// SPDX-License-Identifier: GPL-2.0
/*
 * Sampled mode's trampolines (see trampoline.h): the sampling decision,
 * in x86-64.  An unsampled GIL-domain allocation costs a check of the
 * thread, a subtraction and a size test before a tail jump; the free of
 * an unsampled block a look at one byte of the set's counts (pymalloc's
 * free, nothing: see tramp_build; the frees are in tramp_sample_free.c).
 * Whatever is sampled then takes exact mode's path (the batch and its
 * stack tags, each event dated, or the raw domain's probe point).
 *
 * A realloc takes its old block out of the set before the call (after it,
 * the address may already be another thread's), puts it back if the call
 * fails, and is sampled for its new size like any allocation: a sampled
 * old block whose successor is not sampled is reported freed as a free
 * is.  A GIL domain's call marks its thread as the owner
 * while it runs, so that the raw-domain calls pymalloc makes inside it
 * (large blocks) are left to it.
 */
#include "tramp_sample.h"

static const uint8_t ret[] = { 0xc3 };

static const uint8_t rax_r10[] = { 0x49, 0x89, 0xc2 };	/* mov %rax,%r10 */
static const uint8_t test_r8[] = { 0x4d, 0x85, 0xc0 };

/*
 * A sampled block of 1 to 512 bytes asked of pymalloc as 513, so that it
 * comes from the raw domain (see tramp_build): malloc's %rsi; calloc's
 * product, as 1 x 513; realloc's %rdx, if its new block is the sampled one
 * (2 in %r8).  The caller's arguments stay on the stack.  Clobbers %r11.
 */
static void pymalloc_out(struct emit *e, enum tramp_fn f)
{
	static const uint8_t new_sampled[] = { 0x41, 0xf6, 0xc0, 0x02 };	/* test $2,%r8b */
	static const uint8_t realloc_size[] = { 0x4c, 0x8d, 0x5a, 0xff };	/* lea -1(%rdx),%r11 */
	static const uint8_t malloc_size[] = { 0x4c, 0x8d, 0x5e, 0xff };	/* lea -1(%rsi),%r11 */
	static const uint8_t product[] = { 0x49, 0x89, 0xf3,		/* mov %rsi,%r11 */
					   0x4c, 0x0f, 0xaf, 0xda };	/* imul %rdx,%r11 */
	static const uint8_t dec[] = { 0x49, 0xff, 0xcb };		/* dec %r11 */
	static const uint8_t small[] = { 0x49, 0x81, 0xfb, 0xff, 0x01, 0, 0 };	/* cmp $511,%r11 */
	static const uint8_t one[] = { 0xbe, 1, 0, 0, 0 };		/* mov $1,%esi */
	static const uint8_t esi_513[] = { 0xbe, 0x01, 0x02, 0, 0 };	/* mov $513,%esi */
	static const uint8_t edx_513[] = { 0xba, 0x01, 0x02, 0, 0 };	/* mov $513,%edx */
	uint32_t skip[2] = {}, n = 0, i;

	if (f == TRAMP_REALLOC) {
		put(e, new_sampled, sizeof(new_sampled));
		skip[n++] = jump_fwd(e, JE);
		put(e, realloc_size, sizeof(realloc_size));
	} else if (f == TRAMP_CALLOC) {
		put(e, product, sizeof(product));
		skip[n++] = jump_fwd(e, 0x70);	/* jo: no size pymalloc would take */
		put(e, dec, sizeof(dec));
	} else {
		put(e, malloc_size, sizeof(malloc_size));
	}
	put(e, small, sizeof(small));
	skip[n++] = jump_fwd(e, 0x77);		/* ja */
	if (f == TRAMP_CALLOC)
		put(e, one, sizeof(one));
	if (f == TRAMP_MALLOC)
		put(e, esi_513, sizeof(esi_513));
	else
		put(e, edx_513, sizeof(edx_513));
	for (i = 0; i < n; i++)
		land(e, skip[i]);
}

/*
 * The real call, its arguments kept across it (a realloc's %r8 too); a GIL
 * domain's call is marked as the thread's own while it runs, so that the
 * raw-domain calls it makes are left to it.  sampled: the call's block is
 * (or, for a realloc, may be) a sample, which pymalloc must hand to the
 * raw domain.
 */
static void marked_call(struct emit *e, uint32_t slot, enum tramp_fn f, bool gil, bool sampled)
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
	if (sampled && e->pymalloc)
		pymalloc_out(e, f);
	libc_out(e, f);
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
 * Where a decision's jumps go (0: none), for its trampoline to aim.  An
 * unsampled call falls through the decision: the common way takes no
 * branch before its tail jump (taken ones cost a point or more of a
 * PGO build's request handler, whose every allocation comes through here).
 */
struct decision {
	uint32_t skip;		/* raw domain: a forked child's call */
	uint32_t inner;		/* raw domain: an inner level of the thread's GIL-domain call */
	uint32_t slow;		/* GIL domains: not the cached thread (decide_cold) */
	uint32_t other;		/* raw domain: likewise, decided by its own slot (decide_cold) */
	uint32_t resume;	/* where the slow way comes back to */
	uint32_t crossed;	/* the cached countdown crossed zero: sampled */
	uint32_t unsampled;	/* where an unsampled call falls through to */
	uint32_t sampled;	/* where a sampled one goes on, its new draw made */
};

#define JA32	0x87
#define JG32	0x8f
#define JLE32	0x8e

/*
 * The sampling decision, before the call.  The GIL domains' (see struct
 * tramp_sample_state): the thread the cache holds takes the size off it;
 * any other thread, or a forked child, goes the slow way.  The raw
 * domain's: a child's call, or an inner level of the thread's GIL-domain
 * call, is none of its own (jump at skip, inner); else the cached
 * countdown if the thread is the cache's, or its slot's (the other way).
 * The countdown crossing zero makes a new draw (land_sampled).  Leaves
 * the size in %r10.
 */
static void decide(struct emit *e, enum tramp_fn f, bool gil, struct decision *d)
{
	static const uint8_t fsbase[] = { 0x64, 0x4c, 0x8b, 0x0c, 0x25, 0, 0, 0, 0 };	/* mov %fs:0,%r9 */
	static const uint8_t cmp_owner[] = { 0x4c, 0x3b, 0x0d };	/* cmp owner(%rip),%r9 */
	static const uint8_t cmp_gil[] = { 0x4c, 0x3b, 0x0d };		/* cmp gil_fs(%rip),%r9 */
	static const uint8_t sub_cd[] = { 0x4c, 0x29, 0x15 };		/* sub %r10,countdown(%rip) */

	memset(d, 0, sizeof(*d));
	if (!gil) {
		check_guard(e);
		d->skip = jump_fwd32(e, JE32);
	}
	put(e, fsbase, sizeof(fsbase));
	if (!gil) {
		rip_op(e, cmp_owner, sizeof(cmp_owner), TRAMP_OWNER_OFF, 0);
		d->inner = jump_fwd32(e, JE32);
	}
	rip_op(e, cmp_gil, sizeof(cmp_gil), TRAMP_GIL_FS_OFF, 0);
	if (gil)
		d->slow = jump_fwd32(e, JNE32);
	else
		d->other = jump_fwd32(e, JNE32);
	d->resume = e->off;
	size_r10(e, f);
	rip_op(e, sub_cd, sizeof(sub_cd), TRAMP_GIL_COUNTDOWN_OFF, 0);
	d->crossed = jump_fwd32(e, JLE32);
	d->unsampled = e->off;
}

/* The sampled way's start: the cached countdown's new draw */
static void land_sampled(struct emit *e, struct decision *d)
{
	land(e, d->crossed);
	call_at(e, GIL_DRAW_OFF);
	d->sampled = e->off;
}

/*
 * A decision's ways out of line, after its trampoline's end.  A GIL
 * domain's slow way: a forked child jumps to the tail jump at tail;
 * another thread takes the cache over, and decides as the cached one
 * does.  The raw domain's other thread: its own slot's countdown.
 */
static void decide_cold(struct emit *e, const struct decision *d, enum tramp_fn f, uint32_t tail)
{
	static const uint8_t sub_slot[] = { 0x4d, 0x29, 0x53, 0x08 };	/* sub %r10,8(%r11) */

	if (d->slow) {
		land(e, d->slow);
		check_guard(e);
		jump_back(e, JE32, tail);
		call_at(e, GIL_SWITCH_OFF);
		jump_back(e, 0, d->resume);
	}
	if (d->other) {
		land(e, d->other);
		tramp_thread_lookup(e);
		size_r10(e, f);
		put(e, sub_slot, sizeof(sub_slot));
		jump_back(e, JG32, d->unsampled);
		call_at(e, DRAW_OFF);
		jump_back(e, 0, d->sampled);
	}
}

/* Aim the jumps that skip sampling at the tail jump, and emit it; returns where it is */
static uint32_t tail_jump(struct emit *e, const struct decision *d, enum tramp_fn f,
			  uint32_t slot)
{
	uint32_t at;

	if (d->skip)
		land(e, d->skip);
	if (d->inner)
		land(e, d->inner);
	at = e->off;
	jump_real(e, f, slot);
	return at;
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
		tramp_alloc_report(e, site, probe);
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
	struct decision d;
	uint32_t failed, large = 0, tail;

	libc_in(e, f);
	decide(e, f, gil, &d);
	if (gil) {
		put(e, small, sizeof(small));
		large = jump_fwd32(e, JA32);
	}
	tail = tail_jump(e, &d, f, slot);
	land_sampled(e, &d);
	marked_call(e, slot, f, gil, true);
	put(e, test_rax, sizeof(test_rax));
	failed = jump_fwd(e, JE);
	report(e, f, site, batched, probe);
	if (large) {
		land(e, large);
		marked_call(e, slot, f, gil, false);
	}
	land(e, failed);
	put(e, ret, 1);
	decide_cold(e, &d, f, tail);
}

/*
 * A sampled-mode realloc trampoline: the old block leaves the set first
 * (after the call, its address may already be another thread's), and is
 * put back if the call fails; the new one is sampled for its new size.
 * %r8 holds 1 (the old block was sampled) | 2 (the new one is).  Neither:
 * a raw-domain realloc is a tail jump, and a GIL domain's only runs marked
 * (pymalloc may hand it to the raw domain).  Sampled: reported with the
 * old block (%rsi) only if that was sampled too.  Not: a sampled old block
 * is reported freed at realloc_free.  The old block's bucket counting
 * none (most reallocs) tells it unsampled from one byte, without a look
 * at the set; a forked child's set is empty.
 */
static void sample_realloc(struct emit *e, uint32_t slot, uint32_t site, bool gil, bool batched,
			   uint32_t *probe, uint32_t *realloc_free, uint32_t *realloc_flush)
{
	static const uint8_t no_old_yet[] = { 0x45, 0x31, 0xc0 };	/* xor %r8d,%r8d */
	static const uint8_t r9_r8[] = { 0x4d, 0x89, 0xc8 };		/* mov %r9,%r8 */
	static const uint8_t is_new[] = { 0x49, 0x83, 0xc8, 0x02 };	/* or $2,%r8 */
	static const uint8_t was_old[] = { 0x41, 0xf6, 0xc0, 0x01 };	/* test $1,%r8b */
	static const uint8_t sampled_new[] = { 0x41, 0xf6, 0xc0, 0x02 };	/* test $2,%r8b */
	static const uint8_t no_old[] = { 0x31, 0xf6 };			/* xor %esi,%esi */
	static const uint8_t test_rdx[] = { 0x48, 0x85, 0xd2 };
	uint32_t null, old, decided, moved, tail, ok, kept, not_new, quiet, gone, freed = 0;
	struct decision d;

	libc_in(e, TRAMP_REALLOC);
	put(e, no_old_yet, sizeof(no_old_yet));
	put(e, test_rsi, sizeof(test_rsi));
	null = jump_fwd(e, JE);
	old = tramp_bucket_counts(e);
	land(e, null);
	decided = e->off;
	decide(e, TRAMP_REALLOC, gil, &d);
	put(e, test_r8, sizeof(test_r8));
	moved = jump_fwd32(e, JNE32);
	if (gil) {
		/* nothing to report: the call's arguments need not be kept */
		marked_call(e, slot, TRAMP_MALLOC, gil, false);
		put(e, ret, 1);
	}
	tail = tail_jump(e, &d, TRAMP_REALLOC, slot);
	land_sampled(e, &d);
	put(e, is_new, sizeof(is_new));
	land(e, moved);
	marked_call(e, slot, TRAMP_REALLOC, gil, true);
	put(e, test_rax, sizeof(test_rax));
	ok = jump_fwd(e, JNE);
	if (e->libc) {
		/* glibc's realloc(p, 0) frees p and returns NULL */
		put(e, test_rdx, sizeof(test_rdx));
		freed = jump_fwd32(e, JE32);
	}
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
	if (freed)
		land(e, freed);
	put(e, was_old, sizeof(was_old));
	quiet = jump_fwd32(e, JE32);
	tramp_report_freed(e, site + 1, gil, true, realloc_free, realloc_flush);
	land(e, quiet);
	put(e, ret, 1);
	/* the old block's bucket counts some: is it one of them? */
	land(e, old);
	set_op(e, rsi_r10, REMOVE_OFF);
	put(e, r9_r8, sizeof(r9_r8));
	jump_back(e, 0, decided);
	decide_cold(e, &d, TRAMP_REALLOC, tail);
}

void tramp_sample_alloc(struct emit *e, uint32_t slot, enum tramp_fn f, uint32_t site, bool gil,
			bool batched, uint32_t *probe, uint32_t *realloc_free, uint32_t *realloc_flush)
{
	if (f == TRAMP_REALLOC)
		sample_realloc(e, slot, site, gil, batched, probe, realloc_free, realloc_flush);
	else
		sample_alloc(e, slot, f, site, gil, batched, probe);
}

/*
 * posix_memalign(memptr, alignment, size): sampled on size (%rdx, where a
 * realloc's is); once it succeeds, the probe point sees the block in %rax
 * and the size in %rsi as after a malloc, and the caller gets its 0 back.
 */
static void sample_posix_memalign(struct emit *e, uint32_t slot, uint32_t site, uint32_t *probe)
{
	static const uint8_t save[] = { 0x57, 0x52,			/* push %rdi; push %rdx */
					0x48, 0x83, 0xec, 0x08 };	/* sub $8,%rsp: aligned */
	static const uint8_t restore[] = { 0x48, 0x83, 0xc4, 0x08,	/* add $8,%rsp */
					   0x5a, 0x5f };		/* pop %rdx; pop %rdi */
	static const uint8_t test_eax[] = { 0x85, 0xc0 };
	static const uint8_t block[] = { 0x48, 0x8b, 0x07,		/* mov (%rdi),%rax */
					 0x48, 0x89, 0xd6 };		/* mov %rdx,%rsi */
	static const uint8_t zero[] = { 0x31, 0xc0 };			/* xor %eax,%eax */
	struct decision d;
	uint32_t failed, tail;

	decide(e, TRAMP_REALLOC, false, &d);
	tail = tail_jump(e, &d, TRAMP_POSIX_MEMALIGN, slot);
	land_sampled(e, &d);
	put(e, save, sizeof(save));
	indirect(e, 0x15, slot);		/* call *slot(%rip) */
	put(e, restore, sizeof(restore));
	put(e, test_eax, sizeof(test_eax));
	failed = jump_fwd(e, JNE);
	put(e, block, sizeof(block));
	set_op(e, rax_r10, INSERT_OFF);
	tramp_alloc_report(e, site, probe);
	put(e, zero, sizeof(zero));
	land(e, failed);
	put(e, ret, 1);
	decide_cold(e, &d, TRAMP_REALLOC, tail);
}

/*
 * reallocarray(p, n, size) is realloc(p, n * size) unless the product
 * overflows (glibc's own is just that): so, to the realloc trampoline at
 * realloc_at, which follows p; an overflow goes to libc's, which fails.
 * A block libc moved unseen would stay counted live.
 */
static void reallocarray_as_realloc(struct emit *e, uint32_t slot, uint32_t realloc_at)
{
	static const uint8_t product[] = { 0x49, 0x89, 0xf2,		/* mov %rsi,%r10 */
					   0x4c, 0x0f, 0xaf, 0xd2 };	/* imul %rdx,%r10 */
	static const uint8_t size_rsi[] = { 0x4c, 0x89, 0xd6 };	/* mov %r10,%rsi */
	uint32_t overflow;

	put(e, product, sizeof(product));
	overflow = jump_fwd(e, 0x70);		/* jo */
	put(e, size_rsi, sizeof(size_rsi));
	jump_back(e, 0, realloc_at);
	land(e, overflow);
	jump_real(e, TRAMP_REALLOCARRAY, slot);
}

/*
 * libc's functions that no allocator table has, none of whose arguments
 * move.  aligned_alloc and memalign take (alignment, size): a table
 * function's (ctx, size), and so the raw domain's malloc trampoline as it
 * is; valloc takes malloc's arguments, and goes as libc's malloc.
 */
void tramp_sample_libc_only(struct emit *e, uint32_t slot, enum tramp_fn f, uint32_t site,
			    uint32_t realloc_at, uint32_t *probe)
{
	bool libc = e->libc;

	e->libc = f == TRAMP_VALLOC;
	if (f == TRAMP_POSIX_MEMALIGN)
		sample_posix_memalign(e, slot, site, probe);
	else if (f == TRAMP_REALLOCARRAY)
		reallocarray_as_realloc(e, slot, realloc_at);
	else
		sample_alloc(e, slot, TRAMP_MALLOC, site, false, false, probe);
	e->libc = libc;
}
