/* SPDX-License-Identifier: GPL-2.0 */
/* Kernel maps to a profile: symbolize stacks while the target lives, then aggregate. */
#ifndef PYMEM_COLLECT_H
#define PYMEM_COLLECT_H

#include "probes.h"
#include "profile.h"
#include "symbolize.h"

struct collector;
struct news;

/*
 * The reader of the news ring every target shares: each record goes to the
 * collector of its process.
 */
struct news *news_new(const struct probes *p);
void news_free(struct news *n);
/* Wait up to timeout_ms for records, handing each to its collector.  0 or -errno. */
int news_poll(struct news *n, int timeout_ms);
/* A descriptor that polls readable when records wait */
int news_fd(const struct news *n);

/* The collector of target pt, fed by n. */
struct collector *collector_new(const struct probe_target *pt, struct symbolizer *s,
				struct news *n);
void collector_free(struct collector *c);

/* Wait up to timeout_ms, symbolizing new stacks as the kernel reports them. */
int collector_wait(struct collector *c, int timeout_ms);

/*
 * Build a profile of everything counted so far, after taking in what the
 * ring still holds (header fields are left to the caller).
 */
int collector_profile(struct collector *c, struct pm_profile *out);

/* The frames of stack @id, as symbolized; -ENOENT for a stack never seen. */
int collector_frames(const struct collector *c, uint64_t id, const struct pm_frame **frames,
		     size_t *n);

#endif
