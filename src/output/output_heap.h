/* SPDX-License-Identifier: GPL-2.0 */
/* The holders' text: each top stack's retention paths, and the live heap by type. */
#ifndef PYMEM_OUTPUT_HEAP_H
#define PYMEM_OUTPUT_HEAP_H

#include <stdio.h>
#include "profile.h"

/* After the top table: the pause, the top stacks' holders, the heap by type, RSS and PSS. */
void output_heap_print(const struct pm_profile *p, FILE *f);

#endif
