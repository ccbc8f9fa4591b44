// SPDX-License-Identifier: GPL-2.0
/*
 * The profile's string table, functions and locations, each entry once:
 * deduplicated through small hash indexes over the arrays protobuf-c
 * packs.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "output_pprof_priv.h"

/* What a hash index compares a candidate entry with. */
struct hkey {
	const struct pprof_build *b;
	const char *s;
	uint64_t a, c;
};

typedef bool (*same_fn)(const struct hkey *k, size_t idx);

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;	/* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

static uint64_t hash_pair(uint64_t a, uint64_t c)
{
	return mix64(a * 0x9e3779b97f4a7c15ULL ^ mix64(c));
}

/* Keep the load at most one half so probes stay short. */
static int hindex_reserve(struct hindex *h)
{
	size_t nslot = h->nslot ? h->nslot * 2 : 256;
	struct hslot *slot;
	size_t i, j;

	if ((h->used + 1) * 2 <= h->nslot)
		return 0;
	slot = calloc(nslot, sizeof(*slot));
	if (!slot)
		return -ENOMEM;
	for (i = 0; i < h->nslot; i++) {
		if (!h->slot[i].idx1)
			continue;
		for (j = h->slot[i].hash & (nslot - 1); slot[j].idx1; j = (j + 1) & (nslot - 1))
			;
		slot[j] = h->slot[i];
	}
	free(h->slot);
	h->slot = slot;
	h->nslot = nslot;
	return 0;
}

/* The slot holding the entry equal to @k, or the empty slot where it goes. */
static struct hslot *hindex_find(struct hindex *h, uint64_t hash, same_fn same,
				 const struct hkey *k)
{
	size_t j;

	for (j = hash & (h->nslot - 1); h->slot[j].idx1; j = (j + 1) & (h->nslot - 1)) {
		if (h->slot[j].hash == hash && same(k, h->slot[j].idx1 - 1))
			return &h->slot[j];
	}
	return &h->slot[j];
}

static bool same_str(const struct hkey *k, size_t idx)
{
	return !strcmp(k->b->str[idx], k->s);
}

static bool same_fn_key(const struct hkey *k, size_t idx)
{
	return k->b->fns[idx].name == (int64_t)k->a && k->b->fns[idx].filename == (int64_t)k->c;
}

static bool same_loc(const struct hkey *k, size_t idx)
{
	return k->b->locs[idx].line.function_id == k->a &&
	       k->b->locs[idx].line.line == (int64_t)k->c;
}

int64_t pprof_intern(struct pprof_build *b, const char *s)
{
	struct hkey k = { .b = b, .s = s };
	uint64_t hash = hash_str(s);
	struct hslot *slot;

	if (hindex_reserve(&b->stridx))
		return -ENOMEM;
	slot = hindex_find(&b->stridx, hash, same_str, &k);
	if (slot->idx1)
		return slot->idx1 - 1;
	if (grow_array((void **)&b->str, &b->capstr, b->nstr + 1, sizeof(*b->str)))
		return -ENOMEM;
	b->str[b->nstr] = strdup(s);
	if (!b->str[b->nstr])
		return -ENOMEM;
	slot->hash = hash;
	slot->idx1 = ++b->nstr;
	b->stridx.used++;
	return b->nstr - 1;
}

/*
 * A Python function's system name is MODULE.FUNCTION (the file's basename
 * without ".py"), the way Python itself qualifies it.  It must differ from
 * the name: pprof takes an unchanged name for an undemangled C++ one and
 * strips "<module>" down to nothing as if it were template arguments.
 */
static int64_t python_system_name(struct pprof_build *b, const char *fname, const char *file)
{
	const char *base = strrchr(file, '/');
	size_t len;
	int64_t idx;
	char *s;

	base = base ? base + 1 : file;
	len = strlen(base);
	if (len > 3 && !strcmp(base + len - 3, ".py"))
		len -= 3;
	if (asprintf(&s, "%.*s.%s", (int)len, *base ? base : "?", fname) < 0)
		return -ENOMEM;
	idx = pprof_intern(b, s);
	free(s);
	return idx;
}

/* Function id (1-based) of a frame's (name, file); 0 when out of memory. */
static uint64_t function_id(struct pprof_build *b, const struct pm_frame *fr)
{
	const char *fname = fr->function && *fr->function ? fr->function : UNKNOWN_NAME;
	const char *fpath = fr->file ? fr->file : "";
	int64_t name = pprof_intern(b, fname);
	int64_t file = pprof_intern(b, fpath);
	Perftools__Profiles__Function *fn;
	struct hkey k = { .b = b };
	struct hslot *slot;
	int64_t sysname;
	uint64_t hash;

	if (name < 0 || file < 0 || hindex_reserve(&b->fnidx))
		return 0;
	k.a = name;
	k.c = file;
	hash = hash_pair(name, file);
	slot = hindex_find(&b->fnidx, hash, same_fn_key, &k);
	if (slot->idx1)
		return slot->idx1;
	sysname = fr->kind == PM_FRAME_PYTHON ? python_system_name(b, fname, fpath) : name;
	if (sysname < 0 ||
	    grow_array((void **)&b->fns, &b->capfn, b->nfn + 1, sizeof(*b->fns)))
		return 0;
	fn = &b->fns[b->nfn];
	perftools__profiles__function__init(fn);
	fn->id = b->nfn + 1;
	fn->name = name;
	fn->system_name = sysname;
	fn->filename = file;
	slot->hash = hash;
	slot->idx1 = ++b->nfn;
	b->fnidx.used++;
	return fn->id;
}

uint64_t pprof_location_id(struct pprof_build *b, const struct pm_frame *fr)
{
	uint64_t fid = function_id(b, fr);
	struct hkey k = { .b = b };
	struct loc_entry *e;
	struct hslot *slot;
	uint64_t hash;

	if (!fid || hindex_reserve(&b->locidx))
		return 0;
	k.a = fid;
	k.c = (int64_t)fr->line;
	hash = hash_pair(fid, k.c);
	slot = hindex_find(&b->locidx, hash, same_loc, &k);
	if (slot->idx1)
		return slot->idx1;
	if (grow_array((void **)&b->locs, &b->caploc, b->nloc + 1, sizeof(*b->locs)))
		return 0;
	e = &b->locs[b->nloc];
	perftools__profiles__location__init(&e->loc);
	perftools__profiles__line__init(&e->line);
	e->loc.id = b->nloc + 1;
	e->loc.mapping_id = MAPPING_ID;
	e->line.function_id = fid;
	e->line.line = fr->line;
	slot->hash = hash;
	slot->idx1 = ++b->nloc;
	b->locidx.used++;
	return e->loc.id;
}
