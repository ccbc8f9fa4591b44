// SPDX-License-Identifier: GPL-2.0
#include <math.h>
#include "sample_scale.h"

static uint64_t scaled(uint64_t v, double w)
{
	return (uint64_t)llround((double)v * w);
}

void pm_sample_objects(struct pm_counts *c, uint64_t raw_bytes)
{
	double w;

	if (!raw_bytes)
		return;
	w = (double)c->alloc_bytes / (double)raw_bytes;
	c->alloc_objects = scaled(c->alloc_objects, w);
	c->free_objects = scaled(c->free_objects, w);
	c->live_objects = scaled(c->live_objects, w);
}
