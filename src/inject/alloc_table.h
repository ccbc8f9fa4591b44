/* SPDX-License-Identifier: GPL-2.0 */
/*
 * CPython's allocator dispatch tables (PyMemAllocatorEx: ctx, malloc, calloc,
 * realloc, free) for the raw, mem and obj domains, found in any build.
 *
 * 3.8-3.11 keep them in the static _PyMem_Raw, _PyMem and _PyObject; 3.12+ in
 * _PyRuntime.allocators.standard.{raw,mem,obj}. Stripped LTO builds have no
 * symbol for either, so the tables are located the same way everywhere: by
 * decoding the exported PyObject_Malloc/PyObject_Free (and the PyMem_ and
 * PyMem_Raw pairs) and intersecting the data they load, then checking that the
 * file initializes the candidate with pointers into executable code.
 */
#ifndef PYMEM_ALLOC_TABLE_H
#define PYMEM_ALLOC_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include "elf_syms.h"

enum alloc_domain { DOMAIN_RAW, DOMAIN_MEM, DOMAIN_OBJ, DOMAIN__MAX };

/* Slots of a PyMemAllocatorEx, 8 bytes each. */
enum { ALLOC_SLOT_CTX, ALLOC_SLOT_MALLOC, ALLOC_SLOT_CALLOC, ALLOC_SLOT_REALLOC, ALLOC_SLOT_FREE,
       ALLOC_SLOT__MAX };
#define ALLOC_TABLE_SIZE	(ALLOC_SLOT__MAX * 8)

enum alloc_table_state {
	ALLOC_TABLE_DEFAULT,	/* as the file initializes it (pymalloc / libc for raw) */
	ALLOC_TABLE_MALLOC,	/* PYTHONMALLOC=malloc: obj/mem hold the raw defaults */
	ALLOC_TABLE_HOOKED,	/* tracemalloc, debug hooks or a custom allocator */
};

struct alloc_table {
	uint64_t vaddr;		/* of the PyMemAllocatorEx in the ELF file (add the load bias for runtime) */
	uint64_t defaults[5];	/* ctx, malloc, calloc, realloc, free as initialized in the file (vaddrs) */
	/*
	 * The raw domain's defaults, which PYTHONMALLOC=malloc installs in the
	 * obj and mem tables; kept here so classification needs no second lookup.
	 */
	uint64_t raw_defaults[5];
};

/* "raw", "mem", "obj" */
const char *alloc_domain_name(enum alloc_domain d);

/*
 * Finds domain @d's table in the ELF file at @path, whose symbols @e holds.
 * @path is opened again for what elf_syms does not keep: segment permissions
 * and the dynamic relocations that fill GOT slots and pointers in .data.
 * Returns 0, -ENOENT if an exported entry point is missing or no candidate
 * validates, -ENOTUNIQ if several do, or another negative errno.
 */
int alloc_table_find(struct elf_syms *e, const char *path, enum alloc_domain d,
		     struct alloc_table *out);

/*
 * Classifies what a live process holds in a table: @cur are the five values
 * read from its memory, already un-biased to file vaddrs (a NULL stays 0: ctx
 * is NULL by default, and un-biasing it would fake a hook). Writes a one-line
 * description to @desc (may be NULL when @len is 0).
 */
enum alloc_table_state alloc_table_classify(const struct elf_syms *e, enum alloc_domain d,
					    const struct alloc_table *t, const uint64_t cur[5],
					    char *desc, size_t len);

#endif /* PYMEM_ALLOC_TABLE_H */
