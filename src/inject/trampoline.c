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
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include "py_offsets.h"
#include "trampoline.h"

/* the slot index and the flush test are 8-bit immediates */
_Static_assert(PYMEM_BATCH <= 128 && !(PYMEM_BATCH & (PYMEM_BATCH - 1)),
	       "the batch must be a small power of two");
_Static_assert(sizeof(struct batch_ev) == 32, "a batch slot is 1 << 5 bytes");

static const uint8_t nop5[] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 };
/* A large odd multiplier (2^64 / golden ratio) */
#define HASH_MUL	0x9e3779b97f4a7c15ULL

struct emit {
	uint8_t *p;
	uint32_t off;
};

static void put(struct emit *e, const uint8_t *b, size_t n)
{
	memcpy(e->p + e->off, b, n);
	e->off += n;
}

static void put1(struct emit *e, uint8_t b)
{
	put(e, &b, 1);
}

static void put4(struct emit *e, uint32_t v)
{
	put(e, (const uint8_t *)&v, 4);
}

/* An instruction whose last 4 bytes (then tail bytes of immediate) address off in the mapping */
static void rip_op(struct emit *e, const uint8_t *op, size_t n, uint32_t off, size_t tail)
{
	int32_t disp = (int32_t)off - (int32_t)(e->off + n + 4 + tail);

	put(e, op, n);
	put(e, (const uint8_t *)&disp, 4);
}

/* An instruction ending in a 32-bit displacement (a field offset) */
static void disp_op(struct emit *e, const uint8_t *op, size_t n, uint32_t disp)
{
	put(e, op, n);
	put4(e, disp);
}

/* cmpb $0, guard(%rip): is this the profiled process, not a forked child? */
static void check_guard(struct emit *e)
{
	static const uint8_t cmpb[] = { 0x80, 0x3d };

	rip_op(e, cmpb, sizeof(cmpb), TRAMP_GUARD_OFF, 1);
	put1(e, 0x00);
}

/* check the guard; je over the nop5; nop5 */
static void probe_point(struct emit *e, uint32_t *probe)
{
	check_guard(e);
	put1(e, 0x74);
	put1(e, sizeof(nop5));
	*probe = e->off;
	put(e, nop5, sizeof(nop5));
}

/* call/jmp *disp32(%rip), aimed at an 8-byte slot */
static void indirect(struct emit *e, uint8_t modrm, uint32_t slot)
{
	const uint8_t op[] = { 0xff, modrm };

	rip_op(e, op, sizeof(op), slot, 0);
}

/* mov seq(%rip),%r8: what the BPF side needs to know of the batch */
static void seq_to_r8(struct emit *e)
{
	static const uint8_t op[] = { 0x4c, 0x8b, 0x05 };

	rip_op(e, op, sizeof(op), TRAMP_SEQ_OFF, 0);
}

/* A short forward jump (jcc rel8 or jmp rel8) to be aimed by land() */
static uint32_t jump_fwd(struct emit *e, uint8_t opcode)
{
	put1(e, opcode);
	put1(e, 0);
	return e->off;
}

/* A long one: jcc rel32 (0x0f 0x8X) */
static uint32_t jump_fwd32(struct emit *e, uint8_t cc)
{
	put1(e, 0x0f);
	put1(e, cc);
	put4(e, 0);
	return e->off | 0x80000000U;
}

static void land(struct emit *e, uint32_t from)
{
	int32_t rel;

	if (from & 0x80000000U) {
		from &= ~0x80000000U;
		rel = (int32_t)(e->off - from);
		memcpy(e->p + from - 4, &rel, 4);
		return;
	}
	e->p[from - 1] = (uint8_t)(e->off - from);
}

static const uint8_t caller_to_rcx[] = { 0x48, 0x8b, 0x0c, 0x24 };	/* mov (%rsp),%rcx */
static const uint8_t no_hash[] = { 0x45, 0x31, 0xc9 };			/* xor %r9d,%r9d */

/*
 * The real allocation call, its arguments kept on the stack across it and
 * restored to %rsi (and %rdx) after it.
 */
static void call_real(struct emit *e, uint32_t slot, bool three_args)
{
	static const uint8_t sub8[] = { 0x48, 0x83, 0xec, 0x08 }, add8[] = { 0x48, 0x83, 0xc4, 0x08 };

	put1(e, 0x56);			/* push %rsi */
	if (three_args) {
		put1(e, 0x52);		/* push %rdx */
		put(e, sub8, 4);	/* keep the call 16-byte aligned */
	}
	indirect(e, 0x15, slot);	/* call *slot(%rip) */
	if (three_args) {
		put(e, add8, 4);
		put1(e, 0x5a);		/* pop %rdx */
	}
	put1(e, 0x5e);			/* pop %rsi */
}

#define JE	0x74
#define JNE	0x75
#define JAE	0x73
#define JMP8	0xeb
#define JE32	0x84
#define JNE32	0x85

/* The raw domain's allocations: every one hits its probe point, with no hash. */
static void emit_alloc(struct emit *e, uint32_t slot, bool three_args, uint32_t *probe)
{
	call_real(e, slot, three_args);
	put(e, caller_to_rcx, sizeof(caller_to_rcx));
	seq_to_r8(e);
	put(e, no_hash, sizeof(no_hash));
	probe_point(e, probe);
	put1(e, 0xc3);			/* ret */
}

/*
 * A GIL domain's allocation: the real call, then (guard set, result not
 * NULL) the shared stack_tag logs it, or asks for the probe point with
 * %edi = 1, %r8 the count and %r9 the hash to learn.
 */
static void emit_batched_alloc(struct emit *e, uint32_t slot, enum tramp_fn f, uint32_t site,
			       uint32_t *probe)
{
	static const uint8_t test_rax[] = { 0x48, 0x85, 0xc0 };
	static const uint8_t size_rsi[] = { 0x48, 0x89, 0xf7 };		/* mov %rsi,%rdi */
	static const uint8_t size_rdx[] = { 0x48, 0x89, 0xd7 };		/* mov %rdx,%rdi */
	static const uint8_t times_rdx[] = { 0x48, 0x0f, 0xaf, 0xfa };	/* imul %rdx,%rdi */
	static const uint8_t old_rsi[] = { 0x49, 0x89, 0xf0 };		/* mov %rsi,%r8 */
	static const uint8_t no_old[] = { 0x45, 0x31, 0xc0 };		/* xor %r8d,%r8d */
	static const uint8_t site_r10[] = { 0x41, 0xba };		/* mov $imm32,%r10d */
	static const uint8_t test_edi[] = { 0x85, 0xff };
	uint32_t failed, child, logged;
	int32_t rel;

	call_real(e, slot, f != TRAMP_MALLOC);
	put(e, test_rax, sizeof(test_rax));
	failed = jump_fwd(e, JE);	/* a failed call allocates nothing, frees nothing */
	check_guard(e);
	child = jump_fwd(e, JE);
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
	land(e, failed);
	land(e, child);
	land(e, logged);
	put1(e, 0xc3);			/* ret */
}

static void emit_free(struct emit *e, uint32_t slot, uint32_t *probe)
{
	seq_to_r8(e);
	put(e, no_hash, sizeof(no_hash));
	probe_point(e, probe);
	indirect(e, 0x25, slot);	/* jmp *slot(%rip) */
}

/* %rdx = the batch's slot for event %rax (the count), %rcx = its offset in the batch */
static void batch_slot(struct emit *e)
{
	static const uint8_t index[] = { 0x89, 0xc1,			/* mov %eax,%ecx */
					 0x83, 0xe1, PYMEM_BATCH - 1,	/* and $N-1,%ecx */
					 0x48, 0xc1, 0xe1, 0x05 };	/* shl $5,%rcx */
	static const uint8_t lea_batch[] = { 0x48, 0x8d, 0x15 };	/* lea batch(%rip),%rdx */
	static const uint8_t add[] = { 0x48, 0x01, 0xca };		/* add %rcx,%rdx */

	put(e, index, sizeof(index));
	rip_op(e, lea_batch, sizeof(lea_batch), TRAMP_BATCH_OFF, 0);
	put(e, add, sizeof(add));
}

/*
 * Event %rax is in its slot: count it (the slot before the count, so that
 * a reader that sees the count sees the event), and jump (jne, returned)
 * unless it is a flush, which falls through with the count in %r8.
 */
static uint32_t batch_commit(struct emit *e)
{
	static const uint8_t inc[] = { 0x48, 0xff, 0xc0 };		/* inc %rax */
	static const uint8_t store_seq[] = { 0x48, 0x89, 0x05 };	/* mov %rax,seq(%rip) */
	static const uint8_t full[] = { 0xa8, PYMEM_BATCH_FLUSH - 1 };	/* test $F-1,%al */
	static const uint8_t seq_r8[] = { 0x49, 0x89, 0xc0 };		/* mov %rax,%r8 */
	uint32_t part;

	put(e, inc, sizeof(inc));
	rip_op(e, store_seq, sizeof(store_seq), TRAMP_SEQ_OFF, 0);
	put(e, full, sizeof(full));
	part = jump_fwd(e, JNE);
	put(e, seq_r8, sizeof(seq_r8));
	return part;
}

static void load_seq(struct emit *e)
{
	static const uint8_t op[] = { 0x48, 0x8b, 0x05 };		/* mov seq(%rip),%rax */

	rip_op(e, op, sizeof(op), TRAMP_SEQ_OFF, 0);
}

/*
 * A GIL domain's free: the block goes into the next slot of the batch and
 * the real free runs at once; only every PYMEM_BATCH_FLUSH-th event reaches
 * the probe point.  An object-domain free of a code object (its type read
 * at +8: code objects are not GC-tracked, so the block is the object)
 * changes the salt.  Clobbers %rax, %rcx, %rdx, %r8 and %r9, which
 * free(ctx, p) leaves to its callee.
 */
static void emit_batched_free(struct emit *e, uint32_t slot, uint32_t site, bool obj,
			      uint32_t *probe)
{
	static const uint8_t test_rsi[] = { 0x48, 0x85, 0xf6 };
	static const uint8_t type_rax[] = { 0x48, 0x8b, 0x46, 0x08 };	/* mov 8(%rsi),%rax */
	static const uint8_t cmp_type[] = { 0x48, 0x3b, 0x05 };		/* cmp type(%rip),%rax */
	static const uint8_t inc_salt[] = { 0x48, 0xff, 0x05 };		/* incq salt(%rip) */
	static const uint8_t store[] = { 0x48, 0x89, 0x32 };		/* mov %rsi,(%rdx) */
	static const uint8_t meta[] = { 0x41, 0xb9 };			/* mov $site,%r9d */
	static const uint8_t meta_shift[] = { 0x49, 0xc1, 0xe1, 0x38,	/* shl $56,%r9 */
					      0x4c, 0x89, 0x4a, 0x10 };	/* mov %r9,16(%rdx) */
	uint32_t null, child, part, other;

	put(e, test_rsi, sizeof(test_rsi));
	null = jump_fwd(e, JE);			/* free(NULL): nothing to see */
	check_guard(e);
	child = jump_fwd(e, JE);		/* a forked child keeps no batch */
	if (obj) {
		put(e, type_rax, sizeof(type_rax));
		rip_op(e, cmp_type, sizeof(cmp_type), TRAMP_CODETYPE_OFF, 0);
		other = jump_fwd(e, JNE);
		rip_op(e, inc_salt, sizeof(inc_salt), TRAMP_SALT_OFF, 0);
		land(e, other);
	}
	load_seq(e);
	batch_slot(e);
	put(e, store, sizeof(store));
	put(e, meta, sizeof(meta));
	put4(e, site);
	put(e, meta_shift, sizeof(meta_shift));
	part = batch_commit(e);
	*probe = e->off;
	put(e, nop5, sizeof(nop5));
	land(e, null);
	land(e, child);
	land(e, part);
	indirect(e, 0x25, slot);		/* jmp *slot(%rip) */
}

/* rol $27,%r9; then the xor the caller emits; then imul %r11,%r9 */
static const uint8_t rol_r9[] = { 0x49, 0xc1, 0xc1, 0x1b };
static const uint8_t mul_r9[] = { 0x4d, 0x0f, 0xaf, 0xcb };

/* Hash in the frame %rdx's code and instruction; skip a shim frame */
static void hash_frame(struct emit *e, const struct tramp_walk *w)
{
	static const uint8_t owner[] = { 0x80, 0xba };		/* cmpb $imm8,disp32(%rdx) */
	static const uint8_t xor_field[] = { 0x4c, 0x33, 0x8a };	/* xor disp32(%rdx),%r9 */
	static const uint8_t lasti_int[] = { 0x4c, 0x63, 0x92 };	/* movslq disp32(%rdx),%r10 */
	static const uint8_t xor_r10[] = { 0x4d, 0x31, 0xd1 };	/* xor %r10,%r9 */
	uint32_t shim = 0;

	if (w->frame_owner != PY_OFF_NONE) {
		disp_op(e, owner, sizeof(owner), w->frame_owner);
		put1(e, 3);	/* FRAME_OWNED_BY_CSTACK and above are not Python frames */
		shim = jump_fwd(e, JAE);
	}
	put(e, rol_r9, sizeof(rol_r9));
	disp_op(e, xor_field, sizeof(xor_field), w->frame_code);
	put(e, mul_r9, sizeof(mul_r9));
	put(e, rol_r9, sizeof(rol_r9));
	if (w->lasti_is_int) {
		disp_op(e, lasti_int, sizeof(lasti_int), w->frame_lasti);
		put(e, xor_r10, sizeof(xor_r10));
	} else {
		disp_op(e, xor_field, sizeof(xor_field), w->frame_lasti);
	}
	put(e, mul_r9, sizeof(mul_r9));
	if (shim)
		land(e, shim);
}

/*
 * Shared by the GIL domains' allocation trampolines.  In: %rax the block,
 * %rdi its size, %r8 a realloc's old block (else 0), %r10 the site, %rcx
 * the caller's return address.  Hashes the thread's Python stack with
 * them; a hash the tag table knows (under the current salt: tags are in
 * sets of TRAMP_WAYS, one cache line, so that a few hot stacks that share
 * a set do not evict each other) is logged with the event and %edi = 0
 * returned, any other asks for the probe point:
 * %edi = 1, %r8 the batch's count and %r9 the hash (0 if there is none:
 * not the thread's state, or too deep).  Keeps %rax, %rcx, %rdx, %rsi.
 */
static void emit_stack_tag(struct emit *e, const struct tramp_walk *w, uint32_t *flush)
{
	static const uint8_t push_r8[] = { 0x41, 0x50 }, push_r10[] = { 0x41, 0x52 };
	static const uint8_t sub8[] = { 0x48, 0x83, 0xec, 0x08 };
	static const uint8_t quiet_test[] = { 0x80, 0x3d };		/* cmpb $imm8,nop(%rip) */
	static const uint8_t test_rax[] = { 0x48, 0x85, 0xc0 }, test_rdx[] = { 0x48, 0x85, 0xd2 };
	static const uint8_t fsbase[] = { 0x64, 0x48, 0x8b, 0x14, 0x25, 0, 0, 0, 0 };
	static const uint8_t cmp_tid[] = { 0x48, 0x3b, 0x90 };		/* cmp disp32(%rax),%rdx */
	static const uint8_t frame_rax[] = { 0x48, 0x8b, 0x90 };	/* mov disp32(%rax),%rdx */
	static const uint8_t frame_rdx[] = { 0x48, 0x8b, 0x92 };	/* mov disp32(%rdx),%rdx */
	static const uint8_t mul_r11[] = { 0x49, 0xbb };		/* movabs $imm64,%r11 */
	static const uint8_t seed[] = { 0x4c, 0x8b, 0x4c, 0x24, 0x08,	/* mov 8(%rsp),%r9: site */
					0x4c, 0x33, 0x4c, 0x24, 0x30 };	/* xor 48(%rsp),%r9: caller */
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
	/* the set's ways move down one, the oldest drops out, the tag comes first */
	static const uint8_t learn[] = { 0x48, 0x8b, 0x4a, 0x10, 0x48, 0x89, 0x4a, 0x18,
					 0x48, 0x8b, 0x4a, 0x08, 0x48, 0x89, 0x4a, 0x10,
					 0x48, 0x8b, 0x0a, 0x48, 0x89, 0x4a, 0x08,
					 0x4c, 0x89, 0x12 };
	static const uint8_t edi1[] = { 0xbf, 1, 0, 0, 0 };		/* mov $1,%edi */
	static const uint8_t out[] = { 0x48, 0x83, 0xc4, 0x20,		/* add $32,%rsp */
				       0x5e, 0x5a, 0x59, 0x58, 0xc3 };	/* pop rsi rdx rcx rax; ret */
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
	indirect(e, 0x15, TRAMP_GETTER_OFF);	/* call *getter(%rip) */
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
	load_seq(e);
	batch_slot(e);
	put(e, log, sizeof(log));
	part = batch_commit(e);
	*flush = e->off;
	put(e, nop5, sizeof(nop5));
	land(e, part);
	land(e, quiet);
	put(e, edi0, sizeof(edi0));
	done1 = jump_fwd(e, JMP8);
	land(e, miss);
	put(e, learn, sizeof(learn));		/* the probe hit that follows learns it */
	unknown = jump_fwd(e, JMP8);
	land(e, no_ts);
	land(e, not_ours);
	land(e, deep);
	put(e, no_hash, sizeof(no_hash));
	land(e, unknown);
	seq_to_r8(e);
	put(e, edi1, sizeof(edi1));
	land(e, done1);
	put(e, out, sizeof(out));
	/* aim the quiet test at the flush NOP's first byte */
	here = e->off;
	e->off = flush_at;
	rip_op(e, quiet_test, sizeof(quiet_test), *flush, 1);
	e->off = here;
}

enum pymem_site tramp_site(int d, enum tramp_fn f)
{
	static const enum pymem_site sites[TRAMP_DOMAINS][TRAMP__MAX] = {
		{ SITE_PYMEM_RAW_MALLOC, SITE_PYMEM_RAW_CALLOC, SITE_PYMEM_RAW_REALLOC,
		  SITE_PYMEM_RAW_FREE },
		{ SITE_PYMEM_MALLOC, SITE_PYMEM_CALLOC, SITE_PYMEM_REALLOC, SITE_PYMEM_FREE },
		{ SITE_PYOBJECT_MALLOC, SITE_PYOBJECT_CALLOC, SITE_PYOBJECT_REALLOC,
		  SITE_PYOBJECT_FREE },
	};

	return sites[d][f];
}

void tramp_build(struct tramp_image *img, const uint64_t orig[TRAMP_DOMAINS][TRAMP__MAX],
		 const struct tramp_walk *walk)
{
	struct emit e = { .p = img->bytes };
	bool batched_allocs = walk && walk->get_tstate;
	int d, f;

	memset(img, 0, sizeof(*img));
	/* int3 filler: a stray jump into padding traps instead of running on */
	memset(img->bytes, 0xcc, TRAMP_CODE_SIZE);
	if (batched_allocs) {
		e.off = TRAMP_SHARED_OFF;
		emit_stack_tag(&e, walk, &img->flush);
		memcpy(img->bytes + TRAMP_GETTER_OFF, &walk->get_tstate, 8);
	}
	if (walk)
		memcpy(img->bytes + TRAMP_CODETYPE_OFF, &walk->code_type, 8);
	for (d = 0; d < TRAMP_DOMAINS; d++) {
		for (f = 0; f < TRAMP__MAX; f++) {
			uint32_t slot = TRAMP_SLOTS_OFF + (d * TRAMP__MAX + f) * 8;
			uint32_t site = tramp_site(d, (enum tramp_fn)f);

			if (!orig[d][f])
				continue;
			memcpy(img->bytes + slot, &orig[d][f], 8);
			e.off = (d * TRAMP__MAX + f) * TRAMP_SLOT;
			img->entry[d][f] = e.off;
			if (f == TRAMP_FREE && TRAMP_BATCHED(d))
				emit_batched_free(&e, slot, site, d == TRAMP_OBJ, &img->probe[d][f]);
			else if (f == TRAMP_FREE)
				emit_free(&e, slot, &img->probe[d][f]);
			else if (TRAMP_BATCHED(d) && batched_allocs)
				emit_batched_alloc(&e, slot, f, site, &img->probe[d][f]);
			else
				emit_alloc(&e, slot, f != TRAMP_MALLOC, &img->probe[d][f]);
		}
	}
}
