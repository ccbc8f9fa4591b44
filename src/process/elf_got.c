// SPDX-License-Identifier: GPL-2.0
/*
 * A library's GOT entries for named symbols.  The section headers are
 * read, not the dynamic segment: strip keeps them, and every SHT_RELA
 * section linked to the dynamic symbol table (.rela.plt and .rela.dyn) is
 * what the dynamic linker applies.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <string.h>
#include <unistd.h>
#include "elf_got.h"

static int which(const char *sym, const char *const *names, int n)
{
	int i;

	for (i = 0; sym && i < n; i++)
		if (!strcmp(sym, names[i]))
			return i;
	return -1;
}

/* One relocation section's matching entries, counted from *found on */
static void scan_rela(Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh, const char *const *names,
		      int n, struct elf_got_slot *out, int max, int *found)
{
	Elf_Scn *symscn = elf_getscn(elf, sh->sh_link);
	Elf_Data *rel = elf_getdata(scn, NULL), *syms;
	GElf_Shdr symsh;
	size_t i, count;

	if (!rel || !symscn || !gelf_getshdr(symscn, &symsh) || symsh.sh_type != SHT_DYNSYM)
		return;
	syms = elf_getdata(symscn, NULL);
	if (!syms || !sh->sh_entsize)
		return;
	count = sh->sh_size / sh->sh_entsize;
	for (i = 0; i < count; i++) {
		GElf_Rela r;
		GElf_Sym s;
		int type, k;

		if (!gelf_getrela(rel, (int)i, &r))
			break;
		type = GELF_R_TYPE(r.r_info);
		if ((type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT) ||
		    !gelf_getsym(syms, (int)GELF_R_SYM(r.r_info), &s))
			continue;
		k = which(elf_strptr(elf, symsh.sh_link, s.st_name), names, n);
		if (k < 0)
			continue;
		if (*found < max) {
			out[*found].vaddr = r.r_offset;
			out[*found].name = k;
		}
		(*found)++;
	}
}

/* The first PT_LOAD's vaddr (they are in vaddr order), page-aligned as the kernel maps it */
static int first_load_vaddr(Elf *elf, uint64_t *vaddr)
{
	size_t i, n;
	GElf_Phdr ph;

	if (elf_getphdrnum(elf, &n))
		return -ENOEXEC;
	for (i = 0; i < n; i++) {
		if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD) {
			*vaddr = ph.p_vaddr & ~(uint64_t)(sysconf(_SC_PAGESIZE) - 1);
			return 0;
		}
	}
	return -ENOEXEC;
}

int elf_got_slots(const char *path, const char *const *names, int n, struct elf_got_slot *out,
		  int max, uint64_t *first_load)
{
	Elf_Scn *scn = NULL;
	GElf_Ehdr eh;
	int fd, found = 0, ret = 0;
	Elf *elf;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -ENOSYS;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh) ||
	    eh.e_machine != EM_X86_64 || gelf_getclass(elf) != ELFCLASS64 ||
	    first_load_vaddr(elf, first_load)) {
		ret = -ENOEXEC;
		goto out;
	}
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;

		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_RELA)
			scan_rela(elf, scn, &sh, names, n, out, max, &found);
	}
	ret = found;
out:
	elf_end(elf);
	close(fd);
	return ret;
}
