// SPDX-License-Identifier: GPL-2.0
/*
 * pymem-bpf kernel side: allocator probes, live-block tracking and the
 * per-stack counters (the stack walker is in pystack.bpf.h).
 */
#include "common.bpf.h"
#include "pystack.bpf.h"

/*
 * Sized by userspace, and preallocated: an insert and a delete on every
 * event cost about 250 ns less each than from the BPF memory allocator.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1 << 20);
	__type(key, struct live_key);
	__type(value, struct live_val);
} live SEC(".maps");

/* One allocator call in flight on a thread, per nesting level. */
struct inflight_lvl {
	__u64 size;
	__u64 ptr;		/* realloc: old block; posix_memalign: result slot; mmap: caller */
	__u32 site;
	__u32 kind;
};

struct inflight {
	__u32 depth;
	/* block the outermost free just released: its nested libc free is not a new event */
	__u64 last_free;
	/*
	 * block the last allocation returned: a trampoline that sees it again is an
	 * outer level of the same call (obj -> raw -> libc), reported innermost first
	 */
	__u64 last_alloc;
	struct inflight_lvl lvl[PYMEM_MAX_NEST];
	struct walker walk;
};

/* Per thread, in its task storage: found without a hash lookup, gone when it exits. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct inflight);
} inflight SEC(".maps");

/* One more entry than stacks: STACK_ID_MAP_FULL, inserted before attach. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65537);
	__type(key, __u64);
	__type(value, struct stack_stats);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct peak_state);
} peak SEC(".maps");

/* The target's struct free_batch, once its trampolines are in (set by userspace) */
volatile __u64 batch_addr = 0;
/* How many of its frees are accounted; any thread may drain it (batch_account). */
volatile __u64 batch_done = 0;

/* Where a drain copies the batch to */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct free_batch);
} batch_copy SEC(".maps");

static __always_inline struct inflight *inflight_get(void)
{
	return bpf_task_storage_get(&inflight, bpf_get_current_task_btf(), NULL,
				    BPF_LOCAL_STORAGE_GET_F_CREATE);
}

/* The thread's state if it has any: a return or munmap needs no new one. */
static __always_inline struct inflight *inflight_find(void)
{
	return bpf_task_storage_get(&inflight, bpf_get_current_task_btf(), NULL, 0);
}

static __always_inline struct stack_stats *stats_get(__u64 id)
{
	struct stack_stats *s = bpf_map_lookup_elem(&stats, &id);
	struct stack_stats zero = {};

	if (s)
		return s;
	bpf_map_update_elem(&stats, &id, &zero, BPF_NOEXIST);
	s = bpf_map_lookup_elem(&stats, &id);
	if (!s)
		drop(DROP_STATS_FULL);
	return s;
}

static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 r = 0, shift;

	shift = (v > 0xffffffffULL) << 5;
	v >>= shift;
	r |= shift;
	shift = (v > 0xffff) << 4;
	v >>= shift;
	r |= shift;
	shift = (v > 0xff) << 3;
	v >>= shift;
	r |= shift;
	shift = (v > 0xf) << 2;
	v >>= shift;
	r |= shift;
	shift = (v > 0x3) << 1;
	v >>= shift;
	r |= shift;
	return r | (v >> 1);
}

static __always_inline struct peak_state *peak_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&peak, &zero);
}

/* Before a stack's live bytes change, keep what they were at the last peak. */
static __always_inline void peak_touch(struct stack_stats *s, struct peak_state *g)
{
	__u64 gen = g ? g->gen : 0;

	if (s->peak_gen != gen) {
		s->peak_snap = s->live_bytes;
		s->peak_gen = gen;
	}
}

/* Account a block's release at now (ns); returns false if the block was not tracked. */
static __always_inline bool release_block(__u32 pid, __u64 addr, __u64 now)
{
	struct live_key key = { .pid = pid, .addr = addr };
	struct live_val *v = bpf_map_lookup_elem(&live, &key);
	struct peak_state *g = peak_get();
	struct stack_stats *s;
	__u64 us, size;
	__u32 b;

	if (!v)
		return false;
	size = v->size;
	s = stats_get(v->stack_id);
	if (s) {
		us = now > v->ts ? (now - v->ts) / 1000 : 0;
		b = us ? log2_u64(us) + 1 : 0;
		if (b >= PYMEM_LIFETIME_BUCKETS)
			b = PYMEM_LIFETIME_BUCKETS - 1;
		/* keep clang from folding the mask the verifier needs into the clamp */
		asm volatile("" : "+r"(b));
		__sync_fetch_and_add(&s->free_bytes, size);
		__sync_fetch_and_add(&s->free_objects, 1);
		__sync_fetch_and_add(&s->lifetime_bytes[b & (PYMEM_LIFETIME_BUCKETS - 1)], size);
		if (us < 1000)
			__sync_fetch_and_add(&s->freed_within[0], size);
		if (us < 100000)
			__sync_fetch_and_add(&s->freed_within[1], size);
		if (us < 1000000)
			__sync_fetch_and_add(&s->freed_within[2], size);
		peak_touch(s, g);
		__sync_fetch_and_add(&s->live_bytes, -(__s64)size);
		__sync_fetch_and_add(&s->live_objects, -1);
	}
	if (g)
		__sync_fetch_and_add(&g->live, -(__s64)size);
	bpf_map_delete_elem(&live, &key);
	return true;
}

/* Was a block allocated at ts live at the last peak?  (It is live now.) */
static __always_inline bool live_at_peak(struct peak_state *g, __u64 ts)
{
	return g && ts && ts <= g->peak_ns;
}

/*
 * Take back an allocation an inner level recorded, so the outer one can own
 * it; returns when it was made.  Its share of the peak moves with it.
 */
static __always_inline __u64 unrecord_block(__u32 pid, __u64 addr)
{
	struct live_key key = { .pid = pid, .addr = addr };
	struct live_val *v = bpf_map_lookup_elem(&live, &key);
	struct peak_state *g = peak_get();
	struct stack_stats *s;
	__u64 size, ts;

	if (!v)
		return 0;
	size = v->size;
	ts = v->ts;
	s = stats_get(v->stack_id);
	if (s) {
		__sync_fetch_and_add(&s->alloc_bytes, -size);
		__sync_fetch_and_add(&s->alloc_objects, -1);
		peak_touch(s, g);
		if (live_at_peak(g, ts))
			__sync_fetch_and_add(&s->peak_snap, -(__s64)size);
		__sync_fetch_and_add(&s->live_bytes, -(__s64)size);
		__sync_fetch_and_add(&s->live_objects, -1);
	}
	if (g)
		__sync_fetch_and_add(&g->live, -(__s64)size);
	bpf_map_delete_elem(&live, &key);
	return ts;
}

/* ts: when the block was made, if an inner level reported it first; else 0 (now) */
static __always_inline void record_alloc(struct inflight *st, __u32 pid, __u64 addr,
					 __u64 size, __u32 site, __u64 ip, __u64 ts)
{
	struct live_key key = { .pid = pid, .addr = addr };
	struct live_val val = { .size = size };
	struct peak_state *g = peak_get();
	struct stack_stats *s;
	__s64 now_live;
	int err;

	val.stack_id = capture_stack(st ? &st->walk : NULL, pid, site, ip);
	val.ts = ts ?: bpf_ktime_get_ns();
	err = bpf_map_update_elem(&live, &key, &val, BPF_NOEXIST);
	if (err == -EEXIST) {
		/* The old block was released through a path we did not see. */
		drop(DROP_MISSED_FREE);
		release_block(pid, addr, val.ts);
		err = bpf_map_update_elem(&live, &key, &val, BPF_NOEXIST);
	}
	s = stats_get(val.stack_id);
	if (s) {
		__sync_fetch_and_add(&s->alloc_bytes, size);
		__sync_fetch_and_add(&s->alloc_objects, 1);
	}
	if (err) {
		/* untracked: its free will not be seen, so it is not live either */
		drop(DROP_LIVE_FULL);
		return;
	}
	if (s) {
		peak_touch(s, g);
		if (live_at_peak(g, ts))
			__sync_fetch_and_add(&s->peak_snap, size);
		__sync_fetch_and_add(&s->live_bytes, size);
		__sync_fetch_and_add(&s->live_objects, 1);
	}
	if (!g)
		return;
	now_live = __sync_fetch_and_add(&g->live, size) + size;
	if (now_live > 0 && (__u64)now_live > g->peak) {
		g->peak = now_live;
		g->peak_ns = val.ts;
		__sync_fetch_and_add(&g->gen, 1);
	}
}

/*
 * A freed block: forget it if it was a code object, then release it.  A
 * global function, verified once rather than in each batch_account step.
 */
__noinline int account_free(__u32 pid, __u64 addr, __u64 now)
{
	if (every_free_seen)
		code_forget(addr);
	if (!release_block(pid, addr, now))
		drop(DROP_UNKNOWN_FREE);
	return 0;
}

static __always_inline void do_free(struct inflight *st, __u32 pid, __u64 addr)
{
	if (!addr)
		return;
	if (st) {
		/* Inside an allocator call (realloc's internals): the outer call accounts. */
		if (st->depth)
			return;
		/* PyObject_Free -> PyMem_RawFree -> free(): one release, seen once. */
		if (st->last_free == addr)
			return;
		st->last_free = addr;
		if (st->last_alloc == addr)
			st->last_alloc = 0;
	}
	account_free(pid, addr, bpf_ktime_get_ns());
}

/*
 * Account the frees in b (a copy of the target's batch) that no thread has
 * claimed yet; any thread may drain, so a range is claimed by compare and
 * swap before it is accounted.  Returns the last block accounted, or 0.
 * A global function: verified once, not at each caller's every path.
 */
__noinline __u64 batch_account(struct free_batch *b, __u32 pid, struct inflight *st)
{
	__u64 seq, done = batch_done, from, addr, now, last = 0;
	int i;

	if (!b)
		return 0;
	seq = b->seq;
	for (i = 0; i < 4; i++) {
		if (seq <= done)
			return 0;
		if (__sync_val_compare_and_swap(&batch_done, done, seq) == done)
			break;
		done = batch_done;
	}
	if (i == 4)
		return 0;	/* others are draining it right now */
	/* one clock read for the lot: when they were freed within the batch is not known */
	now = bpf_ktime_get_ns();
	from = seq - done >= PYMEM_FREE_BATCH ? seq - PYMEM_FREE_BATCH + 1 : done;
	if (from > done)
		drop_n(DROP_BATCH_LOST, from - done);
	for (i = 0; i < PYMEM_FREE_BATCH && from + i < seq; i++) {
		addr = b->addr[(from + i) & (PYMEM_FREE_BATCH - 1)];
		if (!addr)
			continue;
		if (st && st->last_alloc == addr)
			st->last_alloc = 0;
		account_free(pid, addr, now);
		last = addr;
	}
	return last;
}

/*
 * Before an event: the batched frees made before it, so that a block freed
 * and allocated again is seen in that order.  seq: the batch's count as the
 * trampoline read it, 0 to read it here.
 */
static __always_inline void batch_drain(struct inflight *st, __u32 pid, __u64 seq)
{
	struct free_batch *b;
	__u32 zero = 0;
	__u64 last;

	if (!batch_addr)
		return;
	if (!seq)
		seq = read_ptr(batch_addr + offsetof(struct free_batch, seq));
	if (seq <= batch_done)
		return;
	b = bpf_map_lookup_elem(&batch_copy, &zero);
	/* unread, the frees stay in the batch for the next drain */
	if (!b || bpf_probe_read_user(b, sizeof(*b), (void *)batch_addr))
		return;
	last = batch_account(b, pid, st);
	/* its nested PyMem_RawFree and free() are the same release */
	if (st && last)
		st->last_free = last;
}

SEC("uprobe")
int BPF_KPROBE(alloc_enter)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	struct inflight_lvl *l;
	struct inflight *st;
	__u32 d;

	st = inflight_get();
	if (!st)
		return 0;
	st->last_free = 0;
	d = st->depth++;
	if (d >= PYMEM_MAX_NEST) {
		drop(DROP_NEST_OVERFLOW);
		return 0;
	}
	/* Only the outermost call is recorded; inner ones just keep the depth. */
	if (d)
		return 0;
	l = &st->lvl[0];
	l->site = PYMEM_COOKIE_SITE(cookie);
	l->kind = PYMEM_COOKIE_KIND(cookie);
	l->ptr = 0;
	switch (l->kind) {
	case CALL_MALLOC:
		l->size = PT_REGS_PARM1(ctx);
		break;
	case CALL_CALLOC:
		l->size = PT_REGS_PARM1(ctx) * PT_REGS_PARM2(ctx);
		break;
	case CALL_REALLOC:
		l->ptr = PT_REGS_PARM1(ctx);
		l->size = PT_REGS_PARM2(ctx);
		break;
	case CALL_ALIGNED:
		l->size = PT_REGS_PARM2(ctx);
		break;
	case CALL_POSIX_MEMALIGN:
		l->ptr = PT_REGS_PARM1(ctx);
		l->size = PT_REGS_PARM3(ctx);
		break;
	}
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(alloc_exit, __u64 ret)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct inflight *st = inflight_find();
	struct inflight_lvl l;
	__u64 addr = ret;

	if (!st || !st->depth) {
		drop(DROP_MISSED_ENTRY);
		return 0;
	}
	if (--st->depth)
		return 0;
	batch_drain(st, pid, 0);
	l = st->lvl[0];
	if (l.kind == CALL_IGNORED)
		return 0;
	/* MAP_FAILED */
	if (l.site == SITE_MMAP && ret >= (__u64)-4095)
		return 0;

	switch (l.kind) {
	case CALL_REALLOC:
		if (!ret) {
			/* A failed realloc frees nothing; realloc(p, 0) may free p. */
			if (l.size == 0 && l.ptr && !release_block(pid, l.ptr, bpf_ktime_get_ns()))
				drop(DROP_UNKNOWN_FREE);
			return 0;
		}
		if (l.ptr && !release_block(pid, l.ptr, bpf_ktime_get_ns()))
			drop(DROP_UNKNOWN_FREE);
		break;
	case CALL_POSIX_MEMALIGN:
		if (ret)
			return 0;
		addr = read_ptr(l.ptr);
		break;
	}
	if (!addr)
		return 0;
	record_alloc(st, pid, addr, l.size, l.site, PT_REGS_IP(ctx), 0);
	st->last_alloc = addr;
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(free_enter, __u64 addr)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct inflight *st = inflight_get();

	batch_drain(st, pid, 0);
	do_free(st, pid, addr);
	return 0;
}

/* A raw free trampoline's nop5, before the call: (ctx, ptr), the batch's count in %r8 */
SEC("uprobe")
int BPF_KPROBE(tramp_free, __u64 ctx_arg, __u64 addr)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct inflight *st = inflight_get();

	batch_drain(st, pid, PT_REGS_PARM5(ctx));
	do_free(st, pid, addr);
	return 0;
}

/* A batched free's nop5, every PYMEM_FREE_FLUSH-th free: the batch's count in %r8 */
SEC("uprobe")
int BPF_KPROBE(tramp_batch)
{
	batch_drain(inflight_find(), bpf_get_current_pid_tgid() >> 32, PT_REGS_PARM5(ctx));
	return 0;
}

/* Userspace's drain before it reads the maps, from a copy of the target's batch. */
SEC("syscall")
int drain_batch(struct batch_args *args)
{
	__u32 zero = 0;
	struct free_batch *b = bpf_map_lookup_elem(&batch_copy, &zero);

	if (b && !bpf_probe_read_kernel(b, sizeof(*b), &args->batch))
		batch_account(b, args->pid, NULL);
	return 0;
}

/*
 * An allocation trampoline's nop5, after the call: %rax the result, the
 * arguments back in %rsi/%rdx, the caller's return address in %rcx and the
 * batch's count in %r8.
 * Inner levels of the same call were reported first.
 */
SEC("uprobe")
int BPF_KPROBE(tramp_alloc)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	__u64 ret = PT_REGS_RC(ctx), old = 0, size, made = 0;
	struct inflight *st;
	bool nested;

	if (!ret)
		return 0;	/* failed: a failed realloc frees nothing */
	switch (PYMEM_COOKIE_KIND(cookie)) {
	case CALL_CALLOC:
		size = PT_REGS_PARM2(ctx) * PT_REGS_PARM3(ctx);
		break;
	case CALL_REALLOC:
		old = PT_REGS_PARM2(ctx);
		size = PT_REGS_PARM3(ctx);
		break;
	default:
		size = PT_REGS_PARM2(ctx);
	}
	st = inflight_get();
	batch_drain(st, pid, PT_REGS_PARM5(ctx));
	nested = st && st->last_alloc == ret;
	if (nested)
		made = unrecord_block(pid, ret);
	/* an inner realloc already released the old block; an inner malloc did not */
	if (old && (old != ret || !nested) && !release_block(pid, old, bpf_ktime_get_ns()) && !nested)
		drop(DROP_UNKNOWN_FREE);
	record_alloc(st, pid, ret, size, PYMEM_COOKIE_SITE(cookie), PT_REGS_PARM4(ctx), made);
	if (st) {
		st->last_alloc = ret;
		st->last_free = 0;
	}
	return 0;
}

/*
 * Anonymous mmap outside any allocator call is an allocation of its own;
 * inside malloc (depth > 0) it belongs to that call.  Probed in libc, not at
 * the syscall tracepoints: those put every syscall on the host on the slow
 * path, and an optimized probe hit is itself a syscall.
 */
SEC("uprobe")
int BPF_KPROBE(mmap_enter, __u64 addr, __u64 len, __u64 prot, __u64 flags)
{
	struct inflight *st = inflight_get();
	struct inflight_lvl *l;
	__u64 caller;

	if (!st)
		return 0;
	st->last_free = 0;
	if (st->depth++)
		return 0;
	/* mmap is a leaf: the caller's return address is on top of the stack */
	caller = read_ptr(PT_REGS_SP(ctx));
	l = &st->lvl[0];
	l->site = SITE_MMAP;
	l->ptr = 0;
	l->size = len;
	/*
	 * A file mapping is not heap; PROT_NONE reserves address space (malloc's
	 * heaps, guard areas); pymalloc's arenas (mapped from the interpreter
	 * itself) hold objects counted one by one.
	 */
	if (!(flags & MAP_ANONYMOUS) || !prot ||
	    (caller >= interp_text_lo && caller < interp_text_hi))
		l->kind = CALL_IGNORED;
	else
		l->kind = CALL_MALLOC;
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(munmap_enter, __u64 addr)
{
	struct inflight *st = inflight_find();

	if (st && st->depth)
		return 0;
	/* Arenas and malloc's own chunks were never tracked: not a lost event. */
	release_block(bpf_get_current_pid_tgid() >> 32, addr, bpf_ktime_get_ns());
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
