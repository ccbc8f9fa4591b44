/* SPDX-License-Identifier: GPL-2.0 */
/*
 * An index over an array the caller keeps (strings, types, path steps,
 * groups): open addressing by a 64-bit hash, slots holding index + 1.
 * The caller says how to compare an entry with what it looks for, and how
 * to hash an entry again when the index grows.
 */
#ifndef PYMEM_ITABLE_H
#define PYMEM_ITABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct itable {
	uint32_t *slot;
	size_t cap, n;
};

struct itable_ops {
	bool (*same)(const void *ctx, uint32_t i);	/* entry i is what is looked for */
	uint64_t (*hash)(const void *ctx, uint32_t i);	/* entry i's hash */
};

/*
 * The index of the entry that @ops->same() accepts, or UINT32_MAX when
 * there is none; then *slot (when not NULL) is where to record it with
 * itable_put().  -ENOMEM is UINT32_MAX with *slot NULL.
 */
uint32_t itable_find(struct itable *t, uint64_t hash, const struct itable_ops *ops,
		     const void *ctx, uint32_t **slot);
/* Record entry i in the empty slot itable_find() gave. */
void itable_put(struct itable *t, uint32_t *slot, uint32_t i);
void itable_free(struct itable *t);

/* FNV-1a of a C string */
uint64_t itable_hash_str(const char *s);
/* murmur3's finalizer, for numbers that differ in few bits */
uint64_t itable_mix(uint64_t h, uint64_t v);

#endif
