// SPDX-License-Identifier: GPL-2.0
/*
 * The references of one object, by its type's layout.  Every array is read
 * whole (items, dict entries, set tables) from the chunk cache.  A dict
 * that is a module's, a class's or an instance's __dict__ is decoded in
 * place, its entries named as attributes of their owner.
 */
#include <stdlib.h>
#include <string.h>
#include "walk.h"

#define MAX_ITEMS	(1 << 24)	/* a bigger array is not an object's */
#define OB_SIZE		16		/* PyVarObject.ob_size */
/* 3.11+: the managed dict pointer, before the object */
#define MANAGED_DICT	(-24)
#define MANAGED_VALUES	(-32)		/* 3.11: the managed values pointer */
#define DKIX_GENERAL	0		/* 3.11+ dk_kind: entries with a hash */
#define AHEAD		8		/* items prefetched ahead of the one visited */

static uint32_t star(struct walk *w)
{
	return walk_intern(w, "*");
}

/* Read n pointers at addr into a new array; NULL when unreadable or too many. */
static uint64_t *read_words(struct walk *w, uint64_t addr, uint64_t n)
{
	uint64_t *v;

	if (!n || n > MAX_ITEMS)
		return NULL;
	v = malloc(n * sizeof(*v));
	if (v && rcache_read(w->rc, addr, v, n * sizeof(*v))) {
		free(v);
		return NULL;
	}
	return v;
}

static void visit_array(struct walk *w, uint64_t addr, uint64_t n, uint32_t parent)
{
	uint64_t *v = read_words(w, addr, n), i;
	uint32_t name = star(w);

	for (i = 0; v && i < n; i++) {
		if (i + AHEAD < n)
			walk_prefetch(w, v[i + AHEAD]);
		walk_visit(w, v[i], parent, EDGE_INDEX, name);
	}
	free(v);
}

/* Item i of a tuple, 0 past its end. */
static uint64_t tuple_item(struct walk *w, uint64_t tuple, uint64_t i)
{
	uint64_t n = rcache_word(w->rc, tuple + OB_SIZE);

	return i < n ? rcache_word(w->rc, tuple + w->l->tuple_item + 8 * i) : 0;
}

static int32_t read_i32(struct walk *w, uint64_t addr)
{
	int32_t v = 0;

	rcache_read(w->rc, addr, &v, sizeof(v));
	return v;
}

static uint8_t read_u8(struct walk *w, uint64_t addr)
{
	uint8_t v = 0;

	rcache_read(w->rc, addr, &v, sizeof(v));
	return v;
}

struct keys_view {
	uint64_t entries;	/* address of the first entry */
	uint64_t n;		/* entries in use or deleted */
	uint32_t esize, key, value;	/* entry size, offsets of key and value in it */
};

static int keys_view(struct walk *w, uint64_t keys, struct keys_view *kv)
{
	const struct obj_layout *l = w->l;
	uint64_t size, ix;
	uint8_t kind;

	if (!keys)
		return -1;
	kv->n = rcache_word(w->rc, keys + l->keys_nentries);
	if (l->keys_size != OBJ_NONE) {
		/* 3.8-3.10: indices as wide as the table needs, then {hash, key, value} */
		size = rcache_word(w->rc, keys + l->keys_size);
		ix = size <= 0xff ? 1 : size <= 0xffff ? 2 : size <= 0xffffffffULL ? 4 : 8;
		if (size > MAX_ITEMS)
			return -1;
		kv->entries = keys + l->keys_indices + size * ix;
		kv->esize = 24;
		kv->key = 8;
		kv->value = 16;
	} else {
		ix = read_u8(w, keys + l->keys_log2_index_bytes);
		kind = read_u8(w, keys + l->keys_kind);
		if (ix > 40)
			return -1;
		kv->entries = keys + l->keys_indices + (1ULL << ix);
		/* unicode and split keys drop the hash */
		kv->esize = kind == DKIX_GENERAL ? 24 : 16;
		kv->key = kind == DKIX_GENERAL ? 8 : 0;
		kv->value = kind == DKIX_GENERAL ? 16 : 8;
	}
	return kv->n <= MAX_ITEMS ? 0 : -1;
}

/*
 * The entries of a keys object, their values in the entries or (split) in
 * values[]; each an edge of kind from parent, named by its key.
 */
static void decode_keys(struct walk *w, uint64_t keys, uint64_t values, uint32_t parent,
			enum edge_kind kind)
{
	uint32_t name, keys_name = walk_intern(w, "(keys)");
	struct keys_view kv;
	uint64_t *vals = NULL, i, key, val;
	uint8_t *ent;

	if (keys_view(w, keys, &kv) || !kv.n)
		return;
	ent = malloc(kv.n * kv.esize);
	if (!ent || rcache_read(w->rc, kv.entries, ent, kv.n * kv.esize))
		goto out;
	if (values) {
		vals = read_words(w, values, kv.n);
		if (!vals)
			goto out;
	}
	for (i = 0; i < kv.n; i++) {
		memcpy(&key, ent + i * kv.esize + kv.key, sizeof(key));
		if (vals)
			val = vals[i];
		else
			memcpy(&val, ent + i * kv.esize + kv.value, sizeof(val));
		if (!key || !val)
			continue;
		name = walk_str(w, key);
		walk_visit(w, val, parent, kind, name == NO_STR ? star(w) : name);
		/* keys are held too (a dict of ints, of strs made in the session) */
		if (parent != NO_NODE)
			walk_visit(w, key, parent, EDGE_KEY, keys_name);
	}
out:
	free(ent);
	free(vals);
}

/*
 * Where a split table's values were allocated: 3.11 and 3.12 put a prefix
 * (insertion order, its own size in the last byte) before them.
 */
static uint64_t values_block(struct walk *w, uint64_t values)
{
	if (values && (w->l->minor == 11 || w->l->minor == 12))
		return values - read_u8(w, values - 1);
	return values;
}

/* A split table's values[], from a PyDictValues pointer */
static uint64_t values_array(struct walk *w, uint64_t values);

uint64_t decode_dict_get(struct walk *w, uint64_t dict, const char *key)
{
	uint64_t keys = rcache_word(w->rc, dict + w->l->dict_keys), i, k, v = 0;
	uint64_t values = values_array(w, rcache_word(w->rc, dict + w->l->dict_values));
	uint32_t want = walk_intern(w, key);
	struct keys_view kv;

	if (keys_view(w, keys, &kv))
		return 0;
	for (i = 0; i < kv.n && !v; i++) {
		k = rcache_word(w->rc, kv.entries + i * kv.esize + kv.key);
		if (k && walk_str(w, k) == want)
			v = values ? rcache_word(w->rc, values + 8 * i) :
			    rcache_word(w->rc, kv.entries + i * kv.esize + kv.value);
	}
	return v;
}

static uint64_t values_array(struct walk *w, uint64_t values)
{
	return values ? values + w->l->dictvalues_values : 0;
}

void decode_dict_entries(struct walk *w, uint64_t dict, uint32_t parent, enum edge_kind kind)
{
	uint64_t keys = rcache_word(w->rc, dict + w->l->dict_keys);
	uint64_t values = rcache_word(w->rc, dict + w->l->dict_values);

	walk_own(w, keys, parent);
	walk_own(w, values_block(w, values), parent);
	decode_keys(w, keys, values_array(w, values), parent, kind);
}

/* A __dict__ object of owner n: itself a part of n, its entries n's attributes. */
static void owned_dict(struct walk *w, uint64_t dict, uint32_t n, enum edge_kind kind)
{
	uint32_t d;

	if (!dict)
		return;
	d = walk_visit(w, dict, n, EDGE_INNER, NO_STR);
	if (d != NO_NODE)
		w->nodes[d].walked = true;
	decode_dict_entries(w, dict, n, kind);
}

/* A var-sized instance's __dict__ lies past its items (a negative tp_dictoffset). */
static uint64_t dict_slot(struct walk *w, uint64_t obj, const struct type_info *ti)
{
	int64_t size, items;

	if (ti->dictoffset > 0)
		return obj + ti->dictoffset;
	items = (int64_t)rcache_word(w->rc, obj + OB_SIZE);
	if (items < 0)
		items = -items;
	size = (ti->basicsize + items * ti->itemsize + 7) & ~7LL;
	return obj + size + ti->dictoffset;
}

static void instance_dict(struct walk *w, uint64_t obj, uint32_t n, const struct type_info *ti)
{
	const struct obj_layout *l = w->l;
	uint64_t d, values;

	if (!(ti->flags & l->flag_managed_dict)) {
		if (ti->dictoffset)
			owned_dict(w, rcache_word(w->rc, dict_slot(w, obj, ti)), n, EDGE_ATTR);
		return;
	}
	d = rcache_word(w->rc, obj + MANAGED_DICT);
	if (l->minor == 11) {
		if (d)
			return owned_dict(w, d, n, EDGE_ATTR);
		values = rcache_word(w->rc, obj + MANAGED_VALUES);
		walk_own(w, values_block(w, values), n);
		return decode_keys(w, ti->cached_keys, values, n, EDGE_ATTR);
	}
	if (l->minor == 12) {
		/* a dict, or its values less one (the low bit tags them) */
		if (!(d & 1))
			return owned_dict(w, d, n, EDGE_ATTR);
		walk_own(w, values_block(w, d + 1), n);
		return decode_keys(w, ti->cached_keys, d + 1, n, EDGE_ATTR);
	}
	if (d)
		return owned_dict(w, d, n, EDGE_ATTR);
	/* 3.13+: the values inline after the object, while their "valid" byte says so */
	values = obj + ti->basicsize;
	if (ti->flags & l->flag_inline_values && read_u8(w, values + 3))
		decode_keys(w, ti->cached_keys, values_array(w, values), n, EDGE_ATTR);
}

static void instance_slots(struct walk *w, uint64_t obj, uint32_t n, const struct type_info *ti)
{
	uint32_t i;

	for (i = 0; i < ti->nslots; i++)
		walk_visit(w, rcache_word(w->rc, obj + ti->slots[i].offset), n, EDGE_SLOT,
			   ti->slots[i].name);
}

/* The name of a function's free variable i, the one its closure's cell i holds. */
static uint32_t freevar_name(struct walk *w, uint64_t code, uint64_t i)
{
	const struct obj_layout *l = w->l;
	int32_t nlp, nfree;

	if (l->code_freevars != OBJ_NONE)
		return walk_str(w, tuple_item(w, rcache_word(w->rc, code + l->code_freevars), i));
	/* 3.11+: free variables are the last names of localsplus */
	nlp = read_i32(w, code + l->code_nlocalsplus);
	nfree = read_i32(w, code + l->code_nfreevars);
	if (nfree <= 0 || nlp < nfree || i >= (uint64_t)nfree)
		return NO_STR;
	return walk_str(w, tuple_item(w, rcache_word(w->rc, code + l->code_localsplusnames),
				      nlp - nfree + i));
}

static void decode_function(struct walk *w, uint64_t obj, uint32_t n)
{
	const struct obj_layout *l = w->l;
	uint64_t closure = rcache_word(w->rc, obj + l->func_closure);
	uint64_t code = rcache_word(w->rc, obj + l->func_code), i, cells;
	uint32_t t;

	if (closure) {
		t = walk_visit(w, closure, n, EDGE_INNER, NO_STR);
		if (t != NO_NODE)
			w->nodes[t].walked = true;
		cells = rcache_word(w->rc, closure + OB_SIZE);
		for (i = 0; i < cells && i < MAX_ITEMS; i++)
			walk_visit(w, tuple_item(w, closure, i), n, EDGE_CELL,
				   freevar_name(w, code, i));
	}
	walk_visit(w, rcache_word(w->rc, obj + l->func_defaults), n, EDGE_INNER, NO_STR);
	walk_visit(w, rcache_word(w->rc, obj + l->func_kwdefaults), n, EDGE_INNER, NO_STR);
	owned_dict(w, rcache_word(w->rc, obj + l->func_dict), n, EDGE_ATTR);
}

static void decode_set(struct walk *w, uint64_t obj, uint32_t n)
{
	uint64_t mask = rcache_word(w->rc, obj + w->l->set_mask);
	uint64_t table = rcache_word(w->rc, obj + w->l->set_table), *v, i;
	uint32_t name = star(w);

	if (mask >= MAX_ITEMS)
		return;
	walk_own(w, table, n);
	/* entries are {key, hash} */
	v = read_words(w, table, 2 * (mask + 1));
	for (i = 0; v && i <= mask; i++)
		if (v[2 * i] != w->set_dummy)
			walk_visit(w, v[2 * i], n, EDGE_INDEX, name);
	free(v);
}

/* A class: its own attributes (a builtin type's are the interpreter's, not walked). */
static void decode_type(struct walk *w, uint64_t obj, uint32_t n)
{
	if (rcache_word(w->rc, obj + w->l->tp_flags) & (1ULL << 9))
		owned_dict(w, rcache_word(w->rc, obj + w->l->tp_dict), n, EDGE_CLASS);
}

void decode_node(struct walk *w, uint32_t n)
{
	/* a copy: visits may grow the type table under it */
	const struct type_info own = w->types[w->nodes[n].type], *ti = &own;
	uint64_t obj = w->nodes[n].addr;
	const struct obj_layout *l = w->l;

	switch (ti->kind) {
	case TK_LIST:
		walk_own(w, rcache_word(w->rc, obj + l->list_item), n);
		visit_array(w, rcache_word(w->rc, obj + l->list_item),
			    rcache_word(w->rc, obj + OB_SIZE), n);
		break;
	case TK_TUPLE:
		visit_array(w, obj + l->tuple_item, rcache_word(w->rc, obj + OB_SIZE), n);
		break;
	case TK_DICT:
		decode_dict_entries(w, obj, n, EDGE_KEY);
		break;
	case TK_SET:
		decode_set(w, obj, n);
		break;
	case TK_CELL:
		walk_visit(w, rcache_word(w->rc, obj + l->cell_ref), n, EDGE_INNER, NO_STR);
		break;
	case TK_FUNCTION:
		decode_function(w, obj, n);
		break;
	case TK_MODULE:
		owned_dict(w, rcache_word(w->rc, obj + MD_DICT), n, EDGE_ATTR);
		break;
	case TK_TYPE:
		decode_type(w, obj, n);
		break;
	case TK_BYTEARRAY:
		/* its buffer, or (3.15+) the bytes object holding it: a part, as a list's items */
		if (l->bytearray_object != OBJ_NONE)
			walk_own(w, rcache_word(w->rc, obj + l->bytearray_object), n);
		else
			walk_own(w, rcache_word(w->rc, obj + l->bytearray_bytes), n);
		break;
	case TK_INSTANCE:
	case TK_LEAF:
	case TK_OPAQUE:
		break;
	}
	/* objects of classes: their __dict__ and __slots__ over the base's layout */
	if (ti->instance) {
		instance_dict(w, obj, n, ti);
		instance_slots(w, obj, n, ti);
	}
}
