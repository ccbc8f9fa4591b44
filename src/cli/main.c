// SPDX-License-Identifier: GPL-2.0
/* pymem-bpf: per-stack live and allocated memory of a running CPython process. */
#include <argp.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "agent_main.h"
#include "attach.h"
#include "cli_args.h"
#include "check.h"
#include "diff.h"
#include "holders.h"
#include "kfeatures.h"
#include "output.h"
#include "output_file.h"
#include "proc_cpu.h"
#include "report.h"
#include "session.h"
#include "summary.h"
#include "top.h"
#include "view.h"

/* `top` redraws this often unless -i says otherwise, as py-spy's does */
#define TOP_INTERVAL_S	1.0
/* --max-overhead's first interval without --sample-interval: Go's, jemalloc's and tcmalloc's */
#define DEFAULT_SAMPLE_INTERVAL	(512 * 1024)

static struct env {
	struct attach_opts attach;
	double duration;
	double interval;
	const char *output;
	enum output_format format;
	enum pm_view view;
	bool view_given;
	bool top_ui;			/* pymem-bpf top */
	struct view_opts vopts;
	struct top_opts topts;
	bool holders;
	struct holders_opts hopts;
} env = {
	.view = PM_VIEW_LIVE_BYTES,
	.attach.probes = { .max_live = 1 << 20, .max_stacks = 1 << 18 },
	.topts = TOP_OPTS_DEFAULT,
	.hopts = { .top = 10 },
};

const char *argp_program_version = "pymem-bpf 0.1";
static const char doc[] =
"Per-stack live and allocated memory of a CPython process, from eBPF.\n"
"\n"
"USAGE: pymem-bpf [OPTIONS] -p PID\n"
"       pymem-bpf [OPTIONS] -- COMMAND [ARGS...]\n"
"       pymem-bpf top [OPTIONS] -p PID | -- COMMAND   the table redrawn in place\n"
"       pymem-bpf report PROFILE.json [-f FORMAT] [-o FILE]   (see report --help)\n"
"       pymem-bpf diff BASE.json NEW.json [-f FORMAT] [-o FILE] (see diff --help)\n"
"       pymem-bpf check [-p PID]       can this kernel run it? (see check --help)\n"
"       pymem-bpf agent [--listen ADDR:PORT] [--match REGEX]   every Python process,\n"
"                                      over HTTP (see agent --help)\n"
"\n"
"EXAMPLES:\n"
"    pymem-bpf -p 4242                 # until Ctrl-C, then the top stacks by live bytes\n"
"    pymem-bpf -p 4242 -d 30 -o heap.json -f json\n"
"    pymem-bpf -p 4242 -f folded --view alloc-bytes -o alloc.folded\n"
"    pymem-bpf -i 5 -- python3 app.py   # launch mode, a top table every 5 s\n"
"    pymem-bpf -n 5 --view alloc-bytes -- python3 app.py   # what churns\n"
"    pymem-bpf top -p 4242              # keys: l live, a alloc, r rate, f freed<1ms\n"
"    pymem-bpf --holders -d 30 -p 4242  # and what holds the live bytes, at the end\n"
"\n"
"EXIT STATUS: 0 success, 1 runtime failure, 2 bad input (no such PID, not\n"
"Python, unsupported version, missing privileges, bad option).";

enum { OPT_VIEW = 0x100, OPT_MAX_LIVE, OPT_MAX_STACKS, OPT_NO_INJECT, OPT_SAMPLE_INTERVAL,
       OPT_MAX_OVERHEAD, OPT_HOLDERS, OPT_HOLDERS_TOP, OPT_MAX_PAUSE };

static const struct argp_option opts[] = {
	{ "pid", 'p', "PID", 0, "Profile this process", 0 },
	{ "duration", 'd', "SECONDS", 0, "Stop after SECONDS (default: Ctrl-C or target exit)", 0 },
	{ "interval", 'i', "SECONDS", 0, "Print a top table every SECONDS, its rates over "
	  "those SECONDS (top: redraw every SECONDS, default 1)", 0 },
	{ "output", 'o', "FILE", 0, "Write the profile to FILE ('-' for stdout)", 0 },
	{ "format", 'f', "FORMAT", 0, "json (default), folded, html, pprof or speedscope", 0 },
	{ "view", OPT_VIEW, "VIEW", 0, "live-bytes (default), live-objects, alloc-bytes, alloc-objects, "
	  "peak-bytes: what tables rank by and flame graphs show", 0 },
	{ "max-live", OPT_MAX_LIVE, "N", 0, "Live blocks tracked at once (default 1048576)", 0 },
	{ "max-stacks", OPT_MAX_STACKS, "N", 0, "Distinct stacks tracked (default 262144)", 0 },
	{ "no-inject", OPT_NO_INJECT, NULL, 0, "Probe allocator symbols instead of redirecting "
	  "the allocator tables to trampolines (misses LTO builds' inlined fast path)", 0 },
	{ "sample-interval", OPT_SAMPLE_INTERVAL, "BYTES", 0, "Sample one allocation per BYTES "
	  "allocated on average (suffix K, KiB, M, MiB; 0, the default: every allocation); "
	  "counts are scaled to unbiased estimates", 0 },
	{ "max-overhead", OPT_MAX_OVERHEAD, "PCT", 0, "Sampled mode (at 512KiB unless "
	  "--sample-interval says otherwise) whose interval grows while the probes take more "
	  "than PCT% of the target's CPU time (0 < PCT <= 100)", 0 },
	{ "holders", OPT_HOLDERS, NULL, 0, "At the end, stop the target and name what holds the "
	  "top stacks' live blocks (retention paths), and the live heap by type", 0 },
	{ "holders-top", OPT_HOLDERS_TOP, "N", 0, "Stacks given their holders, by live bytes "
	  "(default 10)", 0 },
	{ "max-pause", OPT_MAX_PAUSE, "MS", 0, "Let the target go after MS milliseconds of the "
	  "holders' walk: a partial answer, marked as such", 0 },
	{ "verbose", 'v', NULL, 0, "Show libbpf's messages", 0 },
	{},
};

static double parse_seconds(const char *arg, struct argp_state *state)
{
	char *end;
	double v = strtod(arg, &end);

	if (*end || v <= 0)
		arg_fail(state, "invalid number of seconds: %s", arg);
	return v;
}

static long parse_count(const char *arg, struct argp_state *state)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (*end || v <= 0)
		arg_fail(state, "invalid number: %s", arg);
	return v;
}

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &env.vopts;
		state->child_inputs[1] = &env.topts;
		break;
	case 'p':
		env.attach.pid = parse_count(arg, state);
		break;
	case 'd':
		env.duration = parse_seconds(arg, state);
		break;
	case 'i':
		env.interval = parse_seconds(arg, state);
		break;
	case 'o':
		env.output = arg;
		break;
	case 'f':
		if (output_format_parse(arg, &env.format))
			arg_fail(state, "unknown format: %s (json, folded, html, pprof, speedscope)", arg);
		break;
	case OPT_VIEW:
		if (pm_view_parse(arg, &env.view))
			arg_fail(state, "unknown view: %s", arg);
		env.view_given = true;
		break;
	case OPT_MAX_LIVE:
		env.attach.probes.max_live = parse_count(arg, state);
		break;
	case OPT_MAX_STACKS:
		env.attach.probes.max_stacks = parse_count(arg, state);
		break;
	case 'v':
		env.attach.probes.verbose = true;
		break;
	case OPT_NO_INJECT:
		env.attach.no_inject = true;
		break;
	case OPT_SAMPLE_INTERVAL:
		env.attach.sample_interval = arg_bytes(arg, state);
		break;
	case OPT_MAX_OVERHEAD:
		env.attach.max_overhead = arg_percent(arg, state);
		break;
	case OPT_HOLDERS:
		env.holders = true;
		break;
	case OPT_HOLDERS_TOP:
		env.hopts.top = parse_count(arg, state);
		break;
	case OPT_MAX_PAUSE:
		env.hopts.max_pause_ms = parse_seconds(arg, state);
		break;
	case ARGP_KEY_ARG:
		env.attach.cmd = &state->argv[state->next - 1];
		state->next = state->argc;
		break;
	case ARGP_KEY_END:
		if (!env.attach.pid == !env.attach.cmd)
			arg_fail(state, "give either -p PID or -- COMMAND");
		if (env.attach.max_overhead && !env.attach.sample_interval)
			env.attach.sample_interval = DEFAULT_SAMPLE_INTERVAL;
		if (env.attach.sample_interval && env.attach.no_inject)
			arg_fail(state, "sampled mode needs the trampolines --no-inject turns off");
		if (!env.holders && (env.hopts.top != 10 || env.hopts.max_pause_ms))
			arg_fail(state, "--holders-top and --max-pause go with --holders");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static volatile sig_atomic_t exiting;

static void on_signal(int sig)
{
	exiting = 1;
}

/* A pre-attach check: a capture must not be lost to an output it cannot create. */
static int check_output(void)
{
	int err;

	if (!env.output || !strcmp(env.output, "-"))
		return 0;
	err = output_file_check(env.output);
	if (err)
		fprintf(stderr, "pymem-bpf: cannot create %s: %s\n", env.output, strerror(-err));
	return err;
}

/* Tables go to stdout, unless the profile itself does. */
static FILE *tables(void)
{
	return env.output && !strcmp(env.output, "-") ? stderr : stdout;
}

/* The exit table, the churn answer, then the output file (or a fallback for it). */
static int finish(struct pm_profile *prof)
{
	char saved[4096];

	output_top_print(prof, env.view, &env.topts, tables());
	summary_churn_print(prof, &env.topts.where, tables());
	fflush(tables());
	if (!env.output)
		return EXIT_SUCCESS;
	if (view_invert(prof, &env.vopts, env.view, env.format == OUTPUT_JSON)) {
		fprintf(stderr, "pymem-bpf: out of memory\n");
		return EXIT_FAILURE;
	}
	if (!output_write(prof, env.format, env.view, env.view_given, env.output))
		return EXIT_SUCCESS;
	/* inverting twice is the identity: the fallback is JSON, which reads root first */
	if (view_invert(prof, &env.vopts, env.view, env.format == OUTPUT_JSON) ||
	    output_save_fallback(prof, saved, sizeof(saved)))
		fprintf(stderr, "pymem-bpf: the profile could not be saved anywhere else either\n");
	else
		fprintf(stderr, "pymem-bpf: the profile is saved as %s instead (pymem-bpf report "
			"converts it)\n", saved);
	return EXIT_FAILURE;
}

/* The target stopped once more, for what holds its live blocks; a failure is one line. */
static struct holders *take_holders(const struct attachment *a)
{
	struct holders *h;
	char err[512] = "";

	if (holders_take(&a->t, a->pt, &env.hopts, &h, err, sizeof(err))) {
		fprintf(stderr, "pymem-bpf: no holders: %s\n", err);
		return NULL;
	}
	return h;
}

/* The session from attach to its end: tables or top's screen, then the profile. */
static int run(struct attachment *a, struct overhead *oh, struct pm_profile *prof)
{
	const struct pytarget *t = &a->t;
	struct session_opts so = {
		.duration = env.duration, .interval = env.interval, .view = env.view,
		.vopts = &env.vopts, .topts = &env.topts, .tables = tables(),
	};
	struct session s = { .col = a->col, .t = t, .o = &so, .start = session_now(),
			     .sample_interval = env.attach.sample_interval,
			     .max_overhead = env.attach.max_overhead, .oh = oh,
			     .a = a };
	struct timespec wall;
	char what[128];
	bool exited;
	int err;

	clock_gettime(CLOCK_REALTIME, &wall);
	s.start_time = wall.tv_sec + wall.tv_nsec / 1e9;
	if (env.top_ui && !so.interval)
		so.interval = TOP_INTERVAL_S;
	if (so.interval) {
		s.iv = interval_new(so.interval);
		if (!s.iv)
			return -ENOMEM;
	}
	snprintf(what, sizeof(what), "PID %d (python %s)", t->pid, t->version);
	if (env.top_ui)
		s.ui = top_ui_open(&env.topts, env.view, what);
	exited = session_run(&s, &exiting);
	top_ui_close(s.ui);
	if (exited)
		fprintf(stderr, "pymem-bpf: target PID %d exited; writing the profile gathered "
			"so far\n", t->pid);
	if (env.holders && exited)
		fprintf(stderr, "pymem-bpf: no holders: the target is gone\n");
	else if (env.holders)
		s.holders = take_holders(a);
	s.holders_top = env.hopts.top;
	err = session_profile(&s, exited, prof);
	holders_free(s.holders);
	interval_free(s.iv);
	return err;
}

static int target_cpu_ns(void *arg, uint64_t *ns)
{
	return proc_cpu_read(((struct attachment *)arg)->pid, ns);
}

static int target_interval(void *arg, uint64_t interval)
{
	return attach_sample_interval(arg, interval);
}

/* --max-overhead on the one target */
static const struct overhead_ops one_target = {
	.cpu_ns = target_cpu_ns,
	.apply = target_interval,
};

static const struct {
	const char *name, *prog;
	int (*run)(int argc, char **argv);
} subcommands[] = {
	{ "report", "pymem-bpf report", report_main },
	{ "diff", "pymem-bpf diff", diff_main },
	{ "check", "pymem-bpf check", check_main },
	{ "agent", "pymem-bpf agent", agent_main },
};

int main(int argc, char **argv)
{
	static const struct argp_child children[] = {
		{ &view_argp, 0, "View options:", 0 },
		{ &top_argp, 0, "Table options:", 0 },
		{},
	};
	static const struct argp argp = { .options = opts, .parser = parse_arg, .doc = doc,
					  .children = children };
	struct pm_profile prof = {};
	struct overhead *oh = NULL;
	struct attachment *a;
	struct kfeatures kf;
	char err[512] = "";
	size_t i;
	int ret;

	for (i = 0; argc > 1 && i < sizeof(subcommands) / sizeof(subcommands[0]); i++) {
		if (strcmp(argv[1], subcommands[i].name))
			continue;
		/* its messages and usage start "pymem-bpf NAME" */
		argv[1] = (char *)subcommands[i].prog;
		return subcommands[i].run(argc - 1, argv + 1);
	}
	if (argc > 1 && !strcmp(argv[1], "top")) {
		env.top_ui = true;
		argc--;
		argv++;
	}
	argp_err_exit_status = EXIT_BAD_INPUT;
	if (argp_parse(&argp, argc, argv, ARGP_IN_ORDER, NULL, NULL))
		return EXIT_BAD_INPUT;
	if (check_output())
		return EXIT_BAD_INPUT;
	if (!kfeatures_privileged()) {
		fprintf(stderr, "pymem-bpf: need root, or CAP_BPF and CAP_PERFMON (try sudo)\n");
		return EXIT_BAD_INPUT;
	}
	kfeatures_probe(&kf);
	if (kfeatures_require(&kf, err, sizeof(err))) {
		fprintf(stderr, "pymem-bpf: %s\n", err);
		return EXIT_BAD_INPUT;
	}
	env.attach.probes.uprobe_multi = kf.uprobe_multi;
	/* every way a user ends a session must reach the restore in attach_close() */
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGQUIT, on_signal);
	signal(SIGPIPE, SIG_IGN);

	ret = attach_open(&env.attach, &a);
	if (!ret && env.attach.max_overhead) {
		oh = overhead_new(a->probes, &one_target, a, env.attach.sample_interval,
				  env.attach.max_overhead, err,
				  sizeof(err));
		if (!oh) {
			fprintf(stderr, "pymem-bpf: %s\n", err);
			ret = EXIT_FAILURE;
		}
	}
	if (!ret && run(a, oh, &prof)) {
		fprintf(stderr, "pymem-bpf: cannot read the kernel maps\n");
		ret = EXIT_FAILURE;
	} else if (!ret) {
		ret = finish(&prof);
	}
	overhead_free(oh);
	attach_close(a);
	pm_profile_free(&prof);
	return ret;
}
