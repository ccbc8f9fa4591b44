// SPDX-License-Identifier: GPL-2.0
/*
 * GET /metrics: Prometheus text format 0.0.4.  Per process, labelled by
 * its identity only (no stack ever becomes a label: cardinality stays the
 * number of processes); then the agent's own CPU, memory and BPF maps.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include "agent.h"
#include "probes.h"
#include "proc_mem.h"
#include "profile.h"

struct totals {
	pid_t pid;
	uint64_t sample_interval;	/* in force for it (0: exact) */
	uint64_t alloc_bytes, alloc_objects;
	int64_t live_bytes, live_objects;
};

struct scan {
	struct totals *t;
	size_t n;
};

static int on_stats(void *arg, const struct pid_key *k, const struct stack_stats *s)
{
	struct scan *sc = arg;
	size_t i;

	for (i = 0; i < sc->n; i++) {
		if (sc->t[i].pid != (pid_t)k->pid)
			continue;
		sc->t[i].alloc_bytes += s->alloc_bytes;
		sc->t[i].alloc_objects += s->alloc_objects;
		/* a copy racing with updates: never below zero */
		sc->t[i].live_bytes += s->live_bytes > 0 ? s->live_bytes : 0;
		sc->t[i].live_objects += s->live_objects > 0 ? s->live_objects : 0;
		break;
	}
	return 0;
}

/* A label value as the text format wants it: \, " and newline escaped */
static void label(FILE *f, const char *name, const char *v, bool more)
{
	fprintf(f, "%s=\"", name);
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(f, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
	fprintf(f, "\"%s", more ? "," : "");
}

static void labels(FILE *f, const struct agent_target *t, bool more)
{
	fprintf(f, "{pid=\"%d\",", t->pid);
	/* the path as the process sees it (in its container, say) */
	label(f, "exe", t->a->t.exe, true);
	label(f, "python", t->a->t.version, true);
	label(f, "container_id", t->cg.container, true);
	label(f, "pod", t->pod, true);
	label(f, "namespace", t->ns, more);
	if (!more)
		fputc('}', f);
}

static void head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

enum per { LIVE_B, LIVE_O, ALLOC_B, ALLOC_O, INTERVAL, RSS, PSS, PER__MAX };

static const struct {
	const char *name, *type, *help;
} per_proc[PER__MAX] = {
	[LIVE_B] = { "pymem_live_bytes", "gauge",
		     "Bytes allocated since attach and not freed" },
	[LIVE_O] = { "pymem_live_objects", "gauge",
		     "Blocks allocated since attach and not freed" },
	[ALLOC_B] = { "pymem_alloc_bytes_total", "counter", "Bytes allocated since attach" },
	[ALLOC_O] = { "pymem_alloc_objects_total", "counter", "Blocks allocated since attach" },
	[INTERVAL] = { "pymem_sample_interval_bytes", "gauge",
		       "Mean bytes between samples (1: every allocation is counted)" },
	[RSS] = { "pymem_process_rss_bytes", "gauge", "Resident set size" },
	[PSS] = { "pymem_process_pss_bytes", "gauge", "Proportional set size" },
};

static uint64_t per_value(enum per m, const struct totals *t, const struct proc_mem *pm)
{
	switch (m) {
	case LIVE_B:
		return t->live_bytes;
	case LIVE_O:
		return t->live_objects;
	case ALLOC_B:
		return t->alloc_bytes;
	case ALLOC_O:
		return t->alloc_objects;
	case INTERVAL:
		return t->sample_interval ?: 1;
	case RSS:
		return pm->rss_bytes;
	default:
		return pm->pss_bytes;
	}
}

static void write_drops(struct agent *ag, FILE *f)
{
	uint64_t d[DROP__MAX];
	size_t i;
	int k;

	head(f, "pymem_dropped_events_total", "counter",
	     "Events not counted (or counted without their stack), by reason");
	for (i = 0; i < ag->n; i++) {
		if (!ag->t[i]->a)
			continue;
		probes_drops(ag->t[i]->a->pt, d);
		for (k = 0; k < DROP__MAX; k++) {
			fputs("pymem_dropped_events_total", f);
			labels(f, ag->t[i], true);
			fprintf(f, "reason=\"%s\"} %llu\n", pm_drop_name(k),
				(unsigned long long)d[k]);
		}
	}
}

static void write_walks(struct agent *ag, FILE *f)
{
	size_t i;

	head(f, "pymem_stack_walks_total", "counter",
	     "Allocations whose Python stack the BPF side walked (the rest were named by a hash)");
	for (i = 0; i < ag->n; i++) {
		if (!ag->t[i]->a)
			continue;
		fputs("pymem_stack_walks_total", f);
		labels(f, ag->t[i], false);
		fprintf(f, " %llu\n", (unsigned long long)probes_stack_walks(ag->t[i]->a->pt));
	}
}

static void write_self(struct agent *ag, FILE *f)
{
	struct proc_mem pm = {};
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	proc_mem_read(getpid(), &pm);
	head(f, "process_cpu_seconds_total", "counter", "The agent's CPU time, user and system");
	fprintf(f, "process_cpu_seconds_total %.6f\n",
		ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
		(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	head(f, "process_resident_memory_bytes", "gauge", "The agent's resident set size");
	fprintf(f, "process_resident_memory_bytes %llu\n", (unsigned long long)pm.rss_bytes);
	head(f, "pymem_bpf_maps_bytes", "gauge", "Kernel memory of the agent's BPF maps");
	fprintf(f, "pymem_bpf_maps_bytes %llu\n", (unsigned long long)probes_map_bytes(ag->probes));
	head(f, "pymem_targets", "gauge", "Python processes attached");
	fprintf(f, "pymem_targets %zu\n", ag->n_attached);
}

int metrics_write(struct agent *ag, FILE *f)
{
	struct scan sc = { .t = calloc(ag->n + 1, sizeof(*sc.t)) };
	struct proc_mem *pm = calloc(ag->n + 1, sizeof(*pm));
	size_t i, j;
	int m, err;

	if (!sc.t || !pm) {
		err = -ENOMEM;
		goto out;
	}
	ag->n_attached = 0;
	for (i = 0; i < ag->n; i++) {
		if (!ag->t[i]->a)
			continue;
		/* the events its trampolines logged since their last probe hit */
		probes_drain_batch(ag->t[i]->a->pt);
		targets_pod(ag, ag->t[i]);
		sc.t[sc.n].sample_interval = ag->t[i]->a->sample_interval;
		sc.t[sc.n++].pid = ag->t[i]->pid;
		ag->n_attached++;
	}
	err = probes_stats_each(ag->probes, on_stats, &sc);
	if (err)
		goto out;
	for (m = 0; m < PER__MAX; m++) {
		head(f, per_proc[m].name, per_proc[m].type, per_proc[m].help);
		for (i = j = 0; i < ag->n; i++) {
			if (!ag->t[i]->a)
				continue;
			if (m == RSS)
				proc_mem_read(ag->t[i]->pid, &pm[j]);
			fputs(per_proc[m].name, f);
			labels(f, ag->t[i], false);
			fprintf(f, " %llu\n", (unsigned long long)per_value(m, &sc.t[j], &pm[j]));
			j++;
		}
	}
	write_drops(ag, f);
	write_walks(ag, f);
	write_self(ag, f);
out:
	free(sc.t);
	free(pm);
	return err;
}
