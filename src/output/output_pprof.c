// SPDX-License-Identifier: GPL-2.0
/*
 * pprof writer.  The profile is built as protobuf-c messages whose strings,
 * functions and locations are deduplicated through small hash indexes
 * (output_pprof_tables.c), then packed straight into a deflate stream
 * (output_pprof_pack.c): the encoded profile is never held whole in memory.
 * Here: what goes in it, its samples, sample types and comments.
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
#include "output_pprof.h"
#include "output_pprof_priv.h"

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
			ids[j] = pprof_location_id(b, &s->frames[s->nframes - 1 - j]);
			if (!ids[j])
				return -ENOMEM;
		}
		if (!s->nframes) {
			ids[0] = pprof_location_id(b, &unknown);
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
	idx = pprof_intern(b, s);
	free(s);
	if (idx < 0 || grow_array((void **)&b->comments, &b->capcomments,
					b->ncomments + 1, sizeof(*b->comments)))
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
	if (pprof_intern(b, "") != 0)
		return -ENOMEM;
	for (i = 0; i < NVALUES; i++) {
		nm->type[i] = pprof_intern(b, types[i][0]);
		nm->unit[i] = pprof_intern(b, types[i][1]);
		if (nm->type[i] < 0 || nm->unit[i] < 0)
			return -ENOMEM;
	}
	nm->deflt = nm->type[deflt == PPROF_ALLOC_SPACE ? 1 : NVALUES - 1];
	nm->executable = pprof_intern(b, p->executable ? p->executable : "");
	nm->space = pprof_intern(b, "space");
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
		err = pprof_pack(&b, p, &nm, f);
	build_free(&b);
	return err;
}
