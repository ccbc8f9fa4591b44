// SPDX-License-Identifier: GPL-2.0
/* The agent's targets: attached one by one to the shared object, listed as JSON. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <json-c/json.h>
#include "agent.h"
#include "collect.h"
#include "kubelet.h"
#include "session.h"

struct agent_target *agent_find(struct agent *ag, pid_t pid)
{
	size_t i;

	for (i = 0; i < ag->n; i++)
		if (ag->t[i]->pid == pid)
			return ag->t[i];
	return NULL;
}

static double wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void targets_pod(struct agent *ag, struct agent_target *t)
{
	/* a pod the kubelet did not list yet is asked again (its cache bounds how often) */
	if (ag->kubelet && t->cg.pod_uid[0] && !t->pod[0])
		kubelet_pod(ag->kubelet, t->cg.pod_uid, t->pod, sizeof(t->pod), t->ns,
			    sizeof(t->ns));
}

void targets_attach(struct agent *ag, struct agent_target *t, double now)
{
	struct attach_opts o = {
		.pid = t->pid, .quiet = true, .shared = ag->probes, .news = ag->news,
		.sample_interval = ag->sample_interval,
	};
	double t0 = session_now();
	int ret;

	t->tries++;
	ret = attach_open(&o, &t->a);
	t->attach_ms = (session_now() - t0) * 1e3;
	if (!ret) {
		/* attached through symbol probes says why it is not redirected */
		snprintf(t->status, sizeof(t->status), "%s", t->a->why[0] ? t->a->why : "attached");
		t->attached_at = now;
		t->attached_wall = wall_now();
		cgroup_id_read(t->pid, &t->cg);
		targets_pod(ag, t);
		fprintf(stderr, "pymem-bpf: agent: attached to PID %d (python %s, %s) in %.1f ms%s%s\n",
			t->pid, t->a->t.version, t->a->t.interp, t->attach_ms,
			t->a->why[0] ? ": " : "", t->a->why);
		return;
	}
	snprintf(t->status, sizeof(t->status), "%s",
		 t->a && t->a->why[0] ? t->a->why : "cannot attach");
	attach_close(t->a);
	t->a = NULL;
	/* a process just started may not have its interpreter up yet */
	t->next_try = now + 1;
}

void targets_detach(struct agent_target *t)
{
	attach_close(t->a);
	t->a = NULL;
}

void targets_free(struct agent *ag)
{
	size_t i;

	for (i = 0; i < ag->n; i++) {
		targets_detach(ag->t[i]);
		free(ag->t[i]);
	}
	free(ag->t);
	ag->t = NULL;
	ag->n = ag->cap = 0;
}

static void add_str(json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key, json_object_new_string(v));
}

static json_object *target_json(const struct agent_target *t)
{
	json_object *o = json_object_new_object(), *drops = json_object_new_object();
	uint64_t d[DROP__MAX];
	int k;

	json_object_object_add(o, "pid", json_object_new_int(t->pid));
	add_str(o, "exe", t->a ? t->a->t.exe : t->exe);
	add_str(o, "python", t->a ? t->a->t.version : "");
	add_str(o, "container_id", t->cg.container);
	add_str(o, "pod_uid", t->cg.pod_uid);
	add_str(o, "pod", t->pod);
	add_str(o, "namespace", t->ns);
	add_str(o, "status", t->status);
	json_object_object_add(o, "attach_ms", json_object_new_double(t->attach_ms));
	if (t->a) {
		probes_drops(t->a->pt, d);
		for (k = 0; k < DROP__MAX; k++)
			json_object_object_add(drops, pm_drop_name(k), json_object_new_uint64(d[k]));
	}
	json_object_object_add(o, "drops", drops);
	return o;
}

char *targets_json(struct agent *ag)
{
	json_object *arr = json_object_new_array();
	char *out;
	size_t i;

	for (i = 0; i < ag->n; i++) {
		if (!ag->t[i]->python)
			continue;
		targets_pod(ag, ag->t[i]);
		json_object_array_add(arr, target_json(ag->t[i]));
	}
	out = strdup(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
	json_object_put(arr);
	return out;
}
