// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include "attach.h"
#include "launch.h"

static const char *site_dso(void *arg, enum pymem_site site)
{
	return probes_site_dso(arg, site);
}

static bool code_current(void *arg, uint64_t code, uint32_t gen)
{
	return probes_code_current(arg, code, gen);
}

static const struct symbolizer_ops sym_ops = {
	.site_name = probes_site_name,
	.site_dso = site_dso,
	.code_current = code_current,
};

/*
 * The trampolines' generators' seed: PYMEM_BPF_SAMPLE_SEED (an integer)
 * makes a sampled session repeatable, as the tests need (every thread then
 * draws the same sequence, whatever the threads' interleaving); else random.
 */
static void sample_seed(struct redirect_opts *ro)
{
	const char *env = getenv("PYMEM_BPF_SAMPLE_SEED");

	ro->repeatable = env && *env;
	if (ro->repeatable)
		ro->seed = strtoull(env, NULL, 0);
	else if (getrandom(&ro->seed, sizeof(ro->seed), 0) != sizeof(ro->seed))
		ro->seed = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ULL;
}

/*
 * Redirect the allocator tables to trampolines where possible: exact on LTO
 * builds and one cheap probe hit per event.  Otherwise probe the symbols,
 * which sampled mode cannot do: its decision is the trampolines'.
 */
static int attach_allocator(struct attachment *a, const struct attach_opts *o)
{
	struct redirect_opts ro = { .sample_interval = o->sample_interval };
	const struct pytarget *t = &a->t;
	char err[512] = "";
	bool lto;
	int ret;

	/* a launched command waits, stopped, at its entry point until this is done */
	if (a->launched) {
		ret = launch_release_stopped(t->pid);
		if (ret)
			return ret;
	}
	if (!o->no_inject) {
		if (ro.sample_interval)
			sample_seed(&ro);
		a->sample_interval = ro.sample_interval;
		ret = redirect_start(t, a->pt, &ro, &a->redir, err, sizeof(err));
		if (!ret) {
			probes_every_free_seen(a->pt);
			return 0;
		}
		/* asked for on the command line, sampled mode is refused; the agent counts exactly */
		if (ro.sample_interval && !o->shared) {
			snprintf(a->why, sizeof(a->why), "allocator redirection failed (%s); sampled "
				 "mode needs it", err);
			fprintf(stderr, "pymem-bpf: %s\n", a->why);
			return ret;
		}
		a->sample_interval = 0;
		probes_sample_interval(a->pt, 0);
		fprintf(stderr, "pymem-bpf: warning: allocator redirection failed (%s); probing "
			"allocator symbols instead\n", err);
		snprintf(a->why, sizeof(a->why), "symbol probes: %s", err);
	}
	lto = !t->shared && t->stripped;
	if (lto)
		fprintf(stderr, "pymem-bpf: warning: %s is a static, stripped (likely LTO) build: "
			"pymalloc's inlined fast path is not probed, coverage is incomplete\n",
			t->interp);
	ret = probes_attach_python(a->pt, t);
	/* an LTO build frees objects inline, past the symbol probes */
	if (!ret && !lto)
		probes_every_free_seen(a->pt);
	if (ret)
		snprintf(a->why, sizeof(a->why), "cannot probe the allocator: %s", strerror(-ret));
	return ret;
}

static void warn_coverage(const struct pytarget *t)
{
	if (pytarget_pymalloc_bypassed(t))
		fprintf(stderr, "pymem-bpf: warning: PID %d runs with PYTHONMALLOC=%s: pymalloc is "
			"bypassed; allocations are tracked through libc malloc\n", t->pid,
			t->pythonmalloc);
}

int attach_open(const struct attach_opts *o, struct attachment **out)
{
	struct attachment *a = calloc(1, sizeof(*a));
	struct probes *shared;
	char err[512] = "";
	int ret;

	*out = a;
	if (!a) {
		fprintf(stderr, "pymem-bpf: out of memory\n");
		return EXIT_FAILURE;
	}
	a->pid = o->pid;
	if (o->cmd) {
		if (launch_start(o->cmd, &a->pid, err, sizeof(err))) {
			fprintf(stderr, "pymem-bpf: %s\n", err);
			return EXIT_BAD_INPUT;
		}
		a->launched = a->cmd = true;
	}
	if (pytarget_open(a->pid, &a->t, a->why, sizeof(a->why))) {
		fprintf(stderr, "pymem-bpf: %s\n", a->why);
		return EXIT_BAD_INPUT;
	}
	/* a launched interpreter sets PYTHONMALLOC's tables after the redirection, over it */
	if (o->sample_interval && a->launched && a->t.pythonmalloc[0]) {
		fprintf(stderr, "pymem-bpf: sampled mode cannot launch a command with "
			"PYTHONMALLOC=%s (its allocator replaces the trampolines at start-up); "
			"attach with -p once it runs\n", a->t.pythonmalloc);
		return EXIT_BAD_INPUT;
	}
	warn_coverage(&a->t);
	if (o->shared) {
		shared = o->shared;
		a->news = o->news;
	} else {
		if (probes_load(&o->probes, &a->probes))
			return EXIT_FAILURE;
		shared = a->probes;
		a->news = news_new(shared);
		if (!a->news) {
			fprintf(stderr, "pymem-bpf: out of memory\n");
			return EXIT_FAILURE;
		}
	}
	ret = probes_target_open(shared, &a->t, o->sample_interval, &a->pt);
	if (ret) {
		snprintf(a->why, sizeof(a->why), "cannot attach the probes: %s",
			 ret == -ENOSPC ? "every target slot is taken" : strerror(-ret));
		if (ret == -ENOSPC)
			fprintf(stderr, "pymem-bpf: %s\n", a->why);
		return EXIT_FAILURE;
	}
	if (attach_allocator(a, o))
		return EXIT_FAILURE;
	/* until here a failure kills the launched command, stopped or traced */
	if (a->launched) {
		kill(a->pid, SIGCONT);
		a->launched = false;
	}
	if (!o->quiet)
		fprintf(stderr, "pymem-bpf: attached to PID %d (python %s, %s)\n", a->t.pid,
			a->t.version, a->t.interp);
	a->sym = symbolizer_new(&a->t, &sym_ops, a->pt);
	a->col = a->sym ? collector_new(a->pt, a->sym, a->news) : NULL;
	if (!a->col) {
		fprintf(stderr, "pymem-bpf: out of memory\n");
		return EXIT_FAILURE;
	}
	return 0;
}

int attach_snapshot(const struct pytarget *t, struct collector *col, double start_time,
		    double secs, struct pm_profile *p)
{
	memset(p, 0, sizeof(*p));
	p->pid = t->pid;
	snprintf(p->version, sizeof(p->version), "%s", t->version);
	p->executable = strdup(t->exe);
	p->libpython = t->shared ? strdup(t->interp) : NULL;
	/* unreadable (the target is gone): shown as on the host */
	cgroup_id_read(t->pid, &p->container);
	p->start_time = start_time;
	p->duration_s = secs;
	return collector_profile(col, p);
}

int attach_sample_interval(struct attachment *a, uint64_t interval)
{
	int err;

	if (!a->sample_interval || !a->redir)
		return 0;
	probes_drain_batch(a->pt);
	err = redirect_sample_interval(a->redir, interval);
	if (err)
		return err;
	probes_sample_interval(a->pt, interval);
	a->sample_interval = interval;
	return 0;
}

/* Without a dlopen probe, the target's maps are looked at this often */
#define LIBS_LOOK_S	1.0

void attach_follow_libs(struct attachment *a, double now)
{
	if (!a || !a->sample_interval || !a->redir)
		return;
	if (probes_take_loaded(a->pt) || (!probes_sees_dlopen(a->pt) && now >= a->libs_look)) {
		redirect_follow_libs(a->redir);
		a->libs_look = now + LIBS_LOOK_S;
	}
}

void attach_close(struct attachment *a)
{
	int status;

	if (!a)
		return;
	redirect_stop(a->redir);
	collector_free(a->col);
	symbolizer_free(a->sym);
	probes_target_close(a->pt);
	if (a->probes) {
		news_free(a->news);
		probes_stop(a->probes);
	}
	if (a->launched) {
		kill(a->pid, SIGKILL);
		waitpid(a->pid, &status, 0);
	} else if (a->cmd && waitpid(a->pid, &status, WNOHANG) == a->pid) {
		if (WIFEXITED(status))
			fprintf(stderr, "pymem-bpf: command exited with status %d\n",
				WEXITSTATUS(status));
		else if (WIFSIGNALED(status))
			fprintf(stderr, "pymem-bpf: command killed by signal %d\n",
				WTERMSIG(status));
	}
	free(a);
}
