/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What one event does to the live table and the counters: a free, and an
 * allocation logged in the target's batch, alone or with its free from the
 * same drain.  The probes and the drain itself are in pymem.bpf.c.
 */
#ifndef PYMEM_EVENTS_BPF_H
#define PYMEM_EVENTS_BPF_H

#include "common.bpf.h"
#include "pycode.bpf.h"
#include "live.bpf.h"

/*
 * A freed block of the process in slot tg: forget it if it was a code
 * object, then release it.  A global function, verified once rather than
 * in each batch_account step.
 */
__noinline int account_free(struct pymem_target *tg, __u64 addr, __u64 now)
{
	if (!tg)
		return 0;
	code_forget(tg, addr);
	if (!release_block(tg, addr, now))
		drop_at(tg, DROP_UNKNOWN_FREE);
	return 0;
}

/* Sites of the levels a batched allocation may run through: the raw domain, libc */
static __always_inline bool inner_site(__u32 site)
{
	return (site >= SITE_PYMEM_RAW_MALLOC && site <= SITE_PYMEM_RAW_REALLOC) ||
	       (site >= SITE_MALLOC && site <= SITE_VALLOC && site != SITE_FREE);
}

/* The stack a batched allocation's hash was learnt for; none is counted. */
static __always_inline __u64 hash_stack(struct pymem_target *tg, struct batch_ev *ev)
{
	__u64 id;

	if (alias_find(tg->pid, ev->hash, &id))
		return id;
	drop_at(tg, DROP_STACK_UNREGISTERED);
	return STACK_ID_UNKNOWN(BATCH_META_SITE(ev->meta));
}

/*
 * A batched allocation, under the stack its hash was learnt for.  The block
 * is live already (its insert fails) only if an inner level (pymalloc's
 * fallback to the raw domain and libc) recorded it within this call, which
 * is taken over, or if a realloc kept its block in place: every free is
 * seen, and the batch's events before it are accounted.  Inserting first
 * spares a lookup of the live table on every allocation.  A global function.
 */
__noinline int account_alloc(struct pymem_target *tg, struct batch_ev *ev, __u64 now)
{
	__u64 made = 0, addr, old, size, id, meta, iv, ts = now;
	bool nested = false, old_gone = false;
	struct live_slot *v;
	int err;

	if (!ev || !tg)
		return 0;
	id = hash_stack(tg, ev);
	meta = sample_meta(tg->sample_interval, ev->meta);
	size = BATCH_META_SIZE(meta);
	addr = ev->addr;
	old = ev->old;
	/* first, so that the old block's bytes never count twice at a peak */
	if (old && old != addr)
		old_gone = !release_block(tg, old, now);
	err = live_add(tg->pid, addr, meta, id, ts);
	if (err == -EEXIST) {
		v = live_find(tg->pid, addr);
		nested = v && inner_site(v->site);
		if (nested) {
			made = unrecord_block(tg, addr);
			ts = made ?: now;
		} else {
			/* a realloc in place releases its block; anything else missed a free */
			if (old != addr)
				drop_at(tg, DROP_MISSED_FREE);
			release_block(tg, addr, now);
		}
		err = live_add(tg->pid, addr, meta, id, ts);
	}
	/* an inner realloc already released the old block */
	if (old_gone && !nested)
		drop_at(tg, DROP_UNKNOWN_FREE);
	count_alloc(tg, id, size, made, ts, !err);
	/* read again: held across the calls above, it would deepen this frame */
	iv = tg->sample_interval;
	if (iv)
		count_raw(iv, stats_get(tg, id), BATCH_META_SIZE(ev->meta));
	return 0;
}

/* A logged event's site is this once its free is counted with its allocation */
#define BATCH_PAIRED	0xff

/* A batched event's site is a free's: the GIL domains', or (sampled mode) a GIL holder's raw or libc one */
static __always_inline bool free_site(__u32 site)
{
	return site == SITE_PYMEM_FREE || site == SITE_PYOBJECT_FREE ||
	       site == SITE_PYMEM_RAW_FREE || site == SITE_FREE;
}

/*
 * The event of b after event i, and before end, that next names i's block
 * (absolute indices), if that is a free: returns its index, else 0.  A
 * block allocated and freed within one drain is counted without entering
 * the live table.  A global function.
 */
__noinline __u64 batch_pair(struct event_batch *b, __u64 i, __u64 end)
{
	struct batch_ev *e;
	__u64 addr, j;
	__u32 k;

	if (!b)
		return 0;
	addr = b->ev[i & (PYMEM_BATCH - 1)].addr;
	for (k = 1; k < PYMEM_BATCH; k++) {
		j = i + k;
		if (j >= end)
			break;
		e = &b->ev[j & (PYMEM_BATCH - 1)];
		if (free_site(BATCH_META_SITE(e->meta))) {
			if (e->addr == addr)
				return j;
		} else if (e->addr == addr || e->old == addr) {
			return 0;
		}
	}
	return 0;
}

/*
 * A batched allocation (at now) whose free (at freed) is in the same drain:
 * both are counted under its stack at once.  If an inner level (the raw domain, libc)
 * recorded the block within this call, that record is taken back, and its
 * time is the block's birth.  Returns -1, having done nothing, if the block
 * is live otherwise (a realloc in place, or a missed free): account_alloc()
 * sorts that out.  A global function.
 */
__noinline int account_pair(struct pymem_target *tg, struct batch_ev *ev, __u64 now, __u64 freed)
{
	__u64 made = 0, size, addr, old, iv, born;
	struct peak_state *g;
	struct stack_stats *s;
	struct live_slot *v;

	if (!ev || !tg)
		return -1;
	addr = ev->addr;
	v = live_find(tg->pid, addr);
	if (v && !inner_site(v->site))
		return -1;
	if (v)
		made = unrecord_block(tg, addr);
	old = ev->old;
	/* an inner realloc already released the old block */
	if (old && old != addr && !release_block(tg, old, now) && !v)
		drop_at(tg, DROP_UNKNOWN_FREE);
	size = BATCH_META_SIZE(ev->meta);
	s = stats_get(tg, hash_stack(tg, ev));
	if (!s)
		return 0;
	iv = tg->sample_interval;
	count_raw(iv, s, size);
	size = sample_weigh(iv, size);
	__sync_fetch_and_add(&s->alloc_bytes, size);
	__sync_fetch_and_add(&s->alloc_objects, 1);
	if (made) {
		g = &tg->peak;
		peak_touch(s, g);
		/* live at the last peak, under the inner level's stack until now */
		if (live_at_peak(g, made))
			__sync_fetch_and_add(&s->peak_snap, size);
	}
	born = made ?: now;
	count_release(s, size, freed > born ? freed - born : 0);
	return 0;
}

#endif /* PYMEM_EVENTS_BPF_H */
