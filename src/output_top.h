/* SPDX-License-Identifier: GPL-2.0 */
/* The "top" table: the stacks holding the most live memory. */
#ifndef PYMEM_OUTPUT_TOP_H
#define PYMEM_OUTPUT_TOP_H

#include <stdint.h>
#include <stdio.h>
#include "profile.h"

/*
 * Human-readable bytes: "1023 B", "1.0 KiB", "1.5 MiB", "3.2 GiB" (GiB is
 * the largest unit).  Writes into @buf and returns it.
 */
const char *fmt_bytes(uint64_t v, char *buf, size_t len);
/* The frame a row names: the leaf-most Python frame, else the leaf frame. */
const struct pm_frame *output_top_leaf(const struct pm_stack *s);
/*
 * Table of the @n stacks with the most live bytes (stacks with no counts
 * at all are skipped), then a totals row and a "dropped:" line.
 */
void output_top_print(const struct pm_profile *p, size_t n, FILE *f);

#endif /* PYMEM_OUTPUT_TOP_H */
