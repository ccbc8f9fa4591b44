/* SPDX-License-Identifier: GPL-2.0 */
/* Command-line parsing shared by pymem-bpf's commands. */
#ifndef PYMEM_CLI_ARGS_H
#define PYMEM_CLI_ARGS_H

#include <argp.h>
#include <stdbool.h>
#include <stdint.h>
#include "pytarget.h"

/* Bad input: one line and exit 2, without argp_error()'s second "Try --help" line */
#define arg_fail(state, ...)	argp_failure((state), EXIT_BAD_INPUT, 0, __VA_ARGS__)

/* BYTES with an optional K/KiB/M/MiB (binary) suffix; bad input is arg_fail()'s */
uint64_t arg_bytes(const char *arg, struct argp_state *state);
/* A percentage in (0, 100] */
double arg_percent(const char *arg, struct argp_state *state);

/* The keys a command without positional arguments leaves to this: -v, a stray argument */
static inline error_t arg_rest(int key, char *arg, struct argp_state *state, bool *verbose)
{
	switch (key) {
	case 'v':
		*verbose = true;
		return 0;
	case ARGP_KEY_ARG:
		arg_fail(state, "unexpected argument: %s", arg);
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

#endif
