/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The table of live blocks, by (pid, address).  A bucket holds the blocks
 * of 2^LIVE_SPAN_SHIFT bytes of address space (LIVE_WAYS slots: as many as
 * 16-byte blocks fit), and the buckets of one 4 KiB page sit together.  So
 * the blocks made one after another, and freed one after another, share
 * cache lines and TLB entries; in a hash map every operation lands in a
 * random bucket, which cost 40% of the profiler's time.  Buckets fill up
 * only where pages collide; those blocks spill into a hash map.
 */
#ifndef PYMEM_LIVE_TABLE_BPF_H
#define PYMEM_LIVE_TABLE_BPF_H

#include "common.bpf.h"

#define EBUSY		16
#define ENOSPC		28

/* An add that finds its bucket held this many times gives up (live_map_full). */
#define LIVE_ADD_TRIES	256

/*
 * Sized by userspace: a power of two buckets, at least LIVE_PAGE_BUCKETS.
 * Mappable: userspace frees a process's blocks in place, and --holders
 * scans it with the target stopped (a copy by batched lookups took 60 ms
 * for 40 MiB).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, LIVE_PAGE_BUCKETS);
	__type(key, __u32);
	__type(value, struct live_bucket);
} live SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1 << 20);
	__type(key, struct pid_key);
	__type(value, struct live_slot);
} spill SEC(".maps");

/* The buckets' count less one, set by userspace */
const volatile __u32 live_mask = LIVE_PAGE_BUCKETS - 1;
/* Blocks in "spill": while there are none, a block not in its bucket is not live. */
volatile __u64 spilled = 0;

static __always_inline struct live_bucket *live_bucket(__u32 pid, __u64 addr)
{
	__u32 page = (__u32)(((addr >> 12) ^ ((__u64)pid << 40)) * 0x9e3779b97f4a7c15ULL >> 32);
	__u32 i = (page * LIVE_PAGE_BUCKETS + (__u32)(addr >> LIVE_SPAN_SHIFT) % LIVE_PAGE_BUCKETS) &
		  live_mask;

	return bpf_map_lookup_elem(&live, &i);
}

static __always_inline struct live_slot *spill_find(__u32 pid, __u64 addr)
{
	struct pid_key k = { .pid = pid, .key = addr };

	return spilled ? bpf_map_lookup_elem(&spill, &k) : NULL;
}

/* The live block at addr, or NULL */
static __always_inline struct live_slot *live_find(__u32 pid, __u64 addr)
{
	struct live_bucket *b = live_bucket(pid, addr);
	int k;

	if (!b)
		return NULL;
	for (k = 0; k < LIVE_WAYS; k++)
		if (b->slot[k].addr == addr && b->slot[k].pid == pid)
			return &b->slot[k];
	return spill_find(pid, addr);
}

/*
 * Hold b for an add; false if another CPU held it LIVE_ADD_TRIES times
 * running.  A bare compare-and-swap per try, without a plain read first:
 * the verifier walks every try of every program that adds (six), and a
 * second branch per try cost 13,000 instructions each, half the object's
 * load time; a bucket spans 128 bytes of one page, so two CPUs rarely want it.
 */
static __always_inline bool bucket_hold(struct live_bucket *b)
{
	int k;

	for (k = 0; k < LIVE_ADD_TRIES; k++)
		if (!__sync_val_compare_and_swap(&b->adding, 0, 1))
			return true;
	return false;
}

/* x86 keeps stores in order: what the add wrote is seen before the bucket is let go */
static __always_inline void bucket_let_go(struct live_bucket *b)
{
	asm volatile("" ::: "memory");
	*(volatile __u64 *)&b->adding = 0;
}

/* Everything of a live block but its address, which a bucket's slot gets last */
static __always_inline void slot_fill(struct live_slot *s, __u32 pid, __u32 site, bool spilled,
				      __u64 size, __u64 id, __u64 ts)
{
	s->pid = pid;
	s->site = site;
	s->spilled = spilled;
	s->size = size;
	s->stack_id = id;
	s->ts = ts;
}

/*
 * A block enters the table: 0, -EEXIST if it is in already, -EBUSY if its
 * bucket stayed held, or the spill map's error if the bucket is full and
 * so is that.  meta: its size and site, as a batched event's.  Every add
 * of an address holds the same bucket, spill included, so none gets two
 * places.  A global function: its spill entry is built on a frame of its
 * own, at the end of the call chain, not in each caller's.
 */
__noinline int live_add(__u32 pid, __u64 addr, __u64 meta, __u64 id, __u64 ts)
{
	struct live_bucket *b = live_bucket(pid, addr);
	struct pid_key key = { .pid = pid, .key = addr };
	__u32 site = BATCH_META_SITE(meta);
	__u64 size = BATCH_META_SIZE(meta);
	int k, free = -1, err = 0;
	struct live_slot *s, v;

	if (!b)
		return -ENOSPC;
	if (!bucket_hold(b))
		return -EBUSY;
	if (spill_find(pid, addr))
		err = -EEXIST;
	for (k = 0; k < LIVE_WAYS && !err; k++) {
		s = &b->slot[k];
		if (s->addr == addr && s->pid == pid)
			err = -EEXIST;
		else if (!s->addr && free < 0)
			free = k;
	}
	if (!err && free >= 0) {
		s = &b->slot[free & (LIVE_WAYS - 1)];
		slot_fill(s, pid, site, false, size, id, ts);
		/* x86 keeps stores in order: the slot is whole when a reader sees addr */
		asm volatile("" ::: "memory");
		s->addr = addr;
	} else if (!err) {
		v.addr = addr;
		slot_fill(&v, pid, site, true, size, id, ts);
		err = bpf_map_update_elem(&spill, &key, &v, BPF_NOEXIST);
		if (!err)
			__sync_fetch_and_add(&spilled, 1);
	}
	bucket_let_go(b);
	return err;
}

/*
 * The block s (found at addr) leaves the table; false if another CPU took
 * it first.  Read what is needed of s before: its slot is then free.
 */
static __always_inline bool live_take(struct live_slot *s, __u64 addr)
{
	struct pid_key key = { .key = addr };

	if (!s->spilled)
		return __sync_val_compare_and_swap(&s->addr, addr, 0) == addr;
	key.pid = s->pid;
	if (bpf_map_delete_elem(&spill, &key))
		return false;
	__sync_fetch_and_add(&spilled, -1);
	return true;
}

#endif /* PYMEM_LIVE_TABLE_BPF_H */
