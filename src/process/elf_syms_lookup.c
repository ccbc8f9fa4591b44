// SPDX-License-Identifier: GPL-2.0
/*
 * Questions to an open ELF file: a symbol by name, the function at an
 * address, and where an address's bytes are in the file.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "elf_syms_priv.h"

/* "@VER" and "@@VER" name the same version; "@@" only marks it as the default. */
static bool same_version(const char *stored, const char *query)
{
	if (*stored != '@')
		return true;	/* libelf gives .dynsym names without their version */
	stored += strspn(stored, "@");
	query += strspn(query, "@");
	return !strcmp(stored, query);
}

int elf_syms_lookup(const struct elf_syms *e, const char *name, uint64_t *vaddr,
		    uint64_t *size)
{
	const char *at = strchr(name, '@');
	size_t qlen = at ? (size_t)(at - name) : strlen(name);
	const struct esym *s, *best = NULL;
	size_t i;

	for (i = 0; i < e->nsyms; i++) {
		s = &e->syms[i];
		if (s->nlen != qlen || memcmp(e->names + s->name, name, qlen))
			continue;
		if (at && !same_version(e->names + s->name + qlen, at))
			continue;
		if (!best || s->bind_rank < best->bind_rank)
			best = s;
	}
	if (!best)
		return -ENOENT;
	*vaddr = best->addr;
	if (size)
		*size = best->size;
	return 0;
}

static const struct erange *load_of(const struct elf_syms *e, uint64_t vaddr, size_t len)
{
	const struct erange *l;
	size_t i;

	for (i = 0; i < e->nloads; i++) {
		l = &e->loads[i];
		if (vaddr >= l->addr && vaddr - l->addr < l->filesz &&
		    len <= l->filesz - (vaddr - l->addr))
			return l;
	}
	return NULL;
}

int elf_syms_vaddr_to_offset(const struct elf_syms *e, uint64_t vaddr, uint64_t *off)
{
	const struct erange *l = load_of(e, vaddr, 1);

	if (!l)
		return -ERANGE;
	*off = l->offset + (vaddr - l->addr);
	return 0;
}

int elf_syms_read(const struct elf_syms *e, uint64_t vaddr, void *buf, size_t len)
{
	const struct erange *l = load_of(e, vaddr, len);
	ssize_t n;

	if (!l)
		return -ERANGE;
	n = pread(e->fd, buf, len, l->offset + (vaddr - l->addr));
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

static bool in_range(uint64_t a, uint64_t start, uint64_t size)
{
	return a >= start && a - start < size;
}

/* Whether a size-0 symbol at @sym may claim @vaddr: both in one section or segment. */
static bool same_area(const struct elf_syms *e, const struct esym *sym, uint64_t vaddr)
{
	const struct erange *r;
	size_t i;

	if (sym->shndx < e->nsecs && e->secs[sym->shndx].size) {
		r = &e->secs[sym->shndx];
		return in_range(sym->addr, r->addr, r->size) && in_range(vaddr, r->addr, r->size);
	}
	for (i = 0; i < e->nloads; i++) {
		r = &e->loads[i];
		if (in_range(sym->addr, r->addr, r->size))
			return in_range(vaddr, r->addr, r->size);
	}
	return false;
}

const char *elf_syms_symbolize(const struct elf_syms *e, uint64_t vaddr, uint64_t *sym_off)
{
	size_t lo = 0, hi = e->nfuncs, mid, first, k;
	const struct esym *s, *hit = NULL;
	bool sized = false;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (e->syms[e->funcs[mid]].addr <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	/* lo - 1 is the last function at or below vaddr; back up to its best alias. */
	first = lo - 1;
	while (first && e->syms[e->funcs[first - 1]].addr == e->syms[e->funcs[lo - 1]].addr)
		first--;
	for (k = first; k < lo && !hit; k++) {
		s = &e->syms[e->funcs[k]];
		sized |= s->size != 0;
		if (s->size && vaddr - s->addr < s->size)
			hit = s;
	}
	/* Past the end of a sized function is padding or unnamed code, not a match. */
	if (!hit && !sized && same_area(e, &e->syms[e->funcs[first]], vaddr))
		hit = &e->syms[e->funcs[first]];
	if (!hit)
		return NULL;
	if (sym_off)
		*sym_off = vaddr - hit->addr;
	return e->names + hit->name;
}
