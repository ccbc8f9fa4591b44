// SPDX-License-Identifier: GPL-2.0
/*
 * GET /debug/pprof/heap and /debug/pprof/allocs: Go's heap profile (the
 * four sample types), of one process or of a container's or pod's
 * processes merged.  Counts run from attach, as Go's do from the program's
 * start; with ?seconds=S, allocations over those S seconds.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "agent.h"
#include "query.h"
#include "session.h"
#include "view.h"

/* Does t belong to what q selects? */
static bool selects(const struct agent_query *q, const struct agent_target *t)
{
	if (!t->a)
		return false;
	if (q->has & QUERY_PID)
		return t->pid == q->pid;
	if (q->has & QUERY_CONTAINER)	/* an ID or a prefix of it, as docker takes */
		return t->cg.container[0] &&
		       !strncmp(t->cg.container, q->container, strlen(q->container));
	return t->cg.pod_uid[0] && !strcmp(t->cg.pod_uid, q->pod);
}

/* Add one process's profile to the merged one */
static int merge(struct pm_profile *m, const struct pm_profile *p)
{
	size_t i;
	int k, err = 0;

	for (i = 0; i < p->nstacks && !err; i++)
		err = pm_profile_add_stack(m, p->stacks[i].frames, p->stacks[i].nframes,
					   &p->stacks[i]);
	for (k = 0; k < DROP__MAX; k++)
		m->dropped[k] += p->dropped[k];
	m->stack_walks += p->stack_walks;
	if (m->duration_s < p->duration_s)
		m->duration_s = p->duration_s;
	return err;
}

int pprof_http_profile(struct agent *ag, const struct agent_query *q, struct pm_profile *out,
		       char *why, size_t whylen)
{
	static const struct view_opts whole = {};
	struct pm_profile one;
	double now = session_now();
	struct agent_target *t;
	size_t i, n = 0;
	int err = 0;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < ag->n && !err; i++) {
		t = ag->t[i];
		if (!selects(q, t))
			continue;
		err = attach_snapshot(&t->a->t, t->a->col, t->attached_wall, now - t->attached_at,
				      &one);
		/* pprof's period: the interval its estimates were scaled with */
		one.sample_interval = t->a->sample_interval;
		err = err ?: view_apply_root_first(&one, &whole, PM_VIEW_LIVE_BYTES);
		if (!err && !n++) {
			*out = one;
			continue;
		}
		err = err ?: merge(out, &one);
		pm_profile_free(&one);
	}
	if (!err && !n) {
		if (q->has & QUERY_PID)
			snprintf(why, whylen, "no attached Python process with pid %d", q->pid);
		else
			snprintf(why, whylen, "no attached Python process in %s %s",
				 q->has & QUERY_CONTAINER ? "container" : "pod",
				 q->has & QUERY_CONTAINER ? q->container : q->pod);
		err = -ENOENT;
	}
	if (err)
		pm_profile_free(out);
	else
		pm_profile_sum(out);
	return err;
}

static uint64_t minus(uint64_t a, uint64_t b)
{
	/* a process gone since base took its counts with it: never below zero */
	return a > b ? a - b : 0;
}

void pprof_http_delta(struct pm_profile *end, struct pm_profile *base)
{
	struct pm_stack *s, *was;
	size_t i;

	for (i = 0; i < end->nstacks; i++) {
		s = &end->stacks[i];
		was = pm_profile_find(base, s->frames, s->nframes);
		if (!was)
			continue;
		s->c.alloc_bytes = minus(s->c.alloc_bytes, was->c.alloc_bytes);
		s->c.alloc_objects = minus(s->c.alloc_objects, was->c.alloc_objects);
	}
	pm_profile_sum(end);
}
