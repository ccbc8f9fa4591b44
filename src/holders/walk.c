// SPDX-License-Identifier: GPL-2.0
/*
 * The walk's tables of nodes and of objects seen, and its breadth-first
 * loop; the types and strings it meets are walk_types.c's and
 * walk_strings.c's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "addr_table.h"
#include "elf_syms.h"
#include "itable.h"
#include "proc_maps.h"
#include "session.h"
#include "walk.h"

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
