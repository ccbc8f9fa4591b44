/* SPDX-License-Identifier: GPL-2.0 */
/* Folded stacks ("a;b;c VALUE"), the input of flamegraph.pl and friends. */
#ifndef PYMEM_OUTPUT_FOLDED_H
#define PYMEM_OUTPUT_FOLDED_H

#include <stdio.h>
#include "profile.h"

/*
 * One line per distinct rendered stack whose @view value is nonzero, root
 * first, lines in byte order.  Python frames read "function (file:line)",
 * native ones "symbol [dso]".  0 or -errno.
 */
int output_folded_write(const struct pm_profile *p, enum pm_view view, FILE *f);

#endif /* PYMEM_OUTPUT_FOLDED_H */
