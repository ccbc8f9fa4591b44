// SPDX-License-Identifier: GPL-2.0
/*
 * The pause: the target stopped, its live blocks read and its object graph
 * walked, then the holders (holders_digest.c) handed to the profile.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "holders.h"
#include "holders_priv.h"
#include "inject.h"
#include "itable.h"
#include "live_blocks.h"
#include "proc_mem.h"
#include "pymalloc.h"
#include "session.h"
#include "walk.h"

#define MAX_HOLDERS	10	/* paths kept per stack */

/* pymalloc's arenas into the heap, or why not. */
static int arenas_read(struct walk *w, struct pm_heap *heap)
{
	const struct py_offsets *o = &w->t->off;
	uint64_t interp = rcache_word(w->rc, w->t->runtime + o->runtime_interp_main);
	uint64_t arenas, maxarenas;
	struct pymalloc_stats st;
	char why[160];
	size_t i, n;

	if (pymalloc_locate(w->rc, w->l, interp, w->arenas_sym, w->maxarenas_sym, &arenas,
			    &maxarenas, why, sizeof(why)) ||
	    pymalloc_read(w->rc, w->l, arenas, maxarenas, &st, why, sizeof(why))) {
		heap->pymalloc = strdup(why);
		return heap->pymalloc ? 0 : -ENOMEM;
	}
	heap->arenas = st.arenas;
	heap->arena_bytes = st.arena_bytes;
	heap->pool_size = st.pool_size;
	heap->empty_pools = st.empty_pools;
	heap->classes = calloc(PYMALLOC_CLASSES, sizeof(*heap->classes));
	if (!heap->classes)
		return -ENOMEM;
	for (i = 0, n = 0; i < PYMALLOC_CLASSES; i++)
		if (st.cls[i].pools)
			heap->classes[n++] = (struct pm_pool_class){
				.size = (i + 1) * 16, .pools = st.cls[i].pools,
				.used_blocks = st.cls[i].used_blocks,
				.free_blocks = st.cls[i].free_blocks };
	heap->nclasses = n;
	return 0;
}

/*
 * Writable memory copied at the stop at most: more is walked with the
 * target stopped.  With --max-pause, only what copies in that time (at a
 * rate measured here, with room).
 */
#define SNAPSHOT_BUDGET		(1ULL << 30)
#define SNAPSHOT_BYTES_PER_MS	(2ULL << 20)

/* Let the target go (once), and note how long it was stopped. */
static void let_go(struct inject **in, double start, struct pm_heap *heap)
{
	if (!*in)
		return;
	inject_release(*in);
	*in = NULL;
	heap->paused_ms = (session_now() - start) * 1000;
}

static uint64_t snapshot_budget(const struct holders_opts *o)
{
	double by_pause = o->max_pause_ms * SNAPSHOT_BYTES_PER_MS;

	return o->max_pause_ms > 0 && by_pause < SNAPSHOT_BUDGET ? (uint64_t)by_pause :
								    SNAPSHOT_BUDGET;
}

/*
 * With the target stopped: its live blocks and a copy of its writable
 * memory, then it runs on while the graph is walked in the copy.  Without
 * a copy (over the budget) the walk reads the stopped target, which is let
 * go as soon as the walk is cut short (--max-pause), the rest of the
 * reading done from what was read, else once all is done.
 */
static int read_stopped(const struct pytarget *t, const struct probe_target *pt,
			const struct holders_opts *o, struct inject **in, double start,
			struct holders *hs, char *err, size_t errlen)
{
	struct stack_weights sw = {};
	struct live_blocks blocks;
	struct walk w = {};
	struct obj_layout l;
	struct rcache *rc;
	int ret;

	/* the batched events not yet accounted: frees among them */
	probes_drain_batch(pt);
	ret = live_blocks_read(probes_of(pt), t->pid, &blocks);
	if (ret) {
		snprintf(err, errlen, "cannot read the live blocks: %s", strerror(-ret));
		return ret;
	}
	ret = stack_weights_read(probes_of(pt), t->pid, &sw);
	if (ret) {
		snprintf(err, errlen, "cannot read the stacks' counters: %s", strerror(-ret));
		live_blocks_free(&blocks);
		return ret;
	}
	ret = obj_layout_for(t, &l, err, errlen);
	rc = ret ? NULL : rcache_new(t->pid);
	if (!ret && !rc)
		ret = -ENOMEM;
	/*
	 * A copy of its writable memory, and the target runs on while the walk
	 * reads the copy: the pause is the copy's, not the walk's.  Past the
	 * budget the walk reads the stopped target as it goes.
	 */
	if (!ret && !rcache_snapshot(rc, snapshot_budget(o)))
		let_go(in, start, hs->heap);
	if (!ret)
		ret = walk_init(&w, t, &l, rc, &blocks, err, errlen);
	if (!ret) {
		/* --max-pause bounds the walk only while the target waits on it */
		w.deadline = *in && o->max_pause_ms > 0 ? start + o->max_pause_ms / 1000 : 0;
		ret = walk_run(&w);
		if (ret)
			snprintf(err, errlen, "cannot walk the object graph: %s", strerror(-ret));
	}
	if (!ret) {
		hs->heap->partial = w.partial;
		hs->heap->objects_walked = w.nnodes + w.nleaves;
		if (w.partial)
			let_go(in, start, hs->heap);
		/* the arenas of a target running again would not hold together */
		if (w.partial)
			hs->heap->pymalloc = strdup("not read: --max-pause let the target go first");
		else
			ret = arenas_read(&w, hs->heap);
		if (!ret)
			ret = holders_digest(hs, &w, &sw, hs->heap);
		if (ret)
			snprintf(err, errlen, "out of memory");
	}
	walk_free(&w);
	rcache_free(rc);
	live_blocks_free(&blocks);
	stack_weights_free(&sw);
	return ret;
}

int holders_take(const struct pytarget *t, const struct probe_target *pt,
		 const struct holders_opts *o, struct holders **out, char *err, size_t errlen)
{
	struct holders *hs = calloc(1, sizeof(*hs));
	struct proc_mem mem;
	struct inject *in;
	double start;
	int ret;

	*out = NULL;
	if (!hs || !(hs->heap = calloc(1, sizeof(*hs->heap)))) {
		free(hs);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	start = session_now();
	ret = inject_stop(t->pid, &in, err, errlen);
	if (!ret) {
		ret = read_stopped(t, pt, o, &in, start, hs, err, errlen);
		let_go(&in, start, hs->heap);
	}
	if (!proc_mem_read(t->pid, &mem)) {
		hs->heap->rss_bytes = mem.rss_bytes;
		hs->heap->pss_bytes = mem.pss_bytes;
	}
	if (ret) {
		holders_free(hs);
		return ret;
	}
	*out = hs;
	return 0;
}

int holders_attach(struct holders *hs, const struct collector *c, struct pm_profile *p)
{
	struct pm_stack one = {};
	const struct pm_frame *frames;
	struct pm_stack *s;
	size_t i, n;
	int err;

	for (i = 0; i < hs->n; i++) {
		if (collector_frames(c, hs->groups[i].stack_id, &frames, &n))
			continue;
		s = pm_profile_find(p, frames, n);
		if (!s)
			continue;
		one.nholders = 1;
		one.holders = &hs->groups[i].h;
		err = pm_holders_merge(s, &one);
		if (err)
			return err;
	}
	pm_heap_free(p->heap);
	p->heap = hs->heap;
	hs->heap = NULL;
	return 0;
}

static uint64_t live_bytes(const struct pm_stack *s)
{
	return s->c.live_bytes;
}

void holders_keep_top(struct pm_profile *p, unsigned int top)
{
	const struct pm_stack **order = pm_profile_order_by(p, live_bytes);
	size_t i;

	if (!order)
		return;
	for (i = 0; i < p->nstacks; i++) {
		struct pm_stack *s = (struct pm_stack *)order[i];

		if (i < top)
			pm_holders_trim(s, MAX_HOLDERS);
		else
			pm_holders_free(s);
	}
	free(order);
}

void holders_free(struct holders *hs)
{
	size_t i;

	if (!hs)
		return;
	for (i = 0; i < hs->n; i++)
		pm_holder_free(&hs->groups[i].h);
	free(hs->groups);
	itable_free(&hs->group_index);
	free(hs->steps);
	itable_free(&hs->step_index);
	pm_heap_free(hs->heap);
	free(hs);
}
