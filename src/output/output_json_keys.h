/* SPDX-License-Identifier: GPL-2.0 */
/* The counters' keys, as the JSON writer writes them and its reader reads them. */
#ifndef PYMEM_OUTPUT_JSON_KEYS_H
#define PYMEM_OUTPUT_JSON_KEYS_H

#include <stdint.h>
#include "profile.h"

static const char *const count_keys[] = {
	"alloc_bytes", "alloc_objects", "free_bytes",
	"free_objects", "live_bytes", "live_objects", "peak_bytes",
};

/* In the order of count_keys. */
static inline uint64_t *count_fields(struct pm_counts *c, size_t i)
{
	uint64_t *f[] = {
		&c->alloc_bytes, &c->alloc_objects, &c->free_bytes,
		&c->free_objects, &c->live_bytes, &c->live_objects, &c->peak_bytes,
	};

	return f[i];
}

#define NCOUNTS	(sizeof(count_keys) / sizeof(count_keys[0]))

static const char *const within_keys[] = { "1ms", "100ms", "1s" };

#endif
