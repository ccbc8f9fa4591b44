/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Live blocks and the per-stack counters: what an allocation records, what
 * a release takes back, and the session's high-water mark of live bytes.
 */
#ifndef PYMEM_LIVE_BPF_H
#define PYMEM_LIVE_BPF_H

#include "common.bpf.h"
#include "pystack.bpf.h"
#include "live_table.bpf.h"
#include "sample.bpf.h"

/* Per process and stack id; a process's STACK_ID_MAP_FULL is inserted before its probes. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65537);
	__type(key, struct pid_key);
	__type(value, struct stack_stats);
} stats SEC(".maps");

/* A new stack's counters, from here rather than 344 bytes of BPF stack */
const struct stack_stats stats_zero = {};

/*
 * The counters of stack id of the process in slot tg.  The event paths
 * hand the slot down rather than look it up by pid again: a hash lookup
 * per use cost 13% of exact mode's time on a request-handler loop.
 */
static __always_inline struct stack_stats *stats_get(struct pymem_target *tg, __u64 id)
{
	struct pid_key key = { .pid = tg->pid, .key = id };
	struct stack_stats *s = bpf_map_lookup_elem(&stats, &key);

	if (s)
		return s;
	bpf_map_update_elem(&stats, &key, &stats_zero, BPF_NOEXIST);
	s = bpf_map_lookup_elem(&stats, &key);
	if (!s)
		drop_at(tg, DROP_STATS_FULL);
	return s;
}

/* floor(log2(v)) for v > 0, by halving the width searched */
static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 r = 0, bits;

	for (bits = 32; bits; bits >>= 1) {
		if (v >> bits) {
			v >>= bits;
			r += bits;
		}
	}
	return r;
}

/* Before a stack's live bytes change, keep what they were at the last peak. */
static __always_inline void peak_touch(struct stack_stats *s, struct peak_state *g)
{
	__u64 gen = g->gen;

	if (s->peak_gen != gen) {
		s->peak_snap = s->live_bytes;
		s->peak_gen = gen;
	}
}

/* A tracked block left the live set: its stack's live counts (s, if found; peak_touch()ed first) and the session's (g) */
static __always_inline void leave_live(struct stack_stats *s, struct peak_state *g, __u64 size)
{
	if (s) {
		__sync_fetch_and_add(&s->live_bytes, -(__s64)size);
		__sync_fetch_and_add(&s->live_objects, -1);
	}
	__sync_fetch_and_add(&g->live, -(__s64)size);
}

/* A release's counters: a block of size bytes freed made_ns after it was made */
static __always_inline void count_release(struct stack_stats *s, __u64 size, __u64 made_ns)
{
	__u64 us = made_ns / 1000;
	__u32 b = us ? log2_u64(us) + 1 : 0;

	if (b >= PYMEM_LIFETIME_BUCKETS)
		b = PYMEM_LIFETIME_BUCKETS - 1;
	/* keep clang from folding the mask the verifier needs into the clamp */
	asm volatile("" : "+r"(b));
	__sync_fetch_and_add(&s->free_bytes, size);
	__sync_fetch_and_add(&s->free_objects, 1);
	__sync_fetch_and_add(&s->lifetime_bytes[b & (PYMEM_LIFETIME_BUCKETS - 1)], size);
	if (us < 1000)
		__sync_fetch_and_add(&s->freed_within[0], size);
	else if (us < 100000)
		__sync_fetch_and_add(&s->freed_within[1], size);
	else if (us < 1000000)
		__sync_fetch_and_add(&s->freed_within[2], size);
}

/*
 * Account a block's release at now (ns) in the process of slot tg; returns
 * false if the block was not tracked.  A global function: verified once,
 * not in each caller.
 */
__noinline bool release_block(struct pymem_target *tg, __u64 addr, __u64 now)
{
	struct live_slot *v;
	struct stack_stats *s;
	__u64 size, id, ts;

	if (!tg)
		return false;
	v = live_find(tg->pid, addr);
	if (!v)
		return false;
	size = v->size;
	id = v->stack_id;
	ts = v->ts;
	/*
	 * Made after now, so not the block this free (before now) released: that
	 * one went when its address was reused (DROP_MISSED_FREE).  Only a drain
	 * of batched events racing the reuse on another thread gets here.
	 */
	if (ts > now || !live_take(v, addr))
		return true;	/* (or another CPU released it first) */
	s = stats_get(tg, id);
	if (s) {
		count_release(s, size, now - ts);
		peak_touch(s, &tg->peak);
	}
	leave_live(s, &tg->peak, size);
	return true;
}

/* Was a block allocated at ts live at the last peak?  (It is live now.) */
static __always_inline bool live_at_peak(struct peak_state *g, __u64 ts)
{
	return ts && ts <= g->peak_ns;
}

/*
 * Take back an allocation an inner level recorded, so the outer one can own
 * it; returns when it was made.  Its share of the peak moves with it.
 */
__noinline __u64 unrecord_block(struct pymem_target *tg, __u64 addr)
{
	struct live_slot *v;
	struct peak_state *g;
	struct stack_stats *s;
	__u64 size, id, ts;

	if (!tg)
		return 0;
	v = live_find(tg->pid, addr);
	if (!v)
		return 0;
	size = v->size;
	id = v->stack_id;
	ts = v->ts;
	if (!live_take(v, addr))
		return 0;
	g = &tg->peak;
	s = stats_get(tg, id);
	if (s) {
		__sync_fetch_and_add(&s->alloc_bytes, -size);
		__sync_fetch_and_add(&s->alloc_objects, -1);
		peak_touch(s, g);
		if (live_at_peak(g, ts))
			__sync_fetch_and_add(&s->peak_snap, -(__s64)size);
	}
	leave_live(s, g, size);
	return ts;
}

/*
 * The counters of a block that entered the live set under stack id at ts
 * (tracked: the live table holds it); made as for record_block.
 */
static __always_inline void count_alloc(struct pymem_target *tg, __u64 id, __u64 size,
					__u64 made, __u64 ts, bool tracked)
{
	struct peak_state *g = &tg->peak;
	struct stack_stats *s = stats_get(tg, id);
	__s64 now_live;

	if (s) {
		__sync_fetch_and_add(&s->alloc_bytes, size);
		__sync_fetch_and_add(&s->alloc_objects, 1);
	}
	if (!tracked) {
		/* untracked: its free will not be seen, so it is not live either */
		drop_at(tg, DROP_LIVE_FULL);
		return;
	}
	if (s) {
		peak_touch(s, g);
		if (live_at_peak(g, made))
			__sync_fetch_and_add(&s->peak_snap, size);
		__sync_fetch_and_add(&s->live_bytes, size);
		__sync_fetch_and_add(&s->live_objects, 1);
	}
	now_live = __sync_fetch_and_add(&g->live, size) + size;
	if (now_live > 0 && (__u64)now_live > g->peak) {
		g->peak = now_live;
		g->peak_ns = ts;
		__sync_fetch_and_add(&g->gen, 1);
	}
}

/*
 * A block of the current process enters the live set under stack id; meta
 * holds its size and site as a batched event's does.  made is when an inner
 * level made it, if one reported it first (else 0: now).  A global
 * function, off the stack walk's call chain: inlined, its live table and
 * counters would sit on the BPF stack under every frame of the walk.
 */
/* Sampled mode: the bytes a sample asked for, beside its weighed estimate */
static __always_inline void count_raw(__u64 iv, struct stack_stats *s, __u64 size)
{
	if (iv && s)
		__sync_fetch_and_add(&s->alloc_raw_bytes, size);
}

/*
 * meta's size is the bytes asked for; sampled, the block is recorded and
 * counted with its weighed estimate (here, at the end of the walk's chain,
 * where the weighing's temporaries deepen no frame held during the walk).
 */
__noinline int record_block(__u64 addr, __u64 meta, __u64 id, __u64 made, __u64 now)
{
	struct pymem_target *tg = target_of(bpf_get_current_pid_tgid() >> 32);
	__u64 iv, size, ts = made ?: now;
	int err;

	if (!tg)
		return 0;
	iv = tg->sample_interval;
	if (iv) {
		count_raw(iv, stats_get(tg, id), BATCH_META_SIZE(meta));
		meta = sample_meta(iv, meta);
	}
	size = BATCH_META_SIZE(meta);
	err = live_add(tg->pid, addr, meta, id, ts);
	if (err == -EEXIST) {
		/* The old block was released through a path we did not see. */
		drop_at(tg, DROP_MISSED_FREE);
		release_block(tg, addr, ts);
		err = live_add(tg->pid, addr, meta, id, ts);
	}
	count_alloc(tg, id, size, made, ts, !err);
	return 0;
}

/*
 * Record the block under the stack hash was learnt for, without a walk
 * (meta: as for record_block); returns the stack's id, or 0 if hash is not
 * learnt yet (another thread met it first, and its probe hit is still to
 * come).  A global function: the lookup's key is built on a frame of its
 * own, not on the probe's.
 */
__noinline __u64 record_known(__u64 addr, __u64 meta, __u64 hash, __u64 made, __u64 now)
{
	__u64 id;

	if (!alias_find(bpf_get_current_pid_tgid() >> 32, hash, &id))
		return 0;
	record_block(addr, meta, id, made, now);
	return id;
}

/* Walk the stack and record the block; returns the stack's id.  made, now: as for record_block */
static __always_inline __u64 record_alloc(struct walker *wk, __u32 pid, __u64 addr, __u64 size,
					  __u32 site, __u64 ip, __u64 made, __u64 now)
{
	__u64 id = capture_stack(wk, pid, site, ip);

	record_block(addr, BATCH_META_SIZE(size) | (__u64)site << 56, id, made, now);
	return id;
}

/*
 * An outer level's allocation of addr (a realloc's, of old; else old is 0),
 * nested when an inner level recorded the block first: that record is
 * taken back, and returned is when it was made.
 */
static __always_inline __u64 outer_level(struct pymem_target *tg, __u64 addr, __u64 old,
					 bool nested, __u64 now)
{
	__u64 made = nested ? unrecord_block(tg, addr) : 0;

	/* an inner realloc already released the old block; an inner malloc did not */
	if (old && (old != addr || !nested) && !release_block(tg, old, now) && !nested)
		drop_at(tg, DROP_UNKNOWN_FREE);
	return made;
}

#endif /* PYMEM_LIVE_BPF_H */
