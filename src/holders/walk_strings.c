// SPDX-License-Identifier: GPL-2.0
/*
 * The walk's strings, each kept once: names it makes up or reads (type
 * names, keys, attributes), and the target's str objects as UTF-8, each
 * object read once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "addr_table.h"
#include "itable.h"
#include "py_str.h"
#include "walk.h"

struct str_want {
	const struct walk *w;
	const char *s;
};

static bool str_same(const void *ctx, uint32_t i)
{
	const struct str_want *want = ctx;

	return !strcmp(want->w->strs[i], want->s);
}

static uint64_t str_hash(const void *ctx, uint32_t i)
{
	return itable_hash_str(((const struct str_want *)ctx)->w->strs[i]);
}

static const struct itable_ops str_ops = { str_same, str_hash };

uint32_t walk_intern(struct walk *w, const char *s)
{
	struct str_want want = { w, s };
	uint32_t id, *slot;
	char **v;

	id = itable_find(&w->str_index, itable_hash_str(s), &str_ops, &want, &slot);
	if (id != UINT32_MAX)
		return id;
	if (slot && w->nstrs == w->capstrs) {
		v = realloc(w->strs, w->capstrs * 2 * sizeof(*v));
		if (v) {
			w->strs = v;
			w->capstrs *= 2;
		}
	}
	if (!slot || w->nstrs == w->capstrs || !(w->strs[w->nstrs] = strdup(s))) {
		w->err = -ENOMEM;
		return NO_STR;
	}
	itable_put(&w->str_index, slot, w->nstrs);
	return w->nstrs++;
}

/* str object address -> string id, as pairs; the same key object names many attributes */
static uint64_t *str_obj_slot(uint64_t *tab, size_t cap, uint64_t obj)
{
	size_t j;

	for (j = addr_hash(obj, cap); tab[2 * j] && tab[2 * j] != obj; j = (j + 1) & (cap - 1))
		;
	return &tab[2 * j];
}

static uint32_t str_read(struct walk *w, uint64_t obj)
{
	const struct py_offsets *o = &w->t->off;
	struct py_str_head h;
	uint8_t raw[MAX_NAME * 4];
	char *utf8;
	uint32_t id;

	if (rcache_read(w->rc, obj + o->unicode_state, &h.state, sizeof(h.state)) ||
	    rcache_read(w->rc, obj + o->unicode_length, &h.length, sizeof(h.length)) ||
	    py_str_check(&h, MAX_NAME))
		return NO_STR;
	if (rcache_read(w->rc, obj + (h.ascii ? o->unicode_ascii_data : o->unicode_compact_data),
			raw, h.length * h.kind))
		return NO_STR;
	utf8 = py_str_utf8(raw, h.kind, h.length);
	if (!utf8)
		return NO_STR;
	id = walk_intern(w, utf8);
	free(utf8);
	return id;
}

uint32_t walk_str(struct walk *w, uint64_t obj)
{
	uint64_t *e, *tab;
	size_t i, cap;
	uint32_t id;

	if (rcache_word(w->rc, obj + 8) != w->t->str_type)
		return NO_STR;
	e = str_obj_slot(w->str_objs, w->capstr_objs, obj);
	if (*e)
		return (uint32_t)e[1];
	id = str_read(w, obj);
	if (id == NO_STR)
		return NO_STR;
	if (w->nstrs * 2 > w->capstr_objs) {
		cap = w->capstr_objs * 2;
		tab = calloc(cap * 2, sizeof(*tab));
		if (!tab)
			return id;
		for (i = 0; i < w->capstr_objs; i++)
			if (w->str_objs[2 * i])
				memcpy(str_obj_slot(tab, cap, w->str_objs[2 * i]),
				       &w->str_objs[2 * i], 2 * sizeof(*tab));
		free(w->str_objs);
		w->str_objs = tab;
		w->capstr_objs = cap;
		e = str_obj_slot(tab, cap, obj);
	}
	e[0] = obj;
	e[1] = id;
	return id;
}
