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
	const struct probe_target *pt;
	pid_t pid;
	struct news *news;
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

/*
 * The news ring every target shares: a record goes to the collector of
 * its process (none once that one is gone: it is let go).
 */
struct news {
	struct ring_buffer *rb;
	struct collector **cols;	/* the collectors of the targets served */
	size_t n, cap;
};

/* The record's process, and whether it is whole enough to be read */
static bool news_pid(const void *data, size_t len, uint32_t type, uint32_t *pid)
{
	const struct news_stack *ns = data;

	if (type == NEWS_CODE && len >= sizeof(struct news_code))
		*pid = ((const struct news_code *)data)->pid;
	else if (type == NEWS_TABLE && len >= offsetof(struct news_table, data))
		*pid = ((const struct news_table *)data)->pid;
	else if (type == NEWS_STACK && len >= NEWS_STACK_HEAD && len <= sizeof(*ns))
		*pid = ns->rec.pid;
	else
		return false;
	return true;
}

static int on_news(void *ctx, void *data, size_t len)
{
	struct news *n = ctx;
	const struct news_stack *ns = data;
	struct collector *c = NULL;
	uint32_t type, pid;
	size_t i;

	if (len < sizeof(type))
		return 0;
	memcpy(&type, data, sizeof(type));
	if (!news_pid(data, len, type, &pid))
		return 0;
	for (i = 0; i < n->n && !c; i++)
		if (n->cols[i]->pid == (pid_t)pid)
			c = n->cols[i];
	if (!c)
		return 0;
	if (type == NEWS_CODE) {
		symbolizer_code_news(c->s, data);
	} else if (type == NEWS_TABLE) {
		const struct news_table *t = data;

		if (t->len <= len - offsetof(struct news_table, data))
			symbolizer_table_news(c->s, t);
	} else {
		/* the record ends after its last frame, and only those are read */
		if (ns->rec.nframes > (len - NEWS_STACK_HEAD) / sizeof(struct py_frame))
			return 0;
		return add(c, ns->id, &ns->rec);
	}
	return 0;
}

struct news *news_new(const struct probes *p)
{
	struct news *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->rb = ring_buffer__new(probes_news_fd(p), on_news, n, NULL);
	if (!n->rb) {
		free(n);
		return NULL;
	}
	return n;
}

void news_free(struct news *n)
{
	if (!n)
		return;
	ring_buffer__free(n->rb);
	free(n->cols);
	free(n);
}

int news_poll(struct news *n, int timeout_ms)
{
	int ret = ring_buffer__poll(n->rb, timeout_ms);

	return ret < 0 && ret != -EINTR ? ret : 0;
}

int news_fd(const struct news *n)
{
	return ring_buffer__epoll_fd(n->rb);
}

static int news_join(struct news *n, struct collector *c)
{
	struct collector **grown;

	if (n->n == n->cap) {
		grown = realloc(n->cols, (n->cap ? n->cap * 2 : 8) * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		n->cols = grown;
		n->cap = n->cap ? n->cap * 2 : 8;
	}
	n->cols[n->n++] = c;
	return 0;
}

static void news_leave(struct news *n, struct collector *c)
{
	size_t i;

	for (i = 0; i < n->n; i++) {
		if (n->cols[i] == c) {
			n->cols[i] = n->cols[--n->n];
			return;
		}
	}
}

struct collector *collector_new(const struct probe_target *pt, struct symbolizer *s,
				struct news *n)
{
	struct collector *c = calloc(1, sizeof(*c));
	struct timespec ts;

	if (!c)
		return NULL;
	c->pt = pt;
	c->pid = probes_target_pid(pt);
	c->s = s;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	c->start_ns = ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	c->cap = 1024;
	c->tab = calloc(c->cap, sizeof(*c->tab));
	if (!c->tab || news_join(n, c)) {
		free(c->tab);
		free(c);
		return NULL;
	}
	c->news = n;
	return c;
}

int collector_wait(struct collector *c, int timeout_ms)
{
	return news_poll(c->news, timeout_ms);
}

void collector_free(struct collector *c)
{
	size_t i;

	if (!c)
		return;
	news_leave(c->news, c);
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
	int err, i;

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
	/* the kernel's bands, summed into thresholds */
	for (i = 0; i < 3; i++)
		cnt.freed_within[i] = st->freed_within[i] + (i ? cnt.freed_within[i - 1] : 0);
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

struct stats_walk {
	struct collector *c;
	struct pm_profile *out;
	struct peak_state g;
};

static int on_stats(void *arg, const struct pid_key *k, const struct stack_stats *st)
{
	struct stats_walk *w = arg;

	/* every target's counters are in the map: this one's only */
	return k->pid == (__u32)w->c->pid ? add_stats(w->c, w->out, k->key, st, &w->g) : 0;
}

int collector_profile(struct collector *c, struct pm_profile *out)
{
	struct stats_walk w = { .c = c, .out = out };
	int err;

	/* frees since the target's last probe hit; a target gone took its last few with it */
	probes_drain_batch(c->pt);
	/* stacks still on the ring belong in this profile */
	ring_buffer__consume(c->news->rb);
	probes_drops(c->pt, out->dropped);
	out->stack_walks = probes_stack_walks(c->pt);
	out->dropped[DROP_UNSYMBOLIZED] = symbolizer_unknown_frames(c->s);
	probes_peak(c->pt, &w.g);
	err = probes_stats_each(probes_of(c->pt), on_stats, &w);
	if (err)
		return err;
	pm_profile_sum(out);
	/* sampled, the peak's height is the weighed bytes' too */
	out->peak_live_bytes = w.g.peak;
	out->peak_time_s = w.g.peak_ns > c->start_ns ? (w.g.peak_ns - c->start_ns) / 1e9 : 0;
	return 0;
}
