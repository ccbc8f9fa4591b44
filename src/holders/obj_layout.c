// SPDX-License-Identifier: GPL-2.0
/* Object layouts per minor version (see obj_layout.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "obj_layout.h"
#include "py_debug_offsets.h"
#include "remote.h"

#define TYPE_OFFSETS \
	.gc_head = 16, .tp_name = 24, .tp_basicsize = 32, .tp_itemsize = 40, .tp_flags = 168, \
	.tp_members = 240, .tp_base = 256, .tp_dict = 264, .tp_dictoffset = 288, \
	.list_item = 24, .dict_keys = 32, .dict_values = 40, .set_mask = 32, .set_table = 40, \
	.cell_ref = 16, .bytearray_bytes = 32, .member_size = 40, .member_type = 8, \
	.member_offset = 16

/* 3.8-3.10: dk_size, dk_lookup, dk_usable, dk_nentries, then the indices */
#define OLD_DICT \
	.ht_cached_keys = OBJ_NONE, .dictvalues_values = 0, .keys_size = 8, \
	.keys_log2_size = OBJ_NONE, .keys_log2_index_bytes = OBJ_NONE, .keys_kind = OBJ_NONE, \
	.keys_nentries = 32, .keys_indices = 40, .tuple_item = 24, \
	.code_nlocals = 28, .code_varnames = 72, .code_cellvars = 88, .code_freevars = 80, \
	.code_nlocalsplus = OBJ_NONE, .code_localsplusnames = OBJ_NONE, \
	.bytearray_object = OBJ_NONE, \
	.code_nfreevars = OBJ_NONE, .tstate_native_thread_id = OBJ_NONE, \
	.interp_obmalloc = OBJ_NONE, .obmalloc_arenas = OBJ_NONE, .obmalloc_maxarenas = OBJ_NONE

#define NEW_DICT \
	.keys_size = OBJ_NONE, .keys_log2_size = 8, .keys_log2_index_bytes = 9, .keys_kind = 10, \
	.keys_nentries = 24, .keys_indices = 32, .flag_managed_dict = 1 << 4, \
	.code_nlocals = OBJ_NONE, .code_varnames = OBJ_NONE, .code_cellvars = OBJ_NONE, \
	.code_freevars = OBJ_NONE, .code_localsplusnames = 96, .func_code = 48, \
	.pool_size = 16384, .arena_size = 1 << 20, \
	.func_defaults = 56, .func_kwdefaults = 64, .func_closure = 72, .func_dict = 88

static const struct obj_layout table[] = {
	{ .minor = 8, TYPE_OFFSETS, OLD_DICT, .func_code = 16, .func_defaults = 32,
	  .func_kwdefaults = 40, .func_closure = 48, .func_dict = 72,
	  .frame_localsplus = 360, .interp_modules = 56, .pool_size = 4096, .arena_size = 1 << 18 },
	{ .minor = 9, TYPE_OFFSETS, OLD_DICT, .func_code = 16, .func_defaults = 32,
	  .func_kwdefaults = 40, .func_closure = 48, .func_dict = 72,
	  .frame_localsplus = 360, .interp_modules = 856, .pool_size = 4096, .arena_size = 1 << 18 },
	{ .minor = 10, TYPE_OFFSETS, OLD_DICT, .func_code = 48, .func_defaults = 56,
	  .func_kwdefaults = 64, .func_closure = 72, .func_dict = 88,
	  .frame_localsplus = 352, .interp_modules = 856, .pool_size = 16384, .arena_size = 1 << 20 },
	{ .minor = 11, TYPE_OFFSETS, NEW_DICT, .bytearray_object = OBJ_NONE,
	  .ht_cached_keys = 872, .tuple_item = 24,
	  .dictvalues_values = 0, .code_nlocalsplus = 76, .code_nfreevars = 92,
	  .frame_localsplus = 72, .interp_modules = 888, .tstate_native_thread_id = 160,
	  .interp_obmalloc = OBJ_NONE, .obmalloc_arenas = OBJ_NONE, .obmalloc_maxarenas = OBJ_NONE },
	{ .minor = 12, TYPE_OFFSETS, NEW_DICT, .bytearray_object = OBJ_NONE,
	  .ht_cached_keys = 880, .tuple_item = 24,
	  .flag_managed_weakref = 1 << 3, .dictvalues_values = 0, .code_nlocalsplus = 72,
	  .code_nfreevars = 88, .frame_localsplus = 72, .interp_modules = 944,
	  .tstate_native_thread_id = 144, .interp_obmalloc = 3960, .obmalloc_arenas = 512,
	  .obmalloc_maxarenas = 520 },
	{ .minor = 13, TYPE_OFFSETS, NEW_DICT, .bytearray_object = OBJ_NONE,
	  .ht_cached_keys = 880, .tuple_item = 24,
	  .flag_managed_weakref = 1 << 3, .flag_inline_values = 1 << 2, .dictvalues_values = 8,
	  .code_nlocalsplus = 72, .code_nfreevars = 88, .frame_localsplus = 72,
	  .interp_modules = 7656, .tstate_native_thread_id = 160, .interp_obmalloc = 10800,
	  .obmalloc_arenas = 512, .obmalloc_maxarenas = 520 },
	{ .minor = 14, TYPE_OFFSETS, NEW_DICT, .bytearray_object = OBJ_NONE,
	  .ht_cached_keys = 880, .tuple_item = 32,
	  .flag_managed_weakref = 1 << 3, .flag_inline_values = 1 << 2, .dictvalues_values = 8,
	  .code_nlocalsplus = 72, .code_nfreevars = 88, .frame_localsplus = 80,
	  .interp_modules = 7688, .tstate_native_thread_id = 160, .interp_obmalloc = 10904,
	  .obmalloc_arenas = 512, .obmalloc_maxarenas = 520 },
	{ .minor = 15, TYPE_OFFSETS, NEW_DICT, .bytearray_object = 56,
	  .ht_cached_keys = 888, .tuple_item = 32,
	  .flag_managed_weakref = 1 << 3, .flag_inline_values = 1 << 2, .dictvalues_values = 8,
	  .code_nlocalsplus = 72, .code_nfreevars = 88, .frame_localsplus = 80,
	  .interp_modules = 7592, .tstate_native_thread_id = 184, .interp_obmalloc = 10880,
	  .obmalloc_arenas = 512, .obmalloc_maxarenas = 520 },
};

const struct obj_layout *obj_layout_table(int minor)
{
	size_t i;

	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if ((int)table[i].minor == minor)
			return &table[i];
	return NULL;
}

/* Words of _Py_DebugOffsets (3.13+) holding a runtime field, and its struct's size. */
struct dbg_words {
	unsigned int minor;
	unsigned char is_size, is_modules, ts_size, ts_native, fr_size, fr_localsplus;
};

/* From Include/internal/pycore_runtime.h (3.13) and pycore_debug_offsets.h (3.14+) */
static const struct dbg_words words[] = {
	{ 13, 6, 11, 19, 25, 28, 32 },
	{ 14, 6, 12, 22, 28, 31, 35 },
	{ 15, 6, 12, 22, 31, 39, 43 },
};

/* @field from word @at, which must lie within the struct whose size is word @size. */
static int dbg_field(const uint64_t *w, unsigned int at, unsigned int size, uint32_t *field)
{
	if (w[at] >= w[size] || w[size] >= OBJ_NONE)
		return -EINVAL;
	*field = (uint32_t)w[at];
	return 0;
}

int obj_layout_from_debug(const void *block, size_t len, int minor, struct obj_layout *l)
{
	const struct dbg_words *d = NULL;
	uint64_t w[PY_DEBUG_OFFSETS_SIZE / 8];
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if ((int)words[i].minor == minor)
			d = &words[i];
	if (!d)
		return -ENOTSUP;
	if (len < sizeof(w))
		return -EINVAL;
	memcpy(w, block, sizeof(w));
	if (dbg_field(w, d->is_modules, d->is_size, &l->interp_modules) ||
	    dbg_field(w, d->ts_native, d->ts_size, &l->tstate_native_thread_id) ||
	    dbg_field(w, d->fr_localsplus, d->fr_size, &l->frame_localsplus))
		return -EINVAL;
	return 0;
}

int obj_layout_for(const struct pytarget *t, struct obj_layout *out, char *err, size_t errlen)
{
	const struct obj_layout *l = t->major == 3 ? obj_layout_table(t->minor) : NULL;
	uint8_t block[PY_DEBUG_OFFSETS_SIZE];
	int ret;

	if (!l) {
		snprintf(err, errlen, "no object layout for Python %s", t->version);
		return -ENOTSUP;
	}
	*out = *l;
	if (t->minor < 13)
		return 0;
	ret = remote_read(t->pid, t->runtime, block, sizeof(block)) ? -EFAULT :
	      obj_layout_from_debug(block, sizeof(block), t->minor, out);
	if (ret)
		snprintf(err, errlen, "cannot read the object layout from Python %s's "
			 "_Py_DebugOffsets", t->version);
	return ret;
}
