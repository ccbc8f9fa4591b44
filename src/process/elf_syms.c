// SPDX-License-Identifier: GPL-2.0
/* ELF symbol tables, PT_LOAD segments and .rodata sections, read with libelf. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* qsort_r */
#endif
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "elf_syms_priv.h"
#include "grow.h"

static int add_sym(struct elf_syms *e, const GElf_Sym *sym, const char *name)
{
	size_t len = strlen(name);
	const char *at = strchr(name, '@');
	struct esym *s;
	int bind = GELF_ST_BIND(sym->st_info);
	int type = GELF_ST_TYPE(sym->st_info);
	int err;

	err = grow_array((void **)&e->syms, &e->syms_cap, e->nsyms + 1, sizeof(*e->syms));
	if (!err)
		err = grow_array((void **)&e->names, &e->names_cap, e->names_len + len + 1, 1);
	if (err)
		return err;
	s = &e->syms[e->nsyms++];
	s->addr = sym->st_value;
	s->size = sym->st_size;
	s->name = e->names_len;
	s->nlen = at ? (size_t)(at - name) : len;
	s->shndx = sym->st_shndx;
	s->bind_rank = bind == STB_GLOBAL ? 0 : bind == STB_WEAK ? 1 : 2;
	s->under = strspn(name, "_");
	s->func = type == STT_FUNC || type == STT_GNU_IFUNC;
	memcpy(e->names + e->names_len, name, len + 1);
	e->names_len += len + 1;
	return 0;
}

static bool keep_sym(const GElf_Sym *sym)
{
	int type = GELF_ST_TYPE(sym->st_info);

	if (type != STT_FUNC && type != STT_GNU_IFUNC && type != STT_OBJECT)
		return false;
	/* Undefined PLT stubs can carry a value; ABS/COMMON values are not addresses. */
	return sym->st_value && sym->st_shndx != SHN_UNDEF && sym->st_shndx < SHN_LORESERVE;
}

static int read_symtab(struct elf_syms *e, Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t i, n;
	GElf_Sym sym;
	const char *name;
	int err;

	if (!data || !sh->sh_entsize)
		return 0;
	n = sh->sh_size / sh->sh_entsize;
	for (i = 1; i < n; i++) {
		if (!gelf_getsym(data, i, &sym) || !keep_sym(&sym))
			continue;
		name = elf_strptr(elf, sh->sh_link, sym.st_name);
		if (!name || !*name)
			continue;
		err = add_sym(e, &sym, name);
		if (err)
			return err;
	}
	return 0;
}

static int read_loads(struct elf_syms *e, Elf *elf)
{
	size_t i, n;
	GElf_Phdr ph;

	if (elf_getphdrnum(elf, &n))
		return -ENOEXEC;
	e->loads = calloc(n ? n : 1, sizeof(*e->loads));
	if (!e->loads)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD)
			continue;
		e->loads[e->nloads++] = (struct erange){
			.addr = ph.p_vaddr, .size = ph.p_memsz, .filesz = ph.p_filesz,
			.offset = ph.p_offset, .flags = ph.p_flags,
		};
	}
	return 0;
}

static int read_sections(struct elf_syms *e, Elf *elf)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	size_t idx, shstrndx;
	const char *name;
	int err;

	if (elf_getshdrnum(elf, &e->nsecs) || elf_getshdrstrndx(elf, &shstrndx))
		return -ENOEXEC;
	e->secs = calloc(e->nsecs ? e->nsecs : 1, sizeof(*e->secs));
	e->ro = calloc(e->nsecs ? e->nsecs : 1, sizeof(*e->ro));
	if (!e->secs || !e->ro)
		return -ENOMEM;
	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &sh))
			return -ENOEXEC;
		idx = elf_ndxscn(scn);
		if (idx < e->nsecs && (sh.sh_flags & SHF_ALLOC))
			e->secs[idx] = (struct erange){ .addr = sh.sh_addr, .size = sh.sh_size };
		if (sh.sh_type == SHT_SYMTAB || sh.sh_type == SHT_DYNSYM) {
			e->has_symtab |= sh.sh_type == SHT_SYMTAB;
			err = read_symtab(e, elf, scn, &sh);
			if (err)
				return err;
			continue;
		}
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (sh.sh_type == SHT_PROGBITS && name && !strncmp(name, ".rodata", 7))
			e->ro[e->nro++] = (struct erange){
				.addr = sh.sh_addr, .size = sh.sh_size, .filesz = sh.sh_size,
				.offset = sh.sh_offset,
			};
	}
	return 0;
}

static int sym_cmp(const void *a, const void *b, void *names)
{
	const struct esym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	/* Exported first; then the public-looking name (calloc over __libc_calloc). */
	if ((x->bind_rank == 2) != (y->bind_rank == 2))
		return x->bind_rank == 2 ? 1 : -1;
	if (x->under != y->under)
		return x->under - y->under;
	if (x->bind_rank != y->bind_rank)
		return x->bind_rank - y->bind_rank;
	if (!x->size != !y->size)
		return x->size ? -1 : 1;
	if (x->nlen != y->nlen)
		return x->nlen < y->nlen ? -1 : 1;
	return strcmp((char *)names + x->name, (char *)names + y->name);
}

/* Sorts, drops the .symtab copy of each .dynsym entry, and indexes functions. */
static int finish_syms(struct elf_syms *e)
{
	size_t i, j, n = 0, group = 0;
	bool dup;

	qsort_r(e->syms, e->nsyms, sizeof(*e->syms), sym_cmp, e->names);
	for (i = 0; i < e->nsyms; i++) {
		if (!n || e->syms[n - 1].addr != e->syms[i].addr)
			group = n;
		dup = false;
		for (j = group; j < n && !dup; j++)
			dup = !strcmp(e->names + e->syms[j].name, e->names + e->syms[i].name);
		if (!dup)
			e->syms[n++] = e->syms[i];
	}
	e->nsyms = n;
	e->funcs = calloc(n ? n : 1, sizeof(*e->funcs));
	if (!e->funcs)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		if (e->syms[i].func)
			e->funcs[e->nfuncs++] = i;
	return 0;
}

static struct elf_syms *open_files;

static bool same_file(const struct elf_syms *e, const struct stat *st)
{
	return e->dev == st->st_dev && e->ino == st->st_ino && e->fsize == st->st_size &&
	       e->mtime.tv_sec == st->st_mtim.tv_sec && e->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

struct elf_syms *elf_syms_open(const char *path)
{
	struct elf_syms *e, *o;
	struct stat st;
	Elf *elf = NULL;
	int err;

	if (elf_version(EV_CURRENT) == EV_NONE) {
		errno = EINVAL;
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (e->fd < 0 || fstat(e->fd, &st)) {
		err = -errno;
		goto err;
	}
	for (o = open_files; o; o = o->next) {
		if (same_file(o, &st)) {
			close(e->fd);
			free(e);
			o->refs++;
			return o;
		}
	}
	e->dev = st.st_dev;
	e->ino = st.st_ino;
	e->fsize = st.st_size;
	e->mtime = st.st_mtim;
	elf = elf_begin(e->fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		err = -ENOEXEC;
		goto err;
	}
	err = read_loads(e, elf);
	if (!err)
		err = read_sections(e, elf);
	if (!err)
		err = finish_syms(e);
	if (err)
		goto err;
	elf_end(elf);
	e->refs = 1;
	e->next = open_files;
	open_files = e;
	return e;
err:
	elf_end(elf);
	elf_syms_close(e);
	errno = -err;
	return NULL;
}

void elf_syms_close(struct elf_syms *e)
{
	struct elf_syms **at;

	if (!e || (e->refs && --e->refs))
		return;
	for (at = &open_files; *at; at = &(*at)->next) {
		if (*at == e) {
			*at = e->next;
			break;
		}
	}
	if (e->fd >= 0)
		close(e->fd);
	free(e->syms);
	free(e->funcs);
	free(e->names);
	free(e->loads);
	free(e->secs);
	free(e->ro);
	free(e);
}

uint64_t elf_syms_first_load_vaddr(const struct elf_syms *e)
{
	uint64_t page = sysconf(_SC_PAGESIZE), min = UINT64_MAX;
	size_t i;

	for (i = 0; i < e->nloads; i++)
		if (e->loads[i].addr < min)
			min = e->loads[i].addr;
	return e->nloads ? min & ~(page - 1) : 0;
}

bool elf_syms_has_symtab(const struct elf_syms *e)
{
	return e->has_symtab;
}
