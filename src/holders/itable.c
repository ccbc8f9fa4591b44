// SPDX-License-Identifier: GPL-2.0
/* See itable.h; grown when half full. */
#include <errno.h>
#include <stdlib.h>
#include "itable.h"

static int grow(struct itable *t, const struct itable_ops *ops, const void *ctx)
{
	size_t cap = t->cap ? t->cap * 2 : 1024, i, j;
	uint32_t *slot = calloc(cap, sizeof(*slot));

	if (!slot)
		return -ENOMEM;
	for (i = 0; i < t->cap; i++) {
		if (!t->slot[i])
			continue;
		for (j = ops->hash(ctx, t->slot[i] - 1) & (cap - 1); slot[j]; j = (j + 1) & (cap - 1))
			;
		slot[j] = t->slot[i];
	}
	free(t->slot);
	t->slot = slot;
	t->cap = cap;
	return 0;
}

uint32_t itable_find(struct itable *t, uint64_t hash, const struct itable_ops *ops,
		     const void *ctx, uint32_t **slot)
{
	size_t j;

	if (slot)
		*slot = NULL;
	if ((t->n + 1) * 2 > t->cap && grow(t, ops, ctx))
		return UINT32_MAX;
	for (j = hash & (t->cap - 1); t->slot[j]; j = (j + 1) & (t->cap - 1))
		if (ops->same(ctx, t->slot[j] - 1))
			return t->slot[j] - 1;
	if (slot)
		*slot = &t->slot[j];
	return UINT32_MAX;
}

void itable_put(struct itable *t, uint32_t *slot, uint32_t i)
{
	*slot = i + 1;
	t->n++;
}

void itable_free(struct itable *t)
{
	free(t->slot);
	t->slot = NULL;
	t->cap = t->n = 0;
}

uint64_t itable_hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

uint64_t itable_mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}
