/* SPDX-License-Identifier: GPL-2.0 */
/* Sampled mode's object counts to estimates (see bpf/sample.bpf.h for the bytes). */
#ifndef PYMEM_SAMPLE_SCALE_H
#define PYMEM_SAMPLE_SCALE_H

#include <stdint.h>
#include "profile.h"

/*
 * The BPF side weighs each sample's bytes by 1 / (1 - e^(-size/interval)),
 * the inverse of the probability that it was sampled (Go's estimator), so
 * a stack's byte counters are estimates already; its object counters still
 * count samples.  Each is scaled by the stack's bytes estimated per byte
 * sampled (raw_bytes: what its samples asked for), which is each sample's
 * own weight when the stack's blocks are of one size.  raw_bytes 0 (exact
 * mode) leaves them alone.
 */
void pm_sample_objects(struct pm_counts *c, uint64_t raw_bytes);
/* The objects one sample of a stack stands for: its bytes estimated per byte sampled; 1 exact. */
double pm_sample_weight(uint64_t bytes, uint64_t raw_bytes);

#endif
