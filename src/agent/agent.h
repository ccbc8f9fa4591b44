/* SPDX-License-Identifier: GPL-2.0 */
/*
 * `pymem-bpf agent`: every CPython process on the host profiled by one
 * loaded BPF object, served over HTTP (Prometheus metrics, Go pprof).
 * The parts share this: the targets found (targets.c), how they are found
 * (discover.c), and what the endpoints make of them (metrics.c,
 * pprof_http.c, http.c).
 */
#ifndef PYMEM_AGENT_H
#define PYMEM_AGENT_H

#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include "attach.h"
#include "cgroup_id.h"

#define AGENT_TRIES	3	/* attaches tried before a process is left listed as failed */

/* A process found: attached, or listed with why not. */
struct agent_target {
	pid_t pid;
	unsigned long long start;	/* its start time in /proc/PID/stat: a reused pid differs */
	char exe[256];			/* /proc/PID/exe as the agent sees it */
	bool python;			/* a CPython process (that --match selects) */
	bool seen;			/* in the last scan of /proc */
	struct cgroup_id cg;
	char pod[254];			/* from the kubelet, when asked */
	char ns[64];
	char status[256];		/* "attached", "symbol probes: WHY", or why not */
	struct attachment *a;		/* while attached */
	double attached_at;		/* monotonic seconds */
	double attach_ms;		/* what the last attach took */
	double attached_wall;		/* epoch seconds */
	int tries;
	double next_try;
};

struct agent {
	struct probes *probes;		/* the one loaded object */
	struct news *news;
	struct agent_target **t;	/* every process seen, Python or not */
	size_t n, cap;
	regex_t match;
	bool has_match;
	struct kubelet *kubelet;	/* with --kubelet: pod names and namespaces */
	pid_t self;
	uint64_t sample_interval;	/* each target's, where its trampolines are in (0: exact) */
	struct overhead *oh;		/* --max-overhead's adaptation of it, or NULL */
	size_t n_attached;		/* of them, attached at the last count */
};

/* The target of pid, attached or not; NULL if none. */
struct agent_target *agent_find(struct agent *ag, pid_t pid);

/* Scan /proc: new CPython processes are attached, those gone detached. */
void discover_scan(struct agent *ag, double now);

/* t's pod name and namespace from the kubelet, once it knows them */
void targets_pod(struct agent *ag, struct agent_target *t);
/* Attach t (its first time, or again after a failure). */
void targets_attach(struct agent *ag, struct agent_target *t, double now);
/* Restore and forget t's process; t stays listed if keep. */
void targets_detach(struct agent_target *t);
void targets_free(struct agent *ag);
/* GET /targets: a JSON array; malloc'd, NULL without memory. */
char *targets_json(struct agent *ag);

/* GET /metrics: Prometheus text 0.0.4 into f. */
int metrics_write(struct agent *ag, FILE *f);

struct agent_query;
struct pm_profile;
/*
 * What /debug/pprof/heap and /allocs serve: the query's process, or its
 * container's or pod's merged, root first.  0, -ENOENT for no such target
 * (why says which), or -errno.
 */
int pprof_http_profile(struct agent *ag, const struct agent_query *q, struct pm_profile *out,
		       char *why, size_t whylen);
/* ?seconds=S: end's allocations less base's (taken S seconds before); live stays end's */
void pprof_http_delta(struct pm_profile *end, struct pm_profile *base);

/* The HTTP server on a listening socket; NULL with the reason printed (one line). */
struct http;
struct http *http_start(struct agent *ag, int listen_fd);
void http_stop(struct http *h);
/* Serve what is ready, waiting up to timeout_ms (and for news). */
void http_serve(struct http *h, int timeout_ms);

#endif
