// SPDX-License-Identifier: GPL-2.0
/*
 * Ground truth for test_obj_layout: built against one CPython build's own
 * (internal) headers, prints a fixture entry of offsetof()/sizeof() on the
 * real structs, for the fields of struct obj_layout the installed headers
 * declare.  (3.8-3.10's PyDictKeysObject is private to dictobject.c: those
 * keys fields are checked by decoding live dicts in test_holders.py.)
 *
 *   ./a.out ELF BUILD   (ELF holds _PyRuntime, BUILD is "pyenv" or "debian")
 */
#include "cpython_internal.h"
#include <structmember.h>
#if PY_VERSION_HEX >= 0x03090000
#include "pycore_gc.h"
#endif
#if PY_VERSION_HEX >= 0x030b0000
#include "pycore_dict.h"
#endif
#if PY_VERSION_HEX >= 0x030c0000
#include "pycore_obmalloc.h"
#endif

#define PUT(field, val)	printf(" { \"%s\", %lu },", #field, (unsigned long)(val))
#define OFF(field, type, member)	PUT(field, offsetof(type, member))

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: obj_layout_probe ELF BUILD\n");
		return 2;
	}
	printf("\t{ \"%s\", \"%s\", %d, {", argv[2], argv[1], PY_MINOR_VERSION);
	PUT(gc_head, sizeof(PyGC_Head));
	OFF(tp_name, PyTypeObject, tp_name);
	OFF(tp_basicsize, PyTypeObject, tp_basicsize);
	OFF(tp_itemsize, PyTypeObject, tp_itemsize);
	OFF(tp_flags, PyTypeObject, tp_flags);
	OFF(tp_members, PyTypeObject, tp_members);
	OFF(tp_base, PyTypeObject, tp_base);
	OFF(tp_dict, PyTypeObject, tp_dict);
	OFF(tp_dictoffset, PyTypeObject, tp_dictoffset);
	OFF(list_item, PyListObject, ob_item);
	OFF(tuple_item, PyTupleObject, ob_item);
	OFF(dict_keys, PyDictObject, ma_keys);
	OFF(dict_values, PyDictObject, ma_values);
	OFF(set_mask, PySetObject, mask);
	OFF(set_table, PySetObject, table);
	OFF(cell_ref, PyCellObject, ob_ref);
	OFF(func_code, PyFunctionObject, func_code);
	OFF(func_defaults, PyFunctionObject, func_defaults);
	OFF(func_kwdefaults, PyFunctionObject, func_kwdefaults);
	OFF(func_closure, PyFunctionObject, func_closure);
	OFF(func_dict, PyFunctionObject, func_dict);
	OFF(bytearray_bytes, PyByteArrayObject, ob_bytes);
	PUT(member_size, sizeof(PyMemberDef));
	OFF(member_type, PyMemberDef, type);
	OFF(member_offset, PyMemberDef, offset);
#if PY_VERSION_HEX >= 0x030f0000
	OFF(bytearray_object, PyByteArrayObject, ob_bytes_object);
#endif
#if PY_VERSION_HEX < 0x030b0000
	OFF(code_nlocals, PyCodeObject, co_nlocals);
	OFF(code_varnames, PyCodeObject, co_varnames);
	OFF(code_cellvars, PyCodeObject, co_cellvars);
	OFF(code_freevars, PyCodeObject, co_freevars);
	OFF(frame_localsplus, PyFrameObject, f_localsplus);
	OFF(interp_modules, PyInterpreterState, modules);
#else
	OFF(ht_cached_keys, PyHeapTypeObject, ht_cached_keys);
	PUT(flag_managed_dict, Py_TPFLAGS_MANAGED_DICT);
	OFF(keys_log2_size, PyDictKeysObject, dk_log2_size);
	OFF(keys_log2_index_bytes, PyDictKeysObject, dk_log2_index_bytes);
	OFF(keys_kind, PyDictKeysObject, dk_kind);
	OFF(keys_nentries, PyDictKeysObject, dk_nentries);
	OFF(keys_indices, PyDictKeysObject, dk_indices);
	OFF(code_nlocalsplus, PyCodeObject, co_nlocalsplus);
	OFF(code_localsplusnames, PyCodeObject, co_localsplusnames);
	OFF(code_nfreevars, PyCodeObject, co_nfreevars);
	OFF(frame_localsplus, _PyInterpreterFrame, localsplus);
	OFF(tstate_native_thread_id, PyThreadState, native_thread_id);
#endif
#if PY_VERSION_HEX >= 0x030c0000
	PUT(flag_managed_weakref, Py_TPFLAGS_MANAGED_WEAKREF);
	OFF(interp_modules, PyInterpreterState, imports.modules);
#elif PY_VERSION_HEX >= 0x030b0000
	OFF(interp_modules, PyInterpreterState, modules);
#endif
#if PY_VERSION_HEX >= 0x030c0000
	/* 3.12 keeps pymalloc's state in the interpreter, 3.13+ a pointer to it */
	OFF(interp_obmalloc, PyInterpreterState, obmalloc);
	OFF(obmalloc_arenas, struct _obmalloc_state, mgmt.arenas);
	OFF(obmalloc_maxarenas, struct _obmalloc_state, mgmt.maxarenas);
	PUT(pool_size, POOL_SIZE);
	PUT(arena_size, ARENA_SIZE);
#endif
#if PY_VERSION_HEX >= 0x030d0000
	PUT(flag_inline_values, Py_TPFLAGS_INLINE_VALUES);
	OFF(dictvalues_values, PyDictValues, values);
#endif
	printf(" { NULL, 0 } } },\n");
	return 0;
}
