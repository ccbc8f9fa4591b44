// SPDX-License-Identifier: GPL-2.0
/*
 * Cgroup path shapes (one line per hierarchy: "ID:CONTROLLERS:PATH", the
 * unified v2 hierarchy's being "0::PATH"):
 *   systemd driver  .../kubepods-besteffort-pod<uid, '_' for '-'>.slice/cri-containerd-<id>.scope
 *                   (crio-<id>.scope, docker-<id>.scope, libpod-<id>.scope)
 *   cgroupfs driver /kubepods/besteffort/pod<uid>/<id>  (crio-<id>, /docker/<id>,
 *                   /libpod_parent/libpod-<id>)
 * A container ID is the last path component holding 64 hex digits, its
 * runtime the prefix before them.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "cgroup_id.h"

static const struct {
	const char *prefix;
	const char *runtime;
} prefixes[] = {
	{ "cri-containerd-", "containerd" },
	{ "containerd-", "containerd" },
	{ "crio-", "cri-o" },
	{ "docker-", "docker" },
	{ "libpod-", "podman" },
};

static bool hex_run(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return false;
	return true;
}

/* A component "[prefix]<64 hex>[.scope]": its ID and runtime */
static bool container_part(const char *c, size_t n, struct cgroup_id *out)
{
	const char *runtime = "";
	size_t i, skip = 0;

	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t l = strlen(prefixes[i].prefix);

		if (n > l && !strncmp(c, prefixes[i].prefix, l)) {
			skip = l;
			runtime = prefixes[i].runtime;
			break;
		}
	}
	if (n >= 6 && !strncmp(c + n - 6, ".scope", 6))
		n -= 6;
	if (n - skip != CGROUP_ID_LEN || !hex_run(c + skip, CGROUP_ID_LEN))
		return false;
	memcpy(out->container, c + skip, CGROUP_ID_LEN);
	out->container[CGROUP_ID_LEN] = 0;
	snprintf(out->runtime, sizeof(out->runtime), "%s", runtime);
	return true;
}

/* A component "...pod<uid>[.slice]": the pod's UID, '-' restored */
static bool pod_part(const char *c, size_t n, struct cgroup_id *out)
{
	const char *p;
	size_t i;

	if (n >= 6 && !strncmp(c + n - 6, ".slice", 6))
		n -= 6;
	if (n < POD_UID_LEN + 3)
		return false;
	p = c + n - POD_UID_LEN;
	if (strncmp(p - 3, "pod", 3))
		return false;
	for (i = 0; i < POD_UID_LEN; i++) {
		char ch = p[i] == '_' ? '-' : p[i];

		if (i == 8 || i == 13 || i == 18 || i == 23 ? ch != '-' : !isxdigit((unsigned char)ch))
			return false;
		out->pod_uid[i] = ch;
	}
	out->pod_uid[POD_UID_LEN] = 0;
	return true;
}

/* One cgroup path: fills what it names; true if it names a container */
static bool parse_path(const char *path, size_t len, struct cgroup_id *out)
{
	const char *c = path, *end = path + len, *slash;
	bool found = false;
	size_t n;

	while (c < end) {
		slash = memchr(c, '/', end - c);
		n = (slash ? slash : end) - c;
		if (n) {
			pod_part(c, n, out);
			if (container_part(c, n, out))
				found = true;
		}
		if (!slash)
			break;
		c = slash + 1;
	}
	return found;
}

void cgroup_id_parse(const char *text, struct cgroup_id *out)
{
	const char *line = text, *nl, *path;
	struct cgroup_id best = {};

	for (; *line; line = nl + 1) {
		struct cgroup_id one = {};

		nl = strchr(line, '\n');
		if (!nl)
			nl = line + strlen(line);
		path = memchr(line, ':', nl - line);
		path = path ? memchr(path + 1, ':', nl - path - 1) : NULL;
		if (path) {
			path++;
			/* the first hierarchy that names a container names it for all */
			if (parse_path(path, nl - path, &one) && !best.container[0])
				best = one;
			else if (!best.container[0] && !best.pod_uid[0] && one.pod_uid[0])
				best = one;
		}
		if (!*nl)
			break;
	}
	*out = best;
}

int cgroup_id_read(pid_t pid, struct cgroup_id *out)
{
	char path[64], text[8192];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	text[n] = 0;
	cgroup_id_parse(text, out);
	return 0;
}
