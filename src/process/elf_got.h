/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The GOT entries of an x86-64 ELF file that the dynamic linker fills with
 * the address of a named symbol (R_X86_64_JUMP_SLOT: a call through the
 * PLT; R_X86_64_GLOB_DAT: a call or a pointer through the GOT, as
 * -fno-plt code makes), read from its relocation sections with libelf.
 */
#ifndef PYMEM_ELF_GOT_H
#define PYMEM_ELF_GOT_H

#include <stddef.h>
#include <stdint.h>

struct elf_got_slot {
	uint64_t vaddr;		/* the entry's ELF virtual address */
	int name;		/* its symbol's index in the names asked for */
};

/*
 * The entries of @path naming one of @names[0..@n): at most @max into @out,
 * in file order, and the vaddr of its first PT_LOAD (where its lowest
 * mapping starts, less the load bias) in @first_load.  Returns how many
 * there are (more than @max: the rest were left out), or -errno (-ENOEXEC:
 * not an x86-64 ELF file).
 */
int elf_got_slots(const char *path, const char *const *names, int n, struct elf_got_slot *out,
		  int max, uint64_t *first_load);

#endif /* PYMEM_ELF_GOT_H */
