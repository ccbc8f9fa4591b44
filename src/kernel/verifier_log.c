// SPDX-License-Identifier: GPL-2.0
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "verifier_log.h"

void verifier_stats_parse(const char *log, struct verifier_stats *s)
{
	const char *p;

	s->insns = -1;
	s->usec = -1;
	s->stack[0] = 0;
	/* a line of its own: 7.x also says "insns processed A+B+..." per subprogram */
	p = strncmp(log, "processed ", 10) ? strstr(log, "\nprocessed ") : log - 1;
	if (p)
		s->insns = strtol(p + 1 + strlen("processed "), NULL, 10);
	p = strstr(log, "verification time ");
	if (p)
		s->usec = strtol(p + strlen("verification time "), NULL, 10);
	p = strstr(log, "stack depth ");
	if (p)
		sscanf(p + strlen("stack depth "), "%127[0-9+]", s->stack);
}

/* A line of the statistics, or libbpf's frame around the log */
static bool stat_line(const char *l, size_t n)
{
	static const char *const prefixes[] = {
		"processed ", "verification time ", "stack depth ", "-- ", "libbpf: ",
	};
	size_t i;

	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (n >= strlen(prefixes[i]) && !strncmp(l, prefixes[i], strlen(prefixes[i])))
			return true;
	return n == 0;
}

void verifier_refusal(const char *log, char *out, size_t len)
{
	const char *l = log, *end, *best = NULL;
	size_t n, best_n = 0;

	while (*l) {
		end = strchr(l, '\n');
		n = end ? (size_t)(end - l) : strlen(l);
		if (!stat_line(l, n)) {
			best = l;
			best_n = n;
		}
		if (!end)
			break;
		l = end + 1;
	}
	if (!best || !len) {
		snprintf(out, len, "no reason given");
		return;
	}
	snprintf(out, len, "%.*s", (int)best_n, best);
}
