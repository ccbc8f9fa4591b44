/* SPDX-License-Identifier: GPL-2.0 */
/* Kernel maps to a profile: symbolize stacks while the target lives, then aggregate. */
#ifndef PYMEM_COLLECT_H
#define PYMEM_COLLECT_H

#include "probes.h"
#include "profile.h"
#include "symbolize.h"

struct collector;

/* sample_interval: sampled mode's (counts are scaled to estimates), 0 exact */
struct collector *collector_new(const struct probes *p, struct symbolizer *s,
				uint64_t sample_interval);
void collector_free(struct collector *c);

/* Wait up to timeout_ms, symbolizing new stacks as the kernel reports them. */
int collector_wait(struct collector *c, int timeout_ms);

/*
 * Build a profile of everything counted so far, after taking in what the
 * ring still holds (header fields are left to the caller).
 */
int collector_profile(struct collector *c, struct pm_profile *out);

#endif
