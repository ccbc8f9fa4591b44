/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The arguments of the agent's GET endpoints.  Each is checked on its own,
 * as libmicrohttpd hands them over; nothing in a query reaches a path, a
 * shell or a format string: it becomes a number, or a hex/UUID string of
 * bounded length that is only compared.
 */
#ifndef PYMEM_AGENT_QUERY_H
#define PYMEM_AGENT_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "cgroup_id.h"

#define QUERY_SECONDS_MAX	3600

enum query_has {
	QUERY_PID	= 1 << 0,
	QUERY_CONTAINER	= 1 << 1,
	QUERY_POD	= 1 << 2,
	QUERY_SECONDS	= 1 << 3,
	QUERY_DEBUG	= 1 << 4,
	QUERY_GC	= 1 << 5,
};

struct agent_query {
	unsigned int has;			/* enum query_has: what was given */
	pid_t pid;
	char container[CGROUP_ID_LEN + 1];	/* lower-case hex, 12 to 64 digits (a prefix) */
	char pod[POD_UID_LEN + 1];		/* lower-case UUID, or a static pod's 32 hex */
	unsigned int seconds;			/* 1..QUERY_SECONDS_MAX */
	unsigned int debug;			/* Go's ?debug=N: 0 binary, 1 text */
};

/*
 * One argument (value NULL when given bare, as "?gc"); 0, or -EINVAL with a
 * one-line reason in err.  An unknown or repeated key is an error.
 */
int query_arg(struct agent_query *q, const char *key, const char *value, char *err, size_t errlen);

/*
 * A whole raw query string ("pid=1&seconds=5", without '?'), split on '&'
 * and '='; no %-decoding (none of the valid values needs it).
 */
int query_parse(struct agent_query *q, const char *qs, size_t len, char *err, size_t errlen);

/* The query selects exactly one of pid, container or pod; else -EINVAL with a reason. */
int query_need_target(const struct agent_query *q, char *err, size_t errlen);

#endif
