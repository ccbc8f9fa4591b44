// SPDX-License-Identifier: GPL-2.0
#include <math.h>
#include "sample_scale.h"

static uint64_t scaled(uint64_t v, double w)
{
	return (uint64_t)llround((double)v * w);
}

void pm_sample_scale(struct pm_counts *c, uint64_t interval)
{
	double avg, w;
	size_t i;

	if (!interval || !c->alloc_objects)
		return;
	avg = (double)c->alloc_bytes / (double)c->alloc_objects;
	w = 1.0 / -expm1(-avg / (double)interval);
	c->alloc_bytes = scaled(c->alloc_bytes, w);
	c->alloc_objects = scaled(c->alloc_objects, w);
	c->free_bytes = scaled(c->free_bytes, w);
	c->free_objects = scaled(c->free_objects, w);
	c->live_bytes = scaled(c->live_bytes, w);
	c->live_objects = scaled(c->live_objects, w);
	c->peak_bytes = scaled(c->peak_bytes, w);
	for (i = 0; i < sizeof(c->freed_within) / sizeof(c->freed_within[0]); i++)
		c->freed_within[i] = scaled(c->freed_within[i], w);
	for (i = 0; i < PYMEM_LIFETIME_BUCKETS; i++)
		c->lifetime_bytes[i] = scaled(c->lifetime_bytes[i], w);
}
