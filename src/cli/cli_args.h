/* SPDX-License-Identifier: GPL-2.0 */
/* Command-line parsing shared by pymem-bpf's commands. */
#ifndef PYMEM_CLI_ARGS_H
#define PYMEM_CLI_ARGS_H

#include <argp.h>
#include "pytarget.h"

/* Bad input: one line and exit 2, without argp_error()'s second "Try --help" line */
#define arg_fail(state, ...)	argp_failure((state), EXIT_BAD_INPUT, 0, __VA_ARGS__)

#endif
