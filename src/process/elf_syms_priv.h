/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One ELF file's tables as elf_syms.c (reading them), elf_syms_lookup.c
 * (answering by name and by address) and elf_py_version.c (the version
 * string) share; other modules use elf_syms.h.
 */
#ifndef PYMEM_ELF_SYMS_PRIV_H
#define PYMEM_ELF_SYMS_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <sys/types.h>
#include "elf_syms.h"

struct esym {
	uint64_t addr;
	uint64_t size;
	uint32_t name;		/* offset into elf_syms.names */
	uint32_t nlen;		/* name length before any "@VER" */
	uint16_t shndx;
	uint8_t bind_rank;	/* 0 GLOBAL, 1 WEAK, 2 anything else */
	uint8_t under;		/* leading underscores, to rank aliases */
	bool func;
};

/* A section or a PT_LOAD segment: where it sits in memory and in the file. */
struct erange {
	uint64_t addr;
	uint64_t size;		/* in memory */
	uint64_t filesz;	/* bytes present in the file */
	uint64_t offset;
	uint32_t flags;		/* p_flags for segments */
};

struct elf_syms {
	/*
	 * The file as opened: a file open already is shared (refs), so that an
	 * agent's fifty processes of one libpython hold its symbols once.
	 */
	dev_t dev;
	ino_t ino;
	off_t fsize;
	struct timespec mtime;
	unsigned int refs;
	struct elf_syms *next;		/* in open_files */
	int fd;
	bool has_symtab;
	struct esym *syms;	/* by address, best alias first */
	size_t nsyms, syms_cap;
	uint32_t *funcs;	/* indices of function symbols, in syms order */
	size_t nfuncs;
	char *names;
	size_t names_len, names_cap;
	struct erange *loads;
	size_t nloads;
	struct erange *secs;	/* indexed by section number; size 0 unless SHF_ALLOC */
	size_t nsecs;
	struct erange *ro;	/* .rodata* sections, scanned for the version string */
	size_t nro;
};

#endif /* PYMEM_ELF_SYMS_PRIV_H */
