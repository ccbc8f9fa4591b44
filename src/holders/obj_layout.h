/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where CPython keeps the references of the containers the holder walk
 * decodes (list, tuple, dict, set, cell, function, module, type,
 * instances), per minor version 3.8-3.15, x86_64, default (GIL) builds.
 * These are the object structs, fixed within a minor release; the few
 * interpreter fields the walk needs (sys.modules, the native thread id,
 * frames' fast locals) move between 3.13+ patch releases and are read from
 * the running build's _Py_DebugOffsets there.  tests/unit/test_obj_layout.c
 * checks every number against offsetof() on each build's own headers.
 */
#ifndef PYMEM_OBJ_LAYOUT_H
#define PYMEM_OBJ_LAYOUT_H

#include <stddef.h>
#include <stdint.h>
#include "pytarget.h"

#define OBJ_NONE	0xffffffffU

struct obj_layout {
	uint32_t minor;
	/* sizeof(PyGC_Head): a GC object's block starts that far before it */
	uint32_t gc_head;
	/* PyTypeObject, PyHeapTypeObject */
	uint32_t tp_name, tp_basicsize, tp_itemsize, tp_flags, tp_members, tp_base, tp_dict,
		 tp_dictoffset;
	uint32_t ht_cached_keys;	/* 3.11+: the keys a managed dict's values go with */
	uint64_t flag_managed_dict;	/* 3.11+, else 0 */
	uint64_t flag_managed_weakref;	/* 3.12+, else 0 */
	uint64_t flag_inline_values;	/* 3.13+, else 0 */
	uint32_t list_item, tuple_item;
	/* PyDictObject, PyDictKeysObject, PyDictValues */
	uint32_t dict_keys, dict_values, dictvalues_values;
	uint32_t keys_size;		/* dk_size (3.8-3.10), else OBJ_NONE */
	uint32_t keys_log2_size, keys_log2_index_bytes, keys_kind;	/* 3.11+ */
	uint32_t keys_nentries, keys_indices;
	uint32_t set_mask, set_table;
	uint32_t cell_ref;
	uint32_t func_code, func_defaults, func_kwdefaults, func_closure, func_dict;
	uint32_t bytearray_bytes;
	uint32_t bytearray_object;	/* 3.15+: the bytes object of ob_bytes, or OBJ_NONE */
	uint32_t member_size, member_type, member_offset;	/* PyMemberDef; name at 0 */
	/* PyCodeObject: 3.8-3.10 name tuples, 3.11+ localsplus */
	uint32_t code_nlocals, code_varnames, code_cellvars, code_freevars;
	uint32_t code_nlocalsplus, code_localsplusnames, code_nfreevars;
	/* PyFrameObject.f_localsplus (3.8-3.10) or _PyInterpreterFrame.localsplus (3.11+) */
	uint32_t frame_localsplus;
	uint32_t interp_modules;	/* modules, imports.modules (3.12+) */
	/*
	 * pymalloc: its state in the interpreter (3.12 inline, 3.13+ a pointer;
	 * OBJ_NONE before: static arenas and maxarenas of obmalloc.c), where its
	 * arena table and its length are in that state, and the sizes.
	 */
	uint32_t interp_obmalloc;
	uint32_t obmalloc_arenas, obmalloc_maxarenas;
	uint32_t pool_size, arena_size;
	uint32_t tstate_native_thread_id;	/* 3.11+, else OBJ_NONE */
};

/*
 * The layout of @t's build; its runtime fields from its _Py_DebugOffsets
 * on 3.13+ (read with @t's pid).  0, or -ENOTSUP / -EFAULT with a reason in err.
 */
int obj_layout_for(const struct pytarget *t, struct obj_layout *out, char *err, size_t errlen);
/*
 * The runtime fields of a 3.13+ layout from the build's _Py_DebugOffsets
 * block (the first len bytes of _PyRuntime).  0, -ENOTSUP or -EINVAL.
 */
int obj_layout_from_debug(const void *block, size_t len, int minor, struct obj_layout *l);
/* The table entry of a minor version (runtime fields as the headers of its tested build). */
const struct obj_layout *obj_layout_table(int minor);

#endif
