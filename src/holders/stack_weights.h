/* SPDX-License-Identifier: GPL-2.0 */
/* Sampled mode: the objects a live sample of each stack stands for. */
#ifndef PYMEM_STACK_WEIGHTS_H
#define PYMEM_STACK_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct probes;

struct stack_weight {
	uint64_t stack_id;
	double objects;
};

/* Sorted by stack id; empty in exact mode, where every block is one object. */
struct stack_weights {
	struct stack_weight *v;
	size_t n, cap;
};

/* The weights of @pid's sampled stacks, from their counters. 0 or -errno. */
int stack_weights_read(const struct probes *p, pid_t pid, struct stack_weights *out);
void stack_weights_free(struct stack_weights *w);
/* The objects one live block of the stack stands for: 1 unless it was sampled. */
double stack_weight(const struct stack_weights *w, uint64_t stack_id);

#endif
