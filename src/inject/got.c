// SPDX-License-Identifier: GPL-2.0
/*
 * An entry is redirected only when it is bound to libc's function (or to a
 * PLT entry that jumps there), or not bound yet: a lazy binding's entry
 * points back into its own library's PLT, and the trampoline's tail call
 * goes to libc's function itself, as the binding would (an entry the
 * resolver would bind later is ours already, so it never is).  An entry
 * bound elsewhere (an LD_PRELOADed allocator) is left alone and counted.
 * A library mapped but not relocated yet (a dlopen under way) is looked at
 * again later.  An entry that no longer holds its trampoline when it is
 * restored (the library was unloaded, its address reused) is left alone.
 */
#include <stdlib.h>
#include <string.h>
#include "elf_got.h"
#include "elf_syms.h"
#include "got.h"

/* Entries a library may have for the functions: more are left out */
#define LIB_SLOTS	64

static const char *const names[TRAMP__MAX] = {
	[TRAMP_MALLOC] = "malloc",
	[TRAMP_CALLOC] = "calloc",
	[TRAMP_REALLOC] = "realloc",
	[TRAMP_FREE] = "free",
	[TRAMP_POSIX_MEMALIGN] = "posix_memalign",
	[TRAMP_ALIGNED_ALLOC] = "aligned_alloc",
	[TRAMP_MEMALIGN] = "memalign",
	[TRAMP_VALLOC] = "valloc",
	[TRAMP_REALLOCARRAY] = "reallocarray",
};

struct got_entry {
	uint64_t addr;		/* in the target */
	uint64_t old;		/* what it held */
	enum tramp_fn f;
};

struct got {
	const struct pytarget *t;
	uint64_t libc_fn[TRAMP__MAX], tramp[TRAMP__MAX];
	struct { uint64_t start, inode; } *seen;	/* libraries looked at */
	size_t nseen, seen_cap;
	struct got_entry *e;
	size_t n, cap;
	struct got_stats st;
};

void got_libc_functions(const struct pytarget *t, const struct proc_maps *maps,
			uint64_t libc_fn[TRAMP__MAX])
{
	struct elf_syms *e = t->libc_open[0] ? elf_syms_open(t->libc_open) : NULL;
	uint64_t bias, v;
	int f;

	memset(libc_fn, 0, TRAMP__MAX * sizeof(*libc_fn));
	if (!e)
		return;
	if (!proc_maps_load_bias(maps, t->libc, elf_syms_first_load_vaddr(e), &bias)) {
		for (f = 0; f < TRAMP__MAX; f++)
			if (!elf_syms_lookup(e, names[f], &v, NULL))
				libc_fn[f] = bias + v;
		/* the four a free needs are all there, or nothing is followed */
		for (f = 0; f < TRAMP_TABLE_FNS; f++)
			if (!libc_fn[f])
				memset(libc_fn, 0, TRAMP__MAX * sizeof(*libc_fn));
	}
	elf_syms_close(e);
}

struct got *got_new(const struct pytarget *t, const uint64_t libc_fn[TRAMP__MAX],
		    const uint64_t tramp[TRAMP__MAX])
{
	struct got *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	g->t = t;
	memcpy(g->libc_fn, libc_fn, sizeof(g->libc_fn));
	memcpy(g->tramp, tramp, sizeof(g->tramp));
	return g;
}

/* A library's first mapping, not libc's nor the dynamic linker's */
static bool is_library(const struct got *g, const struct proc_map *m)
{
	const char *b;

	if (!m->path || m->pseudo || m->deleted || m->offset || !strcmp(m->path, g->t->libc))
		return false;
	b = pytarget_base_name(m->path);
	return strncmp(b, "ld-linux", 8) && strncmp(b, "ld-2.", 5);
}

static bool seen(const struct got *g, const struct proc_map *m)
{
	size_t i;

	for (i = 0; i < g->nseen; i++)
		if (g->seen[i].start == m->start && g->seen[i].inode == m->inode)
			return true;
	return false;
}

bool got_news(const struct got *g, const struct proc_maps *maps)
{
	size_t i;

	for (i = 0; i < maps->n; i++)
		if (is_library(g, &maps->v[i]) && !seen(g, &maps->v[i]))
			return true;
	return false;
}

static int grow(void **v, size_t *cap, size_t n, size_t size)
{
	size_t c = *cap ? *cap * 2 : 64;
	void *p;

	if (n < *cap)
		return 0;
	p = realloc(*v, c * size);
	if (!p)
		return -1;
	*v = p;
	*cap = c;
	return 0;
}

/*
 * Is v a PLT entry that jumps through a GOT entry bound to libc's function
 * (or to its trampoline)?  A non-PIE executable that calls malloc makes its
 * own PLT entry malloc's address for everyone (the canonical PLT), so
 * that is what -fno-plt code's GLOB_DAT entries are bound to.
 */
static bool plt_to_libc(const struct got *g, struct inject *in, uint64_t v, enum tramp_fn f)
{
	static const uint8_t endbr64[] = { 0xf3, 0x0f, 0x1e, 0xfa };
	uint8_t code[12];
	uint64_t slot;
	int32_t disp;
	size_t at = 0;

	if (inject_read(in, v, code, sizeof(code)))
		return false;
	if (!memcmp(code, endbr64, sizeof(endbr64)))
		at += sizeof(endbr64);
	if (code[at] == 0xf2)		/* bnd */
		at++;
	if (code[at] != 0xff || code[at + 1] != 0x25)	/* jmp *disp32(%rip) */
		return false;
	memcpy(&disp, code + at + 2, sizeof(disp));
	if (inject_read(in, v + at + 6 + disp, &slot, sizeof(slot)))
		return false;
	return slot == g->libc_fn[f] || slot == g->tramp[f];
}

/* What became of an entry */
enum entry_state {
	ENTRY_OURS,	/* it holds its trampoline (now or before) */
	ENTRY_FOREIGN,	/* bound to another allocator: left alone */
	ENTRY_PENDING,	/* not relocated yet: ld.so is still loading the library */
	ENTRY_SKIPPED,	/* unreadable, or out of memory */
};

/*
 * One entry: redirected if bound to libc's function or to nothing yet (in
 * [lo, hi), its library's lazy PLT).  A value in no executable mapping is
 * the file's own, not relocated yet: another thread's dlopen is between
 * mapping the library and relocating it, and the library is looked at again.
 */
static enum entry_state redirect_entry(struct got *g, struct inject *in,
				       const struct proc_maps *maps, uint64_t addr,
				       enum tramp_fn f, uint64_t lo, uint64_t hi)
{
	const struct proc_map *code;
	uint64_t v;

	if (inject_read(in, addr, &v, sizeof(v)))
		return ENTRY_SKIPPED;
	if (v == g->tramp[f])
		return ENTRY_OURS;
	if (v != g->libc_fn[f] && (v < lo || v >= hi) && !plt_to_libc(g, in, v, f)) {
		code = proc_maps_find(maps, v);
		return code && code->perms[2] == 'x' ? ENTRY_FOREIGN : ENTRY_PENDING;
	}
	if (grow((void **)&g->e, &g->cap, g->n, sizeof(*g->e)) ||
	    inject_write(in, addr, &g->tramp[f], sizeof(g->tramp[f])))
		return ENTRY_SKIPPED;
	g->e[g->n++] = (struct got_entry){ .addr = addr, .old = v, .f = f };
	g->st.entries++;
	return ENTRY_OURS;
}

/*
 * The library whose first mapping is maps->v[i]; false if it is to be
 * looked at again (not relocated yet).  It counts once done, and foreign
 * entries then.
 */
static bool redirect_library(struct got *g, struct inject *in, const struct proc_maps *maps,
			     size_t i)
{
	const struct proc_map *m = &maps->v[i];
	struct elf_got_slot slots[LIB_SLOTS];
	bool interp = !strcmp(m->path, g->t->interp);
	unsigned int count[ENTRY_SKIPPED + 1] = { 0 };
	uint64_t first, hi = m->end;
	char path[PATH_MAX];
	int n, k;

	/* the library's extent: its mappings that follow (a lazy entry points into them) */
	for (; i + 1 < maps->n && maps->v[i + 1].inode == m->inode && maps->v[i + 1].path &&
	       !strcmp(maps->v[i + 1].path, m->path); i++)
		hi = maps->v[i + 1].end;
	pytarget_map_path(g->t->pid, m, path, sizeof(path));
	n = path[0] ? elf_got_slots(path, names, TRAMP__MAX, slots, LIB_SLOTS, &first) : -1;
	for (k = 0; k < n && k < LIB_SLOTS; k++)
		if (g->tramp[slots[k].name] && (!interp || slots[k].name == TRAMP_FREE))
			count[redirect_entry(g, in, maps, m->start - first + slots[k].vaddr,
					     slots[k].name, m->start, hi)]++;
	if (count[ENTRY_PENDING])
		return false;
	g->st.libraries += count[ENTRY_OURS] > 0;
	g->st.foreign += count[ENTRY_FOREIGN];
	return true;
}

void got_interp_bound(const struct pytarget *t, const uint64_t libc_fn[TRAMP__MAX],
		      struct inject *in, const struct proc_maps *maps, bool bound[TRAMP_TABLE_FNS])
{
	/* no trampolines: an entry is libc's function or a PLT entry that jumps there */
	struct got g = { .t = t };
	struct elf_got_slot slots[LIB_SLOTS];
	unsigned int entries[TRAMP_TABLE_FNS] = { 0 }, to_libc[TRAMP_TABLE_FNS] = { 0 };
	const struct proc_map *m = NULL;
	char path[PATH_MAX];
	uint64_t first, v;
	size_t i;
	int n, k, f;

	memcpy(g.libc_fn, libc_fn, sizeof(g.libc_fn));
	memcpy(g.tramp, libc_fn, sizeof(g.tramp));
	for (i = 0; i < maps->n && !m; i++)
		if (maps->v[i].path && !maps->v[i].offset && !strcmp(maps->v[i].path, t->interp))
			m = &maps->v[i];
	path[0] = 0;
	if (m)
		pytarget_map_path(t->pid, m, path, sizeof(path));
	n = path[0] ? elf_got_slots(path, names, TRAMP__MAX, slots, LIB_SLOTS, &first) : -1;
	for (k = 0; k < n && k < LIB_SLOTS; k++) {
		f = slots[k].name;
		if (f >= TRAMP_TABLE_FNS || !libc_fn[f])
			continue;
		entries[f]++;
		if (!inject_read(in, m->start - first + slots[k].vaddr, &v, sizeof(v)) &&
		    (v == libc_fn[f] || plt_to_libc(&g, in, v, f)))
			to_libc[f]++;
	}
	for (f = 0; f < TRAMP_TABLE_FNS; f++)
		bound[f] = entries[f] && entries[f] == to_libc[f];
}

void got_redirect(struct got *g, struct inject *in, const struct proc_maps *maps)
{
	size_t i;

	for (i = 0; i < maps->n; i++) {
		const struct proc_map *m = &maps->v[i];

		if (!is_library(g, m) || seen(g, m) ||
		    grow((void **)&g->seen, &g->seen_cap, g->nseen, sizeof(*g->seen)))
			continue;
		g->seen[g->nseen].start = m->start;
		g->seen[g->nseen].inode = m->inode;
		g->nseen += redirect_library(g, in, maps, i);
	}
}

void got_restore(struct got *g, struct inject *in)
{
	size_t i;
	uint64_t v;

	for (i = 0; g && i < g->n; i++)
		if (!inject_read(in, g->e[i].addr, &v, sizeof(v)) && v == g->tramp[g->e[i].f])
			inject_write(in, g->e[i].addr, &g->e[i].old, sizeof(g->e[i].old));
}

void got_stats(const struct got *g, struct got_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (g)
		*st = g->st;
}

void got_free(struct got *g)
{
	if (!g)
		return;
	free(g->seen);
	free(g->e);
	free(g);
}
