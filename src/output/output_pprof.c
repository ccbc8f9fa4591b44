// SPDX-License-Identifier: GPL-2.0
/*
 * pprof writer.  The profile is built as protobuf-c messages whose strings,
 * functions and locations are deduplicated through small hash indexes, then
 * packed straight into a deflate stream: the encoded profile is never held
 * whole in memory.
 *
 * Every location carries its function and line, and the single mapping says
 * so, because pprof would otherwise try to symbolize addresses we don't have.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "output_pprof.h"
#include "pprof.pb-c.h"

#define MAPPING_ID	1
#define NVALUES		4
#define UNKNOWN_NAME	"[unknown]"

struct hslot {
	uint64_t hash;
	size_t idx1;		/* entry index + 1; 0 = empty */
};

/* Open addressing over entries kept in a separate array. */
struct hindex {
	struct hslot *slot;
	size_t nslot;		/* a power of two, or 0 */
	size_t used;
};

struct loc_entry {
	Perftools__Profiles__Location loc;
	Perftools__Profiles__Line line;
	Perftools__Profiles__Line *linep;
};

struct pprof_build {
	char **str;
	size_t nstr, capstr;
	struct hindex stridx;
	Perftools__Profiles__Function *fns;
	size_t nfn, capfn;
	struct hindex fnidx;
	struct loc_entry *locs;
	size_t nloc, caploc;
	struct hindex locidx;
	Perftools__Profiles__Sample *samples;
	size_t nsamples;
	uint64_t *loc_ids;
	int64_t *values;
	int64_t *comments;
	size_t ncomments, capcomments;
};

/* String table indexes of the fixed strings. */
struct pprof_names {
	int64_t type[NVALUES];
	int64_t unit[NVALUES];
	int64_t executable;
	int64_t space;
	int64_t deflt;		/* the default sample type */
};

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

static int grow_array(void **arr, size_t *cap, size_t need, size_t size)
{
	size_t ncap = *cap ? *cap : 64;
	void *n;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	n = reallocarray(*arr, ncap, size);
	if (!n)
		return -ENOMEM;
	*arr = n;
	*cap = ncap;
	return 0;
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

/* String table index of @s, adding a copy on first use; -ENOMEM on failure. */
static int64_t intern(struct pprof_build *b, const char *s)
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
	idx = intern(b, s);
	free(s);
	return idx;
}

/* Function id (1-based) of a frame's (name, file); 0 when out of memory. */
static uint64_t function_id(struct pprof_build *b, const struct pm_frame *fr)
{
	const char *fname = fr->function && *fr->function ? fr->function : UNKNOWN_NAME;
	const char *fpath = fr->file ? fr->file : "";
	int64_t name = intern(b, fname);
	int64_t file = intern(b, fpath);
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
	if (sysname < 0 || grow_array((void **)&b->fns, &b->capfn, b->nfn + 1, sizeof(*b->fns)))
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

/* Location id (1-based) of a frame's (function, line); 0 when out of memory. */
static uint64_t location_id(struct pprof_build *b, const struct pm_frame *fr)
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

static int64_t clamp64(uint64_t v)
{
	return v > INT64_MAX ? INT64_MAX : (int64_t)v;
}

/* Values in sample_type order; false when every one is zero. */
static bool stack_values(const struct pm_counts *c, int64_t *v)
{
	v[0] = clamp64(c->alloc_objects);
	v[1] = clamp64(c->alloc_bytes);
	v[2] = clamp64(c->live_objects);
	v[3] = clamp64(c->live_bytes);
	return v[0] || v[1] || v[2] || v[3];
}

static int build_samples(struct pprof_build *b, const struct pm_profile *p)
{
	static const struct pm_frame unknown = { PM_FRAME_NATIVE, UNKNOWN_NAME, "", 0 };
	size_t i, j, nids = 0, next = 0;

	for (i = 0; i < p->nstacks; i++)
		nids += p->stacks[i].nframes ? p->stacks[i].nframes : 1;
	b->samples = calloc(p->nstacks ? p->nstacks : 1, sizeof(*b->samples));
	b->loc_ids = calloc(nids ? nids : 1, sizeof(*b->loc_ids));
	b->values = calloc(p->nstacks ? p->nstacks * NVALUES : 1, sizeof(*b->values));
	if (!b->samples || !b->loc_ids || !b->values)
		return -ENOMEM;

	for (i = 0; i < p->nstacks; i++) {
		const struct pm_stack *s = &p->stacks[i];
		Perftools__Profiles__Sample *sm = &b->samples[b->nsamples];
		int64_t *v = &b->values[b->nsamples * NVALUES];
		uint64_t *ids = &b->loc_ids[next];

		if (!stack_values(&s->c, v))
			continue;
		perftools__profiles__sample__init(sm);
		sm->value = v;
		sm->n_value = NVALUES;
		sm->location_id = ids;
		/* pprof wants the leaf first; a stack with no frame gets a placeholder. */
		for (j = 0; j < s->nframes; j++) {
			ids[j] = location_id(b, &s->frames[s->nframes - 1 - j]);
			if (!ids[j])
				return -ENOMEM;
		}
		if (!s->nframes) {
			ids[0] = location_id(b, &unknown);
			if (!ids[0])
				return -ENOMEM;
		}
		sm->n_location_id = s->nframes ? s->nframes : 1;
		next += sm->n_location_id;
		b->nsamples++;
	}
	return 0;
}

static __attribute__((format(printf, 2, 3)))
int add_comment(struct pprof_build *b, const char *fmt, ...)
{
	int64_t idx;
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	idx = intern(b, s);
	free(s);
	if (idx < 0 || grow_array((void **)&b->comments, &b->capcomments, b->ncomments + 1,
				  sizeof(*b->comments)))
		return -ENOMEM;
	b->comments[b->ncomments++] = idx;
	return 0;
}

/* Lost events are part of every output: each nonzero drop reason is a comment. */
static int build_comments(struct pprof_build *b, const struct pm_profile *p)
{
	int d, err;

	err = add_comment(b, "pymem-bpf: pid %d, python %.*s", p->pid,
			  (int)strnlen(p->version, sizeof(p->version)), p->version);
	if (!err)
		err = add_comment(b, "peak live bytes %" PRIu64 " at %.3f s",
				  p->peak_live_bytes, isfinite(p->peak_time_s) ? p->peak_time_s : 0.0);
	if (!err && p->target_exited)
		err = add_comment(b, "target exited during the session");
	for (d = 0; !err && d < DROP__MAX; d++) {
		if (p->dropped[d])
			err = add_comment(b, "dropped %s=%" PRIu64, pm_drop_name(d), p->dropped[d]);
	}
	return err;
}

static void build_free(struct pprof_build *b)
{
	size_t i;

	for (i = 0; i < b->nstr; i++)
		free(b->str[i]);
	free(b->str);
	free(b->stridx.slot);
	free(b->fns);
	free(b->fnidx.slot);
	free(b->locs);
	free(b->locidx.slot);
	free(b->samples);
	free(b->loc_ids);
	free(b->values);
	free(b->comments);
}

/* A protobuf-c sink that deflates into a FILE; protobuf-c calls it with &base. */
struct gz_sink {
	ProtobufCBuffer base;
	z_stream z;
	FILE *f;
	int err;
	unsigned char out[1 << 15];
};

static void gz_run(struct gz_sink *s, int flush)
{
	int ret;

	do {
		s->z.next_out = s->out;
		s->z.avail_out = sizeof(s->out);
		ret = deflate(&s->z, flush);
		if (ret == Z_STREAM_ERROR) {
			s->err = -EIO;
			return;
		}
		errno = 0;
		if (fwrite(s->out, 1, sizeof(s->out) - s->z.avail_out, s->f) !=
		    sizeof(s->out) - s->z.avail_out) {
			s->err = errno ? -errno : -EIO;
			return;
		}
	} while (s->z.avail_out == 0 || (flush == Z_FINISH && ret != Z_STREAM_END));
}

static void gz_append(ProtobufCBuffer *buf, size_t len, const uint8_t *data)
{
	struct gz_sink *s = (struct gz_sink *)buf;

	while (len && !s->err) {
		uInt n = len > (1u << 30) ? (1u << 30) : len;

		s->z.next_in = (Bytef *)data;
		s->z.avail_in = n;
		gz_run(s, Z_NO_FLUSH);
		data += n;
		len -= n;
	}
}

static int pack_gzip(const Perftools__Profiles__Profile *prof, FILE *f)
{
	struct gz_sink *s;
	int err;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->base.append = gz_append;
	s->f = f;
	/* 15 + 16: a gzip header and trailer rather than a bare zlib stream. */
	if (deflateInit2(&s->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK) {
		free(s);
		return -ENOMEM;
	}
	perftools__profiles__profile__pack_to_buffer(prof, &s->base);
	if (!s->err)
		gz_run(s, Z_FINISH);
	err = s->err;
	deflateEnd(&s->z);
	free(s);
	if (!err && fflush(f))
		err = -errno;
	if (!err && ferror(f))
		err = -EIO;
	return err;
}

static int64_t duration_ns(double s)
{
	if (!isfinite(s) || s <= 0)
		return 0;
	if (s >= 9.2e9)
		return INT64_MAX;
	return (int64_t)(s * 1e9 + 0.5);
}

/* Wire the pointer arrays protobuf-c wants, now that no array moves. */
static int pack_profile(struct pprof_build *b, const struct pm_profile *p,
			const struct pprof_names *nm, FILE *f)
{
	Perftools__Profiles__Profile prof = PERFTOOLS__PROFILES__PROFILE__INIT;
	Perftools__Profiles__ValueType vt[NVALUES], *vtp[NVALUES];
	Perftools__Profiles__ValueType period = PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
	Perftools__Profiles__Mapping map = PERFTOOLS__PROFILES__MAPPING__INIT, *mapp = &map;
	Perftools__Profiles__Sample **sp;
	Perftools__Profiles__Location **lp;
	Perftools__Profiles__Function **fp;
	size_t i;
	int err = -ENOMEM;

	sp = calloc(b->nsamples + 1, sizeof(*sp));
	lp = calloc(b->nloc + 1, sizeof(*lp));
	fp = calloc(b->nfn + 1, sizeof(*fp));
	if (!sp || !lp || !fp)
		goto out;
	for (i = 0; i < NVALUES; i++) {
		perftools__profiles__value_type__init(&vt[i]);
		vt[i].type = nm->type[i];
		vt[i].unit = nm->unit[i];
		vtp[i] = &vt[i];
	}
	for (i = 0; i < b->nsamples; i++)
		sp[i] = &b->samples[i];
	for (i = 0; i < b->nloc; i++) {
		b->locs[i].linep = &b->locs[i].line;
		b->locs[i].loc.line = &b->locs[i].linep;
		b->locs[i].loc.n_line = 1;
		lp[i] = &b->locs[i].loc;
	}
	for (i = 0; i < b->nfn; i++)
		fp[i] = &b->fns[i];

	map.id = MAPPING_ID;
	map.filename = nm->executable;
	map.has_functions = true;
	map.has_filenames = true;
	map.has_line_numbers = true;
	map.has_inline_frames = false;
	period.type = nm->space;
	period.unit = nm->unit[NVALUES - 1];

	prof.n_sample_type = NVALUES;
	prof.sample_type = vtp;
	prof.default_sample_type = nm->deflt;
	prof.n_sample = b->nsamples;
	prof.sample = sp;
	prof.n_mapping = 1;
	prof.mapping = &mapp;
	prof.n_location = b->nloc;
	prof.location = lp;
	prof.n_function = b->nfn;
	prof.function = fp;
	prof.n_string_table = b->nstr;
	prof.string_table = b->str;
	prof.duration_nanos = duration_ns(p->duration_s);
	prof.period_type = &period;
	/* sampled: the mean bytes between samples, as Go's heap profiles say it */
	prof.period = p->sample_interval ? (int64_t)p->sample_interval : 1;
	prof.n_comment = b->ncomments;
	prof.comment = b->comments;
	err = pack_gzip(&prof, f);
out:
	free(sp);
	free(lp);
	free(fp);
	return err;
}

static int intern_names(struct pprof_build *b, const struct pm_profile *p,
			enum pprof_default deflt, struct pprof_names *nm)
{
	/* Sample types in the order of stack_values(); the last is the default. */
	static const char *const types[NVALUES][2] = {
		{ "alloc_objects", "count" }, { "alloc_space", "bytes" },
		{ "inuse_objects", "count" }, { "inuse_space", "bytes" },
	};
	size_t i;

	/* pprof requires string 0 to be "". */
	if (intern(b, "") != 0)
		return -ENOMEM;
	for (i = 0; i < NVALUES; i++) {
		nm->type[i] = intern(b, types[i][0]);
		nm->unit[i] = intern(b, types[i][1]);
		if (nm->type[i] < 0 || nm->unit[i] < 0)
			return -ENOMEM;
	}
	nm->deflt = nm->type[deflt == PPROF_ALLOC_SPACE ? 1 : NVALUES - 1];
	nm->executable = intern(b, p->executable ? p->executable : "");
	nm->space = intern(b, "space");
	return nm->executable < 0 || nm->space < 0 ? -ENOMEM : 0;
}

int output_pprof_write(const struct pm_profile *p, FILE *f)
{
	return output_pprof_write_as(p, PPROF_INUSE_SPACE, f);
}

int output_pprof_write_as(const struct pm_profile *p, enum pprof_default deflt, FILE *f)
{
	struct pprof_build b = { 0 };
	struct pprof_names nm;
	int err;

	err = intern_names(&b, p, deflt, &nm);
	if (!err)
		err = build_comments(&b, p);
	if (!err)
		err = build_samples(&b, p);
	if (!err)
		err = pack_profile(&b, p, &nm, f);
	build_free(&b);
	return err;
}
