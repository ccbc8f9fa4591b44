// SPDX-License-Identifier: GPL-2.0
#include <math.h>
#include "sample_scale.h"

double pm_sample_weight(uint64_t bytes, uint64_t raw_bytes)
{
	return raw_bytes ? (double)bytes / (double)raw_bytes : 1.0;
}

static uint64_t scaled(uint64_t v, double w)
{
	return (uint64_t)llround((double)v * w);
}

void pm_sample_objects(struct pm_counts *c, uint64_t raw_bytes)
{
	double w;

	if (!raw_bytes)
		return;
	w = pm_sample_weight(c->alloc_bytes, raw_bytes);
	c->alloc_objects = scaled(c->alloc_objects, w);
	c->free_objects = scaled(c->free_objects, w);
	c->live_objects = scaled(c->live_objects, w);
}
