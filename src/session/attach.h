/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One target's lifecycle: find it (or launch it), load and attach the
 * probes, redirect its allocator, and the symbolizer and collector that
 * read what the probes count; then restore it all.  `-p`, launch mode and
 * `top` use it; a session (session.h) runs between open and close.
 */
#ifndef PYMEM_ATTACH_H
#define PYMEM_ATTACH_H

#include <stdbool.h>
#include <sys/types.h>
#include "collect.h"
#include "probes.h"
#include "pytarget.h"
#include "redirect.h"
#include "symbolize.h"

struct attach_opts {
	pid_t pid;		/* a running process, or */
	char **cmd;		/* a command to launch (argv, NULL-terminated) */
	bool no_inject;		/* probe allocator symbols, never redirect */
	/*
	 * Sampled mode: one allocation per sample_interval bytes on average is
	 * seen, decided in the trampolines (no libc probes then: each would cost
	 * a trap per event); 0: exact.
	 */
	uint64_t sample_interval;
	/* with it: adapt the interval so the probes stay under this % of the target's CPU (0: off) */
	double max_overhead;
	bool quiet;		/* no "attached to" line (the agent lists its targets) */
	/*
	 * The loaded object and its news reader, shared with other targets (the
	 * agent); NULL: attach_open() loads one for this target alone, with:
	 */
	struct probes *shared;
	struct news *news;
	struct probes_opts probes;
};

struct attachment {
	struct pytarget t;
	struct probes *probes;	/* the object loaded for this target alone, or NULL */
	struct news *news;	/* and its news reader */
	struct probe_target *pt;
	struct redirect *redir;
	struct symbolizer *sym;
	struct collector *col;
	pid_t pid;
	char why[256];		/* why attach_open() failed, or why it fell back to symbols */
	uint64_t sample_interval;	/* in force at attach (0: exact, as symbol probes are) */
	bool launched;		/* a launched command not let go yet: close kills it */
	bool cmd;		/* launch mode: close reports how the command ended */
	double libs_look;	/* sampled, without a dlopen probe: when to look for libraries */
};

/*
 * Attach to the target o names, printing "pymem-bpf: attached to PID ..."
 * once it is.  Returns 0, or an exit status (EXIT_BAD_INPUT, EXIT_FAILURE)
 * with the reason printed (and, mostly, in (*out)->why); *out is set either
 * way, for attach_close().
 */
int attach_open(const struct attach_opts *o, struct attachment **out);

/*
 * Everything col counted so far, as a profile (leaf first) headed with t's
 * identity; start_time (epoch seconds) and secs say when and how long.
 */
int attach_snapshot(const struct pytarget *t, struct collector *col, double start_time,
		    double secs, struct pm_profile *p);

/*
 * Sampled mode: sample a's target at interval from now on (what its batch
 * holds, sampled at the old one, is weighed first).  0 or -errno; an exact
 * target is left alone.
 */
int attach_sample_interval(struct attachment *a, uint64_t interval);

/* Restore the target and free it all; a launched command not yet let go is killed. */
void attach_close(struct attachment *a);
/*
 * Sampled mode: redirect the GOT of the libraries a's target loaded since
 * the last call, if its dlopen returned (or, without a dlopen probe, once a
 * second).  now: session_now().
 */
void attach_follow_libs(struct attachment *a, double now);

#endif /* PYMEM_ATTACH_H */
