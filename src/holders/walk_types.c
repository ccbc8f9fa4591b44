// SPDX-License-Identifier: GPL-2.0
/*
 * The type objects the walk meets: checked to be types, read once, and
 * classified by how their objects' references are decoded.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "itable.h"
#include "walk.h"

/* Type flags, the same in every version */
#define TPFLAGS_HEAPTYPE	(1ULL << 9)
#define TPFLAGS_HAVE_GC		(1ULL << 14)
#define TPFLAGS_TYPE		(1ULL << 31)

#define MAX_SLOTS	64	/* __slots__ members kept per class, bases included */

/*
 * A class made by a class statement (type_new), not a C type made from a
 * spec: only the former's instances are a __dict__ and __slots__ over
 * their base (3.12+ makes many stdlib C types heap types too).
 */
static bool python_class(struct walk *w, uint64_t type)
{
	return rcache_word(w->rc, type + w->l->tp_flags) & TPFLAGS_HEAPTYPE &&
	       rcache_word(w->rc, type + TP_DEALLOC) == w->subtype_dealloc;
}

/* The __slots__ members of a class and its bases: object references only. */
static void read_slots(struct walk *w, struct type_info *ti, uint64_t type)
{
	const struct obj_layout *l = w->l;
	uint64_t tp, m, name;
	int depth, k;
	uint32_t id;
	int32_t mtype;
	int64_t off;
	char buf[MAX_NAME];

	ti->slots = calloc(MAX_SLOTS, sizeof(*ti->slots));
	if (!ti->slots)
		return;
	for (tp = type, depth = 0; tp && depth < 64; tp = rcache_word(w->rc, tp + l->tp_base), depth++) {
		if (!python_class(w, tp))
			break;
		m = rcache_word(w->rc, tp + l->tp_members);
		for (k = 0; m && k < MAX_SLOTS && ti->nslots < MAX_SLOTS; k++, m += l->member_size) {
			name = rcache_word(w->rc, m);
			if (!name || rcache_read(w->rc, m + l->member_type, &mtype, sizeof(mtype)) ||
			    rcache_read(w->rc, m + l->member_offset, &off, sizeof(off)) ||
			    rcache_read(w->rc, name, buf, 1))
				break;
			/* T_OBJECT (6) and T_OBJECT_EX (16) are the members that hold objects */
			if (mtype != 6 && mtype != 16)
				continue;
			memset(buf, 0, sizeof(buf));
			for (id = 0; id < sizeof(buf) - 1; id++)
				if (rcache_read(w->rc, name + id, &buf[id], 1) || !buf[id])
					break;
			buf[id] = '\0';
			if (!strcmp(buf, "__dict__") || !strcmp(buf, "__weakref__"))
				continue;
			ti->slots[ti->nslots++] = (struct slot_member){ walk_intern(w, buf), (uint32_t)off };
		}
	}
}

/* The nearest base of a class that is a C type: it decides the layout under the instance. */
static uint64_t c_base(struct walk *w, uint64_t type)
{
	int depth;

	for (depth = 0; type && depth < 64; depth++) {
		if (!python_class(w, type))
			return type;
		type = rcache_word(w->rc, type + w->l->tp_base);
	}
	return 0;
}

static enum type_kind kind_of_static(struct walk *w, uint64_t type, uint64_t flags)
{
	if (type == w->list_type)
		return TK_LIST;
	if (type == w->tuple_type)
		return TK_TUPLE;
	if (type == w->dict_type)
		return TK_DICT;
	if (type == w->set_type || type == w->frozenset_type)
		return TK_SET;
	if (type == w->cell_type)
		return TK_CELL;
	if (type == w->function_type)
		return TK_FUNCTION;
	if (type == w->module_type)
		return TK_MODULE;
	if (type == w->type_type)
		return TK_TYPE;
	if (type == w->bytearray_type)
		return TK_BYTEARRAY;
	if (type == w->object_type)
		return TK_INSTANCE;
	return flags & TPFLAGS_HAVE_GC ? TK_OPAQUE : TK_LEAF;
}

static void classify(struct walk *w, struct type_info *ti)
{
	uint64_t base;

	if (!python_class(w, ti->addr)) {
		ti->kind = kind_of_static(w, ti->addr, ti->flags);
		ti->instance = false;
		return;
	}
	/* a class: its instances have a __dict__ and __slots__ over its C base's layout */
	base = c_base(w, ti->addr);
	ti->kind = base ? kind_of_static(w, base, rcache_word(w->rc, base + w->l->tp_flags)) :
		   TK_OPAQUE;
	/* an unknown C base would leave the instance half decoded: opaque as a whole */
	if (ti->kind == TK_OPAQUE)
		return;
	/* a C base without references (int, str): the instance's own part is all there is */
	if (ti->kind == TK_LEAF)
		ti->kind = TK_INSTANCE;
	ti->instance = true;
	read_slots(w, ti, ti->addr);
	if (w->l->ht_cached_keys != OBJ_NONE)
		ti->cached_keys = rcache_word(w->rc, ti->addr + w->l->ht_cached_keys);
}

struct type_want {
	const struct walk *w;
	uint64_t addr;
};

static bool type_same(const void *ctx, uint32_t i)
{
	const struct type_want *want = ctx;

	return want->w->types[i].addr == want->addr;
}

static uint64_t type_hash(const void *ctx, uint32_t i)
{
	return itable_mix(0, ((const struct type_want *)ctx)->w->types[i].addr);
}

static const struct itable_ops type_ops = { type_same, type_hash };

/* A type object: its own type is type, or a metaclass (a subclass of type) whose type is type. */
static bool is_type(struct walk *w, uint64_t type)
{
	uint64_t meta = rcache_word(w->rc, type + 8);

	if (!meta || meta & 7)
		return false;
	return meta == w->type_type ||
	       (rcache_word(w->rc, meta + 8) == w->type_type &&
		rcache_word(w->rc, meta + w->l->tp_flags) & TPFLAGS_TYPE);
}

/* A tp_name: printable ASCII (C type names are identifiers and dots), else NULL. */
static bool read_name(struct walk *w, uint64_t addr, char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len - 1; i++) {
		if (rcache_read(w->rc, addr + i, &buf[i], 1))
			return false;
		if (!buf[i])
			return i > 0;
		if (buf[i] < 0x20 || buf[i] > 0x7e)
			return false;
	}
	buf[i] = '\0';
	return true;
}

static struct type_info *type_info(struct walk *w, uint64_t type)
{
	struct type_want want = { w, type };
	const struct obj_layout *l = w->l;
	struct type_info *ti;
	char buf[MAX_NAME];
	uint32_t i, *slot;

	i = itable_find(&w->type_index, itable_mix(0, type), &type_ops, &want, &slot);
	if (i != UINT32_MAX)
		return &w->types[i];
	if (!slot || !is_type(w, type))
		return NULL;
	if (w->ntypes == w->captypes) {
		ti = realloc(w->types, w->captypes * 2 * sizeof(*ti));
		if (!ti) {
			w->err = -ENOMEM;
			return NULL;
		}
		w->types = ti;
		w->captypes *= 2;
	}
	ti = &w->types[w->ntypes];
	memset(ti, 0, sizeof(*ti));
	ti->addr = type;
	ti->flags = rcache_word(w->rc, type + l->tp_flags);
	ti->basicsize = (int64_t)rcache_word(w->rc, type + l->tp_basicsize);
	ti->itemsize = (int64_t)rcache_word(w->rc, type + l->tp_itemsize);
	ti->dictoffset = (int64_t)rcache_word(w->rc, type + l->tp_dictoffset);
	ti->name = walk_intern(w, read_name(w, rcache_word(w->rc, type + l->tp_name), buf,
					    sizeof(buf)) ? buf : "?");
	ti->preheader = (ti->flags & TPFLAGS_HAVE_GC ? l->gc_head : 0) +
			(ti->flags & (l->flag_managed_dict | l->flag_managed_weakref) ? 16 : 0);
	itable_put(&w->type_index, slot, w->ntypes++);
	classify(w, ti);
	return ti;
}

struct type_info *walk_type_of(struct walk *w, uint64_t obj)
{
	struct type_info *ti;
	uint64_t type;

	if (!obj || obj & 7)
		return NULL;
	type = rcache_word(w->rc, obj + 8);
	if (!type || type & 7)
		return NULL;
	/* objects come in runs of one type: a list's items, a dict's values */
	if (w->last_type < w->ntypes && w->types[w->last_type].addr == type)
		return &w->types[w->last_type];
	ti = type_info(w, type);
	if (ti)
		w->last_type = ti - w->types;
	return ti;
}
