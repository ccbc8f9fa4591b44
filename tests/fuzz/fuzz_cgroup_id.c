// SPDX-License-Identifier: GPL-2.0
/* libFuzzer: /proc/PID/cgroup (process/cgroup_id.c); a container's process can shape its own. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "cgroup_id.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cgroup_id id;
	char *text = malloc(size + 1);
	size_t n;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	cgroup_id_parse(text, &id);
	free(text);
	/* an ID is 64 lower-case hex digits or nothing; a pod UID is valid or nothing */
	n = strnlen(id.container, sizeof(id.container));
	if ((n && n != CGROUP_ID_LEN) || strspn(id.container, "0123456789abcdef") != n)
		abort();
	n = strnlen(id.pod_uid, sizeof(id.pod_uid));
	if (n == sizeof(id.pod_uid) || (n && !cgroup_pod_uid_valid(id.pod_uid, n)))
		abort();
	if (strnlen(id.runtime, sizeof(id.runtime)) == sizeof(id.runtime) ||
	    (id.runtime[0] && !id.container[0]))
		abort();
	return 0;
}
