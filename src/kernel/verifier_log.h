/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the kernel's verifier says of a program: its statistics when it
 * accepts one (log level BPF_LOG_STATS), and the reason when it refuses.
 */
#ifndef PYMEM_VERIFIER_LOG_H
#define PYMEM_VERIFIER_LOG_H

#include <stddef.h>
#include <stdio.h>

#define VERIFIER_LOG_STATS	4	/* BPF_LOG_STATS */
/* a refusal's reason and the statistics take a few lines; a truncated log fails the load */
#define VERIFIER_LOG_BUF	65536

struct verifier_stats {
	long insns;		/* instructions processed; -1 if not in the log */
	long usec;		/* verification time */
	char stack[128];	/* per-subprogram stack depth, "96+32+32+96+64" */
};

/* Parse a BPF_LOG_STATS log. */
void verifier_stats_parse(const char *log, struct verifier_stats *s);

/*
 * The verifier's reason for refusing a program, from its log: the last
 * line that is not a statistic, cut to fit out (a NUL-terminated line).
 */
void verifier_refusal(const char *log, char *out, size_t len);

#endif
