// SPDX-License-Identifier: GPL-2.0
/*
 * What is made of the walk: each live block's holder path grouped per
 * stack, and the heap by type.  A block is held by the topmost object on
 * its path whose own block has the same stack: the blocks of a structure
 * one stack built (a linked list, a cycle) are one entry, under the path
 * that keeps all of them.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "heap_types.h"
#include "holders_priv.h"
#include "itable.h"
#include "live_blocks.h"
#include "walk.h"

/*
 * Steps looked up a path for an object of the block's own stack: the bound
 * keeps a long chain (a linked list of a million nodes) linear.
 */
#define SEARCH		256

static const char *const kind_names[] = {
	[EDGE_MODULE] = "module", [EDGE_LOCAL] = "local", [EDGE_ATTR] = "attr",
	[EDGE_CLASS] = "class", [EDGE_KEY] = "key", [EDGE_INDEX] = "index",
	[EDGE_CELL] = "cell", [EDGE_SLOT] = "slot",
};

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

static uint64_t step_key(const struct step *st)
{
	uint64_t h = itable_mix(st->parent, st->kind);

	return itable_mix(itable_mix(itable_mix(h, st->name), st->function), st->thread);
}

struct step_want {
	const struct holders *hs;
	const struct step *st;
};

static bool step_same(const void *ctx, uint32_t i)
{
	const struct step_want *want = ctx;
	const struct step *a = &want->hs->steps[i], *b = want->st;

	return a->parent == b->parent && a->kind == b->kind && a->name == b->name &&
	       a->function == b->function && a->thread == b->thread;
}

static uint64_t step_hash(const void *ctx, uint32_t i)
{
	return step_key(&((const struct step_want *)ctx)->hs->steps[i]);
}

static const struct itable_ops step_ops = { step_same, step_hash };

/* The id of a step, made on first sight; NO_PATH without memory. */
static uint32_t step_id(struct holders *hs, const struct step *st)
{
	struct step_want want = { hs, st };
	uint32_t id, *slot;
	struct step *v;

	id = itable_find(&hs->step_index, step_key(st), &step_ops, &want, &slot);
	if (id != UINT32_MAX || !slot)
		return id == UINT32_MAX ? NO_PATH : id;
	if (hs->nsteps == hs->capsteps) {
		v = realloc(hs->steps, (hs->capsteps ? hs->capsteps * 2 : 1024) * sizeof(*v));
		if (!v)
			return NO_PATH;
		hs->steps = v;
		hs->capsteps = hs->capsteps ? hs->capsteps * 2 : 1024;
	}
	hs->steps[hs->nsteps] = *st;
	itable_put(&hs->step_index, slot, hs->nsteps);
	return hs->nsteps++;
}

/*
 * Every node's path, in node order (a parent before its children): a
 * container's parts share their owner's, a list's items all read [*].
 */
static uint32_t *paths_of(struct holders *hs, struct walk *w)
{
	uint32_t *path = malloc((w->nnodes ? w->nnodes : 1) * sizeof(*path)), star;
	const struct local_root *lr;
	struct step st;
	size_t i;

	star = walk_intern(w, "*");
	for (i = 0; path && i < w->nnodes; i++) {
		const struct node *nd = &w->nodes[i];

		if (nd->kind == EDGE_INNER) {
			path[i] = nd->parent == NO_NODE ? NO_PATH : path[nd->parent];
			continue;
		}
		st = (struct step){ .parent = nd->parent == NO_NODE ? NO_PATH : path[nd->parent],
				    .name = nd->kind == EDGE_INDEX ? star : nd->name,
				    .function = NO_STR, .kind = nd->kind };
		lr = nd->kind == EDGE_LOCAL ? local_of(w, i) : NULL;
		if (lr) {
			st.function = lr->function;
			st.thread = lr->thread;
		}
		path[i] = step_id(hs, &st);
		if (path[i] == NO_PATH) {
			free(path);
			return NULL;
		}
	}
	return path;
}

static uint64_t group_key(uint64_t stack, uint32_t path, uint32_t type)
{
	return itable_mix(itable_mix(stack, path), type);
}

struct group_want {
	const struct holders *hs;
	const struct group *g;
};

static bool group_same(const void *ctx, uint32_t i)
{
	const struct group_want *want = ctx;
	const struct group *a = &want->hs->groups[i], *b = want->g;

	return a->stack_id == b->stack_id && a->path == b->path && a->type == b->type;
}

static uint64_t group_hash(const void *ctx, uint32_t i)
{
	const struct group *g = &((const struct group_want *)ctx)->hs->groups[i];

	return group_key(g->stack_id, g->path, g->type);
}

static const struct itable_ops group_ops = { group_same, group_hash };

/* Count block b in the group of its stack, path and type. */
static int count(struct holders *hs, const struct live_block *b, uint32_t path, uint32_t type,
		 double objects)
{
	struct group g = { .stack_id = b->stack_id, .path = path, .type = type }, *v;
	struct group_want want = { hs, &g };
	uint32_t i, *slot;

	i = itable_find(&hs->group_index, group_key(b->stack_id, path, type), &group_ops, &want,
			&slot);
	if (i == UINT32_MAX) {
		if (!slot)
			return -ENOMEM;
		if (hs->n == hs->cap) {
			v = realloc(hs->groups, (hs->cap ? hs->cap * 2 : 256) * sizeof(*v));
			if (!v)
				return -ENOMEM;
			hs->groups = v;
			hs->cap = hs->cap ? hs->cap * 2 : 256;
		}
		hs->groups[hs->n] = g;
		itable_put(&hs->group_index, slot, hs->n);
		i = hs->n++;
	}
	hs->groups[i].objects += objects;
	hs->groups[i].bytes += b->size;
	return 0;
}

/* A group as the profile holds it: its path's steps, root first. */
static int make_holder(const struct holders *hs, const struct walk *w, struct group *g)
{
	struct pm_holder *h = &g->h;
	uint32_t p;
	size_t n, i;

	for (n = 0, p = g->path; p != NO_PATH; p = hs->steps[p].parent)
		n++;
	h->steps = calloc(n ? n : 1, sizeof(*h->steps));
	h->type = strdup(walk_name(w, g->type));
	if (!h->steps || !h->type)
		return -ENOMEM;
	h->nsteps = n;
	h->objects = (uint64_t)llround(g->objects);
	h->bytes = g->bytes;
	for (i = n, p = g->path; p != NO_PATH; p = hs->steps[p].parent) {
		const struct step *st = &hs->steps[p];
		struct pm_hold_step *out = &h->steps[--i];

		out->kind = strdup(kind_names[st->kind]);
		out->name = strdup(walk_name(w, st->name));
		if (!out->kind || !out->name)
			return -ENOMEM;
		if (st->function != NO_STR) {
			out->function = strdup(walk_name(w, st->function));
			out->thread = st->thread;
			if (!out->function)
				return -ENOMEM;
		}
	}
	return 0;
}

/* Where a block goes: its holder's path and type, and its own type for the heap. */
struct place {
	uint32_t path, holder_type;
	uint32_t type;
	bool object;		/* it is an object's block, not a buffer */
};

static int place(struct holders *hs, struct walk *w, const uint32_t *tops, const uint32_t *paths,
		 const struct live_block *b, size_t i, struct place *out)
{
	uint32_t top, up;
	const char *name;
	struct step st;

	if (b->leaf_type != LIVE_NO_HOLDER) {
		out->type = w->types[b->leaf_type].name;
		out->object = true;
		up = same_stack_up(w, b->holder, b->stack_id);
		if (up != NO_NODE) {
			out->path = paths[tops[up]];
			out->holder_type = w->types[w->nodes[tops[up]].type].name;
			return 0;
		}
		/* the leaf holds itself, one step past its holder */
		out->holder_type = out->type;
		out->path = paths[b->holder];
		if (b->leaf_kind == EDGE_INNER)
			return 0;
		st = (struct step){ .parent = out->path, .kind = b->leaf_kind, .function = NO_STR,
				    .name = b->leaf_kind == EDGE_INDEX ? walk_intern(w, "*") :
					    b->leaf_name };
		out->path = step_id(hs, &st);
		return out->path == NO_PATH ? -ENOMEM : 0;
	}
	top = holder_of(w, tops, b);
	if (b->holder != LIVE_NO_HOLDER) {
		/* an object's own block, or a buffer its holder owns */
		out->object = w->nodes[b->holder].block == i;
		out->type = w->types[w->nodes[b->holder].type].name;
	} else {
		name = block_type(w, b);
		out->object = name;
		out->type = walk_intern(w, name ? name : "(no Python object)");
	}
	out->path = top == NO_NODE ? NO_PATH : paths[top];
	out->holder_type = top == NO_NODE ? out->type : w->types[w->nodes[top].type].name;
	return 0;
}

int holders_digest(struct holders *hs, struct walk *w, const struct stack_weights *sw,
		   struct pm_heap *heap)
{
	struct tally types = {}, opaque = {};
	uint32_t *tops = tops_of(w), *paths = paths_of(hs, w);
	struct place where;
	size_t i;
	int err = 0;

	if (!tops || !paths)
		err = -ENOMEM;
	for (i = 0; i < w->blocks->n && !err; i++) {
		const struct live_block *b = &w->blocks->v[i];
		double objects = stack_weight(sw, b->stack_id);

		err = place(hs, w, tops, paths, b, i, &where);
		if (!err)
			err = count(hs, b, where.path, where.holder_type, objects);
		/* a buffer is its object's bytes, not one more object */
		if (!err)
			err = tally(&types, where.type, where.object ? objects : 0, b->size, 0);
	}
	for (i = 0; i < w->nnodes && !err; i++)
		if (w->types[w->nodes[i].type].kind == TK_OPAQUE)
			err = tally(&opaque, w->types[w->nodes[i].type].name, 1, 0,
				    w->nodes[i].addr);
	for (i = 0; i < hs->n && !err; i++)
		err = make_holder(hs, w, &hs->groups[i]);
	if (!err)
		err = to_heap_types(w, types.v, types.n, &heap->types, &heap->ntypes);
	if (!err)
		err = to_heap_types(w, opaque.v, opaque.n, &heap->opaque, &heap->nopaque);
	tally_free(&types);
	tally_free(&opaque);
	free(tops);
	free(paths);
	return err;
}
