// SPDX-License-Identifier: GPL-2.0
/* libFuzzer: the agent's query strings (agent/query.c), which come off the network. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "query.h"

static void check_hex(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);

	if (n < min || n > max || strspn(s, "0123456789abcdef") != n)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_query q;
	char err[128];

	err[0] = 0;
	if (query_parse(&q, (const char *)data, size, err, sizeof(err))) {
		if (!err[0] || !memchr(err, 0, sizeof(err)))
			abort();	/* every refusal says why */
		return 0;
	}
	/* what was accepted is what the header promises */
	if ((q.has & QUERY_PID) && (q.pid < 1 || q.pid > 4194304))
		abort();
	if (q.has & QUERY_CONTAINER)
		check_hex(q.container, 12, CGROUP_ID_LEN);
	if ((q.has & QUERY_POD) && !cgroup_pod_uid_valid(q.pod, strlen(q.pod)))
		abort();
	if ((q.has & QUERY_SECONDS) && (q.seconds < 1 || q.seconds > QUERY_SECONDS_MAX))
		abort();
	if ((q.has & QUERY_DEBUG) && q.debug > 1)
		abort();
	query_need_target(&q, err, sizeof(err));
	return 0;
}
