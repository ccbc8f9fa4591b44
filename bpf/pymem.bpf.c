// SPDX-License-Identifier: GPL-2.0
/*
 * pymem-bpf kernel side: the allocator probes and the per-thread state of
 * calls in flight (the accounting of the target's batch is in drain.bpf.h,
 * what each event does in events.bpf.h, live blocks and per-stack counters
 * in live.bpf.h, the stack walker in pystack.bpf.h).
 */
#include "common.bpf.h"
#include "pystack.bpf.h"
#include "live.bpf.h"
#include "events.bpf.h"
#include "drain.bpf.h"

/* One allocator call in flight on a thread, per nesting level. */
struct inflight_lvl {
	__u64 size;
	__u64 ptr;		/* realloc: old block; posix_memalign: result slot */
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
	/*
	 * A drain: per thread, not per CPU, since a drain can be preempted and
	 * another thread's drain run on its CPU.
	 */
	struct drain drain;
};

_Static_assert(sizeof(struct inflight) <= TASK_STORAGE_VALUE_MAX, "inflight too large");

/* Per thread, in its task storage: found without a hash lookup, gone when it exits. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct inflight);
} inflight SEC(".maps");

/* drain_batch's drain: only pymem-bpf's own thread runs it */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct drain);
} batch_copy SEC(".maps");

static __always_inline struct inflight *inflight_get(void)
{
	return task_state(&inflight);
}

/* The thread's state if it has any: a return or munmap needs no new one. */
static __always_inline struct inflight *inflight_find(void)
{
	return bpf_task_storage_get(&inflight, bpf_get_current_task_btf(), NULL, 0);
}

static __always_inline void do_free(struct inflight *st, struct pymem_target *tg, __u64 addr)
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
	account_free(tg, addr, bpf_ktime_get_ns());
}

/*
 * Before an event: the batched events made before it, so that a block freed
 * and allocated again is seen in that order.  seq: the batch's count as the
 * trampoline read it, 0 to read it here.
 */
static __always_inline void batch_drain(struct inflight *st, struct pymem_target *tg, __u64 seq)
{
	__u64 last, done, at = tg->batch_addr;

	/* without its thread state a drain leaves the events in the batch for the next one */
	if (!at || !st)
		return;
	if (!seq)
		seq = read_ptr(at + offsetof(struct event_batch, seq));
	done = READ_ONCE(tg->batch_done);
	if (seq <= done || batch_read(&st->drain.b, at, seq, done))
		return;
	st->drain.last_alloc = st->last_alloc;
	st->drain.last_free = st->last_free;
	last = batch_account(&st->drain, tg);
	st->last_alloc = st->drain.last_alloc;
	/* its nested PyMem_RawFree and free() are the same release */
	st->last_free = last ?: st->drain.last_free;
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
		drop(bpf_get_current_pid_tgid() >> 32, DROP_NEST_OVERFLOW);
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
	struct pymem_target *tg = target_of(pid);
	struct inflight *st = inflight_find();
	struct inflight_lvl l;
	__u64 addr = ret, now;

	if (!tg)
		return 0;
	if (!st || !st->depth) {
		drop_at(tg, DROP_MISSED_ENTRY);
		return 0;
	}
	if (--st->depth)
		return 0;
	batch_drain(st, tg, 0);
	l = st->lvl[0];
	if (l.kind == CALL_IGNORED)
		return 0;
	/* MAP_FAILED */
	if (l.site == SITE_MMAP && ret >= (__u64)-4095)
		return 0;

	now = bpf_ktime_get_ns();
	switch (l.kind) {
	case CALL_REALLOC:
		if (!ret) {
			/* A failed realloc frees nothing; realloc(p, 0) may free p. */
			if (l.size == 0 && l.ptr && !release_block(tg, l.ptr, now))
				drop_at(tg, DROP_UNKNOWN_FREE);
			return 0;
		}
		if (l.ptr && !release_block(tg, l.ptr, now))
			drop_at(tg, DROP_UNKNOWN_FREE);
		break;
	case CALL_POSIX_MEMALIGN:
		if (ret)
			return 0;
		addr = read_ptr(l.ptr);
		break;
	}
	if (!addr)
		return 0;
	__sync_fetch_and_add(&tg->stack_walks, 1);
	record_alloc(walker_get(), pid, addr, l.size, l.site, PT_REGS_IP(ctx), 0, now);
	st->last_alloc = addr;
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(free_enter, __u64 addr)
{
	struct pymem_target *tg = target_of(bpf_get_current_pid_tgid() >> 32);
	struct inflight *st;

	if (!tg)
		return 0;
	st = inflight_get();
	batch_drain(st, tg, 0);
	do_free(st, tg, addr);
	return 0;
}

/* A raw free trampoline's nop5, before the call: (ctx, ptr), the batch's count in %r8 */
SEC("uprobe")
int BPF_KPROBE(tramp_free, __u64 ctx_arg, __u64 addr)
{
	struct pymem_target *tg = target_of(bpf_get_current_pid_tgid() >> 32);
	struct inflight *st;

	if (!tg)
		return 0;
	st = inflight_get();
	batch_drain(st, tg, PT_REGS_PARM5(ctx));
	do_free(st, tg, addr);
	return 0;
}

/* A batched event's nop5, every PYMEM_BATCH_FLUSH-th event: the batch's count in %r8 */
SEC("uprobe")
int BPF_KPROBE(tramp_batch)
{
	struct pymem_target *tg = target_of(bpf_get_current_pid_tgid() >> 32);

	if (tg)
		batch_drain(inflight_get(), tg, PT_REGS_PARM5(ctx));
	return 0;
}

/*
 * libc's _exit, where exit() and os._exit both end: up to a flush's worth
 * of events are still in the batch, and no later probe hit (nor
 * userspace's drain) can read them once the process is gone.  A forked
 * child's _exit finds no target (and fork wiped its copy of the batch).
 */
SEC("uprobe")
int BPF_KPROBE(exit_drain)
{
	struct pymem_target *tg = target_of(bpf_get_current_pid_tgid() >> 32);

	if (tg)
		batch_drain(inflight_get(), tg, 0);
	return 0;
}

/*
 * libc's dlopen returning, in sampled mode: the library it loaded (and those
 * it needed) call malloc through GOT entries not redirected yet.  The flag
 * says so, and the ring wakes userspace at once, which redirects them
 * before much of the library's code runs.
 */
SEC("uretprobe")
int BPF_KRETPROBE(lib_loaded, __u64 handle)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct news_loaded n = { .type = NEWS_LOADED, .pid = pid };
	struct pymem_target *tg;

	if (!handle)
		return 0;
	tg = target_of(pid);
	if (!tg)
		return 0;
	*(volatile __u32 *)&tg->libs_loaded = 1;
	bpf_ringbuf_output(&news, &n, sizeof(n), BPF_RB_FORCE_WAKEUP);
	return 0;
}

/* Userspace's drain before it reads the maps, from a copy of the target's batch. */
SEC("syscall")
int drain_batch(struct batch_args *args)
{
	struct pymem_target *tg = target_of(args->pid);
	__u32 zero = 0;
	struct drain *d = bpf_map_lookup_elem(&batch_copy, &zero);

	if (tg && d && !bpf_probe_read_kernel(&d->b, sizeof(d->b), &args->batch)) {
		d->last_alloc = 0;
		d->last_free = 0;
		batch_account(d, tg);
	}
	return 0;
}

/*
 * An allocation trampoline's nop5, after the call: %rax the result, the
 * arguments back in %rsi/%rdx, the caller's return address in %rcx, the
 * batch's count in %r8 and in %r9 a stack hash the trampoline has not
 * logged with before (or 0).  Inner levels of the same call were reported
 * first.
 */
/* The size an allocation trampoline's call asked for, and a realloc's old block */
static __always_inline __u64 tramp_size(struct pt_regs *ctx, __u64 cookie)
{
	switch (PYMEM_COOKIE_KIND(cookie)) {
	case CALL_CALLOC:
		return PT_REGS_PARM2(ctx) * PT_REGS_PARM3(ctx);
	case CALL_REALLOC:
		return PT_REGS_PARM3(ctx);
	default:
		return PT_REGS_PARM2(ctx);
	}
}

static __always_inline __u64 tramp_old(struct pt_regs *ctx, __u64 cookie)
{
	return PYMEM_COOKIE_KIND(cookie) == CALL_REALLOC ? PT_REGS_PARM2(ctx) : 0;
}

/*
 * The registers are read from ctx where they are used, not held across
 * calls: every value held is a slot of this frame, and the stack walk's
 * whole call chain hangs below it.
 */
SEC("uprobe")
int BPF_KPROBE(tramp_alloc)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct pymem_target *tg;
	struct inflight *st;
	struct walker *wk;
	__u64 made, id, now;

	if (!PT_REGS_RC(ctx))
		return 0;	/* failed: a failed realloc frees nothing */
	tg = target_of(pid);
	if (!tg)
		return 0;
	st = inflight_get();
	batch_drain(st, tg, PT_REGS_PARM5(ctx));
	now = bpf_ktime_get_ns();
	/*
	 * Sampled, no inner level is ever reported first (a GIL domain's call
	 * runs marked, libc is not probed): the thread's last block is an
	 * earlier call's, which a realloc in place returns again.
	 */
	made = outer_level(tg, PT_REGS_RC(ctx), tramp_old(ctx, cookie),
			   st && st->last_alloc == PT_REGS_RC(ctx) && !tg->sample_interval, now);
	/*
	 * The stack's hash (in %r9, the sixth argument register: libbpf 1.1
	 * has no PT_REGS_PARM6), its low bit clear: the raw domain's trampoline
	 * knows it learnt, so it names the stack without a walk.
	 */
	id = 0;
	if (ctx->r9 && !(ctx->r9 & 1))
		id = record_known(PT_REGS_RC(ctx), BATCH_META_SIZE(tramp_size(ctx, cookie)) |
				  (__u64)PYMEM_COOKIE_SITE(cookie) << 56, ctx->r9 | 1, made, now);
	if (id)
		goto done;
	__sync_fetch_and_add(&tg->stack_walks, 1);
	wk = walker_get();
	id = record_alloc(wk, pid, PT_REGS_RC(ctx), tramp_size(ctx, cookie),
			  PYMEM_COOKIE_SITE(cookie), PT_REGS_PARM4(ctx), made, now);
	/*
	 * A hash met first: the events after are logged with it, or name it
	 * known.  Not a stack cut short by a failed read: those events then
	 * count as stack_unregistered rather than go to a partial stack
	 * uncounted.
	 */
	if (ctx->r9 && wk && !wk->news.rec.flags)
		alias_learn(pid, ctx->r9 | 1, id);
done:
	if (!st)
		return 0;
	st->last_alloc = PT_REGS_RC(ctx);
	st->last_free = 0;
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
	struct pymem_target *tg = target_of(bpf_get_current_pid_tgid() >> 32);
	struct inflight *st = inflight_get();
	struct inflight_lvl *l;
	__u64 caller;

	if (!tg || !st)
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
	 * itself) hold objects counted one by one; libc's own are its malloc's
	 * chunks, counted at the call that asked for them (exact mode's raw
	 * domain enters malloc past the probe that would make this depth 1:
	 * src/inject/tramp_detour.c).
	 */
	if (!(flags & MAP_ANONYMOUS) || !prot ||
	    (caller >= tg->interp_text_lo && caller < tg->interp_text_hi) ||
	    (caller >= tg->libc_text_lo && caller < tg->libc_text_hi))
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
	release_block(target_of(bpf_get_current_pid_tgid() >> 32), addr, bpf_ktime_get_ns());
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
