// SPDX-License-Identifier: GPL-2.0
/* The live heap by type: each block's type, counted by name. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "heap_types.h"
#include "rcache.h"

/*
 * The type of an object a block not reached holds: at its start, or past a
 * GC header (and 3.11+'s managed dict and weakref words), where that type's
 * own header puts it.
 */
const char *block_type(struct walk *w, const struct live_block *b)
{
	uint32_t offs[] = { 0, w->l->gc_head, w->l->gc_head + 16 };
	struct type_info *ti;
	uint64_t refcnt;
	size_t i;

	for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		if (b->size < offs[i] + 16)
			break;
		/* a live object has references, not absurdly many (immortals included) */
		refcnt = rcache_word(w->rc, b->addr + offs[i]);
		if (!refcnt || refcnt >> 48)
			continue;
		ti = walk_type_of(w, b->addr + offs[i]);
		if (ti && ti->preheader == offs[i] && ti->name != walk_intern(w, "?"))
			return walk_name(w, ti->name);
	}
	return NULL;
}

int tally(struct tally *t, uint32_t name, double objects, uint64_t bytes, uint64_t address)
{
	struct type_count *v;
	uint32_t *pos;
	size_t cap;

	if (name >= t->cappos) {
		cap = (name + 1) * 2;
		pos = realloc(t->pos, cap * sizeof(*pos));
		if (!pos)
			return -ENOMEM;
		memset(pos + t->cappos, 0, (cap - t->cappos) * sizeof(*pos));
		t->pos = pos;
		t->cappos = cap;
	}
	if (!t->pos[name]) {
		v = realloc(t->v, (t->n + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		t->v = v;
		v[t->n++] = (struct type_count){ .name = name, .address = address };
		t->pos[name] = t->n;
	}
	t->v[t->pos[name] - 1].objects += objects;
	t->v[t->pos[name] - 1].bytes += bytes;
	return 0;
}

void tally_free(struct tally *t)
{
	free(t->v);
	free(t->pos);
}

static int by_bytes(const void *a, const void *b)
{
	const struct type_count *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	return x->objects < y->objects ? 1 : x->objects > y->objects ? -1 : 0;
}

int to_heap_types(const struct walk *w, struct type_count *v, size_t n,
			 struct pm_heap_type **out, size_t *nout)
{
	size_t i;

	qsort(v, n, sizeof(*v), by_bytes);
	*out = calloc(n ? n : 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	*nout = n;
	for (i = 0; i < n; i++) {
		(*out)[i] = (struct pm_heap_type){ .type = strdup(walk_name(w, v[i].name)),
						   .objects = (uint64_t)llround(v[i].objects), .bytes = v[i].bytes,
						   .address = v[i].address };
		if (!(*out)[i].type)
			return -ENOMEM;
	}
	return 0;
}
