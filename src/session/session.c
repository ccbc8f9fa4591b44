// SPDX-License-Identifier: GPL-2.0
/* The running session: its poll loop, its interval snapshots and its final profile. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include "attach.h"
#include "got.h"
#include "session.h"

#define TICK_MS 200

double session_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The counters now, @secs after the start, under the view options. */
static int build(struct session *s, double secs, bool exited, struct pm_profile *p)
{
	int err = attach_snapshot(s->t, s->col, s->start_time, secs, p);

	p->target_exited = exited;
	p->sample_interval = s->sample_interval;
	p->max_overhead = s->max_overhead;
	if (s->a && s->a->sample_interval) {
		struct got_stats st;

		redirect_libs_stats(s->a->redir, &st);
		p->libs.libraries = st.libraries;
		p->libs.entries = st.entries;
		p->libs.foreign = st.foreign;
	}
	/* holders go by the stacks as symbolized: before any view merges them */
	if (!err && s->holders)
		err = holders_attach(s->holders, s->col, p);
	if (!err)
		err = view_apply_root_first(p, s->o->vopts, s->o->view);
	if (!err)
		pm_profile_sort(p, PM_VIEW_LIVE_BYTES);
	if (!err && s->holders)
		holders_keep_top(p, s->holders_top);
	return err;
}

/* A snapshot: its interval's deltas, then a table or top's screen of it. */
static void tick(struct session *s)
{
	double t = session_now() - s->start;
	struct pm_profile p;

	if (build(s, t, false, &p) || interval_tick(s->iv, &p, t)) {
		pm_profile_free(&p);
		fprintf(stderr, "pymem-bpf: cannot read the kernel maps\n");
		return;
	}
	if (s->ui) {
		top_ui_draw(s->ui, interval_latest(s->iv));
		return;
	}
	output_top_print(interval_latest(s->iv), s->o->view, s->o->topts, s->o->tables);
	fflush(s->o->tables);
}

static bool target_gone(struct pollfd *pfd, pid_t pid)
{
	if (pfd->fd >= 0)
		return poll(pfd, 1, 0) > 0;
	return kill(pid, 0) && errno == ESRCH;
}

bool session_run(struct session *s, volatile sig_atomic_t *stop)
{
	struct pollfd pfd = { .fd = syscall(SYS_pidfd_open, s->t->pid, 0), .events = POLLIN };
	double next = s->start + s->o->interval, now;
	bool exited = false, quit = false;

	while (!*stop && !quit) {
		collector_wait(s->col, TICK_MS);
		if (target_gone(&pfd, s->t->pid)) {
			exited = true;
			break;
		}
		now = session_now();
		attach_follow_libs(s->a, now);
		if (s->oh)
			s->sample_interval = overhead_tick(s->oh, now);
		if (s->o->duration && now - s->start >= s->o->duration)
			break;
		if (s->ui && top_ui_keys(s->ui, &quit))
			top_ui_draw(s->ui, interval_latest(s->iv));
		if (!s->o->interval || now < next)
			continue;
		/* paused, top takes no snapshot: the next one covers the pause */
		if (!s->ui || !top_ui_paused(s->ui))
			tick(s);
		while (next <= now)
			next += s->o->interval;
	}
	if (pfd.fd >= 0)
		close(pfd.fd);
	return exited;
}

int session_profile(struct session *s, bool exited, struct pm_profile *p)
{
	int err = build(s, session_now() - s->start, exited, p);

	if (!err && s->iv)
		err = interval_finish(s->iv, p);
	return err;
}
