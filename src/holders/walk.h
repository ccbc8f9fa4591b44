/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The object graph of a stopped interpreter, walked breadth first from its
 * roots (the modules in sys.modules, every thread's frames' locals), so
 * each object is reached by a shortest path: a node keeps the edge it was
 * reached by.  Private to src/holders/.
 */
#ifndef PYMEM_WALK_H
#define PYMEM_WALK_H

#include <stdbool.h>
#include <stdint.h>
#include "itable.h"
#include "live_blocks.h"
#include "obj_layout.h"
#include "pytarget.h"
#include "rcache.h"

#define NO_NODE		0xffffffffU
/* The same in every version: */
#define MD_DICT		16	/* PyModuleObject.md_dict */
#define NO_STR		0xffffffffU
#define MAX_NAME	256	/* a tp_name or a key longer than this is cut */

/* How an object was reached from its parent (the JSON's "kind"s, and one never shown). */
enum edge_kind {
	EDGE_INNER,		/* a container's own part: a __dict__, a cell's content */
	EDGE_MODULE,		/* root: a module, by its name in sys.modules */
	EDGE_LOCAL,		/* root: a frame's local variable */
	EDGE_ATTR,		/* a module's or instance's attribute */
	EDGE_CLASS,		/* a class's attribute */
	EDGE_KEY,		/* a dict's value, by its key */
	EDGE_INDEX,		/* an item of a list, tuple or set */
	EDGE_CELL,		/* a closure's cell, by its variable */
	EDGE_SLOT,		/* a __slots__ member */
};

/* How an object's references are decoded, by its type. */
enum type_kind {
	TK_LEAF,		/* holds no references (not a GC type) */
	TK_OPAQUE,		/* a container whose layout is not known: not walked */
	TK_LIST, TK_TUPLE, TK_DICT, TK_SET, TK_CELL, TK_FUNCTION, TK_MODULE, TK_TYPE,
	TK_BYTEARRAY,
	TK_INSTANCE,		/* a class instance: __dict__ and __slots__ only */
};

struct slot_member {
	uint32_t name;
	uint32_t offset;
};

struct type_info {
	uint64_t addr;		/* 0: empty slot */
	uint64_t flags;
	int64_t basicsize, itemsize, dictoffset;
	uint64_t cached_keys;	/* a heap type's shared keys (3.11+) */
	uint32_t name;
	uint32_t preheader;	/* bytes of its block before the object */
	enum type_kind kind;
	bool instance;		/* also has instance __dict__ and __slots__ */
	uint32_t nslots;
	struct slot_member *slots;
};

struct node {
	uint64_t addr;
	uint32_t type;		/* index in walk.types */
	uint32_t parent;	/* NO_NODE for a root */
	uint32_t name;		/* the edge's name, NO_STR for none */
	uint32_t block;		/* its own live block's index, or NO_NODE */
	uint8_t kind;		/* enum edge_kind */
	bool walked;		/* decoded, or not to be (a dict decoded inline) */
};

/* A local variable's root: its function and thread, by the node's name's side entry. */
struct local_root {
	uint32_t node;
	uint32_t function;
	uint64_t thread;
};

struct walk {
	const struct pytarget *t;
	const struct obj_layout *l;
	struct rcache *rc;
	struct live_blocks *blocks;
	/* type objects the decoders know, from the interpreter's symbols */
	uint64_t list_type, tuple_type, dict_type, set_type, frozenset_type, cell_type,
		 function_type, module_type, type_type, bytearray_type, object_type, code_type;
	uint64_t set_dummy;
	uint64_t subtype_dealloc;	/* the tp_dealloc of every class a class statement made */
	uint64_t arenas_sym, maxarenas_sym;	/* obmalloc.c's statics (3.8-3.11), 0 unknown */
	struct node *nodes;
	size_t nnodes, capnodes;
	size_t nleaves;		/* leaf objects met that are live blocks */
	struct addr_slot *seen;	/* open addressing by address: node index */
	size_t capseen;
	struct type_info *types;
	size_t ntypes, captypes;
	struct itable type_index;	/* by address */
	size_t last_type;	/* the type met last, its index */
	char **strs;
	size_t nstrs, capstrs;
	struct itable str_index;	/* by content */
	uint64_t *str_objs;	/* str object address -> string id, pairs */
	size_t capstr_objs;
	struct local_root *locals;
	size_t nlocals, caplocals;
	size_t next;		/* the BFS queue: nodes[next..] are not walked yet */
	double deadline;	/* CLOCK_MONOTONIC seconds, 0: none */
	bool partial;		/* stopped at the deadline */
	int err;		/* out of memory */
};

/* walk.c */
int walk_init(struct walk *w, const struct pytarget *t, const struct obj_layout *l,
	      struct rcache *rc, struct live_blocks *blocks, char *err, size_t errlen);
void walk_free(struct walk *w);
/* Add the roots, then walk until every reachable object is visited or the deadline passes. */
int walk_run(struct walk *w);
/* Visit obj from parent by an edge; NO_NODE when it is no object or already seen. */
uint32_t walk_visit(struct walk *w, uint64_t obj, uint32_t parent, enum edge_kind kind,
		    uint32_t name);
/*
 * Start fetching what visiting obj will look up: the walk waits on memory,
 * not on the CPU.  Called a few items ahead in arrays.
 */
void walk_prefetch(const struct walk *w, uint64_t obj);
/* A buffer block (list items, dict keys, bytearray bytes) at addr belongs to node. */
void walk_own(struct walk *w, uint64_t addr, uint32_t node);

/* walk_types.c: the type of the object at addr (validated as a type object), or NULL. */
struct type_info *walk_type_of(struct walk *w, uint64_t obj);

/* walk_strings.c */
uint32_t walk_intern(struct walk *w, const char *s);
/* The string id of a str object (UTF-8), NO_STR if it is not a readable str. */
uint32_t walk_str(struct walk *w, uint64_t obj);
/* The string of an id walk_intern() or walk_str() gave; "?" for NO_STR. */
static inline const char *walk_name(const struct walk *w, uint32_t id)
{
	return id == NO_STR ? "?" : w->strs[id];
}

/* decode.c: the references of one node's object. */
void decode_node(struct walk *w, uint32_t n);
/* The value under a str key in a dict, 0 if none. */
uint64_t decode_dict_get(struct walk *w, uint64_t dict, const char *key);
/* A dict's entries as edges of kind from parent (keys named when they are str). */
void decode_dict_entries(struct walk *w, uint64_t dict, uint32_t parent, enum edge_kind kind);

/* roots.c: modules, then every thread's frames' locals. */
int roots_add(struct walk *w);

#endif
