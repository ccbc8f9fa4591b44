// SPDX-License-Identifier: GPL-2.0
/*
 * Locating CPython's allocator dispatch tables by decoding the exported
 * allocation entry points with capstone, and classifying what a live process
 * has installed in them.
 */
#include <capstone/capstone.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "alloc_table.h"

#define WALK_INSNS	64	/* entry points reach their table in a handful */
#define WALK_WHOLE_INSNS 256	/* PyMem_GetAllocator, read end to end */
#define WALK_HOPS	3	/* direct jmps followed (tail calls, cold splits) */
#define REFS_MAX	512
#define SPANS_MAX	16

struct span {
	uint64_t start, end;
};

/* A dynamic relocation resolved to the value the loader will store. */
struct reloc {
	uint64_t where, value;
};

/* What finding needs beyond elf_syms: segment permissions and relocations. */
struct image {
	struct elf_syms *e;
	struct span exec[SPANS_MAX], data[SPANS_MAX];
	size_t nexec, ndata;
	struct reloc *rel;
	size_t nrel, relcap;
	csh cs;
};

/* Absolute addresses of the memory an instruction stream touches. */
struct refs {
	uint64_t v[REFS_MAX];
	size_t n;
};

static const char *const domain_names[DOMAIN__MAX] = { "raw", "mem", "obj" };

/* Exported malloc and free of each domain: their loads pin T+8 and T+32. */
static const char *const entry_malloc[DOMAIN__MAX] = {
	"PyMem_RawMalloc", "PyMem_Malloc", "PyObject_Malloc",
};
static const char *const entry_free[DOMAIN__MAX] = {
	"PyMem_RawFree", "PyMem_Free", "PyObject_Free",
};

const char *alloc_domain_name(enum alloc_domain d)
{
	return d < DOMAIN__MAX ? domain_names[d] : "?";
}

static bool in_spans(const struct span *s, size_t n, uint64_t a, uint64_t len)
{
	for (size_t i = 0; i < n; i++)
		if (a >= s[i].start && a + len <= s[i].end && a + len >= a)
			return true;
	return false;
}

static int read_loads(struct image *img, Elf *elf)
{
	size_t n;

	if (elf_getphdrnum(elf, &n))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;
		struct span s;

		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD)
			continue;
		s.start = ph.p_vaddr;
		s.end = ph.p_vaddr + ph.p_memsz;
		if ((ph.p_flags & PF_X) && img->nexec < SPANS_MAX)
			img->exec[img->nexec++] = s;
		if ((ph.p_flags & PF_W) && img->ndata < SPANS_MAX)
			img->data[img->ndata++] = s;
	}
	return img->nexec ? 0 : -ENOENT;
}

static int add_reloc(struct image *img, uint64_t where, uint64_t value)
{
	if (img->nrel == img->relcap) {
		size_t cap = img->relcap ? img->relcap * 2 : 1024;
		struct reloc *r = realloc(img->rel, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		img->rel = r;
		img->relcap = cap;
	}
	img->rel[img->nrel++] = (struct reloc){ where, value };
	return 0;
}

/*
 * Only relocations whose value is known from this file matter: RELATIVE ones
 * (pointers in .data) and symbol ones against a defined symbol (GOT slots of
 * exported data such as _PyRuntime, whose file bytes are zero).
 */
static int read_rela(struct image *img, Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	Elf_Data *symd = NULL;
	Elf_Scn *symscn = elf_getscn(elf, sh->sh_link);
	size_t n = sh->sh_entsize ? sh->sh_size / sh->sh_entsize : 0;

	if (!data)
		return 0;
	if (symscn)
		symd = elf_getdata(symscn, NULL);
	for (size_t i = 0; i < n; i++) {
		GElf_Rela r;
		GElf_Sym sym;
		uint64_t type;
		int err;

		if (!gelf_getrela(data, i, &r))
			break;
		type = GELF_R_TYPE(r.r_info);
		if (type == R_X86_64_RELATIVE) {
			err = add_reloc(img, r.r_offset, r.r_addend);
		} else if (type == R_X86_64_GLOB_DAT || type == R_X86_64_64) {
			if (!symd || !gelf_getsym(symd, GELF_R_SYM(r.r_info), &sym) ||
			    sym.st_shndx == SHN_UNDEF)
				continue;
			err = add_reloc(img, r.r_offset, sym.st_value + r.r_addend);
		} else {
			continue;
		}
		if (err)
			return err;
	}
	return 0;
}

static int reloc_cmp(const void *a, const void *b)
{
	const struct reloc *x = a, *y = b;

	return x->where < y->where ? -1 : x->where > y->where;
}

static int read_relocs(struct image *img, Elf *elf)
{
	Elf_Scn *scn = NULL;
	int err;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_RELA || !(sh.sh_flags & SHF_ALLOC))
			continue;
		err = read_rela(img, elf, scn, &sh);
		if (err)
			return err;
	}
	if (img->nrel)
		qsort(img->rel, img->nrel, sizeof(*img->rel), reloc_cmp);
	return 0;
}

static void image_close(struct image *img)
{
	if (img->cs)
		cs_close(&img->cs);
	free(img->rel);
}

static int image_open(struct image *img, struct elf_syms *e, const char *path)
{
	Elf *elf = NULL;
	int fd, err;

	memset(img, 0, sizeof(*img));
	img->e = e;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf) {
		err = -EINVAL;
		goto out;
	}
	err = read_loads(img, elf);
	if (!err)
		err = read_relocs(img, elf);
	if (!err && cs_open(CS_ARCH_X86, CS_MODE_64, &img->cs) != CS_ERR_OK)
		err = -EINVAL;
	if (!err && cs_option(img->cs, CS_OPT_DETAIL, CS_OPT_ON) != CS_ERR_OK)
		err = -EINVAL;
out:
	if (elf)
		elf_end(elf);
	close(fd);
	if (err)
		image_close(img);
	return err;
}

static const struct reloc *reloc_at(const struct image *img, uint64_t where)
{
	size_t lo = 0, hi = img->nrel;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (img->rel[mid].where == where)
			return &img->rel[mid];
		if (img->rel[mid].where < where)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The pointer the loader leaves at @vaddr: the relocation's value, else the file's bytes. */
static int read_ptr(const struct image *img, uint64_t vaddr, uint64_t *val)
{
	const struct reloc *r = reloc_at(img, vaddr);

	if (r) {
		*val = r->value;
		return 0;
	}
	return elf_syms_read(img->e, vaddr, val, sizeof(*val));
}

static bool refs_has(const struct refs *r, uint64_t a)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i] == a)
			return true;
	return false;
}

static void refs_add(struct refs *r, uint64_t a)
{
	if (!refs_has(r, a) && r->n < REFS_MAX)
		r->v[r->n++] = a;
}

/* The 16 general purpose registers, each with its narrower views. */
static const uint16_t gprs[16][5] = {
	{ X86_REG_RAX, X86_REG_EAX, X86_REG_AX, X86_REG_AL, X86_REG_AH },
	{ X86_REG_RBX, X86_REG_EBX, X86_REG_BX, X86_REG_BL, X86_REG_BH },
	{ X86_REG_RCX, X86_REG_ECX, X86_REG_CX, X86_REG_CL, X86_REG_CH },
	{ X86_REG_RDX, X86_REG_EDX, X86_REG_DX, X86_REG_DL, X86_REG_DH },
	{ X86_REG_RSI, X86_REG_ESI, X86_REG_SI, X86_REG_SIL },
	{ X86_REG_RDI, X86_REG_EDI, X86_REG_DI, X86_REG_DIL },
	{ X86_REG_RBP, X86_REG_EBP, X86_REG_BP, X86_REG_BPL },
	{ X86_REG_RSP, X86_REG_ESP, X86_REG_SP, X86_REG_SPL },
	{ X86_REG_R8, X86_REG_R8D, X86_REG_R8W, X86_REG_R8B },
	{ X86_REG_R9, X86_REG_R9D, X86_REG_R9W, X86_REG_R9B },
	{ X86_REG_R10, X86_REG_R10D, X86_REG_R10W, X86_REG_R10B },
	{ X86_REG_R11, X86_REG_R11D, X86_REG_R11W, X86_REG_R11B },
	{ X86_REG_R12, X86_REG_R12D, X86_REG_R12W, X86_REG_R12B },
	{ X86_REG_R13, X86_REG_R13D, X86_REG_R13W, X86_REG_R13B },
	{ X86_REG_R14, X86_REG_R14D, X86_REG_R14W, X86_REG_R14B },
	{ X86_REG_R15, X86_REG_R15D, X86_REG_R15W, X86_REG_R15B },
};

/* Registers a call may clobber (SysV ABI): rax rcx rdx rsi rdi r8-r11. */
static const int caller_saved[] = { 0, 2, 3, 4, 5, 8, 9, 10, 11 };

static int gpr_index(unsigned int reg)
{
	if (reg == X86_REG_INVALID)
		return -1;
	for (int i = 0; i < 16; i++)
		for (int j = 0; j < 5; j++)
			if (gprs[i][j] == reg)
				return i;
	return -1;
}

/* Registers holding an address we know: set by lea/mov from a GOT slot/mov $imm. */
struct regs {
	uint64_t val[16];
	bool known[16];
};

static bool mem_addr(const cs_insn *in, const cs_x86_op *op, const struct regs *rg, uint64_t *a)
{
	int b = gpr_index(op->mem.base);

	if (op->mem.index != X86_REG_INVALID)
		return false;
	if (op->mem.base == X86_REG_RIP)
		*a = in->address + in->size + op->mem.disp;
	else if (op->mem.base == X86_REG_INVALID)
		*a = (uint64_t)op->mem.disp;	/* absolute, as non-PIE code has */
	else if (b >= 0 && rg->known[b])
		*a = rg->val[b] + op->mem.disp;
	else
		return false;
	return true;
}

/*
 * Records the memory @in touches, then updates what @rg knows. A load from a
 * slot with a dynamic relocation is a GOT load (3.12+ PIC reaches _PyRuntime
 * that way), so the register then holds the relocation's value. A linear sweep
 * past an epilogue would forget a base the later blocks still use: @sticky
 * keeps what is known until a new base replaces it.
 */
static void step(const struct image *img, const cs_insn *in, bool sticky, struct regs *rg,
		 struct refs *r)
{
	const cs_x86 *x = &in->detail->x86;
	cs_regs rd, wr;
	uint8_t nrd = 0, nwr = 0;
	uint64_t a, v;
	int dst = -1;

	for (int i = 0; i < x->op_count; i++)
		if (x->operands[i].type == X86_OP_MEM && mem_addr(in, &x->operands[i], rg, &a) &&
		    in->id != X86_INS_LEA)
			refs_add(r, a);

	if (!sticky && cs_regs_access(img->cs, in, rd, &nrd, wr, &nwr) == CS_ERR_OK)
		for (int i = 0; i < nwr; i++)
			if (gpr_index(wr[i]) >= 0)
				rg->known[gpr_index(wr[i])] = false;
	if (!sticky && in->id == X86_INS_CALL)
		for (size_t i = 0; i < sizeof(caller_saved) / sizeof(caller_saved[0]); i++)
			rg->known[caller_saved[i]] = false;

	if (x->op_count != 2 || x->operands[0].type != X86_OP_REG)
		return;
	dst = gpr_index(x->operands[0].reg);
	if (dst < 0)
		return;
	if (in->id == X86_INS_LEA && mem_addr(in, &x->operands[1], rg, &a)) {
		refs_add(r, a);
		rg->val[dst] = a;
		rg->known[dst] = true;
	} else if (in->id == X86_INS_MOV && x->operands[1].type == X86_OP_MEM &&
		   x->operands[0].size == 8 && mem_addr(in, &x->operands[1], rg, &a) &&
		   reloc_at(img, a) && !read_ptr(img, a, &v)) {
		rg->val[dst] = v;
		rg->known[dst] = true;
	} else if (in->id == X86_INS_MOV && x->operands[1].type == X86_OP_IMM &&
		   in_spans(img->data, img->ndata, (uint64_t)x->operands[1].imm, 1)) {
		refs_add(r, (uint64_t)x->operands[1].imm);
		rg->val[dst] = (uint64_t)x->operands[1].imm;
		rg->known[dst] = true;
	}
}

static bool is_direct_jmp(const cs_insn *in, uint64_t *target)
{
	const cs_x86 *x = &in->detail->x86;

	if (in->id != X86_INS_JMP || x->op_count != 1 || x->operands[0].type != X86_OP_IMM)
		return false;
	*target = (uint64_t)x->operands[0].imm;
	return true;
}

/* Code bytes at @addr: up to @want, shrinking if the segment ends sooner. */
static size_t read_code(const struct image *img, uint64_t addr, uint8_t *buf, size_t want)
{
	for (; want >= 16; want /= 2)
		if (in_spans(img->exec, img->nexec, addr, want) &&
		    !elf_syms_read(img->e, addr, buf, want))
			return want;
	return 0;
}

/*
 * Decodes from @start, following direct jmps. An entry point stops at ret or
 * an indirect jmp; @whole decodes @size bytes end to end instead, for
 * PyMem_GetAllocator whose per-domain copies sit after early returns.
 */
static int walk(const struct image *img, uint64_t start, uint64_t size, bool whole,
		struct refs *r)
{
	uint8_t buf[4096];
	struct regs rg = { 0 };
	int budget = whole ? WALK_WHOLE_INSNS : WALK_INSNS;
	cs_insn *in = cs_malloc(img->cs);
	uint64_t addr = start, target;

	if (!in)
		return -ENOMEM;
	for (int hop = 0; hop <= WALK_HOPS && budget > 0; hop++) {
		size_t want = whole && size && size < sizeof(buf) ? size : sizeof(buf);
		size_t len = read_code(img, addr, buf, want);
		const uint8_t *code = buf;
		uint64_t pc = addr;
		bool next = false;

		while (len && budget-- > 0 && cs_disasm_iter(img->cs, &code, &len, &pc, in)) {
			step(img, in, whole, &rg, r);
			if (whole)
				continue;
			if (in->id == X86_INS_RET || in->id == X86_INS_UD2 || in->id == X86_INS_HLT)
				break;
			if (in->id == X86_INS_JMP) {
				next = is_direct_jmp(in, &target) &&
				       in_spans(img->exec, img->nexec, target, 1);
				break;
			}
		}
		if (!next)
			break;
		addr = target;
	}
	cs_free(in, 1);
	return 0;
}

static int walk_symbol(const struct image *img, const char *name, bool whole, struct refs *r)
{
	uint64_t vaddr, size;
	int err = elf_syms_lookup(img->e, name, &vaddr, &size);

	return err ? err : walk(img, vaddr, size, whole, r);
}

/* The file initializes a table with four pointers into code, in writable data. */
static int read_table(const struct image *img, uint64_t t, uint64_t vals[5])
{
	if (!in_spans(img->data, img->ndata, t, ALLOC_TABLE_SIZE))
		return -ERANGE;
	for (int i = 0; i < ALLOC_SLOT__MAX; i++) {
		if (read_ptr(img, t + 8 * i, &vals[i]))
			return -ERANGE;
		if (i != ALLOC_SLOT_CTX && !in_spans(img->exec, img->nexec, vals[i], 1))
			return -ERANGE;
	}
	return 0;
}

static bool touches(const struct refs *r, uint64_t t)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i] >= t && r->v[i] < t + ALLOC_TABLE_SIZE)
			return true;
	return false;
}

/*
 * Among several validated candidates (never seen so far), keep those that
 * PyMem_GetAllocator also reads; it copies every domain's table.
 */
static int break_tie(const struct image *img, uint64_t *cand, size_t *n)
{
	struct refs *g = calloc(1, sizeof(*g));
	size_t kept = 0;

	if (!g)
		return -ENOMEM;
	if (!walk_symbol(img, "PyMem_GetAllocator", true, g))
		for (size_t i = 0; i < *n; i++)
			if (touches(g, cand[i]))
				cand[kept++] = cand[i];
	if (kept)
		*n = kept;
	free(g);
	return 0;
}

static int find_domain(const struct image *img, enum alloc_domain d, uint64_t *t,
		       uint64_t vals[5])
{
	struct refs *m = calloc(2, sizeof(*m)), *f = m + 1;
	uint64_t cand[8], tmp[5];
	size_t n = 0;
	int err;

	if (!m)
		return -ENOMEM;
	err = walk_symbol(img, entry_malloc[d], false, m);
	if (!err)
		err = walk_symbol(img, entry_free[d], false, f);
	if (err)
		goto out;
	for (size_t i = 0; i < m->n && n < 8; i++) {
		uint64_t c = m->v[i] - 8 * ALLOC_SLOT_MALLOC;

		if (refs_has(f, c + 8 * ALLOC_SLOT_FREE) && !read_table(img, c, tmp))
			cand[n++] = c;
	}
	if (n > 1)
		err = break_tie(img, cand, &n);
	if (err)
		goto out;
	if (n != 1) {
		err = n ? -ENOTUNIQ : -ENOENT;
		goto out;
	}
	*t = cand[0];
	err = read_table(img, cand[0], vals);
out:
	free(m);
	return err;
}

int alloc_table_find(struct elf_syms *e, const char *path, enum alloc_domain d,
		     struct alloc_table *out)
{
	struct image img;
	uint64_t raw;
	int err;

	if (!e || !path || d >= DOMAIN__MAX || !out)
		return -EINVAL;
	err = image_open(&img, e, path);
	if (err)
		return err;
	memset(out, 0, sizeof(*out));
	err = find_domain(&img, d, &out->vaddr, out->defaults);
	if (!err && d == DOMAIN_RAW)
		memcpy(out->raw_defaults, out->defaults, sizeof(out->defaults));
	else if (!err)
		err = find_domain(&img, DOMAIN_RAW, &raw, out->raw_defaults);
	image_close(&img);
	return err;
}

static bool same_table(const uint64_t a[5], const uint64_t b[5])
{
	return !memcmp(a, b, ALLOC_TABLE_SIZE);
}

/* "0x4fb450 (_PyObject_Malloc)" or just the address when no symbol covers it. */
static void describe_ptr(const struct elf_syms *e, uint64_t v, char *buf, size_t len)
{
	uint64_t off = 0;
	const char *sym = elf_syms_symbolize(e, v, &off);

	if (!sym)
		snprintf(buf, len, "%#llx", (unsigned long long)v);
	else if (off)
		snprintf(buf, len, "%#llx (%s+%#llx)", (unsigned long long)v, sym,
			 (unsigned long long)off);
	else
		snprintf(buf, len, "%#llx (%s)", (unsigned long long)v, sym);
}

/* Symbol names tell the two usual hooks apart when the build keeps them. */
static const char *hook_kind(const struct elf_syms *e, uint64_t v)
{
	const char *sym = elf_syms_symbolize(e, v, NULL);

	if (sym && strstr(sym, "tracemalloc"))
		return "tracemalloc installed";
	if (sym && strstr(sym, "Debug"))
		return "debug hooks installed (PYTHONMALLOC=*_debug or -X dev)";
	return "tracemalloc or another hook installed";
}

enum alloc_table_state alloc_table_classify(const struct elf_syms *e, enum alloc_domain d,
					    const struct alloc_table *t, const uint64_t cur[5],
					    char *desc, size_t len)
{
	const char *what;
	enum alloc_table_state st;
	char p[160];

	if (same_table(cur, t->defaults)) {
		st = ALLOC_TABLE_DEFAULT;
		what = "default allocator";
	} else if (d != DOMAIN_RAW && same_table(cur, t->raw_defaults)) {
		st = ALLOC_TABLE_MALLOC;
		what = "PYTHONMALLOC=malloc, the raw allocator";
	} else {
		st = ALLOC_TABLE_HOOKED;
		what = hook_kind(e, cur[ALLOC_SLOT_MALLOC]);
	}
	if (len) {
		describe_ptr(e, cur[ALLOC_SLOT_MALLOC], p, sizeof(p));
		snprintf(desc, len, "%s: %s.malloc -> %s", what, alloc_domain_name(d), p);
	}
	return st;
}
