// SPDX-License-Identifier: GPL-2.0
/*
 * A live block of a sampled run is one sample, its size already weighed
 * (bpf/sample.bpf.h), but it stands for more than one object: as many as
 * its stack's profile counts it for (sample_scale.h), so that the holders'
 * and the heap's object counts agree with the stacks'.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "probes.h"
#include "pymem.h"
#include "sample_scale.h"
#include "stack_weights.h"

struct want {
	struct stack_weights *w;
	pid_t pid;
};

static int on_stats(void *arg, const struct pid_key *k, const struct stack_stats *st)
{
	struct want *want = arg;
	struct stack_weights *w = want->w;
	struct stack_weight *v;

	if (k->pid != (__u32)want->pid || !st->alloc_raw_bytes)
		return 0;
	if (w->n == w->cap) {
		v = realloc(w->v, (w->cap ? w->cap * 2 : 256) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		w->v = v;
		w->cap = w->cap ? w->cap * 2 : 256;
	}
	w->v[w->n++] = (struct stack_weight){
		.stack_id = k->key,
		.objects = pm_sample_weight(st->alloc_bytes, st->alloc_raw_bytes),
	};
	return 0;
}

static int by_id(const void *a, const void *b)
{
	const struct stack_weight *x = a, *y = b;

	return x->stack_id < y->stack_id ? -1 : x->stack_id > y->stack_id;
}

int stack_weights_read(const struct probes *p, pid_t pid, struct stack_weights *out)
{
	struct want want = { out, pid };
	int err;

	memset(out, 0, sizeof(*out));
	err = probes_stats_each(p, on_stats, &want);
	if (err) {
		stack_weights_free(out);
		return err;
	}
	qsort(out->v, out->n, sizeof(*out->v), by_id);
	return 0;
}

void stack_weights_free(struct stack_weights *w)
{
	free(w->v);
	memset(w, 0, sizeof(*w));
}

double stack_weight(const struct stack_weights *w, uint64_t stack_id)
{
	struct stack_weight key = { .stack_id = stack_id }, *hit;

	if (!w->n)
		return 1.0;
	hit = bsearch(&key, w->v, w->n, sizeof(*w->v), by_id);
	return hit ? hit->objects : 1.0;
}
