// SPDX-License-Identifier: GPL-2.0
/* libFuzzer: the kubelet's PodList (agent/kubelet_podlist.c), an answer from the network. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "kubelet_podlist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kube_podlist pl;
	size_t i;

	if (kube_podlist_parse((const char *)data, size, &pl))
		return 0;
	for (i = 0; i < pl.n; i++) {
		const struct kube_pod *p = &pl.v[i];

		if (!cgroup_pod_uid_valid(p->uid, strlen(p->uid)) || !p->name[0] || !p->ns[0] ||
		    kube_podlist_find(&pl, p->uid) == NULL)
			abort();
	}
	kube_podlist_free(&pl);
	return 0;
}
