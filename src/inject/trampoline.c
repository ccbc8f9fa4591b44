// SPDX-License-Identifier: GPL-2.0
/*
 * x86-64 trampoline code.  Allocation trampolines keep their arguments on
 * the stack across the call and restore them, so that at the NOP after
 * the call %rax is the result, %rsi/%rdx the arguments, %rcx a copy of
 * the caller's return address (the BPF side would otherwise read it from
 * (%rsp), a user-memory copy per event), %r8 the batch's count and %r9 the
 * stack hash to learn (0: none): one probe hit sees the whole event, and
 * the batched events before it.  All of these are call-clobbered, so the
 * caller expects nothing of them, nor of the flags.  Raw frees are seen at
 * the probe point before a tail jump; the GIL domains' events are batched
 * (emit_batched_free, emit_stack_tag).  Stack alignment at each call is
 * the ABI's (entry is 8 mod 16).
 */
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include "py_offsets.h"
#include "tramp_emit.h"

/* the slot index and the flush test are 8-bit immediates */
_Static_assert(PYMEM_BATCH <= 128 && !(PYMEM_BATCH & (PYMEM_BATCH - 1)),
	       "the batch must be a small power of two");
_Static_assert(sizeof(struct batch_ev) == 32, "a batch slot is 1 << 5 bytes");


/*
 * After a raw-domain (or libc set) allocation's call: the event at its
 * probe point, with the thread's stack hash (emit_stack_tag's raw variant)
 * if the getter is known, else none.
 */
void tramp_alloc_report(struct emit *e, uint32_t site, uint32_t *probe)
{
	static const uint8_t site_r10[] = { 0x41, 0xba };		/* mov $imm32,%r10d */
	int32_t rel;

	put(e, caller_to_rcx, sizeof(caller_to_rcx));
	if (e->raw_hash) {
		put(e, site_r10, sizeof(site_r10));
		put4(e, site);
		put1(e, 0xe8);		/* call raw_hash */
		rel = (int32_t)TRAMP_RAW_HASH_OFF - (int32_t)(e->off + 4);
		put4(e, (uint32_t)rel);
	} else {
		put(e, no_hash, sizeof(no_hash));
	}
	seq_to_r8(e);
	probe_point(e, probe);
}

/* The raw domain's allocations: every one hits its probe point. */
static void emit_alloc(struct emit *e, uint32_t slot, bool three_args, uint32_t direct,
		       uint32_t site, uint32_t *probe)
{
	call_real(e, slot, three_args, direct);
	tramp_alloc_report(e, site, probe);
	put1(e, 0xc3);			/* ret */
}

/*
 * After a GIL domain's allocation (%rax not NULL, the guard set): the
 * shared stack_tag logs it, or asks for the probe point with %edi = 1, %r8
 * the count and %r9 the hash to learn.  Returns the jump over that probe
 * point, for the caller to aim at its ret.
 */
uint32_t tramp_batched_log(struct emit *e, enum tramp_fn f, uint32_t site, uint32_t *probe)
{
	static const uint8_t size_rsi[] = { 0x48, 0x89, 0xf7 };		/* mov %rsi,%rdi */
	static const uint8_t size_rdx[] = { 0x48, 0x89, 0xd7 };		/* mov %rdx,%rdi */
	static const uint8_t times_rdx[] = { 0x48, 0x0f, 0xaf, 0xfa };	/* imul %rdx,%rdi */
	static const uint8_t old_rsi[] = { 0x49, 0x89, 0xf0 };		/* mov %rsi,%r8 */
	static const uint8_t no_old[] = { 0x45, 0x31, 0xc0 };		/* xor %r8d,%r8d */
	static const uint8_t site_r10[] = { 0x41, 0xba };		/* mov $imm32,%r10d */
	static const uint8_t test_edi[] = { 0x85, 0xff };
	uint32_t logged;
	int32_t rel;

	put(e, caller_to_rcx, sizeof(caller_to_rcx));
	switch (f) {
	case TRAMP_CALLOC:
		put(e, size_rsi, sizeof(size_rsi));
		put(e, times_rdx, sizeof(times_rdx));
		put(e, no_old, sizeof(no_old));
		break;
	case TRAMP_REALLOC:
		put(e, size_rdx, sizeof(size_rdx));
		put(e, old_rsi, sizeof(old_rsi));
		break;
	default:
		put(e, size_rsi, sizeof(size_rsi));
		put(e, no_old, sizeof(no_old));
	}
	put(e, site_r10, sizeof(site_r10));
	put4(e, site);
	put1(e, 0xe8);			/* call stack_tag */
	rel = (int32_t)TRAMP_SHARED_OFF - (int32_t)(e->off + 4);
	put4(e, (uint32_t)rel);
	put(e, test_edi, sizeof(test_edi));
	logged = jump_fwd(e, JE);
	*probe = e->off;
	put(e, nop5, sizeof(nop5));
	return logged;
}

/* A GIL domain's allocation: the real call, then (guard set, result not NULL) its log. */
static void emit_batched_alloc(struct emit *e, uint32_t slot, enum tramp_fn f, uint32_t site,
			       uint32_t *probe)
{
	uint32_t failed, child, logged;

	call_real(e, slot, f != TRAMP_MALLOC, 0);
	put(e, test_rax, sizeof(test_rax));
	failed = jump_fwd(e, JE);	/* a failed call allocates nothing, frees nothing */
	check_guard(e);
	child = jump_fwd(e, JE);
	logged = tramp_batched_log(e, f, site, probe);
	land(e, failed);
	land(e, child);
	land(e, logged);
	put1(e, 0xc3);			/* ret */
}

static void emit_free(struct emit *e, uint32_t slot, uint32_t direct, uint32_t *probe)
{
	seq_to_r8(e);
	put(e, no_hash, sizeof(no_hash));
	probe_point(e, probe);
	if (direct)
		rel_branch(e, 0xe9, direct);
	else
		indirect(e, 0x25, slot);	/* jmp *slot(%rip) */
}


/*
 * Is the object-domain block %rsi a code object?  ZF set if so: its type
 * read at +8 (code objects are not GC-tracked, so the block is the
 * object).  Clobbers %rax.
 */
void tramp_code_test(struct emit *e)
{
	static const uint8_t type_rax[] = { 0x48, 0x8b, 0x46, 0x08 };	/* mov 8(%rsi),%rax */
	static const uint8_t cmp_type[] = { 0x48, 0x3b, 0x05 };		/* cmp type(%rip),%rax */

	put(e, type_rax, sizeof(type_rax));
	rip_op(e, cmp_type, sizeof(cmp_type), TRAMP_CODETYPE_OFF, 0);
}

/* A code object died: no stack hash made with the old salt names a stack any more */
void tramp_salt_bump(struct emit *e)
{
	static const uint8_t inc_salt[] = { 0x48, 0xff, 0x05 };		/* incq salt(%rip) */

	rip_op(e, inc_salt, sizeof(inc_salt), TRAMP_SALT_OFF, 0);
}

/* An object-domain free of a code object changes the salt.  Clobbers %rax. */
static void code_free(struct emit *e)
{
	uint32_t other;

	tramp_code_test(e);
	other = jump_fwd(e, JNE);
	tramp_salt_bump(e);
	land(e, other);
}

/* mov $site,%r9d: the site tramp_free_log() logs */
void tramp_site_r9(struct emit *e, uint32_t site)
{
	static const uint8_t meta[] = { 0x41, 0xb9 };

	put(e, meta, sizeof(meta));
	put4(e, site);
}

/*
 * The free of %rsi, at site %r9d, into the next slot of the batch, and
 * every PYMEM_BATCH_FLUSH-th event its probe point.  Returns the jump over
 * that, for the caller to aim at the real free.
 */
uint32_t tramp_free_log(struct emit *e, uint32_t *probe)
{
	static const uint8_t store[] = { 0x48, 0x89, 0x32 };		/* mov %rsi,(%rdx) */
	static const uint8_t meta_shift[] = { 0x49, 0xc1, 0xe1, 0x38,	/* shl $56,%r9 */
					      0x4c, 0x89, 0x4a, 0x10 };	/* mov %r9,16(%rdx) */
	uint32_t part;

	stamp_read(e);
	load_seq(e);
	batch_slot(e);
	stamp_store(e);
	put(e, store, sizeof(store));
	put(e, meta_shift, sizeof(meta_shift));
	part = batch_commit(e);
	*probe = e->off;
	put(e, nop5, sizeof(nop5));
	return part;
}

/*
 * Sampled mode's hook for PyCode_Type's tp_dealloc(op), when pymalloc's
 * frees have no trampoline (see tramp_build): a code object dies, so the
 * salt changes and the BPF side forgets its incarnation (site
 * BATCH_CODE_FREE; if its block was sampled, the raw domain's free reports
 * that after); then the original runs.  A forked child's goes straight to
 * it.
 */
static void code_dealloc_hook(struct emit *e, uint32_t *probe)
{
	static const uint8_t rdi_rsi[] = { 0x48, 0x89, 0xfe };	/* mov %rdi,%rsi */
	uint32_t child, part;

	check_guard(e);
	child = jump_fwd(e, JE);
	tramp_salt_bump(e);
	put(e, rdi_rsi, sizeof(rdi_rsi));
	tramp_site_r9(e, BATCH_CODE_FREE);
	part = tramp_free_log(e, probe);
	land(e, part);
	land(e, child);
	indirect(e, 0x25, TRAMP_DEALLOC_OFF);	/* jmp *dealloc(%rip) */
}

/*
 * A GIL domain's free: the block goes into the batch and the real free
 * runs at once; only every PYMEM_BATCH_FLUSH-th event reaches the probe
 * point.  Clobbers %rax, %rcx, %rdx, %r8 and %r9, which free(ctx, p) leaves
 * to its callee.
 */
static void emit_batched_free(struct emit *e, uint32_t slot, uint32_t site, bool obj,
			      uint32_t *probe)
{
	uint32_t null, child, part;

	put(e, test_rsi, sizeof(test_rsi));
	null = jump_fwd(e, JE);			/* free(NULL): nothing to see */
	check_guard(e);
	child = jump_fwd(e, JE);		/* a forked child keeps no batch */
	if (obj)
		code_free(e);
	tramp_site_r9(e, site);
	part = tramp_free_log(e, probe);
	land(e, null);
	land(e, child);
	land(e, part);
	indirect(e, 0x25, slot);		/* jmp *slot(%rip) */
}

/* rol $27,%r9; then the xor the caller emits; then imul %r11,%r9 (and the same for %r8) */
static const uint8_t rol_r9[] = { 0x49, 0xc1, 0xc1, 0x1b };
static const uint8_t mul_r9[] = { 0x4d, 0x0f, 0xaf, 0xcb };
static const uint8_t rol_r8[] = { 0x49, 0xc1, 0xc0, 0x1b };
static const uint8_t mul_r8[] = { 0x4d, 0x0f, 0xaf, 0xc3 };

/*
 * Hash in the frame %rdx's code (into %r9) and instruction (into %r8);
 * skip a shim frame.  Two chains of one multiply each, not one of two:
 * the multiplies' latency, not the frame reads, bounded a deep stack's hash.
 */
static void hash_frame(struct emit *e, const struct tramp_walk *w)
{
	static const uint8_t owner[] = { 0x80, 0xba };		/* cmpb $imm8,disp32(%rdx) */
	static const uint8_t xor_code[] = { 0x4c, 0x33, 0x8a };	/* xor disp32(%rdx),%r9 */
	static const uint8_t xor_lasti[] = { 0x4c, 0x33, 0x82 };	/* xor disp32(%rdx),%r8 */
	static const uint8_t lasti_int[] = { 0x4c, 0x63, 0x92 };	/* movslq disp32(%rdx),%r10 */
	static const uint8_t xor_r10[] = { 0x4d, 0x31, 0xd0 };	/* xor %r10,%r8 */
	uint32_t shim = 0;

	if (w->frame_owner != PY_OFF_NONE) {
		disp_op(e, owner, sizeof(owner), w->frame_owner);
		put1(e, 3);	/* FRAME_OWNED_BY_CSTACK and above are not Python frames */
		shim = jump_fwd(e, JAE);
	}
	put(e, rol_r9, sizeof(rol_r9));
	disp_op(e, xor_code, sizeof(xor_code), w->frame_code);
	put(e, mul_r9, sizeof(mul_r9));
	put(e, rol_r8, sizeof(rol_r8));
	if (w->lasti_is_int) {
		disp_op(e, lasti_int, sizeof(lasti_int), w->frame_lasti);
		put(e, xor_r10, sizeof(xor_r10));
	} else {
		disp_op(e, xor_lasti, sizeof(xor_lasti), w->frame_lasti);
	}
	put(e, mul_r8, sizeof(mul_r8));
	if (shim)
		land(e, shim);
}

static const uint8_t stack_tag_out[] = { 0x48, 0x83, 0xc4, 0x20,	/* add $32,%rsp */
					  0x5e, 0x5a, 0x59, 0x58, 0xc3 };	/* pop rsi rdx rcx rax; ret */
/* the set's ways move down one, the oldest drops out, the tag comes first */
static const uint8_t stack_tag_learn[] = { 0x48, 0x8b, 0x4a, 0x10, 0x48, 0x89, 0x4a, 0x18,
					   0x48, 0x8b, 0x4a, 0x08, 0x48, 0x89, 0x4a, 0x10,
					   0x48, 0x8b, 0x0a, 0x48, 0x89, 0x4a, 0x08,
					   0x4c, 0x89, 0x12 };
static const uint8_t quiet_test[] = { 0x80, 0x3d };		/* cmpb $imm8,nop(%rip) */

/*
 * The raw variant's ends (see emit_stack_tag), after a hit in the tag
 * table: known, learnt (at miss), or no hash (at none and quiet); then
 * the quiet test emitted at quiet_at is aimed at the flush NOP.
 */
static void raw_tails(struct emit *e, uint32_t miss, uint32_t quiet, const uint32_t none[3],
		      uint32_t flush, uint32_t quiet_at)
{
	static const uint8_t known[] = { 0x49, 0x83, 0xe1, 0xfe };	/* and $-2,%r9 */
	uint32_t done[2], here;
	int i;

	put(e, known, sizeof(known));
	done[0] = jump_fwd(e, JMP8);
	land(e, miss);
	put(e, stack_tag_learn, sizeof(stack_tag_learn));
	done[1] = jump_fwd(e, JMP8);
	land(e, quiet);
	for (i = 0; i < 3; i++)
		land(e, none[i]);
	put(e, no_hash, sizeof(no_hash));
	land(e, done[0]);
	land(e, done[1]);
	put(e, stack_tag_out, sizeof(stack_tag_out));
	here = e->off;
	e->off = quiet_at;
	rip_op(e, quiet_test, sizeof(quiet_test), flush, 1);
	e->off = here;
}

/*
 * Shared by the GIL domains' allocation trampolines (batched).  In: %rax
 * the block, %rdi its size, %r8 a realloc's old block (else 0), %r10 the
 * site, %rcx the caller's return address.  Hashes the thread's Python
 * stack with them; a hash the tag table knows (under the current salt:
 * tags are in sets of TRAMP_WAYS, one cache line, so that a few hot stacks
 * that share a set do not evict each other) is logged with the event and
 * %edi = 0 returned, any other asks for the probe point:
 * %edi = 1, %r8 the batch's count and %r9 the hash (0 if there is none:
 * not the thread's state, or too deep).  Keeps %rax, %rcx, %rdx, %rsi.
 *
 * The raw variant (not batched: the raw domain and the libc set, whose
 * every allocation hits its probe point, and is called without the GIL)
 * logs nothing: %r9 is a hash the table knows with its low bit cleared,
 * for the BPF side to name the stack it was learnt for without a walk, a
 * new one with it set (never 0), to be learnt, or 0.  Its tag table
 * updates may race another thread's: a tag lost is learnt again, and a
 * raw site's hash never equals a batched one's (the site is hashed in).
 * Clobbers %rdi, %r8-%r11.  flush: the batched variant's flush NOP (set by
 * it, read by the raw one), whose bare first byte means no probe is
 * attached: nothing is hashed then.
 */
static void emit_stack_tag(struct emit *e, const struct tramp_walk *w, uint32_t *flush,
			   bool batched)
{
	static const uint8_t push_r8[] = { 0x41, 0x50 }, push_r10[] = { 0x41, 0x52 };
	static const uint8_t sub8[] = { 0x48, 0x83, 0xec, 0x08 };
	static const uint8_t test_rdx[] = { 0x48, 0x85, 0xd2 };
	static const uint8_t fsbase[] = { 0x64, 0x48, 0x8b, 0x14, 0x25, 0, 0, 0, 0 };
	static const uint8_t cmp_tid[] = { 0x48, 0x3b, 0x90 };		/* cmp disp32(%rax),%rdx */
	static const uint8_t frame_rax[] = { 0x48, 0x8b, 0x90 };	/* mov disp32(%rax),%rdx */
	static const uint8_t frame_rdx[] = { 0x48, 0x8b, 0x92 };	/* mov disp32(%rdx),%rdx */
	static const uint8_t mul_r11[] = { 0x49, 0xbb };		/* movabs $imm64,%r11 */
	static const uint8_t seed[] = { 0x4c, 0x8b, 0x4c, 0x24, 0x08,	/* mov 8(%rsp),%r9: site */
					0x4c, 0x33, 0x4c, 0x24, 0x30 };	/* xor 48(%rsp),%r9: caller */
	static const uint8_t seed_r8[] = { 0x4d, 0x89, 0xc8 };		/* mov %r9,%r8 */
	static const uint8_t join[] = { 0x49, 0xc1, 0xc0, 0x20,		/* rol $32,%r8 */
					0x4d, 0x31, 0xc1 };		/* xor %r8,%r9 */
	static const uint8_t count[] = { 0xb9 };			/* mov $imm32,%ecx */
	static const uint8_t dec_ecx[] = { 0xff, 0xc9 };
	static const uint8_t fold[] = { 0x4d, 0x89, 0xca,		/* mov %r9,%r10 */
					0x49, 0xc1, 0xea, 0x1d,		/* shr $29,%r10 */
					0x4d, 0x31, 0xd1,		/* xor %r10,%r9 */
					0x49, 0x83, 0xc9, 0x01 };	/* or $1,%r9: never 0 */
	static const uint8_t salt[] = { 0x4c, 0x8b, 0x15 };		/* mov salt(%rip),%r10 */
	static const uint8_t set[] = { 0x4d, 0x31, 0xca,		/* xor %r9,%r10: the tag */
				       0x44, 0x89, 0xd1,		/* mov %r10d,%ecx */
				       0x81, 0xe1 };			/* and $imm32,%ecx */
	static const uint8_t set_addr[] = { 0x48, 0xc1, 0xe1, 0x05,	/* shl $5,%rcx */
					    0x48, 0x01, 0xca };		/* add %rcx,%rdx */
	static const uint8_t lea_tags[] = { 0x48, 0x8d, 0x15 };	/* lea tags(%rip),%rdx */
	static const uint8_t cmp_way[] = { 0x4c, 0x3b, 0x52 };	/* cmp disp8(%rdx),%r10 */
	static const uint8_t log[] = {
		0x48, 0x8b, 0x4c, 0x24, 0x38,	/* mov 56(%rsp),%rcx: the block */
		0x48, 0x89, 0x0a,		/* mov %rcx,(%rdx) */
		0x48, 0x8b, 0x4c, 0x24, 0x10,	/* mov 16(%rsp),%rcx: the old block */
		0x48, 0x89, 0x4a, 0x08,		/* mov %rcx,8(%rdx) */
		0x48, 0x8b, 0x4c, 0x24, 0x18,	/* mov 24(%rsp),%rcx: the size */
		0x4c, 0x8b, 0x54, 0x24, 0x08,	/* mov 8(%rsp),%r10: the site */
		0x49, 0xc1, 0xe2, 0x38,		/* shl $56,%r10 */
		0x4c, 0x09, 0xd1,		/* or %r10,%rcx */
		0x48, 0x89, 0x4a, 0x10,		/* mov %rcx,16(%rdx) */
		0x4c, 0x89, 0x4a, 0x18,		/* mov %r9,24(%rdx) */
	};
	static const uint8_t edi0[] = { 0x31, 0xff };			/* xor %edi,%edi */
	static const uint8_t edi1[] = { 0xbf, 1, 0, 0, 0 };		/* mov $1,%edi */
	uint64_t mul = HASH_MUL;
	uint32_t quiet, no_ts, not_ours, top, end = 0, deep, part, done1, miss, unknown;
	uint32_t loop, flush_at, here, hit[TRAMP_WAYS - 1];
	int way;

	/* stack: 0 pad, 8 site, 16 old, 24 size, 32 rsi, 40 rdx, 48 caller, 56 block */
	put1(e, 0x50);				/* push %rax */
	put1(e, 0x51);				/* push %rcx */
	put1(e, 0x52);				/* push %rdx */
	put1(e, 0x56);				/* push %rsi */
	put1(e, 0x57);				/* push %rdi */
	put(e, push_r8, sizeof(push_r8));
	put(e, push_r10, sizeof(push_r10));
	put(e, sub8, sizeof(sub8));
	/* the flush probe point's first byte: a bare NOP when no probe is attached */
	flush_at = e->off;
	put(e, quiet_test, sizeof(quiet_test));
	put4(e, 0);				/* aimed at the end, once the NOP is placed */
	put1(e, nop5[0]);
	quiet = jump_fwd32(e, JE32);
	/* call *getter(%rip) */
	indirect(e, 0x15, batched ? TRAMP_GETTER_OFF : TRAMP_OWN_GETTER_OFF);
	put(e, test_rax, sizeof(test_rax));
	no_ts = jump_fwd32(e, JE32);
	put(e, fsbase, sizeof(fsbase));		/* mov %fs:0,%rdx: this thread */
	disp_op(e, cmp_tid, sizeof(cmp_tid), w->tstate_thread_id);
	not_ours = jump_fwd32(e, JNE32);
	disp_op(e, frame_rax, sizeof(frame_rax), w->tstate_frame);
	if (w->cframe_current_frame != PY_OFF_NONE) {
		put(e, test_rdx, sizeof(test_rdx));
		end = jump_fwd32(e, JE32);
		disp_op(e, frame_rdx, sizeof(frame_rdx), w->cframe_current_frame);
	}
	put(e, mul_r11, sizeof(mul_r11));
	put(e, (const uint8_t *)&mul, 8);
	put(e, seed, sizeof(seed));
	put(e, mul_r9, sizeof(mul_r9));
	put(e, seed_r8, sizeof(seed_r8));
	put(e, count, sizeof(count));
	put4(e, TRAMP_MAX_FRAMES + 1);
	loop = e->off;
	put(e, test_rdx, sizeof(test_rdx));
	top = jump_fwd32(e, JE32);
	put(e, dec_ecx, sizeof(dec_ecx));
	deep = jump_fwd32(e, JE32);
	hash_frame(e, w);
	disp_op(e, frame_rdx, sizeof(frame_rdx), w->frame_back);
	put1(e, 0xe9);				/* jmp loop */
	put4(e, (uint32_t)((int32_t)loop - (int32_t)(e->off + 4)));
	land(e, top);
	if (end)
		land(e, end);
	put(e, join, sizeof(join));
	put(e, mul_r9, sizeof(mul_r9));
	put(e, fold, sizeof(fold));
	rip_op(e, salt, sizeof(salt), TRAMP_SALT_OFF, 0);
	put(e, set, sizeof(set));
	put4(e, TRAMP_TAGS / TRAMP_WAYS - 1);
	rip_op(e, lea_tags, sizeof(lea_tags), TRAMP_TAGS_OFF, 0);
	put(e, set_addr, sizeof(set_addr));
	for (way = 0; way < TRAMP_WAYS; way++) {
		put(e, cmp_way, sizeof(cmp_way));
		put1(e, way * 8);
		if (way < TRAMP_WAYS - 1)
			hit[way] = jump_fwd(e, JE);
	}
	miss = jump_fwd(e, JNE);
	for (way = 0; way < TRAMP_WAYS - 1; way++)
		land(e, hit[way]);
	if (!batched) {
		raw_tails(e, miss, quiet, (uint32_t[]){ no_ts, not_ours, deep }, *flush, flush_at);
		return;
	}
	stamp_read(e);
	load_seq(e);
	batch_slot(e);
	stamp_store(e);
	put(e, log, sizeof(log));
	part = batch_commit(e);
	*flush = e->off;
	put(e, nop5, sizeof(nop5));
	land(e, part);
	land(e, quiet);
	put(e, edi0, sizeof(edi0));
	done1 = jump_fwd(e, JMP8);
	land(e, miss);
	put(e, stack_tag_learn, sizeof(stack_tag_learn));	/* the probe hit that follows learns it */
	unknown = jump_fwd(e, JMP8);
	land(e, no_ts);
	land(e, not_ours);
	land(e, deep);
	put(e, no_hash, sizeof(no_hash));
	land(e, unknown);
	seq_to_r8(e);
	put(e, edi1, sizeof(edi1));
	land(e, done1);
	put(e, stack_tag_out, sizeof(stack_tag_out));
	/* aim the quiet test at the flush NOP's first byte */
	here = e->off;
	e->off = flush_at;
	rip_op(e, quiet_test, sizeof(quiet_test), *flush, 1);
	e->off = here;
}

enum pymem_site tramp_site(int d, enum tramp_fn f)
{
	static const enum pymem_site sites[TRAMP_SETS][TRAMP__MAX] = {
		{ SITE_PYMEM_RAW_MALLOC, SITE_PYMEM_RAW_CALLOC, SITE_PYMEM_RAW_REALLOC,
		  SITE_PYMEM_RAW_FREE },
		{ SITE_PYMEM_MALLOC, SITE_PYMEM_CALLOC, SITE_PYMEM_REALLOC, SITE_PYMEM_FREE },
		{ SITE_PYOBJECT_MALLOC, SITE_PYOBJECT_CALLOC, SITE_PYOBJECT_REALLOC,
		  SITE_PYOBJECT_FREE },
		{ SITE_MALLOC, SITE_CALLOC, SITE_REALLOC, SITE_FREE, SITE_POSIX_MEMALIGN,
		  SITE_ALIGNED_ALLOC, SITE_MEMALIGN, SITE_VALLOC, SITE_REALLOC },
	};

	return sites[d][f];
}

void tramp_build(struct tramp_image *img, const uint64_t orig[TRAMP_SETS][TRAMP__MAX],
		 const struct tramp_walk *walk, bool sampled,
		 const struct libc_detour detour[TRAMP_TABLE_FNS])
{
	struct emit e = { .p = img->bytes };
	bool batched_allocs = walk && walk->get_tstate;
	bool pymalloc = sampled && walk && walk->code_dealloc;
	int d, f;

	memset(img, 0, sizeof(*img));
	/* int3 filler: a stray jump into padding traps instead of running on */
	memset(img->bytes, 0xcc, TRAMP_CODE_SIZE);
	e.stamp = sampled && walk && walk->clock;
	e.flush_every = sampled && !e.stamp;
	if (e.stamp)
		memcpy(img->bytes + TRAMP_CLOCK_OFF, &walk->clock, 8);
	if (batched_allocs) {
		e.off = TRAMP_SHARED_OFF;
		emit_stack_tag(&e, walk, &img->flush, true);
		assert(e.off <= TRAMP_SAMPLE_CODE_OFF);
		memcpy(img->bytes + TRAMP_GETTER_OFF, &walk->get_tstate, 8);
		if (sampled)
			e.held_tid = walk->tstate_thread_id;
	}
	if (batched_allocs && walk->get_own_tstate) {
		e.off = TRAMP_RAW_HASH_OFF;
		emit_stack_tag(&e, walk, &img->flush, false);
		assert(e.off <= TRAMP_STAMP_OFF);
		memcpy(img->bytes + TRAMP_OWN_GETTER_OFF, &walk->get_own_tstate, 8);
		e.raw_hash = true;
	}
	if (walk)
		memcpy(img->bytes + TRAMP_CODETYPE_OFF, &walk->code_type, 8);
	if (sampled)
		tramp_sample_shared(&e);
	else if (detour)
		tramp_raw_detours(&e, orig[0], detour);
	for (d = 0; d < (sampled ? TRAMP_SETS : TRAMP_DOMAINS); d++) {
		e.libc = d == TRAMP_LIBC;
		e.pymalloc = pymalloc && TRAMP_BATCHED(d);
		for (f = 0; f < (e.libc ? TRAMP__MAX : TRAMP_TABLE_FNS); f++) {
			uint32_t slot = TRAMP_SLOTS_OFF + TRAMP_INDEX(d, f) * 8;
			uint32_t site = tramp_site(d, (enum tramp_fn)f);

			if (!orig[d][f] || (e.pymalloc && f == TRAMP_FREE))
				continue;
			memcpy(img->bytes + slot, &orig[d][f], 8);
			e.off = TRAMP_INDEX(d, f) * TRAMP_SLOT;
			img->entry[d][f] = e.off;
			if (f >= TRAMP_TABLE_FNS)
				tramp_sample_libc_only(&e, slot, f, site, img->entry[d][TRAMP_REALLOC],
						       &img->probe[d][f]);
			else if (sampled && f == TRAMP_FREE)
				tramp_sample_free(&e, slot, site, TRAMP_BATCHED(d), d == TRAMP_OBJ,
						  &img->probe[d][f], &img->free_flush[d]);
			else if (sampled)
				tramp_sample_alloc(&e, slot, f, site, TRAMP_BATCHED(d),
						   TRAMP_BATCHED(d) && batched_allocs,
						   &img->probe[d][f], &img->realloc_free[d],
						   &img->realloc_flush[d]);
			else if (f == TRAMP_FREE && TRAMP_BATCHED(d))
				emit_batched_free(&e, slot, site, d == TRAMP_OBJ, &img->probe[d][f]);
			else if (f == TRAMP_FREE)
				emit_free(&e, slot, d ? 0 : e.raw_detour[f], &img->probe[d][f]);
			else if (TRAMP_BATCHED(d) && batched_allocs)
				emit_batched_alloc(&e, slot, f, site, &img->probe[d][f]);
			else
				emit_alloc(&e, slot, f != TRAMP_MALLOC, d ? 0 : e.raw_detour[f], site,
					   &img->probe[d][f]);
			assert(e.off <= img->entry[d][f] + TRAMP_SLOT);
		}
	}
	if (pymalloc) {
		/* where the object domain's free would be */
		e.off = TRAMP_INDEX(TRAMP_OBJ, TRAMP_FREE) * TRAMP_SLOT;
		img->code_dealloc = e.off;
		memcpy(img->bytes + TRAMP_DEALLOC_OFF, &walk->code_dealloc, 8);
		code_dealloc_hook(&e, &img->code_dealloc_probe);
		assert(e.off <= img->code_dealloc + TRAMP_SLOT);
	}
}
