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
	fprintf(f, "RSS %s, PSS %s; pymalloc arenas %s\n", fmt_bytes(h->rss_bytes, a, sizeof(a)),
		fmt_bytes(h->pss_bytes, b, sizeof(b)), h->pymalloc ? h->pymalloc : "");
}
