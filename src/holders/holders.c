// SPDX-License-Identifier: GPL-2.0
/*
 * The pause, and what is made of the walk: each live block's holder path
 * grouped per stack, and the heap by type.  A block is held by the topmost
 * object on its path whose own block has the same stack: the blocks of a
 * structure one stack built (a linked list, a cycle) are one entry, under
 * the path that keeps all of them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "holders.h"
#include "inject.h"
#include "live_blocks.h"
#include "proc_mem.h"
#include "session.h"
#include "walk.h"

#define MAX_HOLDERS	10	/* paths kept per stack */
/*
 * Steps looked up a path for an object of the block's own stack: the bound
 * keeps a long chain (a linked list of a million nodes) linear.
 */
#define SEARCH		256

struct group {
	uint64_t stack_id;
	char *key;
	struct pm_holder h;
};

struct holders {
	struct group *groups;
	size_t n, cap;
	uint32_t *index;	/* by key: group index + 1 */
	size_t capindex;
	struct pm_heap *heap;
};

static const char *const kind_names[] = {
	[EDGE_MODULE] = "module", [EDGE_LOCAL] = "local", [EDGE_ATTR] = "attr",
	[EDGE_CLASS] = "class", [EDGE_KEY] = "key", [EDGE_INDEX] = "index",
	[EDGE_CELL] = "cell", [EDGE_SLOT] = "slot",
};

static size_t hash_str(const char *s, size_t cap)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h & (cap - 1);
}

static const char *str_of(const struct walk *w, uint32_t id)
{
	return id == NO_STR ? "?" : w->strs[id];
}

static const struct local_root *local_of(const struct walk *w, uint32_t node)
{
	size_t lo = 0, hi = w->nlocals;

	/* added in node order */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (w->locals[mid].node < node)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < w->nlocals && w->locals[lo].node == node ? &w->locals[lo] : NULL;
}

/* The nearest node from n up (n included) whose own block has stack; NO_NODE past SEARCH steps. */
static uint32_t same_stack_up(const struct walk *w, uint32_t n, uint64_t stack)
{
	int steps;

	for (steps = 0; n != NO_NODE && steps < SEARCH; n = w->nodes[n].parent, steps++)
		if (w->nodes[n].block != NO_NODE && w->blocks->v[w->nodes[n].block].stack_id == stack)
			return n;
	return NO_NODE;
}

/*
 * For each node with a block of its own, the topmost node above it of the
 * same stack, in node order: a parent comes before its children.
 */
static uint32_t *tops_of(const struct walk *w)
{
	uint32_t *top = malloc((w->nnodes ? w->nnodes : 1) * sizeof(*top)), up;
	size_t i;

	for (i = 0; top && i < w->nnodes; i++) {
		const struct node *nd = &w->nodes[i];

		top[i] = i;
		if (nd->block == NO_NODE || nd->parent == NO_NODE)
			continue;
		up = same_stack_up(w, nd->parent, w->blocks->v[nd->block].stack_id);
		if (up != NO_NODE)
			top[i] = top[up];
	}
	return top;
}

/* The node holding block b: the topmost on its path whose own block has b's stack. */
static uint32_t holder_of(const struct walk *w, const uint32_t *top, const struct live_block *b)
{
	uint32_t n;

	if (b->holder == LIVE_NO_HOLDER)
		return NO_NODE;
	n = same_stack_up(w, b->holder, b->stack_id);
	return n == NO_NODE ? b->holder : top[n];
}

/* The steps from a root to node, root first, the parts of containers left out. */
static size_t path_nodes(const struct walk *w, uint32_t node, uint32_t **buf, size_t *cap)
{
	size_t n = 0, i;
	uint32_t p, t, *v;

	for (p = node; p != NO_NODE; p = w->nodes[p].parent) {
		if (w->nodes[p].kind == EDGE_INNER)
			continue;
		if (n == *cap) {
			v = realloc(*buf, (*cap ? *cap * 2 : 64) * sizeof(*v));
			if (!v)
				return 0;
			*buf = v;
			*cap = *cap ? *cap * 2 : 64;
		}
		(*buf)[n++] = p;
	}
	for (i = 0; i < n / 2; i++) {
		t = (*buf)[i];
		(*buf)[i] = (*buf)[n - 1 - i];
		(*buf)[n - 1 - i] = t;
	}
	return n;
}

static char *group_key(const struct walk *w, uint64_t stack, const uint32_t *path, size_t n,
		       const char *type)
{
	const struct local_root *lr;
	char *buf = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	fprintf(f, "%" PRIx64 "\x1f%s", stack, type);
	for (i = 0; i < n; i++) {
		const struct node *nd = &w->nodes[path[i]];

		fprintf(f, "\x1e%u\x1f%s", nd->kind, nd->kind == EDGE_INDEX ? "*" : str_of(w, nd->name));
		lr = nd->kind == EDGE_LOCAL ? local_of(w, path[i]) : NULL;
		if (lr)
			fprintf(f, "\x1f%s\x1f%" PRIu64, str_of(w, lr->function), lr->thread);
	}
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

static int new_holder(const struct walk *w, const uint32_t *path, size_t n, const char *type,
		      struct pm_holder *h)
{
	const struct local_root *lr;
	size_t i;

	memset(h, 0, sizeof(*h));
	h->steps = calloc(n ? n : 1, sizeof(*h->steps));
	h->type = strdup(type);
	if (!h->steps || !h->type)
		return -ENOMEM;
	h->nsteps = n;
	for (i = 0; i < n; i++) {
		const struct node *nd = &w->nodes[path[i]];
		struct pm_hold_step *st = &h->steps[i];

		st->kind = strdup(kind_names[nd->kind]);
		st->name = strdup(nd->kind == EDGE_INDEX ? "*" : str_of(w, nd->name));
		if (!st->kind || !st->name)
			return -ENOMEM;
		lr = nd->kind == EDGE_LOCAL ? local_of(w, path[i]) : NULL;
		if (lr) {
			st->function = strdup(str_of(w, lr->function));
			st->thread = lr->thread;
			if (!st->function)
				return -ENOMEM;
		}
	}
	return 0;
}

static int grow_index(struct holders *hs)
{
	size_t cap = hs->capindex ? hs->capindex * 2 : 1024, i, j;
	uint32_t *index = calloc(cap, sizeof(*index));

	if (!index)
		return -ENOMEM;
	for (i = 0; i < hs->n; i++) {
		for (j = hash_str(hs->groups[i].key, cap); index[j]; j = (j + 1) & (cap - 1))
			;
		index[j] = i + 1;
	}
	free(hs->index);
	hs->index = index;
	hs->capindex = cap;
	return 0;
}

/* Count block b in its group, made on first sight. */
static int count(struct holders *hs, const struct walk *w, const struct live_block *b,
		 const uint32_t *path, size_t n, const char *type)
{
	char *key = group_key(w, b->stack_id, path, n, type);
	struct group *g;
	size_t j;
	int err;

	if (!key)
		return -ENOMEM;
	if ((hs->n + 1) * 2 > hs->capindex && grow_index(hs)) {
		free(key);
		return -ENOMEM;
	}
	for (j = hash_str(key, hs->capindex); hs->index[j]; j = (j + 1) & (hs->capindex - 1))
		if (!strcmp(hs->groups[hs->index[j] - 1].key, key))
			break;
	if (hs->index[j]) {
		g = &hs->groups[hs->index[j] - 1];
		free(key);
	} else {
		if (hs->n == hs->cap) {
			size_t cap = hs->cap ? hs->cap * 2 : 256;
			struct group *v = realloc(hs->groups, cap * sizeof(*v));

			if (!v) {
				free(key);
				return -ENOMEM;
			}
			hs->groups = v;
			hs->cap = cap;
		}
		g = &hs->groups[hs->n];
		g->stack_id = b->stack_id;
		g->key = key;
		err = new_holder(w, path, n, type, &g->h);
		hs->n++;
		hs->index[j] = hs->n;
		if (err)
			return err;
	}
	g->h.objects++;
	g->h.bytes += b->size;
	return 0;
}

/*
 * The type of an object a block not reached holds: at its start, or past a
 * GC header (and 3.11+'s managed dict and weakref words), where that type's
 * own header puts it.
 */
static const char *block_type(struct walk *w, const struct live_block *b)
{
	uint32_t offs[] = { 0, w->l->gc_head, w->l->gc_head + 16 };
	struct type_info *ti;
	size_t i;

	for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		if (b->size < offs[i] + 16)
			break;
		ti = walk_type_of(w, b->addr + offs[i]);
		if (ti && ti->preheader == offs[i])
			return str_of(w, ti->name);
	}
	return NULL;
}

struct type_count {
	uint32_t name;
	uint64_t objects, bytes, address;
};

static int tally(struct type_count **v, size_t *n, uint32_t name, uint64_t objects,
		 uint64_t bytes, uint64_t address)
{
	struct type_count *t;
	size_t i;

	for (i = 0; i < *n; i++)
		if ((*v)[i].name == name)
			break;
	if (i == *n) {
		t = realloc(*v, (*n + 1) * sizeof(*t));
		if (!t)
			return -ENOMEM;
		*v = t;
		t[(*n)++] = (struct type_count){ .name = name, .address = address };
	}
	(*v)[i].objects += objects;
	(*v)[i].bytes += bytes;
	return 0;
}

static int by_bytes(const void *a, const void *b)
{
	const struct type_count *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	return x->objects < y->objects ? 1 : x->objects > y->objects ? -1 : 0;
}

static int to_heap_types(const struct walk *w, struct type_count *v, size_t n,
			 struct pm_heap_type **out, size_t *nout)
{
	size_t i;

	qsort(v, n, sizeof(*v), by_bytes);
	*out = calloc(n ? n : 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	*nout = n;
	for (i = 0; i < n; i++) {
		(*out)[i] = (struct pm_heap_type){ .type = strdup(str_of(w, v[i].name)),
						   .objects = v[i].objects, .bytes = v[i].bytes,
						   .address = v[i].address };
		if (!(*out)[i].type)
			return -ENOMEM;
	}
	return 0;
}

/* Every block into its stack's group, and into the heap by type. */
static int digest(struct holders *hs, struct walk *w, struct pm_heap *heap)
{
	struct type_count *types = NULL, *opaque = NULL;
	size_t ntypes = 0, nopaque = 0, i, n, cap = 0;
	uint32_t *path = NULL, *tops = tops_of(w), top;
	const char *type;
	int err = 0;

	if (!tops)
		return -ENOMEM;
	for (i = 0; i < w->blocks->n && !err; i++) {
		const struct live_block *b = &w->blocks->v[i];
		bool object;

		top = holder_of(w, tops, b);
		n = top == NO_NODE ? 0 : path_nodes(w, top, &path, &cap);
		object = b->holder != LIVE_NO_HOLDER && w->nodes[b->holder].block == i;
		if (b->holder != LIVE_NO_HOLDER)
			type = str_of(w, w->types[w->nodes[b->holder].type].name);
		else
			type = block_type(w, b);
		object = object || (b->holder == LIVE_NO_HOLDER && type);
		if (!type)
			type = "(no Python object)";
		err = count(hs, w, b, path, n, top == NO_NODE ? type :
			    str_of(w, w->types[w->nodes[top].type].name));
		if (!err)
			err = tally(&types, &ntypes, walk_intern(w, type), object, b->size, 0);
	}
	for (i = 0; i < w->nnodes && !err; i++)
		if (w->types[w->nodes[i].type].kind == TK_OPAQUE)
			err = tally(&opaque, &nopaque, w->types[w->nodes[i].type].name, 1, 0,
				    w->nodes[i].addr);
	if (!err)
		err = to_heap_types(w, types, ntypes, &heap->types, &heap->ntypes);
	if (!err)
		err = to_heap_types(w, opaque, nopaque, &heap->opaque, &heap->nopaque);
	free(types);
	free(opaque);
	free(path);
	free(tops);
	return err;
}

/* With the target stopped: its live blocks, its graph, what holds each block. */
static int read_stopped(const struct pytarget *t, const struct probes *p,
			const struct holders_opts *o, double start, struct holders *hs,
			char *err, size_t errlen)
{
	struct live_blocks blocks;
	struct obj_layout l;
	struct rcache *rc;
	struct walk w;
	int ret;

	/* the batched events not yet accounted: frees among them */
	probes_drain_batch(p);
	ret = live_blocks_read(p, t->pid, &blocks);
	if (ret) {
		snprintf(err, errlen, "cannot read the live blocks: %s", strerror(-ret));
		return ret;
	}
	ret = obj_layout_for(t, &l, err, errlen);
	rc = ret ? NULL : rcache_new(t->pid);
	if (!ret && !rc)
		ret = -ENOMEM;
	if (!ret)
		ret = walk_init(&w, t, &l, rc, &blocks, err, errlen);
	if (!ret) {
		w.deadline = o->max_pause_ms > 0 ? start + o->max_pause_ms / 1000 : 0;
		ret = walk_run(&w);
		if (ret)
			snprintf(err, errlen, "cannot walk the object graph: %s", strerror(-ret));
	}
	if (!ret) {
		hs->heap->partial = w.partial;
		hs->heap->objects_walked = w.nnodes;
		ret = digest(hs, &w, hs->heap);
		if (ret)
			snprintf(err, errlen, "out of memory");
	}
	walk_free(&w);
	rcache_free(rc);
	live_blocks_free(&blocks);
	return ret;
}

int holders_take(const struct pytarget *t, const struct probes *p, const struct holders_opts *o,
		 struct holders **out, char *err, size_t errlen)
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
		ret = read_stopped(t, p, o, start, hs, err, errlen);
		inject_release(in);
	}
	hs->heap->paused_ms = (session_now() - start) * 1000;
	hs->heap->pymalloc = strdup("not read: pymalloc's arena table is not located yet");
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
	for (i = 0; i < hs->n; i++) {
		pm_holder_free(&hs->groups[i].h);
		free(hs->groups[i].key);
	}
	free(hs->groups);
	free(hs->index);
	pm_heap_free(hs->heap);
	free(hs);
}
