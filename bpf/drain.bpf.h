/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The accounting of a target's batch (struct event_batch): a copy of its
 * events not accounted yet, claimed by compare and swap, then each event
 * in order (events.bpf.h), a block allocated and freed within one drain
 * counted at once.  The probes that drain it are in pymem.bpf.c.
 */
#ifndef PYMEM_DRAIN_BPF_H
#define PYMEM_DRAIN_BPF_H

#include "common.bpf.h"
#include "events.bpf.h"

/*
 * A drain of the target's batch: a copy of it, and the walk over its
 * events, kept here rather than on the BPF stack, which every probe's
 * deepest call chain shares (512 bytes, bpf_loop callbacks included).
 */
struct drain {
	struct event_batch b;
	__u64 last_alloc;	/* the thread's (struct inflight), 0 for userspace's drain */
	__u64 last_free;	/* likewise */
	__u64 now;
	__u64 from;
	__u64 end;
	__u64 last;
	/*
	 * A filter of the blocks the drain's frees name: an allocation whose
	 * bit is clear is freed in no later event, and batch_pair's scan of
	 * the rest of the drain is skipped (it was a fifteenth of exact
	 * mode's time on a loop whose blocks outlive a batch).
	 */
	__u64 freed[4];
};

/* What a drain's steps are handed: the drain, and its process's slot */
struct drain_ctx {
	struct drain *d;
	struct pymem_target *tg;
};

/* A block's bit in a drain's filter of frees */
static __always_inline __u32 freed_bit(__u64 addr)
{
	return (__u32)((addr * 0x9e3779b97f4a7c15ULL) >> 56);
}

/* Event from + i of a drain into its filter of frees */
static long filter_step(__u32 i, void *data)
{
	struct drain *w = *(struct drain **)data;
	struct batch_ev *ev;
	__u32 bit;

	if (!w)
		return 1;
	ev = &w->b.ev[(w->from + i) & (PYMEM_BATCH - 1)];
	if (free_site(BATCH_META_SITE(ev->meta))) {
		bit = freed_bit(ev->addr);
		w->freed[(bit >> 6) & 3] |= 1ULL << (bit & 63);
	}
	return 0;
}

static __always_inline bool maybe_freed(const struct drain *w, __u64 addr)
{
	__u32 bit = freed_bit(addr);

	return w->freed[(bit >> 6) & 3] & (1ULL << (bit & 63));
}

/*
 * When event at of a drain happened: sampled mode's trampolines date each
 * (struct event_batch), else it is its drain's time.  Never after the drain.
 */
static __always_inline __u64 event_time(const struct drain *w, const struct pymem_target *tg,
					__u64 at)
{
	__u64 ts = w->b.ts[at & (PYMEM_BATCH - 1)];

	return tg->sample_interval && ts && ts < w->now ? ts : w->now;
}

/* Event from + i of a drain */
static long batch_step(__u32 i, void *data)
{
	struct drain_ctx *c = data;
	struct drain *w = c->d;
	struct pymem_target *tg = c->tg;
	struct batch_ev *ev;
	__u64 at, pair, addr;
	__u32 site;

	if (!w || !tg)
		return 1;
	at = w->from + i;
	ev = &w->b.ev[at & (PYMEM_BATCH - 1)];
	site = BATCH_META_SITE(ev->meta);
	addr = ev->addr;
	if (!addr)
		return 0;
	/* sampled mode: an unsampled code object died, its block never counted */
	if (site == BATCH_CODE_FREE) {
		code_forget(tg, addr);
		w->last = 0;
		return 0;
	}
	if (w->last_alloc == addr)
		w->last_alloc = 0;
	/* allocated again since: its next free is a new release, not a nested level */
	if (w->last_free == addr && !free_site(site))
		w->last_free = 0;
	if (site == BATCH_PAIRED) {
		w->last = addr;
		return 0;
	}
	if (!free_site(site)) {
		pair = maybe_freed(w, addr) ? batch_pair(&w->b, at, w->end) : 0;
		if (pair && !account_pair(tg, ev, event_time(w, tg, at), event_time(w, tg, pair))) {
			w->b.ev[pair & (PYMEM_BATCH - 1)].meta = (__u64)BATCH_PAIRED << 56;
			code_forget(tg, addr);
		} else {
			account_alloc(tg, ev, event_time(w, tg, at));
		}
		w->last = 0;
		return 0;
	}
	account_free(tg, addr, event_time(w, tg, at));
	w->last = addr;
	return 0;
}

/*
 * Account the events in d->b (a copy of tg's batch) that no thread has
 * claimed yet (tg->batch_done counts those claimed); any thread may drain,
 * so a range is claimed by compare and swap before it is accounted.
 * Returns the block freed by the last event, or 0 if that was not a free.
 * A global function: verified once, not at each caller's every path.
 */
__noinline __u64 batch_account(struct drain *d, struct pymem_target *tg)
{
	struct drain_ctx c = { .d = d, .tg = tg };
	__u64 seq, done, now;
	int i;

	if (!d || !tg)
		return 0;
	done = READ_ONCE(tg->batch_done);
	seq = d->b.seq;
	/*
	 * After the copy, before the claim: a block recorded later than now was
	 * allocated after every free in the copy (release_block skips it).  One
	 * clock read for the lot: when each event was within the batch is not known.
	 */
	now = bpf_ktime_get_ns();
	for (i = 0; i < 4; i++) {
		if (seq <= done)
			return 0;
		if (__sync_val_compare_and_swap(&tg->batch_done, done, seq) == done)
			break;
		done = READ_ONCE(tg->batch_done);
	}
	if (i == 4)
		return 0;	/* others are draining it right now */
	d->from = seq - done >= PYMEM_BATCH ? seq - PYMEM_BATCH + 1 : done;
	if (d->from > done)
		__sync_fetch_and_add(&tg->drops[DROP_BATCH_LOST], d->from - done);
	d->now = now;
	d->end = seq;
	d->last = 0;
	__builtin_memset(d->freed, 0, sizeof(d->freed));
	/* bpf_loop: the verifier checks one step, not each of up to PYMEM_BATCH */
	bpf_loop(seq - d->from, filter_step, &d, 0);
	bpf_loop(seq - d->from, batch_step, &c, 0);
	return d->last;
}

/* Fewer events than this pending are copied one by one, not with the whole batch */
#define BATCH_FEW	8

/*
 * Into b, the events of the batch at at from done to seq, and seq.  A few
 * are copied one by one: a probe hit between flushes finds an event or two
 * pending (sampled mode's raw-domain samples, its frees by threads without
 * the GIL), and a copy of the whole batch, its cache lines cold by then,
 * made such a hit 7x dearer.  They
 * were intact if no writer has come round to the first of them since (a
 * writer fills slot k only once the count reads k); else, or with more
 * pending, the whole batch is copied in address order, its count last.
 * A global function: its loop's registers do not spill into each probe's
 * frame.
 */
__noinline int batch_read(struct event_batch *b, __u64 at, __u64 seq, __u64 done)
{
	__u64 k, i;

	if (!b)
		return -1;
	if (seq - done < BATCH_FEW) {
		for (k = 0; k < BATCH_FEW && done + k < seq; k++) {
			i = (done + k) & (PYMEM_BATCH - 1);
			if (bpf_probe_read_user(&b->ev[i], sizeof(b->ev[i]),
						(void *)(at + i * sizeof(b->ev[0]))) ||
			    bpf_probe_read_user(&b->ts[i], sizeof(b->ts[i]),
						(void *)(at + offsetof(struct event_batch, ts) +
							 i * sizeof(b->ts[0]))))
				return -1;
		}
		if (read_ptr(at + offsetof(struct event_batch, seq)) < done + PYMEM_BATCH) {
			b->seq = seq;
			return 0;
		}
	}
	return bpf_probe_read_user(b, sizeof(*b), (void *)at);
}

#endif /* PYMEM_DRAIN_BPF_H */
