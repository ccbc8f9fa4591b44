/* SPDX-License-Identifier: GPL-2.0 */
/* Test fixtures: a stack's first six counters, the rest zero. */
#ifndef PYMEM_TEST_COUNTS_H
#define PYMEM_TEST_COUNTS_H

#define COUNTS(ab, ao, fb, fo, lb, lo) {					\
	.alloc_bytes = (ab), .alloc_objects = (ao), .free_bytes = (fb),		\
	.free_objects = (fo), .live_bytes = (lb), .live_objects = (lo) }

#endif
