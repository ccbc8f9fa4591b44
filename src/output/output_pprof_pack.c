// SPDX-License-Identifier: GPL-2.0
/*
 * The built profile encoded: protobuf-c packs it straight into a deflate
 * stream, so the encoded profile is never held whole in memory.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>
#include "output_pprof_priv.h"

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
int pprof_pack(struct pprof_build *b, const struct pm_profile *p,
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
