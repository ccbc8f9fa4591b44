// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "query.h"

#define QUERY_ARG_MAX	128	/* longest key or value accepted */

/* A decimal in [min, max], digits only; false otherwise. */
static bool parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (!s || !*s || strlen(s) > 10)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	if (v < min || v > max)
		return false;
	*out = v;
	return true;
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool copy_hex(const char *s, size_t min, size_t max, char *out)
{
	size_t n = s ? strlen(s) : 0;

	if (n < min || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_hex(s[i]))
			return false;
	memcpy(out, s, n + 1);
	return true;
}

/* The kubelet's pod UIDs: a lower-case UUID, or a static pod's 32 hex digits */
static bool copy_pod_uid(const char *s, char *out)
{
	size_t n = s ? strlen(s) : 0;

	if (!cgroup_pod_uid_valid(s, n))
		return false;
	memcpy(out, s, n + 1);
	return true;
}

int query_arg(struct agent_query *q, const char *key, const char *value, char *err, size_t errlen)
{
	unsigned long v;
	unsigned int bit;
	bool ok;

	if (!key || strlen(key) > QUERY_ARG_MAX || (value && strlen(value) > QUERY_ARG_MAX)) {
		snprintf(err, errlen, "query argument too long");
		return -EINVAL;
	}
	if (!strcmp(key, "pid")) {
		bit = QUERY_PID;
		ok = parse_uint(value, 1, 4194304, &v);	/* PID_MAX_LIMIT */
		if (ok)
			q->pid = (pid_t)v;
	} else if (!strcmp(key, "container")) {
		bit = QUERY_CONTAINER;
		ok = copy_hex(value, 12, CGROUP_ID_LEN, q->container);
	} else if (!strcmp(key, "pod")) {
		bit = QUERY_POD;
		ok = copy_pod_uid(value, q->pod);
	} else if (!strcmp(key, "seconds")) {
		bit = QUERY_SECONDS;
		ok = parse_uint(value, 1, QUERY_SECONDS_MAX, &v);
		if (ok)
			q->seconds = (unsigned int)v;
	} else if (!strcmp(key, "debug")) {
		bit = QUERY_DEBUG;
		ok = parse_uint(value, 0, 1, &v);
		if (ok)
			q->debug = (unsigned int)v;
	} else if (!strcmp(key, "gc")) {
		/* Go's heap endpoint runs a GC first; here the heap is read as it is */
		bit = QUERY_GC;
		ok = !value || parse_uint(value, 0, 1, &v);
	} else {
		snprintf(err, errlen, "unknown query argument (pid, container, pod, seconds, debug, gc)");
		return -EINVAL;
	}
	if (q->has & bit) {
		snprintf(err, errlen, "query argument %s given twice", key);
		return -EINVAL;
	}
	if (!ok) {
		snprintf(err, errlen, "bad value for %s", key);
		return -EINVAL;
	}
	q->has |= bit;
	return 0;
}

int query_parse(struct agent_query *q, const char *qs, size_t len, char *err, size_t errlen)
{
	char key[QUERY_ARG_MAX + 2], value[QUERY_ARG_MAX + 2];
	size_t i = 0;

	memset(q, 0, sizeof(*q));
	while (i < len) {
		size_t k = 0, v = 0;
		bool has_value = false;
		int ret;

		for (; i < len && qs[i] != '&' && qs[i] != '='; i++)
			if (k <= QUERY_ARG_MAX)
				key[k++] = qs[i];
		if (i < len && qs[i] == '=') {
			has_value = true;
			for (i++; i < len && qs[i] != '&'; i++)
				if (v <= QUERY_ARG_MAX)
					value[v++] = qs[i];
		}
		i++;	/* the '&' */
		if (!k && !has_value)
			continue;
		if (memchr(key, 0, k) || memchr(value, 0, v)) {
			snprintf(err, errlen, "NUL in query");
			return -EINVAL;
		}
		key[k] = 0;
		value[v] = 0;
		ret = query_arg(q, key, has_value ? value : NULL, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

int query_need_target(const struct agent_query *q, char *err, size_t errlen)
{
	unsigned int targets = q->has & (QUERY_PID | QUERY_CONTAINER | QUERY_POD);

	if (!targets || (targets & (targets - 1))) {
		snprintf(err, errlen, "give exactly one of pid, container or pod");
		return -EINVAL;
	}
	return 0;
}
