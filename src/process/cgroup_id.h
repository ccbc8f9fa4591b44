/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Which container and Kubernetes pod a process runs in, from the paths of
 * its cgroups (/proc/PID/cgroup): every runtime names its cgroup after the
 * container, and the kubelet names the pod's after its UID.
 */
#ifndef PYMEM_CGROUP_ID_H
#define PYMEM_CGROUP_ID_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define CGROUP_ID_LEN	64	/* a container ID: 64 hex digits */
#define POD_UID_LEN	36	/* a UUID; a static pod's is 32 hex digits */

struct cgroup_id {
	char container[CGROUP_ID_LEN + 1];	/* "" outside a container */
	char pod_uid[POD_UID_LEN + 1];		/* "" outside a pod */
	char runtime[16];	/* "containerd", "cri-o", "docker", "podman", or "" if not named */
};

/*
 * s[0..n) is a pod UID as the kubelet writes it: a lower-case UUID, or a
 * static pod's 32 hex digits (the hash of its manifest).
 */
bool cgroup_pod_uid_valid(const char *s, size_t n);

/* Parse the NUL-terminated text of /proc/PID/cgroup. */
void cgroup_id_parse(const char *text, struct cgroup_id *out);

/* Read and parse /proc/PID/cgroup; 0 or -errno. */
int cgroup_id_read(pid_t pid, struct cgroup_id *out);

#endif
