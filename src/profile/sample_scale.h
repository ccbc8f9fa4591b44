/* SPDX-License-Identifier: GPL-2.0 */
/* Sampled mode's counts to unbiased estimates (see trampoline.h for the sampling). */
#ifndef PYMEM_SAMPLE_SCALE_H
#define PYMEM_SAMPLE_SCALE_H

#include <stdint.h>
#include "profile.h"

/*
 * Scale one stack's sampled counters by 1 / (1 - e^(-size/interval)), the
 * inverse of the probability that an allocation of its average size was
 * sampled, as Go's heap profile does: every counter of the stack, so that
 * its live, freed and lifetime figures stay consistent with its allocated
 * ones.  interval 0 (exact) leaves them alone.
 */
void pm_sample_scale(struct pm_counts *c, uint64_t interval);

#endif
