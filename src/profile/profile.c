// SPDX-License-Identifier: GPL-2.0
/* The in-memory profile: stacks merged by frame sequence, totals, ordering. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "profile.h"

/*
 * Open-addressing table from a stack's frame hash to its index in
 * p->stacks.  Slots hold index + 1 so that 0 means empty.
 */
struct pm_index {
	size_t cap;		/* power of two */
	size_t count;		/* stacks indexed; != p->nstacks means stale */
	size_t *slot;
	uint64_t *hash;		/* hash of the stack in the same slot */
};

static const char *const drop_names[] = {
	[DROP_LIVE_FULL]	= "live_map_full",
	[DROP_STACKS_FULL]	= "stack_map_full",
	[DROP_STATS_FULL]	= "stats_map_full",
	[DROP_STACK_READ]	= "stack_read_failed",
	[DROP_STACK_TRUNCATED]	= "stack_truncated",
	[DROP_NEST_OVERFLOW]	= "nesting_overflow",
	[DROP_MISSED_ENTRY]	= "missed_entry",
	[DROP_MISSED_FREE]	= "missed_free",
	[DROP_UNKNOWN_FREE]	= "unknown_free",
	[DROP_UNSYMBOLIZED]	= "unsymbolized_frames",
	[DROP_CODES_FULL]	= "code_map_full",
	[DROP_STACK_LOST]	= "stack_lost",
	[DROP_BATCH_LOST]	= "batch_overrun",
	[DROP_STACK_UNREGISTERED] = "stack_unregistered",
};
/* A reason added to pymem.h must get a name here (a hole would read NULL). */
_Static_assert(sizeof(drop_names) / sizeof(drop_names[0]) == DROP__MAX,
	       "drop_names out of sync with enum pymem_drop");

static const char *const view_names[] = {
	[PM_VIEW_LIVE_BYTES]	= "live-bytes",
	[PM_VIEW_LIVE_OBJECTS]	= "live-objects",
	[PM_VIEW_ALLOC_BYTES]	= "alloc-bytes",
	[PM_VIEW_ALLOC_OBJECTS]	= "alloc-objects",
	[PM_VIEW_PEAK_BYTES]	= "peak-bytes",
};

const char *pm_drop_name(enum pymem_drop d)
{
	if ((unsigned int)d >= DROP__MAX || !drop_names[d])
		return "unknown";
	return drop_names[d];
}

size_t pm_drops_print(FILE *f, const struct pm_profile *p, const char *lead, const char *sep)
{
	size_t n = 0;
	int d;

	for (d = 0; d < DROP__MAX; d++) {
		if (!p->dropped[d])
			continue;
		fprintf(f, "%s%s=%" PRIu64, n++ ? sep : lead, pm_drop_name(d), p->dropped[d]);
	}
	return n;
}

void pm_drops_line(FILE *f, const struct pm_profile *p, const char *prefix)
{
	fprintf(f, "%sdropped:", prefix);
	if (!pm_drops_print(f, p, " ", " "))
		fputs(" none", f);
	fputc('\n', f);
}

int pm_view_parse(const char *s, enum pm_view *view)
{
	size_t i;

	if (!s)
		return -EINVAL;
	for (i = 0; i < sizeof(view_names) / sizeof(view_names[0]); i++) {
		if (!strcmp(s, view_names[i])) {
			*view = i;
			return 0;
		}
	}
	return -EINVAL;
}

uint64_t pm_view_value(const struct pm_counts *c, enum pm_view view)
{
	switch (view) {
	case PM_VIEW_LIVE_BYTES:
		return c->live_bytes;
	case PM_VIEW_LIVE_OBJECTS:
		return c->live_objects;
	case PM_VIEW_ALLOC_BYTES:
		return c->alloc_bytes;
	case PM_VIEW_ALLOC_OBJECTS:
		return c->alloc_objects;
	case PM_VIEW_PEAK_BYTES:
		return c->peak_bytes;
	}
	return 0;
}

static const char *str_or_empty(const char *s)
{
	return s ? s : "";
}

char *pm_frame_label(const struct pm_frame *fr)
{
	const char *fn = fr->function && *fr->function ? fr->function : "[unknown]";
	const char *file = str_or_empty(fr->file);
	char *s;
	int r;

	if (fr->kind == PM_FRAME_PYTHON)
		r = asprintf(&s, "%s (%s:%d)", fn, file, fr->line);
	else if (*file)
		r = asprintf(&s, "%s [%s]", fn, file);
	else
		r = asprintf(&s, "%s", fn);
	return r < 0 ? NULL : s;
}

/* FNV-1a: cheap, and stacks differ enough that nothing stronger is needed. */
static uint64_t hash_bytes(uint64_t h, const void *data, size_t len)
{
	const unsigned char *b = data;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t hash_frames(const struct pm_frame *frames, size_t nframes)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < nframes; i++) {
		const struct pm_frame *fr = &frames[i];
		int32_t tag[2] = { fr->kind, fr->line };
		const char *fn = str_or_empty(fr->function);
		const char *file = str_or_empty(fr->file);

		/* Include the NULs so ("ab","c") and ("a","bc") differ. */
		h = hash_bytes(h, tag, sizeof(tag));
		h = hash_bytes(h, fn, strlen(fn) + 1);
		h = hash_bytes(h, file, strlen(file) + 1);
	}
	return h;
}

static int frame_cmp(const struct pm_frame *a, const struct pm_frame *b)
{
	int r;

	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	r = strcmp(str_or_empty(a->function), str_or_empty(b->function));
	if (r)
		return r;
	r = strcmp(str_or_empty(a->file), str_or_empty(b->file));
	if (r)
		return r;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	return 0;
}

static int frames_cmp(const struct pm_frame *a, size_t na,
		      const struct pm_frame *b, size_t nb)
{
	size_t i;
	int r;

	for (i = 0; i < na && i < nb; i++) {
		r = frame_cmp(&a[i], &b[i]);
		if (r)
			return r;
	}
	if (na != nb)
		return na < nb ? -1 : 1;
	return 0;
}

static void index_free(struct pm_index *idx)
{
	if (!idx)
		return;
	free(idx->slot);
	free(idx->hash);
	free(idx);
}

static void index_put(struct pm_index *idx, uint64_t h, size_t stack)
{
	size_t mask = idx->cap - 1;
	size_t i = h & mask;

	while (idx->slot[i])
		i = (i + 1) & mask;
	idx->slot[i] = stack + 1;
	idx->hash[i] = h;
	idx->count++;
}

/* Build a table for the stacks already in p, with room for @want of them. */
static struct pm_index *index_build(const struct pm_profile *p, size_t want)
{
	struct pm_index *idx;
	size_t i, cap = 64;

	while (cap < want * 2)
		cap *= 2;
	idx = calloc(1, sizeof(*idx));
	if (!idx)
		return NULL;
	idx->cap = cap;
	idx->slot = calloc(cap, sizeof(*idx->slot));
	idx->hash = calloc(cap, sizeof(*idx->hash));
	if (!idx->slot || !idx->hash) {
		index_free(idx);
		return NULL;
	}
	for (i = 0; i < p->nstacks; i++)
		index_put(idx, hash_frames(p->stacks[i].frames, p->stacks[i].nframes), i);
	return idx;
}

/*
 * Make sure the index covers every stack and has room for one more.  A
 * count mismatch means someone appended stacks directly: rebuild.
 */
static int index_prepare(struct pm_profile *p)
{
	struct pm_index *idx = p->index;

	if (idx && idx->count == p->nstacks && (idx->count + 1) * 2 <= idx->cap)
		return 0;
	idx = index_build(p, p->nstacks + 1);
	if (!idx)
		return -ENOMEM;
	index_free(p->index);
	p->index = idx;
	return 0;
}

static struct pm_stack *index_find(struct pm_profile *p, uint64_t h,
				   const struct pm_frame *frames, size_t nframes)
{
	struct pm_index *idx = p->index;
	size_t mask = idx->cap - 1;
	size_t i = h & mask;

	for (; idx->slot[i]; i = (i + 1) & mask) {
		struct pm_stack *s = &p->stacks[idx->slot[i] - 1];

		if (idx->hash[i] == h &&
		    !frames_cmp(s->frames, s->nframes, frames, nframes))
			return s;
	}
	return NULL;
}

void pm_counts_add(struct pm_counts *dst, const struct pm_counts *c)
{
	size_t i;

	dst->alloc_bytes += c->alloc_bytes;
	dst->alloc_objects += c->alloc_objects;
	dst->free_bytes += c->free_bytes;
	dst->free_objects += c->free_objects;
	dst->live_bytes += c->live_bytes;
	dst->live_objects += c->live_objects;
	dst->peak_bytes += c->peak_bytes;
	for (i = 0; i < 3; i++)
		dst->freed_within[i] += c->freed_within[i];
	for (i = 0; i < PYMEM_LIFETIME_BUCKETS; i++)
		dst->lifetime_bytes[i] += c->lifetime_bytes[i];
}

static void frames_free(struct pm_frame *frames, size_t nframes)
{
	size_t i;

	for (i = 0; i < nframes; i++) {
		free(frames[i].function);
		free(frames[i].file);
	}
	free(frames);
}

static struct pm_frame *frames_dup(const struct pm_frame *frames, size_t nframes)
{
	struct pm_frame *out;
	size_t i;

	/* calloc(0) may return NULL; keep one element so NULL means ENOMEM. */
	out = calloc(nframes ? nframes : 1, sizeof(*out));
	if (!out)
		return NULL;
	for (i = 0; i < nframes; i++) {
		out[i].kind = frames[i].kind;
		out[i].line = frames[i].line;
		out[i].function = strdup(str_or_empty(frames[i].function));
		out[i].file = strdup(str_or_empty(frames[i].file));
		if (!out[i].function || !out[i].file) {
			frames_free(out, i + 1);
			return NULL;
		}
	}
	return out;
}

static int stacks_reserve(struct pm_profile *p)
{
	struct pm_stack *s;
	size_t cap;

	if (p->nstacks < p->cap)
		return 0;
	cap = p->cap ? p->cap * 2 : 64;
	s = realloc(p->stacks, cap * sizeof(*s));
	if (!s)
		return -ENOMEM;
	p->stacks = s;
	p->cap = cap;
	return 0;
}

/* Where @frames are in @p (creating the stack, zeroed, if new); NULL without memory. */
static struct pm_stack *stack_get(struct pm_profile *p, const struct pm_frame *frames,
				  size_t nframes)
{
	struct pm_stack *s;
	uint64_t h;

	if (index_prepare(p))
		return NULL;
	h = hash_frames(frames, nframes);
	s = index_find(p, h, frames, nframes);
	if (s)
		return s;
	if (stacks_reserve(p))
		return NULL;
	s = &p->stacks[p->nstacks];
	memset(s, 0, sizeof(*s));
	s->frames = frames_dup(frames, nframes);
	if (!s->frames)
		return NULL;
	s->nframes = nframes;
	index_put(p->index, h, p->nstacks);
	p->nstacks++;
	return s;
}

/* The counters of @c added under @frames; the stack in *@out if wanted. */
static int counts_add(struct pm_profile *p, const struct pm_frame *frames, size_t nframes,
		      const struct pm_counts *c, struct pm_stack **out)
{
	struct pm_stack *s;

	if (!p || !c || (nframes && !frames))
		return -EINVAL;
	s = stack_get(p, frames, nframes);
	if (!s)
		return -ENOMEM;
	pm_counts_add(&s->c, c);
	if (out)
		*out = s;
	return 0;
}

int pm_profile_add(struct pm_profile *p, const struct pm_frame *frames,
		   size_t nframes, const struct pm_counts *c)
{
	return counts_add(p, frames, nframes, c, NULL);
}

struct pm_stack *pm_profile_find(struct pm_profile *p, const struct pm_frame *frames,
				 size_t nframes)
{
	if (!p->nstacks || index_prepare(p))
		return NULL;
	return index_find(p, hash_frames(frames, nframes), frames, nframes);
}

/* @dst's points at the times @src has too, each the sum of both. */
static void series_intersect(struct pm_stack *dst, const struct pm_stack *src)
{
	size_t i = 0, j = 0, n = 0;

	while (i < dst->npoints && j < src->npoints) {
		if (dst->series[i].t < src->series[j].t) {
			i++;
		} else if (dst->series[i].t > src->series[j].t) {
			j++;
		} else {
			dst->series[n] = dst->series[i++];
			dst->series[n].alloc_bytes += src->series[j].alloc_bytes;
			dst->series[n++].live_bytes += src->series[j++].live_bytes;
		}
	}
	dst->npoints = n;
}

static int series_merge(struct pm_stack *dst, const struct pm_stack *src, bool fresh)
{
	if (!fresh) {
		series_intersect(dst, src);
		return 0;
	}
	if (!src->npoints)
		return 0;
	dst->series = malloc(src->npoints * sizeof(*dst->series));
	if (!dst->series)
		return -ENOMEM;
	memcpy(dst->series, src->series, src->npoints * sizeof(*dst->series));
	dst->npoints = src->npoints;
	return 0;
}

int pm_profile_add_stack(struct pm_profile *p, const struct pm_frame *frames,
			 size_t nframes, const struct pm_stack *src)
{
	size_t before = p ? p->nstacks : 0;
	struct pm_stack *s;
	int err;

	if (!src)
		return -EINVAL;
	err = counts_add(p, frames, nframes, &src->c, &s);
	if (err)
		return err;
	s->d.alloc_bytes += src->d.alloc_bytes;
	s->d.alloc_objects += src->d.alloc_objects;
	s->d.live_bytes += src->d.live_bytes;
	err = pm_holders_merge(s, src);
	return err ? err : series_merge(s, src, p->nstacks > before);
}

void pm_profile_sum(struct pm_profile *p)
{
	size_t i;

	memset(&p->totals, 0, sizeof(p->totals));
	memset(&p->dtotals, 0, sizeof(p->dtotals));
	for (i = 0; i < p->nstacks; i++) {
		const struct pm_delta *d = &p->stacks[i].d;

		pm_counts_add(&p->totals, &p->stacks[i].c);
		p->dtotals.alloc_bytes += d->alloc_bytes;
		p->dtotals.alloc_objects += d->alloc_objects;
		p->dtotals.live_bytes += d->live_bytes;
	}
}

static int u64_desc(uint64_t a, uint64_t b)
{
	if (a == b)
		return 0;
	return a > b ? -1 : 1;
}

int pm_stack_cmp(const struct pm_stack *a, const struct pm_stack *b, enum pm_view view)
{
	int r;

	r = u64_desc(pm_view_value(&a->c, view), pm_view_value(&b->c, view));
	if (r)
		return r;
	/* Tie-breaks: bytes before objects, live before alloc, then frames. */
	if ((r = u64_desc(a->c.live_bytes, b->c.live_bytes)) ||
	    (r = u64_desc(a->c.alloc_bytes, b->c.alloc_bytes)) ||
	    (r = u64_desc(a->c.live_objects, b->c.live_objects)) ||
	    (r = u64_desc(a->c.alloc_objects, b->c.alloc_objects)) ||
	    (r = u64_desc(a->c.free_bytes, b->c.free_bytes)) ||
	    (r = u64_desc(a->c.free_objects, b->c.free_objects)))
		return r;
	return frames_cmp(a->frames, a->nframes, b->frames, b->nframes);
}

static int stack_qsort_cmp(const void *a, const void *b, void *view)
{
	return pm_stack_cmp(a, b, *(enum pm_view *)view);
}

static int key_desc(const void *a, const void *b, void *arg)
{
	const struct pm_stack *x = *(const struct pm_stack **)a;
	const struct pm_stack *y = *(const struct pm_stack **)b;
	uint64_t (*key)(const struct pm_stack *) = *(uint64_t (**)(const struct pm_stack *))arg;
	int r = u64_desc(key(x), key(y));

	return r ? r : pm_stack_cmp(x, y, PM_VIEW_LIVE_BYTES);
}

const struct pm_stack **pm_profile_order_by(const struct pm_profile *p,
					    uint64_t (*key)(const struct pm_stack *s))
{
	const struct pm_stack **order = malloc((p->nstacks ? p->nstacks : 1) * sizeof(*order));
	size_t i;

	if (!order)
		return NULL;
	for (i = 0; i < p->nstacks; i++)
		order[i] = &p->stacks[i];
	qsort_r(order, p->nstacks, sizeof(*order), key_desc, &key);
	return order;
}

void pm_profile_sort(struct pm_profile *p, enum pm_view view)
{
	if (p->nstacks < 2)
		return;
	qsort_r(p->stacks, p->nstacks, sizeof(*p->stacks), stack_qsort_cmp, &view);
	/* Positions moved: the next pm_profile_add() rebuilds the index. */
	index_free(p->index);
	p->index = NULL;
}

void pm_profile_free(struct pm_profile *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->nstacks; i++) {
		frames_free(p->stacks[i].frames, p->stacks[i].nframes);
		free(p->stacks[i].series);
		pm_holders_free(&p->stacks[i]);
	}
	free(p->stacks);
	pm_heap_free(p->heap);
	index_free(p->index);
	free(p->executable);
	free(p->libpython);
	memset(p, 0, sizeof(*p));
}
