// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "cli_args.h"

uint64_t arg_bytes(const char *arg, struct argp_state *state)
{
	static const struct { const char *s; unsigned int shift; } units[] = {
		{ "", 0 }, { "K", 10 }, { "KiB", 10 }, { "M", 20 }, { "MiB", 20 },
	};
	unsigned long long v;
	char *end;
	size_t i;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (end == arg || errno || *arg == '-' || *arg == '+')
		arg_fail(state, "invalid number of bytes: %s", arg);
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(end, units[i].s) && v <= UINT64_MAX >> (16 + units[i].shift))
			return v << units[i].shift;
	arg_fail(state, "invalid number of bytes: %s", arg);
	return 0;
}

double arg_percent(const char *arg, struct argp_state *state)
{
	char *end;
	double v = strtod(arg, &end);

	if (end == arg || *end || !(v > 0 && v <= 100))
		arg_fail(state, "invalid percentage (0 < PCT <= 100): %s", arg);
	return v;
}
