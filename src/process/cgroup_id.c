// SPDX-License-Identifier: GPL-2.0
/*
 * Cgroup path shapes (one line per hierarchy: "ID:CONTROLLERS:PATH", the
 * unified v2 hierarchy's being "0::PATH"; tests/unit/test_cgroup_id.c has a
 * real sample of each, with where it came from):
 *   systemd driver   .../kubepods-burstable-pod<uid, '_' for '-'>.slice/cri-containerd-<id>.scope
 *                    (crio-<id>.scope, docker-<id>.scope, libpod-<id>.scope)
 *   runc given the systemd form under the cgroupfs driver: the kubelet's
 *                    "<slice>:<prefix>:<id>" taken literally as one component
 *   cgroupfs driver  /kubepods/burstable/pod<uid>/<id>  (crio-<id>, /docker/<id>,
 *                    /libpod_parent/libpod-<id>)
 * A container ID is the last path component holding 64 hex digits, its runtime
 * named by the prefix before them or by the component in front ("/docker/<id>",
 * ":cri-containerd:<id>").  A static pod's UID is the 32-hex hash of its
 * manifest, not a UUID.  Components outside the reader's cgroup namespace show
 * as "..": they are skipped like any other component that names nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "cgroup_id.h"

#define STATIC_POD_UID_LEN	32

static const struct {
	const char *name;	/* as a prefix "<name>-<id>" or a component before "<id>" */
	const char *runtime;
} runtimes[] = {
	{ "cri-containerd", "containerd" },
	{ "crio", "cri-o" },
	{ "docker", "docker" },
	{ "libpod", "podman" },
};

static bool lower_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

bool cgroup_pod_uid_valid(const char *s, size_t n)
{
	size_t i;

	if (n == STATIC_POD_UID_LEN)
		return lower_hex(s, n);
	if (n != POD_UID_LEN)
		return false;
	for (i = 0; i < POD_UID_LEN; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !lower_hex(s + i, 1))
			return false;
	}
	return true;
}

static bool ends_with(const char *c, size_t n, const char *suffix)
{
	size_t l = strlen(suffix);

	return n >= l && !memcmp(c + n - l, suffix, l);
}

/* The runtime whose name is exactly c[0..n), or NULL */
static const char *runtime_named(const char *c, size_t n)
{
	size_t i;

	for (i = 0; i < sizeof(runtimes) / sizeof(runtimes[0]); i++)
		if (strlen(runtimes[i].name) == n && !memcmp(c, runtimes[i].name, n))
			return runtimes[i].runtime;
	return NULL;
}

/*
 * A component "[<name>-]<64 hex>[.scope]", @prev the component before it:
 * its ID and runtime.  "crio-conmon-<id>" is the monitor beside the
 * container, not in it, and names none.
 */
static bool container_part(const char *c, size_t n, const char *prev, size_t prevn,
			   struct cgroup_id *out)
{
	const char *runtime = runtime_named(prev, prevn);
	size_t i;

	if (ends_with(c, n, ".scope"))
		n -= 6;
	if (n > CGROUP_ID_LEN + 1 && c[n - CGROUP_ID_LEN - 1] == '-') {
		runtime = NULL;
		for (i = 0; i < sizeof(runtimes) / sizeof(runtimes[0]); i++)
			if (n - CGROUP_ID_LEN - 1 == strlen(runtimes[i].name) &&
			    !memcmp(c, runtimes[i].name, n - CGROUP_ID_LEN - 1))
				runtime = runtimes[i].runtime;
		if (!runtime)
			return false;
		c += n - CGROUP_ID_LEN;
		n = CGROUP_ID_LEN;
	}
	if (n != CGROUP_ID_LEN || !lower_hex(c, n))
		return false;
	memcpy(out->container, c, CGROUP_ID_LEN);
	out->container[CGROUP_ID_LEN] = 0;
	snprintf(out->runtime, sizeof(out->runtime), "%s", runtime ? runtime : "");
	return true;
}

/* A component "...pod<uid>[.slice]": the pod's UID, the systemd driver's '_' back to '-' */
static bool pod_part(const char *c, size_t n, struct cgroup_id *out)
{
	char uid[POD_UID_LEN];
	const char *p;
	size_t i, len;

	if (ends_with(c, n, ".slice"))
		n -= 6;
	for (p = c; (p = memmem(p, n - (p - c), "pod", 3)); p++) {
		len = n - (p + 3 - c);
		if (len != POD_UID_LEN && len != STATIC_POD_UID_LEN)
			continue;
		for (i = 0; i < len; i++)
			uid[i] = p[3 + i] == '_' ? '-' : p[3 + i];
		if (!cgroup_pod_uid_valid(uid, len))
			continue;
		memcpy(out->pod_uid, uid, len);
		out->pod_uid[len] = 0;
		return true;
	}
	return false;
}

/*
 * One cgroup path, split at '/' and at the ':' of the systemd form: fills what
 * it names, the innermost container winning (a kind or minikube node is itself
 * a container); true if it names one.
 */
static bool parse_path(const char *path, size_t len, struct cgroup_id *out)
{
	const char *c = path, *end = path + len, *prev = "";
	size_t n, prevn = 0;
	bool found = false;

	while (c < end) {
		for (n = 0; c + n < end && c[n] != '/' && c[n] != ':'; n++)
			;
		if (n) {
			pod_part(c, n, out);
			if (container_part(c, n, prev, prevn, out))
				found = true;
			prev = c;
			prevn = n;
		}
		c += n + 1;
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
	char path[64], text[16384];
	size_t len = 0;
	ssize_t n = 0;
	int fd, err;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (len < sizeof(text) - 1 && (n = read(fd, text + len, sizeof(text) - 1 - len)) > 0)
		len += (size_t)n;
	err = n < 0 ? -errno : 0;
	close(fd);
	if (err)
		return err;
	text[len] = 0;
	cgroup_id_parse(text, out);
	return 0;
}
