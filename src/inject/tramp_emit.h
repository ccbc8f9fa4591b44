/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The x86-64 encoding helpers the trampolines' emitters share
 * (trampoline.c: exact mode and the stack hash; tramp_sample.c: sampled
 * mode): an emit cursor, RIP-relative operands aimed at offsets of the
 * mapping, forward jumps aimed once their target is known, and the batch's
 * slot and count.
 */
#ifndef PYMEM_TRAMP_EMIT_H
#define PYMEM_TRAMP_EMIT_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "libc_detour.h"
#include "trampoline.h"

static const uint8_t nop5[] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 };
/* A large odd multiplier (2^64 / golden ratio) */
#define HASH_MUL	0x9e3779b97f4a7c15ULL

struct emit {
	uint8_t *p;
	uint32_t off;
	/*
	 * The TRAMP_LIBC set: arguments come in libc's registers, and are moved
	 * to where an allocator table's function has them (after its ctx) on
	 * entry, and back before the real call.
	 */
	bool libc;
	/*
	 * The raw domain's and the libc set's allocations hash the thread's
	 * Python stack (TRAMP_RAW_HASH_OFF) for their probe point: the
	 * interpreter's thread state getter is known.
	 */
	bool raw_hash;
	/*
	 * Sampled mode, a GIL domain: pymalloc's, whose frees no trampoline
	 * sees, so that a sampled block must come from the raw domain (see
	 * tramp_build).
	 */
	bool pymalloc;
	/*
	 * Sampled mode: each batched event is dated by the shared clock read
	 * (TRAMP_STAMP_OFF) and logged with its time; without it, each
	 * flushes the batch at once (flush_every), to be dated by that probe
	 * hit.  Samples are rare: left in the batch, they could wait seconds.
	 */
	bool stamp;
	bool flush_every;
	/*
	 * Sampled mode: PyThreadState's thread id, when the current thread
	 * state's getter is at TRAMP_GETTER_OFF, so that a raw-domain or libc
	 * free of a sampled block by the thread holding the GIL is batched
	 * (tramp_sample_free).  0: each hits its probe point.
	 */
	uint32_t held_tid;
	/*
	 * Exact mode: the raw domain's function f runs as the code at
	 * raw_detour[f] (0: as its table's, through its slot), which enters
	 * libc past its probe (tramp_detour.c).
	 */
	uint32_t raw_detour[TRAMP_TABLE_FNS];
};

static inline void put(struct emit *e, const uint8_t *b, size_t n)
{
	memcpy(e->p + e->off, b, n);
	e->off += n;
}

static inline void put1(struct emit *e, uint8_t b)
{
	put(e, &b, 1);
}

static inline void put4(struct emit *e, uint32_t v)
{
	put(e, (const uint8_t *)&v, 4);
}

/* An instruction whose last 4 bytes (then tail bytes of immediate) address off in the mapping */
static inline void rip_op(struct emit *e, const uint8_t *op, size_t n, uint32_t off, size_t tail)
{
	int32_t disp = (int32_t)off - (int32_t)(e->off + n + 4 + tail);

	put(e, op, n);
	put(e, (const uint8_t *)&disp, 4);
}

/* An instruction ending in a 32-bit displacement (a field offset) */
static inline void disp_op(struct emit *e, const uint8_t *op, size_t n, uint32_t disp)
{
	put(e, op, n);
	put4(e, disp);
}

/* cmpb $0, guard(%rip): is this the profiled process, not a forked child? */
static inline void check_guard(struct emit *e)
{
	static const uint8_t cmpb[] = { 0x80, 0x3d };

	rip_op(e, cmpb, sizeof(cmpb), TRAMP_GUARD_OFF, 1);
	put1(e, 0x00);
}

/* check the guard; je over the nop5; nop5 */
static inline void probe_point(struct emit *e, uint32_t *probe)
{
	check_guard(e);
	put1(e, 0x74);
	put1(e, sizeof(nop5));
	*probe = e->off;
	put(e, nop5, sizeof(nop5));
}

/* call/jmp *disp32(%rip), aimed at an 8-byte slot */
static inline void indirect(struct emit *e, uint8_t modrm, uint32_t slot)
{
	const uint8_t op[] = { 0xff, modrm };

	rip_op(e, op, sizeof(op), slot, 0);
}

/* call or jmp (opcode 0xe8, 0xe9) to off in the mapping */
static inline void rel_branch(struct emit *e, uint8_t opcode, uint32_t off)
{
	put1(e, opcode);
	put4(e, (uint32_t)((int32_t)off - (int32_t)(e->off + 4)));
}

/* mov seq(%rip),%r8: what the BPF side needs to know of the batch */
static inline void seq_to_r8(struct emit *e)
{
	static const uint8_t op[] = { 0x4c, 0x8b, 0x05 };

	rip_op(e, op, sizeof(op), TRAMP_SEQ_OFF, 0);
}

/* A short forward jump (jcc rel8 or jmp rel8) to be aimed by land() */
static inline uint32_t jump_fwd(struct emit *e, uint8_t opcode)
{
	put1(e, opcode);
	put1(e, 0);
	return e->off;
}

/* A long one: jcc rel32 (0x0f 0x8X) */
static inline uint32_t jump_fwd32(struct emit *e, uint8_t cc)
{
	put1(e, 0x0f);
	put1(e, cc);
	put4(e, 0);
	return e->off | 0x80000000U;
}

static inline void land(struct emit *e, uint32_t from)
{
	int32_t rel;

	if (from & 0x80000000U) {
		from &= ~0x80000000U;
		rel = (int32_t)(e->off - from);
		memcpy(e->p + from - 4, &rel, 4);
		return;
	}
	assert(e->off - from <= 127);
	e->p[from - 1] = (uint8_t)(e->off - from);
}

static const uint8_t caller_to_rcx[] = { 0x48, 0x8b, 0x0c, 0x24 };	/* mov (%rsp),%rcx */
static const uint8_t no_hash[] = { 0x45, 0x31, 0xc9 };			/* xor %r9d,%r9d */
static const uint8_t test_rax[] = { 0x48, 0x85, 0xc0 };
static const uint8_t test_rsi[] = { 0x48, 0x85, 0xf6 };

/*
 * The real allocation call, its arguments kept on the stack across it and
 * restored to %rsi (and %rdx) after it.
 */
/* The real function: *slot, or the code at direct (not 0) */
static inline void call_real(struct emit *e, uint32_t slot, bool three_args, uint32_t direct)
{
	static const uint8_t sub8[] = { 0x48, 0x83, 0xec, 0x08 }, add8[] = { 0x48, 0x83, 0xc4, 0x08 };

	put1(e, 0x56);			/* push %rsi */
	if (three_args) {
		put1(e, 0x52);		/* push %rdx */
		put(e, sub8, 4);	/* keep the call 16-byte aligned */
	}
	if (direct)
		rel_branch(e, 0xe8, direct);
	else
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

/* %rdx = the batch's slot for event %rax (the count), %rcx = its offset in the batch */
static inline void batch_slot(struct emit *e)
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
static inline uint32_t batch_commit(struct emit *e)
{
	static const uint8_t inc[] = { 0x48, 0xff, 0xc0 };		/* inc %rax */
	static const uint8_t store_seq[] = { 0x48, 0x89, 0x05 };	/* mov %rax,seq(%rip) */
	static const uint8_t full[] = { 0xa8, PYMEM_BATCH_FLUSH - 1 };	/* test $F-1,%al */
	static const uint8_t every[] = { 0xa8, 0 };			/* test $0,%al: ZF */
	static const uint8_t seq_r8[] = { 0x49, 0x89, 0xc0 };		/* mov %rax,%r8 */
	uint32_t part;

	put(e, inc, sizeof(inc));
	rip_op(e, store_seq, sizeof(store_seq), TRAMP_SEQ_OFF, 0);
	put(e, e->flush_every ? every : full, sizeof(full));
	part = jump_fwd(e, JNE);
	put(e, seq_r8, sizeof(seq_r8));
	return part;
}

/* Sampled mode's date of an event: %r11 = the clock's time (ns), before load_seq */
static inline void stamp_read(struct emit *e)
{
	static const uint8_t rax_r11[] = { 0x49, 0x89, 0xc3 };		/* mov %rax,%r11 */

	if (!e->stamp)
		return;
	rel_branch(e, 0xe8, TRAMP_STAMP_OFF);
	put(e, rax_r11, sizeof(rax_r11));
}

/* and into the event's ts, after batch_slot (%rcx its offset in ev).  Clobbers %rcx, %r8. */
static inline void stamp_store(struct emit *e)
{
	static const uint8_t shr[] = { 0x48, 0xc1, 0xe9, 0x02 };	/* shr $2,%rcx: 8 bytes a slot */
	static const uint8_t lea_ts[] = { 0x4c, 0x8d, 0x05 };		/* lea ts(%rip),%r8 */
	static const uint8_t store[] = { 0x4d, 0x89, 0x1c, 0x08 };	/* mov %r11,(%r8,%rcx) */

	if (!e->stamp)
		return;
	put(e, shr, sizeof(shr));
	rip_op(e, lea_ts, sizeof(lea_ts), TRAMP_BATCH_TS_OFF, 0);
	put(e, store, sizeof(store));
}

static inline void load_seq(struct emit *e)
{
	static const uint8_t op[] = { 0x48, 0x8b, 0x05 };		/* mov seq(%rip),%rax */

	rip_op(e, op, sizeof(op), TRAMP_SEQ_OFF, 0);
}

/* Pieces of the exact-mode trampolines that the sampled ones reuse (trampoline.c) */
void tramp_alloc_report(struct emit *e, uint32_t site, uint32_t *probe);
uint32_t tramp_batched_log(struct emit *e, enum tramp_fn f, uint32_t site, uint32_t *probe);
void tramp_code_test(struct emit *e);
void tramp_salt_bump(struct emit *e);
void tramp_site_r9(struct emit *e, uint32_t site);
uint32_t tramp_free_log(struct emit *e, uint32_t *probe);

/*
 * Exact mode (tramp_detour.c): the raw domain's default functions, each
 * with detour[f] as its way into libc, where the libc set's trampolines
 * would be; e->raw_detour says where.  raw: the raw table's functions.
 */
void tramp_raw_detours(struct emit *e, const uint64_t raw[TRAMP__MAX],
		       const struct libc_detour detour[TRAMP_TABLE_FNS]);

/* Sampled mode's trampolines (tramp_sample.c); gil: a GIL domain, whose events are batched */
void tramp_sample_shared(struct emit *e);
void tramp_sample_alloc(struct emit *e, uint32_t slot, enum tramp_fn f, uint32_t site, bool gil,
			bool batched, uint32_t *probe, uint32_t *realloc_free,
			uint32_t *realloc_flush);
void tramp_sample_free(struct emit *e, uint32_t slot, uint32_t site, bool gil, bool obj,
		       uint32_t *probe, uint32_t *free_flush);
/* The TRAMP_LIBC set's functions past TRAMP_TABLE_FNS; realloc_at: its realloc trampoline */
void tramp_sample_libc_only(struct emit *e, uint32_t slot, enum tramp_fn f, uint32_t site,
			    uint32_t realloc_at, uint32_t *probe);

#endif
