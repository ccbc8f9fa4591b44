// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for obj_layout.  Ground truth: offsetof()/sizeof() from each
 * build's own headers (obj_layout_fixtures.h: the pyenv builds 3.8-3.13 and
 * Debian's 3.13-3.15 in the sid root), and for 3.13+ the _Py_DebugOffsets
 * block each build's ELF file holds, decoded as the walk decodes it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "elf_syms.h"
#include "obj_layout.h"
#include "py_debug_offsets.h"

struct field {
	const char *name;
	unsigned long value;
};

struct fixture {
	const char *build;
	const char *elf;
	int minor;
	struct field fields[64];
};

static const struct fixture fixtures[] = {
#include "obj_layout_fixtures.h"
};

#define F(x)	{ #x, offsetof(struct obj_layout, x), sizeof(((struct obj_layout *)0)->x) }

static const struct { const char *name; size_t off, size; } names[] = {
	F(gc_head), F(tp_name), F(tp_basicsize), F(tp_itemsize), F(tp_flags), F(tp_members),
	F(tp_base), F(tp_dict), F(tp_dictoffset), F(ht_cached_keys), F(flag_managed_dict),
	F(flag_managed_weakref), F(flag_inline_values), F(list_item), F(tuple_item), F(dict_keys),
	F(dict_values), F(dictvalues_values), F(keys_size), F(keys_log2_size),
	F(keys_log2_index_bytes), F(keys_kind), F(keys_nentries), F(keys_indices), F(set_mask),
	F(set_table), F(cell_ref), F(func_code), F(func_defaults), F(func_kwdefaults),
	F(func_closure), F(func_dict), F(bytearray_bytes), F(bytearray_object), F(member_size),
	F(member_type), F(member_offset), F(code_nlocals), F(code_varnames), F(code_cellvars),
	F(code_freevars), F(code_nlocalsplus), F(code_localsplusnames), F(code_nfreevars),
	F(frame_localsplus), F(interp_modules), F(tstate_native_thread_id), F(interp_obmalloc),
	F(obmalloc_arenas), F(obmalloc_maxarenas), F(pool_size), F(arena_size),
};

static unsigned long field_of(const struct obj_layout *l, const char *name)
{
	uint64_t v64;
	uint32_t v32;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(names[i].name, name))
			continue;
		if (names[i].size == 8) {
			memcpy(&v64, (const char *)l + names[i].off, 8);
			return v64;
		}
		memcpy(&v32, (const char *)l + names[i].off, 4);
		return v32;
	}
	fail_msg("no field %s in struct obj_layout", name);
	return 0;
}

/* Every field the headers declare has their value in the table. */
static void test_table_matches_headers(void **state)
{
	const struct obj_layout *l;
	const struct field *f;
	size_t i;

	for (i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
		l = obj_layout_table(fixtures[i].minor);
		assert_non_null(l);
		for (f = fixtures[i].fields; f->name; f++)
			if (field_of(l, f->name) != f->value)
				fail_msg("%s 3.%d: %s is %lu, the headers say %lu", fixtures[i].build,
					 fixtures[i].minor, f->name, field_of(l, f->name), f->value);
	}
	assert_null(obj_layout_table(7));
	assert_null(obj_layout_table(16));
}

/* 3.13+: the runtime fields as each build's own _Py_DebugOffsets gives them. */
static void test_debug_offsets_match_headers(void **state)
{
	uint8_t block[PY_DEBUG_OFFSETS_SIZE];
	struct obj_layout l;
	struct elf_syms *e;
	const struct field *f;
	uint64_t vaddr, size;
	size_t i, n = 0;

	for (i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
		if (fixtures[i].minor < 13)
			continue;
		e = elf_syms_open(fixtures[i].elf);
		assert_non_null(e);
		assert_int_equal(elf_syms_lookup(e, "_PyRuntime", &vaddr, &size), 0);
		assert_int_equal(elf_syms_read(e, vaddr, block, sizeof(block)), 0);
		elf_syms_close(e);
		memset(&l, 0, sizeof(l));
		assert_int_equal(obj_layout_from_debug(block, sizeof(block), fixtures[i].minor, &l), 0);
		for (f = fixtures[i].fields; f->name; f++)
			if (!strcmp(f->name, "interp_modules") ||
			    !strcmp(f->name, "tstate_native_thread_id") ||
			    !strcmp(f->name, "frame_localsplus")) {
				assert_int_equal(field_of(&l, f->name), f->value);
				n++;
			}
		/* another minor's words are not this block's */
		assert_int_not_equal(obj_layout_from_debug(block, sizeof(block), 12, &l), 0);
	}
	assert_int_equal(n, 3 * 4);	/* pyenv 3.13, Debian's 3.13, 3.14, 3.15 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_matches_headers),
		cmocka_unit_test(test_debug_offsets_match_headers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
