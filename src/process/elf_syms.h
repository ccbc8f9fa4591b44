/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Symbols, load segments and read-only data of one ELF file, read with libelf.
 *
 * Used to place uprobes (symbol -> vaddr -> file offset), to turn native return
 * addresses into "symbol [dso]", and to find a CPython build's version string.
 * All addresses here are ELF virtual addresses; add the load bias from
 * proc_maps_load_bias() to get runtime addresses.
 */
#ifndef PYMEM_ELF_SYMS_H
#define PYMEM_ELF_SYMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct elf_syms;

/*
 * Reads .symtab and .dynsym (whichever exist), keeping defined function and
 * object symbols with a nonzero value, and the PT_LOAD program headers.
 * Returns NULL with errno set on failure.  A file open already (the same
 * one: device, inode, size and mtime) is shared, not read again, until
 * its last elf_syms_close().
 */
struct elf_syms *elf_syms_open(const char *path);
void elf_syms_close(struct elf_syms *e);

/*
 * Exact name lookup. "malloc" also matches a stored "malloc@@GLIBC_2.2.5";
 * a query carrying "@VER" must match that version. GLOBAL beats WEAK beats
 * LOCAL; among equals the lowest address wins. @size may be NULL.
 * Returns 0 or -ENOENT.
 */
int elf_syms_lookup(const struct elf_syms *e, const char *name, uint64_t *vaddr,
		    uint64_t *size);

/* File offset of the byte at @vaddr, as a uprobe wants it; -ERANGE if not file-backed. */
int elf_syms_vaddr_to_offset(const struct elf_syms *e, uint64_t vaddr, uint64_t *off);

/*
 * Name of the function symbol containing @vaddr, or NULL. Aliases at one
 * address resolve to the same name every time: GLOBAL or WEAK before LOCAL,
 * then the fewest leading underscores, then GLOBAL before WEAK, then nonzero
 * size, then the shortest name, then strcmp order. A symbol of size 0 covers
 * up to the next function symbol, but only within its own section; past the
 * end of a sized one is NULL. @sym_off (may be NULL) gets vaddr - symbol.
 * The string lives as long as @e.
 */
const char *elf_syms_symbolize(const struct elf_syms *e, uint64_t vaddr, uint64_t *sym_off);

/* Page-aligned vaddr of the first PT_LOAD; pair it with proc_maps_load_bias(). */
uint64_t elf_syms_first_load_vaddr(const struct elf_syms *e);
bool elf_syms_has_symtab(const struct elf_syms *e);

/* Copies file bytes backing [vaddr, vaddr + len); -ERANGE if any of it is not in the file. */
int elf_syms_read(const struct elf_syms *e, uint64_t vaddr, void *buf, size_t len);

/*
 * Finds CPython's PY_VERSION string ("3.11.7", "3.12.0rc1", "3.11.2+") in
 * .rodata*: "<major>.<minor>.<micro>" plus an optional ([abc]|rc)N and an
 * optional '+', ending at a NUL. The linker may tail-merge the literal into a
 * longer string such as "/prefix/Python-3.11.7", so a suffix counts too if the
 * character before it is neither a digit nor '.'.
 * Among several distinct candidates the winner is, in order: the one that
 * agrees with the exported Py_Version (3.11+), one that occurs as a whole
 * string, the one occurring most often, the one at the lowest address.
 * Returns 0, -ENOENT if none, -ENOSPC if @outlen is too small.
 */
int elf_syms_find_python_version(const struct elf_syms *e, int major, int minor, char *out,
				 size_t outlen);

#endif /* PYMEM_ELF_SYMS_H */
