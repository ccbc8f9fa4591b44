// SPDX-License-Identifier: GPL-2.0
/* ELF symbol tables, PT_LOAD segments and .rodata scanning, read with libelf. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* memmem, qsort_r */
#endif
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
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

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t ncap = *cap ? *cap : 64;
	void *np;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	np = realloc(*p, ncap * elem);
	if (!np)
		return -ENOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}

static int add_sym(struct elf_syms *e, const GElf_Sym *sym, const char *name)
{
	size_t len = strlen(name);
	const char *at = strchr(name, '@');
	struct esym *s;
	int bind = GELF_ST_BIND(sym->st_info);
	int type = GELF_ST_TYPE(sym->st_info);
	int err;

	err = grow((void **)&e->syms, &e->syms_cap, e->nsyms + 1, sizeof(*e->syms));
	if (!err)
		err = grow((void **)&e->names, &e->names_cap, e->names_len + len + 1, 1);
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

/* PY_VERSION search */
#define VER_MAX_CANDS	16
#define VER_MAX_LEN	32

struct ver_cand {
	char s[VER_MAX_LEN];
	unsigned int whole;	/* occurrences as a complete string */
	unsigned int total;
	uint64_t first;		/* lowest vaddr seen */
};

static const char *skip_digits(const char *p, const char *end)
{
	while (p < end && *p >= '0' && *p <= '9')
		p++;
	return p;
}

/* Length of "<digits>[([abc]|rc)<digits>][+]" at @p when a NUL ends it, else 0. */
static size_t version_tail(const char *p, const char *end)
{
	const char *q = skip_digits(p, end), *rel = q;

	if (q == p)
		return 0;
	if (q + 1 < end && q[0] == 'r' && q[1] == 'c')
		rel = q + 2;
	else if (q < end && (*q == 'a' || *q == 'b' || *q == 'c'))
		rel = q + 1;
	if (rel != q) {
		q = skip_digits(rel, end);
		if (q == rel)
			return 0;
	}
	if (q < end && *q == '+')
		q++;
	return q < end && !*q ? (size_t)(q - p) : 0;
}

static void add_cand(struct ver_cand *c, size_t *n, const char *s, size_t len, bool whole,
		     uint64_t vaddr)
{
	size_t i;

	if (len >= VER_MAX_LEN)
		return;
	for (i = 0; i < *n; i++)
		if (strlen(c[i].s) == len && !memcmp(c[i].s, s, len))
			break;
	if (i == *n) {
		if (*n == VER_MAX_CANDS)
			return;
		memset(&c[i], 0, sizeof(c[i]));
		memcpy(c[i].s, s, len);
		c[i].first = vaddr;
		(*n)++;
	}
	c[i].whole += whole;
	c[i].total++;
	if (vaddr < c[i].first)
		c[i].first = vaddr;
}

static int scan_range(const struct elf_syms *e, const struct erange *r, const char *prefix,
		      struct ver_cand *c, size_t *n)
{
	size_t plen = strlen(prefix), tail;
	char *buf, *p, *end;
	ssize_t got;
	int err = 0;

	if (!r->filesz)
		return 0;
	buf = malloc(r->filesz);
	if (!buf)
		return -ENOMEM;
	got = pread(e->fd, buf, r->filesz, r->offset);
	if (got < 0) {
		err = -errno;
		goto out;
	}
	end = buf + got;
	for (p = buf; (p = memmem(p, end - p, prefix, plen)); p++) {
		/* "13.11.2" or "2.3.11.2" is some other number, not a tail-merged literal. */
		if (p > buf && ((p[-1] >= '0' && p[-1] <= '9') || p[-1] == '.'))
			continue;
		tail = version_tail(p + plen, end);
		if (tail)
			add_cand(c, n, p, plen + tail, p == buf || !p[-1], r->addr + (p - buf));
	}
out:
	free(buf);
	return err;
}

/* The version Py_Version (3.11+) spells, e.g. "3.12.0rc1"; empty if unavailable. */
static void py_version_hex_str(const struct elf_syms *e, char *out, size_t len)
{
	static const char *const level[16] = { [0xA] = "a", [0xB] = "b", [0xC] = "rc" };
	uint64_t addr;
	uint32_t v;

	out[0] = 0;
	if (elf_syms_lookup(e, "Py_Version", &addr, NULL) ||
	    elf_syms_read(e, addr, &v, sizeof(v)))
		return;
	if ((v >> 4 & 0xf) == 0xF)
		snprintf(out, len, "%u.%u.%u", v >> 24, v >> 16 & 0xff, v >> 8 & 0xff);
	else if (level[v >> 4 & 0xf])
		snprintf(out, len, "%u.%u.%u%s%u", v >> 24, v >> 16 & 0xff, v >> 8 & 0xff,
			 level[v >> 4 & 0xf], v & 0xf);
}

static bool agrees(const struct ver_cand *c, const char *hexver)
{
	size_t len = strcspn(c->s, "+");

	return *hexver && strlen(hexver) == len && !memcmp(c->s, hexver, len);
}

static bool better(const struct ver_cand *a, const struct ver_cand *b, const char *hexver)
{
	if (agrees(a, hexver) != agrees(b, hexver))
		return agrees(a, hexver);
	if (!a->whole != !b->whole)
		return a->whole;
	if (a->total != b->total)
		return a->total > b->total;
	return a->first < b->first;
}

int elf_syms_find_python_version(const struct elf_syms *e, int major, int minor, char *out,
				 size_t outlen)
{
	struct ver_cand cands[VER_MAX_CANDS];
	char prefix[32], hexver[VER_MAX_LEN];
	const struct ver_cand *best = NULL;
	size_t i, n = 0;
	int err;

	snprintf(prefix, sizeof(prefix), "%d.%d.", major, minor);
	for (i = 0; i < e->nro; i++) {
		err = scan_range(e, &e->ro[i], prefix, cands, &n);
		if (err)
			return err;
	}
	/* Without section headers, fall back to read-only, non-exec segments. */
	for (i = 0; !e->nro && i < e->nloads; i++) {
		if ((e->loads[i].flags & (PF_R | PF_W | PF_X)) != PF_R)
			continue;
		err = scan_range(e, &e->loads[i], prefix, cands, &n);
		if (err)
			return err;
	}
	if (!n)
		return -ENOENT;
	py_version_hex_str(e, hexver, sizeof(hexver));
	for (i = 0; i < n; i++)
		if (!best || better(&cands[i], best, hexver))
			best = &cands[i];
	if (strlen(best->s) >= outlen)
		return -ENOSPC;
	strcpy(out, best->s);
	return 0;
}
