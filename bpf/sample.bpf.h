/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Sampled mode's weights (the sampling is the target's trampolines', see
 * src/inject/trampoline.h; the interval is each target's, in its slot): an allocation of s bytes was sampled with
 * probability 1 - e^(-s/interval), so it stands for s / (1 - e^(-s/interval))
 * bytes, as Go's heap profile scales it.  Weighed here, with the interval
 * in force when it was sampled, every byte counter (and the live table's
 * record of the block, which its free takes back) is an estimate already,
 * whatever interval --max-overhead moves to later.
 */
#ifndef PYMEM_SAMPLE_BPF_H
#define PYMEM_SAMPLE_BPF_H

#include "common.bpf.h"

/* e^-k and e^(-j/64) as fractions of 2^32 */
static const __u64 exp_int[32] = {
	0x100000000ULL, 0x5e2d58d9ULL, 0x22a55547ULL, 0xcbed866ULL, 0x4b0556eULL, 0x1b993feULL,
	0xa27290ULL, 0x3bc2d7ULL, 0x15fc21ULL, 0x81679ULL, 0x2f9afULL, 0x11835ULL, 0x6715ULL,
	0x25ecULL, 0xdf3ULL, 0x522ULL, 0x1e3ULL, 0xb2ULL, 0x41ULL, 0x18ULL, 0x9ULL, 0x3ULL, 0x1ULL,
	0x0ULL, 0x0ULL, 0x0ULL, 0x0ULL, 0x0ULL, 0x0ULL, 0x0ULL, 0x0ULL, 0x0ULL
};

static const __u64 exp_frac[64] = {
	0x100000000ULL, 0xfc07f560ULL, 0xf81fab54ULL, 0xf446e358ULL, 0xf07d5fdeULL, 0xecc2e44fULL,
	0xe9173501ULL, 0xe57a173aULL, 0xe1eb5127ULL, 0xde6aa9ddULL, 0xdaf7e950ULL, 0xd792d853ULL,
	0xd43b4096ULL, 0xd0f0ec9fULL, 0xcdb3a7c8ULL, 0xca833e3cULL, 0xc75f7cf5ULL, 0xc44831b7ULL,
	0xc13d2b0cULL, 0xbe3e3844ULL, 0xbb4b2970ULL, 0xb863cf5dULL, 0xb587fb97ULL, 0xb2b78060ULL,
	0xaff230afULL, 0xad37e031ULL, 0xaa88633eULL, 0xa7e38ee1ULL, 0xa54938caULL, 0xa2b93754ULL,
	0xa0336180ULL, 0x9db78eefULL, 0x9b4597e3ULL, 0x98dd553fULL, 0x967ea07cULL, 0x942953b0ULL,
	0x91dd4986ULL, 0x8f9a5d3cULL, 0x8d606aa5ULL, 0x8b2f4e1fULL, 0x8906e49aULL, 0x86e70b8fULL,
	0x84cfa100ULL, 0x82c08376ULL, 0x80b991ffULL, 0x7ebaac2cULL, 0x7cc3b20eULL, 0x7ad48436ULL,
	0x78ed03b0ULL, 0x770d1204ULL, 0x75349134ULL, 0x736363b6ULL, 0x71996c78ULL, 0x6fd68edbULL,
	0x6e1aaeb0ULL, 0x6c65b039ULL, 0x6ab77825ULL, 0x690feb93ULL, 0x676ef008ULL, 0x65d46b74ULL,
	0x64404430ULL, 0x62b260f8ULL, 0x612aa8eeULL, 0x5fa90397ULL
};

/*
 * s / (1 - e^-x), x = s / interval, in 16-bit fixed point: below 1 from
 * x / (1 - e^-x) = 1 + x/2 + x^2/12 - x^4/720 (within x^6/30240), above
 * from the tables with a linear step (within 1e-4); from 32 on, s itself.
 */
static __always_inline __u64 sample_weigh(__u64 iv, __u64 size)
{
	__u64 x, x2, e;

	if (!iv || !size || size >= 32 * iv)
		return size;
	x = (size << 16) / iv;
	if (x < 1 << 16) {
		x2 = (x * x) >> 16;
		return (iv * ((1 << 16) + x / 2 + x2 / 12 - ((x2 * x2) >> 16) / 720)) >> 16;
	}
	e = (exp_int[(x >> 16) & 31] * exp_frac[(x >> 10) & 63]) >> 32;
	e = (e * ((1ULL << 32) - ((x & 1023) << 16))) >> 32;
	return (size << 16) / (((1ULL << 32) - e) >> 16);
}

/* A logged event's meta, its size weighed */
static __always_inline __u64 sample_meta(__u64 iv, __u64 meta)
{
	return (meta & ~BATCH_META_SIZE(~0ULL)) |
	       BATCH_META_SIZE(sample_weigh(iv, BATCH_META_SIZE(meta)));
}

#endif /* PYMEM_SAMPLE_BPF_H */
