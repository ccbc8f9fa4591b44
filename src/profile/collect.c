// SPDX-License-Identifier: GPL-2.0
/*
 * Stacks are symbolized as soon as they appear, because code objects and
 * mappings can be gone by the time the session ends (the target may exit).
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "collect.h"
#include "sample_scale.h"

struct sym_stack {
	uint64_t id;		/* 0: empty slot */
	int nframes;
	struct pm_frame *frames;
};

struct collector {
	const struct probes *p;
	struct ring_buffer *rb;
	uint64_t start_ns;	/* CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns() */
	struct symbolizer *s;
	struct sym_stack *tab;	/* open addressing, power-of-two size */
	size_t n, cap;
};

static struct pm_frame map_full_frame = {
	.kind = PM_FRAME_NATIVE, .function = "[stack map full]", .file = "pymem-bpf",
};

/* Counted in a stack whose record the ring could not carry and that did not recur. */
static struct pm_frame lost_frame = {
	.kind = PM_FRAME_NATIVE, .function = "[stack lost]", .file = "pymem-bpf",
};

static int add(struct collector *c, uint64_t id, const struct stack_rec *r);

static int on_news(void *ctx, void *data, size_t len)
{
	struct collector *c = ctx;
	const struct news_stack *ns = data;
	uint32_t type;

	if (len < sizeof(type))
		return 0;
	memcpy(&type, data, sizeof(type));
	if (type == NEWS_CODE && len >= sizeof(struct news_code)) {
		symbolizer_code_news(c->s, data);
	} else if (type == NEWS_TABLE && len >= offsetof(struct news_table, data)) {
		const struct news_table *t = data;

		if (t->len <= len - offsetof(struct news_table, data))
			symbolizer_table_news(c->s, t);
	} else if (type == NEWS_STACK && len >= NEWS_STACK_HEAD && len <= sizeof(*ns)) {
		/* the record ends after its last frame, and only those are read */
		if (ns->rec.nframes > (len - NEWS_STACK_HEAD) / sizeof(struct py_frame))
			return 0;
		return add(c, ns->id, &ns->rec);
	}
	return 0;
}

struct collector *collector_new(const struct probes *p, struct symbolizer *s)
{
	struct collector *c = calloc(1, sizeof(*c));
	struct timespec ts;

	if (!c)
		return NULL;
	c->p = p;
	c->s = s;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	c->start_ns = ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	c->cap = 1024;
	c->tab = calloc(c->cap, sizeof(*c->tab));
	c->rb = ring_buffer__new(probes_news_fd(p), on_news, c, NULL);
	if (!c->tab || !c->rb) {
		collector_free(c);
		return NULL;
	}
	return c;
}

int collector_wait(struct collector *c, int timeout_ms)
{
	int n = ring_buffer__poll(c->rb, timeout_ms);

	return n < 0 && n != -EINTR ? n : 0;
}

void collector_free(struct collector *c)
{
	size_t i;

	if (!c)
		return;
	ring_buffer__free(c->rb);
	for (i = 0; c->tab && i < c->cap; i++)
		free(c->tab[i].frames);
	free(c->tab);
	free(c);
}

static struct sym_stack *slot(struct sym_stack *tab, size_t cap, uint64_t id)
{
	size_t i = (id * 0x9e3779b97f4a7c15ULL) & (cap - 1);

	while (tab[i].id && tab[i].id != id)
		i = (i + 1) & (cap - 1);
	return &tab[i];
}

static int grow(struct collector *c)
{
	size_t i, cap = c->cap * 2;
	struct sym_stack *tab = calloc(cap, sizeof(*tab));

	if (!tab)
		return -ENOMEM;
	for (i = 0; i < c->cap; i++)
		if (c->tab[i].id)
			*slot(tab, cap, c->tab[i].id) = c->tab[i];
	free(c->tab);
	c->tab = tab;
	c->cap = cap;
	return 0;
}

/* A stack sent again (its first send found the ring full, or two threads met it) is kept once. */
static int add(struct collector *c, uint64_t id, const struct stack_rec *r)
{
	struct sym_stack *e = slot(c->tab, c->cap, id);
	int n;

	if (e->id == id)
		return 0;
	if (c->n * 2 >= c->cap) {
		if (grow(c))
			return -ENOMEM;
		e = slot(c->tab, c->cap, id);
	}
	n = symbolizer_stack(c->s, r, &e->frames);
	if (n < 0)
		return n;
	e->nframes = n;
	e->id = id;
	c->n++;
	return 0;
}

int collector_frames(const struct collector *c, uint64_t id, const struct pm_frame **frames,
		     size_t *n)
{
	const struct sym_stack *e = slot(c->tab, c->cap, id);

	if (e->id != id || !id)
		return -ENOENT;
	*frames = e->frames;
	*n = e->nframes;
	return 0;
}

/* Stacks' counters are read from the kernel this many at a time. */
#define STATS_BATCH	4096

/* Events whose stack is not known: a marker, then the allocator they went through */
static int add_unknown(struct collector *c, uint64_t key)
{
	struct stack_rec r = { .site = STACK_ID_SITE(key), .flags = STACK_F_READ_ERROR };

	return add(c, key, &r);
}

/* One stack's counters into the profile. */
static int add_stats(struct collector *c, struct pm_profile *out, uint64_t key,
		     const struct stack_stats *st, const struct peak_state *g)
{
	struct sym_stack *e;
	struct pm_counts cnt;
	int64_t peak;
	int err;

	/* the reserved "map full" slot exists from the start, used or not */
	if (!st->alloc_objects)
		return 0;
	if (STACK_ID_IS_UNKNOWN(key) && STACK_ID_SITE(key) < SITE__MAX) {
		err = add_unknown(c, key);
		if (err)
			return err;
	}
	e = slot(c->tab, c->cap, key);
	memset(&cnt, 0, sizeof(cnt));
	cnt.alloc_bytes = st->alloc_bytes;
	cnt.alloc_objects = st->alloc_objects;
	cnt.free_bytes = st->free_bytes;
	cnt.free_objects = st->free_objects;
	/* the copy races with updates: never let a free outrun its alloc */
	cnt.live_bytes = st->live_bytes > 0 ? st->live_bytes : 0;
	cnt.live_objects = st->live_objects > 0 ? st->live_objects : 0;
	/* untouched since the last peak: what is live now was live then */
	peak = st->peak_gen == g->gen ? st->peak_snap : st->live_bytes;
	cnt.peak_bytes = peak > 0 ? peak : 0;
	memcpy(cnt.freed_within, st->freed_within, sizeof(cnt.freed_within));
	memcpy(cnt.lifetime_bytes, st->lifetime_bytes, sizeof(cnt.lifetime_bytes));
	pm_sample_objects(&cnt, st->alloc_raw_bytes);
	if (key == STACK_ID_MAP_FULL)
		return pm_profile_add(out, &map_full_frame, 1, &cnt);
	if (e->id != key) {
		out->dropped[DROP_STACK_LOST] += st->alloc_objects;
		return pm_profile_add(out, &lost_frame, 1, &cnt);
	}
	return pm_profile_add(out, e->frames, e->nframes, &cnt);
}

int collector_profile(struct collector *c, struct pm_profile *out)
{
	int fd = probes_stats_fd(c->p);
	struct stack_stats *vals;
	struct peak_state g;
	uint64_t *keys, batch;
	void *in = NULL;
	int err = 0, ret;
	__u32 i, n;

	/* frees since the target's last probe hit; a target gone took its last few with it */
	probes_drain_batch(c->p);
	/* stacks still on the ring belong in this profile */
	ring_buffer__consume(c->rb);
	probes_drops(c->p, out->dropped);
	out->dropped[DROP_UNSYMBOLIZED] = symbolizer_unknown_frames(c->s);
	if (probes_peak(c->p, &g))
		memset(&g, 0, sizeof(g));
	keys = calloc(STATS_BATCH, sizeof(*keys));
	vals = calloc(STATS_BATCH, sizeof(*vals));
	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	/* in batches: one key at a time took seconds for tens of thousands of stacks */
	do {
		n = STATS_BATCH;
		ret = bpf_map_lookup_batch(fd, in, &batch, keys, vals, &n, NULL);
		if (ret && ret != -ENOENT) {
			err = ret;
			goto out;
		}
		for (i = 0; i < n && !err; i++)
			err = add_stats(c, out, keys[i], &vals[i], &g);
		in = &batch;
	} while (!ret && !err);
	if (err)
		goto out;
	pm_profile_sum(out);
	/* sampled, the peak's height is the weighed bytes' too */
	out->peak_live_bytes = g.peak;
	out->peak_time_s = g.peak_ns > c->start_ns ? (g.peak_ns - c->start_ns) / 1e9 : 0;
out:
	free(keys);
	free(vals);
	return err;
}
