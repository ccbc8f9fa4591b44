// SPDX-License-Identifier: GPL-2.0
/* What holds the live bytes, as text (see output_heap.h). */
#include <stdlib.h>
#include "output_heap.h"
#include "output_top.h"
#include "where.h"

#define HEAP_TYPES	15	/* types listed */
#define OPAQUE_TYPES	5	/* containers not walked, by count */

static void print_holders(const struct pm_profile *p, FILE *f)
{
	static const struct where_rule user = { .kind = WHERE_USER };
	char size[32], *path, *where;
	size_t i, j;

	for (i = 0; i < p->nstacks; i++) {
		const struct pm_stack *s = &p->stacks[i];

		if (!s->nholders)
			continue;
		where = where_text(s->frames, s->nframes, &user);
		fprintf(f, "  %s (%s live):\n", where ? where : "?",
			fmt_bytes(s->c.live_bytes, size, sizeof(size)));
		free(where);
		for (j = 0; j < s->nholders; j++) {
			path = pm_holder_path(&s->holders[j]);
			fprintf(f, "    %s -> %s x%llu = %s\n", path ? path : "?",
				s->holders[j].type, (unsigned long long)s->holders[j].objects,
				fmt_bytes(s->holders[j].bytes, size, sizeof(size)));
			free(path);
		}
	}
}

/* pymalloc's arenas: how much of them holds blocks, and where the free room is. */
static void print_pymalloc(const struct pm_heap *h, FILE *f)
{
	uint64_t used = 0, free_bytes = 0;
	char a[32], b[32], c[32], d[32];
	size_t i;

	if (h->pymalloc) {
		fprintf(f, "pymalloc arenas: %s\n", h->pymalloc);
		return;
	}
	for (i = 0; i < h->nclasses; i++) {
		used += h->classes[i].used_blocks * h->classes[i].size;
		free_bytes += h->classes[i].free_blocks * h->classes[i].size;
	}
	fprintf(f, "pymalloc: %llu arenas, %s: blocks in use %s, free in used pools %s, "
		"empty pools %s\n", (unsigned long long)h->arenas,
		fmt_bytes(h->arena_bytes, a, sizeof(a)), fmt_bytes(used, b, sizeof(b)),
		fmt_bytes(free_bytes, c, sizeof(c)),
		fmt_bytes(h->empty_pools * h->pool_size, d, sizeof(d)));
	fprintf(f, "  %8s %8s %12s %12s\n", "SIZE", "POOLS", "USED BLOCKS", "FREE BLOCKS");
	for (i = 0; i < h->nclasses; i++)
		fprintf(f, "  %8u %8llu %12llu %12llu\n", h->classes[i].size,
			(unsigned long long)h->classes[i].pools,
			(unsigned long long)h->classes[i].used_blocks,
			(unsigned long long)h->classes[i].free_blocks);
}

void output_heap_print(const struct pm_profile *p, FILE *f)
{
	const struct pm_heap *h = p->heap;
	char a[32], b[32];
	size_t i;

	fprintf(f, "holders: target stopped %.1f ms, %llu objects walked%s\n", h->paused_ms,
		(unsigned long long)h->objects_walked,
		h->partial ? " (partial: --max-pause ended the walk)" : "");
	print_holders(p, f);
	fprintf(f, "live heap by type (blocks allocated in the session):\n");
	for (i = 0; i < h->ntypes && i < HEAP_TYPES; i++)
		fprintf(f, "  %12s %10llu  %s\n", fmt_bytes(h->types[i].bytes, a, sizeof(a)),
			(unsigned long long)h->types[i].objects, h->types[i].type);
	for (i = 0; i < h->nopaque && i < OPAQUE_TYPES; i++)
		fprintf(f, "  not walked: %s (opaque) x%llu, e.g. at 0x%llx\n", h->opaque[i].type,
			(unsigned long long)h->opaque[i].objects,
			(unsigned long long)h->opaque[i].address);
	if (h->nopaque > OPAQUE_TYPES)
		fprintf(f, "  not walked: %zu more types of containers (opaque; all in the JSON)\n",
			h->nopaque - OPAQUE_TYPES);
	fprintf(f, "RSS %s, PSS %s\n", fmt_bytes(h->rss_bytes, a, sizeof(a)),
		fmt_bytes(h->pss_bytes, b, sizeof(b)));
	print_pymalloc(h, f);
}
