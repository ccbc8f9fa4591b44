/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The answer a session's numbers give before anyone reads a table: when
 * most allocated bytes died young, the program churns, and the stacks that
 * churn are the ones to name.
 */
#ifndef PYMEM_SUMMARY_H
#define PYMEM_SUMMARY_H

#include <stdbool.h>
#include <stdio.h>
#include "profile.h"
#include "where.h"

/* More than half of the bytes allocated were freed within 1 ms of their allocation. */
bool summary_churn_dominates(const struct pm_profile *p);

/*
 * When churn dominates, one line: "churn: X of Y allocated were freed
 * within 1 ms: F (file:line) Z, ..." naming the frames (as WHERE names
 * them) that freed the most within 1 ms.  Nothing otherwise.
 */
void summary_churn_print(const struct pm_profile *p, const struct where_rule *w, FILE *f);

/* The view a flame graph opens on when none was asked for, and in @why the reason. */
enum pm_view summary_pick_view(const struct pm_profile *p, char *why, size_t len);

#endif /* PYMEM_SUMMARY_H */
