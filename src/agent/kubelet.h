/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Pod names and namespaces from the kubelet's GET /pods (`--kubelet URL`),
 * looked up by the pod UID the cgroup path gives (cgroup_id.h).  The
 * kubelet's list is cached; a UID not in it fetches the list again, at most
 * once per KUBELET_REFRESH_S, so a burst of unknown UIDs costs one request.
 * Safe to call from several threads; none waits on the network for another's
 * request (a lookup meanwhile answers from the list it has).
 */
#ifndef PYMEM_AGENT_KUBELET_H
#define PYMEM_AGENT_KUBELET_H

#include <stddef.h>

#define KUBELET_REFRESH_S	5
/* the service account's credentials, mounted into every pod that has one */
#define KUBELET_SA_TOKEN	"/var/run/secrets/kubernetes.io/serviceaccount/token"
#define KUBELET_SA_CA		"/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"

struct kubelet;

/*
 * @url: the kubelet ("https://NODE_IP:10250", the read-only
 * "http://NODE_IP:10255"), or the API server's proxy to it
 * ("https://kubernetes.default.svc/api/v1/nodes/NODE/proxy"); "/pods" is
 * appended.  Sends the service account's token and verifies https against its
 * CA when they are there.  Fetches the list once, so that a wrong URL, token
 * or certificate fails here: NULL with one line in @err.
 */
struct kubelet *kubelet_open(const char *url, char *err, size_t errlen);

/* As kubelet_open(), with the token and CA files named (NULL: none). */
struct kubelet *kubelet_open_creds(const char *url, const char *token_path, const char *ca_path,
				   char *err, size_t errlen);

/* The pod's name and namespace: 0, or -ENOENT if the kubelet does not know the UID. */
int kubelet_pod(struct kubelet *k, const char *pod_uid, char *name, size_t nlen,
		char *ns, size_t nslen);

/* Requests made so far, and the last failure ("" if none): for /targets and the tests. */
unsigned long kubelet_requests(struct kubelet *k, char *last_err, size_t errlen);

void kubelet_close(struct kubelet *k);

#endif
