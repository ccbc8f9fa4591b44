/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kubelet's GET /pods answer (a v1 PodList) reduced to what labels a
 * process: each pod's UID, name and namespace.
 */
#ifndef PYMEM_AGENT_KUBELET_PODLIST_H
#define PYMEM_AGENT_KUBELET_PODLIST_H

#include <stddef.h>
#include "cgroup_id.h"

#define KUBE_NAME_LEN	253	/* a DNS subdomain: a pod's name */
#define KUBE_NS_LEN	63	/* a DNS label: a namespace */

struct kube_pod {
	char uid[POD_UID_LEN + 1];
	char name[KUBE_NAME_LEN + 1];
	char ns[KUBE_NS_LEN + 1];
};

struct kube_podlist {
	struct kube_pod *v;	/* sorted by uid */
	size_t n;
	size_t skipped;		/* items without a valid uid, name or namespace */
};

/*
 * Parses len bytes of PodList JSON into @pl; 0, -EINVAL if it is not a
 * PodList (one item that is not a pod is skipped and counted, not fatal),
 * or -ENOMEM.
 */
int kube_podlist_parse(const char *json, size_t len, struct kube_podlist *pl);

/* The pod with @uid, or NULL. */
const struct kube_pod *kube_podlist_find(const struct kube_podlist *pl, const char *uid);

void kube_podlist_free(struct kube_podlist *pl);

#endif
