// SPDX-License-Identifier: GPL-2.0
/* The walk's tables (nodes, types, strings) and its breadth-first loop. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "addr_table.h"
#include "elf_syms.h"
#include "itable.h"
#include "proc_maps.h"
#include "py_str.h"
#include "session.h"
#include "walk.h"

/* Type flags, the same in every version */
#define TPFLAGS_HEAPTYPE	(1ULL << 9)
#define TPFLAGS_HAVE_GC		(1ULL << 14)
#define TPFLAGS_TYPE		(1ULL << 31)

#define MAX_NAME	256	/* a tp_name or a key longer than this is cut */
#define MAX_SLOTS	64	/* __slots__ members kept per class, bases included */
#define CHECK_EVERY	4096	/* nodes walked between two looks at the clock */
#define AHEAD		16	/* nodes of the queue prefetched ahead */

static int lookup_types(struct walk *w, char *err, size_t errlen)
{
	static const struct { const char *sym; size_t off; } syms[] = {
		{ "PyList_Type", offsetof(struct walk, list_type) },
		{ "PyTuple_Type", offsetof(struct walk, tuple_type) },
		{ "PyDict_Type", offsetof(struct walk, dict_type) },
		{ "PySet_Type", offsetof(struct walk, set_type) },
		{ "PyFrozenSet_Type", offsetof(struct walk, frozenset_type) },
		{ "PyCell_Type", offsetof(struct walk, cell_type) },
		{ "PyFunction_Type", offsetof(struct walk, function_type) },
		{ "PyModule_Type", offsetof(struct walk, module_type) },
		{ "PyType_Type", offsetof(struct walk, type_type) },
		{ "PyByteArray_Type", offsetof(struct walk, bytearray_type) },
		{ "PyBaseObject_Type", offsetof(struct walk, object_type) },
		{ "PyCode_Type", offsetof(struct walk, code_type) },
		{ "_PySet_Dummy", offsetof(struct walk, set_dummy) },
	};
	struct proc_maps maps = {};
	struct elf_syms *e;
	uint64_t vaddr, size, bias;
	size_t i;
	int ret;

	e = elf_syms_open(w->t->interp_open);
	if (!e) {
		snprintf(err, errlen, "cannot read ELF %s", w->t->interp_open);
		return -errno;
	}
	ret = proc_maps_read(w->t->pid, &maps);
	if (!ret)
		ret = proc_maps_load_bias(&maps, w->t->interp, elf_syms_first_load_vaddr(e), &bias);
	/* exported for C extensions, so even stripped LTO builds keep them in .dynsym */
	for (i = 0; !ret && i < sizeof(syms) / sizeof(syms[0]); i++) {
		ret = elf_syms_lookup(e, syms[i].sym, &vaddr, &size);
		if (ret)
			snprintf(err, errlen, "%s has no symbol %s", w->t->interp, syms[i].sym);
		else
			*(uint64_t *)((char *)w + syms[i].off) = bias + vaddr;
	}
	/* pymalloc's arena table to 3.11: statics, named only where there is a .symtab */
	if (!ret && !elf_syms_lookup(e, "arenas", &vaddr, &size) && size == 8)
		w->arenas_sym = bias + vaddr;
	if (!ret && !elf_syms_lookup(e, "maxarenas", &vaddr, &size) && size == 4)
		w->maxarenas_sym = bias + vaddr;
	elf_syms_close(e);
	proc_maps_free(&maps);
	if (ret)
		return ret;
	/* _PySet_Dummy is a pointer to the dummy key, not the key */
	w->set_dummy = rcache_word(w->rc, w->set_dummy);
	return 0;
}

int walk_init(struct walk *w, const struct pytarget *t, const struct obj_layout *l,
	      struct rcache *rc, struct live_blocks *blocks, char *err, size_t errlen)
{
	memset(w, 0, sizeof(*w));
	w->t = t;
	w->l = l;
	w->rc = rc;
	w->blocks = blocks;
	/* containers are fewer than the live blocks, mostly: sized once, rarely grown */
	for (w->capseen = 1 << 16; w->capseen < blocks->n; w->capseen *= 2)
		;
	w->capnodes = w->capseen / 2;
	w->nodes = malloc(w->capnodes * sizeof(*w->nodes));
	w->captypes = 512;
	w->capstrs = 1 << 11;
	w->capstr_objs = 1 << 12;
	w->seen = addr_table_alloc(w->capseen * sizeof(*w->seen));
	w->types = calloc(w->captypes, sizeof(*w->types));
	w->strs = calloc(w->capstrs, sizeof(*w->strs));
	w->str_objs = calloc(w->capstr_objs * 2, sizeof(*w->str_objs));
	if (!w->seen || !w->nodes || !w->types || !w->strs || !w->str_objs) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return lookup_types(w, err, errlen);
}

void walk_free(struct walk *w)
{
	size_t i;

	for (i = 0; w->types && i < w->ntypes; i++)
		free(w->types[i].slots);
	for (i = 0; w->strs && i < w->nstrs; i++)
		free(w->strs[i]);
	free(w->nodes);
	addr_table_free(w->seen, w->capseen * sizeof(*w->seen));
	free(w->types);
	itable_free(&w->type_index);
	free(w->strs);
	itable_free(&w->str_index);
	free(w->str_objs);
	free(w->locals);
	memset(w, 0, sizeof(*w));
}

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

/* The nearest static (C) base of a heap type: it decides the layout under the instance. */
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

static int grow_seen(struct walk *w)
{
	size_t cap = w->capseen * 2, i, j;
	struct addr_slot *seen = addr_table_alloc(cap * sizeof(*seen));

	if (!seen)
		return -ENOMEM;
	for (i = 0; i < w->capseen; i++) {
		if (!w->seen[i].addr)
			continue;
		for (j = addr_hash(w->seen[i].addr, cap); seen[j].addr; j = (j + 1) & (cap - 1))
			;
		seen[j] = w->seen[i];
	}
	addr_table_free(w->seen, w->capseen * sizeof(*w->seen));
	w->seen = seen;
	w->capseen = cap;
	return 0;
}

static struct live_block *block_of(struct walk *w, uint64_t obj, const struct type_info *ti)
{
	return live_blocks_find(w->blocks, obj - ti->preheader);
}

void walk_prefetch(const struct walk *w, uint64_t obj)
{
	const struct live_blocks *b = w->blocks;

	__builtin_prefetch(&w->seen[addr_hash(obj, w->capseen)]);
	if (!b->cap)
		return;
	/* the block of a non-GC object, and of a GC one (gc_head before it) */
	__builtin_prefetch(&b->index[addr_hash(obj, b->cap)]);
	__builtin_prefetch(&b->index[addr_hash(obj - w->l->gc_head, b->cap)]);
}

/*
 * Most objects are leaves: no node for them, only their block (if it is
 * one) learns its holder and the edge to it.  Half the walk went to them.
 */
static void visit_leaf(struct walk *w, uint64_t obj, const struct type_info *ti, uint32_t parent,
		       enum edge_kind kind, uint32_t name)
{
	struct live_block *b = block_of(w, obj, ti);

	if (!b || b->holder != LIVE_NO_HOLDER)
		return;
	b->holder = parent;
	b->leaf_type = ti - w->types;
	b->leaf_name = name;
	b->leaf_kind = kind;
	w->nleaves++;
}

uint32_t walk_visit(struct walk *w, uint64_t obj, uint32_t parent, enum edge_kind kind,
		    uint32_t name)
{
	struct type_info *ti;
	struct live_block *b;
	struct node *n;
	size_t j;

	if (!obj || obj & 7 || w->err)
		return NO_NODE;
	ti = walk_type_of(w, obj);
	if (!ti)
		return NO_NODE;
	if (ti->kind == TK_LEAF && parent != NO_NODE) {
		visit_leaf(w, obj, ti, parent, kind, name);
		return NO_NODE;
	}
	for (j = addr_hash(obj, w->capseen); w->seen[j].addr; j = (j + 1) & (w->capseen - 1))
		if (w->seen[j].addr == obj)
			return NO_NODE;
	if (w->nnodes == w->capnodes) {
		size_t cap = w->capnodes * 2;
		struct node *v = realloc(w->nodes, cap * sizeof(*v));

		if (!v) {
			w->err = -ENOMEM;
			return NO_NODE;
		}
		w->nodes = v;
		w->capnodes = cap;
	}
	if ((w->nnodes + 1) * 2 > w->capseen) {
		if (grow_seen(w)) {
			w->err = -ENOMEM;
			return NO_NODE;
		}
		for (j = addr_hash(obj, w->capseen); w->seen[j].addr; j = (j + 1) & (w->capseen - 1))
			;
	}
	n = &w->nodes[w->nnodes];
	*n = (struct node){ .addr = obj, .type = ti - w->types, .parent = parent, .name = name,
			    .block = NO_NODE, .kind = kind };
	b = block_of(w, obj, ti);
	if (b) {
		n->block = b - w->blocks->v;
		if (b->holder == LIVE_NO_HOLDER)
			b->holder = w->nnodes;
	}
	w->seen[j] = (struct addr_slot){ obj, w->nnodes };
	return w->nnodes++;
}

void walk_own(struct walk *w, uint64_t addr, uint32_t node)
{
	struct live_block *b = addr ? live_blocks_find(w->blocks, addr) : NULL;

	if (b && b->holder == LIVE_NO_HOLDER)
		b->holder = node;
}

/*
 * Two steps ahead of the decoding: the items of the tuple AHEAD nodes on
 * are fetched, and for the one half as far, what visiting its items will
 * look up.  Tuples are most of a heap's small containers (rows, keys,
 * pairs), and their items mostly leaves, each a lookup in tables larger
 * than the caches.
 */
static void prefetch_queue(struct walk *w, size_t next)
{
	const struct node *far = next + AHEAD < w->nnodes ? &w->nodes[next + AHEAD] : NULL;
	const struct node *near = next + AHEAD / 2 < w->nnodes ? &w->nodes[next + AHEAD / 2] : NULL;
	const uint64_t *items;
	const void *p;
	int i;

	if (far && w->types[far->type].kind == TK_TUPLE) {
		p = rcache_peek(w->rc, far->addr + w->l->tuple_item, 16);
		if (p)
			__builtin_prefetch(p);
	}
	if (!near || w->types[near->type].kind != TK_TUPLE)
		return;
	items = rcache_peek(w->rc, near->addr + w->l->tuple_item, 16);
	for (i = 0; items && i < 2; i++) {
		if (!items[i])
			continue;
		walk_prefetch(w, items[i]);
		p = rcache_peek(w->rc, items[i] + 8, 8);
		if (p)
			__builtin_prefetch(p);
	}
}

int walk_run(struct walk *w)
{
	int err = roots_add(w);

	if (err)
		return err;
	for (; w->next < w->nnodes && !w->err; w->next++) {
		if (w->deadline && !(w->next % CHECK_EVERY) && session_now() > w->deadline) {
			w->partial = true;
			break;
		}
		prefetch_queue(w, w->next);
		if (!w->nodes[w->next].walked) {
			w->nodes[w->next].walked = true;
			decode_node(w, w->next);
		}
	}
	return w->err;
}
