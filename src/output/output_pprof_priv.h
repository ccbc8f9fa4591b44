/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The profile being built, as output_pprof.c (its samples and comments),
 * output_pprof_tables.c (its strings, functions and locations, each once)
 * and output_pprof_pack.c (its encoding) share; other modules use
 * output_pprof.h.
 */
#ifndef PYMEM_OUTPUT_PPROF_PRIV_H
#define PYMEM_OUTPUT_PPROF_PRIV_H

#include <stdint.h>
#include <stdio.h>
#include "output_pprof.h"
#include "pprof.pb-c.h"
#include "grow.h"
#include "profile.h"

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

/* String table index of @s, adding a copy on first use; -ENOMEM on failure. */
int64_t pprof_intern(struct pprof_build *b, const char *s);
/* Location id (1-based) of a frame's (function, line); 0 when out of memory. */
uint64_t pprof_location_id(struct pprof_build *b, const struct pm_frame *fr);

/* output_pprof_pack.c: the built profile, gzipped into f; 0 or -errno. */
int pprof_pack(struct pprof_build *b, const struct pm_profile *p,
	       const struct pprof_names *nm, FILE *f);

#endif /* PYMEM_OUTPUT_PPROF_PRIV_H */
