// SPDX-License-Identifier: GPL-2.0
/* pymem-bpf: per-stack live and allocated memory of a running CPython process. */
#include <argp.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "check.h"
#include "collect.h"
#include "diff.h"
#include "kfeatures.h"
#include "launch.h"
#include "output.h"
#include "output_top.h"
#include "probes.h"
#include "pytarget.h"
#include "redirect.h"
#include "report.h"
#include "symbolize.h"
#include "view.h"

#define TICK_MS 200

static struct env {
	pid_t pid;
	char **cmd;
	double duration;
	double interval;
	const char *output;
	enum output_format format;
	enum pm_view view;
	int top;
	bool no_inject;
	struct probes_opts probes;
	struct view_opts vopts;
} env = {
	.top = 10,
	.view = PM_VIEW_LIVE_BYTES,
	.probes = { .max_live = 1 << 20, .max_stacks = 1 << 18 },
};

const char *argp_program_version = "pymem-bpf 0.1";
static const char doc[] =
"Per-stack live and allocated memory of a CPython process, from eBPF.\n"
"\n"
"USAGE: pymem-bpf [OPTIONS] -p PID\n"
"       pymem-bpf [OPTIONS] -- COMMAND [ARGS...]\n"
"       pymem-bpf report PROFILE.json [-f FORMAT] [-o FILE]   (see report --help)\n"
"       pymem-bpf diff BASE.json NEW.json [-f FORMAT] [-o FILE] (see diff --help)\n"
"       pymem-bpf check [-p PID]       can this kernel run it? (see check --help)\n"
"\n"
"EXAMPLES:\n"
"    pymem-bpf -p 4242                 # until Ctrl-C, then the top stacks by live bytes\n"
"    pymem-bpf -p 4242 -d 30 -o heap.json -f json\n"
"    pymem-bpf -p 4242 -f folded --view alloc-bytes -o alloc.folded\n"
"    pymem-bpf -i 5 -- python3 app.py   # launch mode, a top table every 5 s\n"
"\n"
"EXIT STATUS: 0 success, 1 runtime failure, 2 bad input (no such PID, not\n"
"Python, unsupported version, missing privileges, bad option).";

enum { OPT_VIEW = 0x100, OPT_MAX_LIVE, OPT_MAX_STACKS, OPT_NO_INJECT };

static const struct argp_option opts[] = {
	{ "pid", 'p', "PID", 0, "Profile this process", 0 },
	{ "duration", 'd', "SECONDS", 0, "Stop after SECONDS (default: Ctrl-C or target exit)", 0 },
	{ "interval", 'i', "SECONDS", 0, "Print a top table every SECONDS", 0 },
	{ "output", 'o', "FILE", 0, "Write the profile to FILE ('-' for stdout)", 0 },
	{ "format", 'f', "FORMAT", 0, "json (default), folded, html, pprof or speedscope", 0 },
	{ "view", OPT_VIEW, "VIEW", 0, "live-bytes (default), live-objects, alloc-bytes, alloc-objects, "
	  "peak-bytes", 0 },
	{ "top", 'n', "N", 0, "Rows in the top table (default 10)", 0 },
	{ "max-live", OPT_MAX_LIVE, "N", 0, "Live blocks tracked at once (default 1048576)", 0 },
	{ "max-stacks", OPT_MAX_STACKS, "N", 0, "Distinct stacks tracked (default 262144)", 0 },
	{ "no-inject", OPT_NO_INJECT, NULL, 0, "Probe allocator symbols instead of redirecting "
	  "the allocator tables to trampolines (misses LTO builds' inlined fast path)", 0 },
	{ "verbose", 'v', NULL, 0, "Show libbpf's messages", 0 },
	{},
};

static double parse_seconds(const char *arg, struct argp_state *state)
{
	char *end;
	double v = strtod(arg, &end);

	if (*end || v <= 0)
		argp_error(state, "invalid number of seconds: %s", arg);
	return v;
}

static long parse_count(const char *arg, struct argp_state *state)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (*end || v <= 0)
		argp_error(state, "invalid number: %s", arg);
	return v;
}

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &env.vopts;
		break;
	case 'p':
		env.pid = parse_count(arg, state);
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
			argp_error(state, "unknown format: %s (json, folded, html, pprof, speedscope)", arg);
		break;
	case OPT_VIEW:
		if (pm_view_parse(arg, &env.view))
			argp_error(state, "unknown view: %s", arg);
		break;
	case 'n':
		env.top = parse_count(arg, state);
		break;
	case OPT_MAX_LIVE:
		env.probes.max_live = parse_count(arg, state);
		break;
	case OPT_MAX_STACKS:
		env.probes.max_stacks = parse_count(arg, state);
		break;
	case 'v':
		env.probes.verbose = true;
		break;
	case OPT_NO_INJECT:
		env.no_inject = true;
		break;
	case ARGP_KEY_ARG:
		env.cmd = &state->argv[state->next - 1];
		state->next = state->argc;
		break;
	case ARGP_KEY_END:
		if (!env.pid == !env.cmd)
			argp_error(state, "give either -p PID or -- COMMAND");
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

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

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

static int build_profile(struct collector *c, const struct pytarget *t, double secs,
			 bool exited, struct pm_profile *p)
{
	int err;

	memset(p, 0, sizeof(*p));
	p->pid = t->pid;
	snprintf(p->version, sizeof(p->version), "%s", t->version);
	p->executable = strdup(t->exe);
	p->libpython = t->shared ? strdup(t->interp) : NULL;
	p->duration_s = secs;
	p->target_exited = exited;
	err = collector_profile(c, p);
	if (!err)
		err = view_apply_root_first(p, &env.vopts, env.view);
	if (!err)
		pm_profile_sort(p, PM_VIEW_LIVE_BYTES);
	return err;
}

static void print_top(struct collector *c, const struct pytarget *t, double secs, FILE *out)
{
	struct pm_profile p;

	if (!build_profile(c, t, secs, false, &p))
		output_top_print(&p, env.top, out);
	pm_profile_free(&p);
}

/*
 * Redirect the allocator tables to trampolines where possible: exact on LTO
 * builds and one cheap probe hit per event.  Otherwise probe the symbols.
 */
static int attach_allocator(const struct pytarget *t, struct probes *p, bool launched,
			    struct redirect **redir)
{
	char err[512] = "";
	bool lto;
	int ret;

	/* a launched command waits, stopped, at its entry point until this is done */
	if (launched) {
		ret = launch_release_stopped(t->pid);
		if (ret)
			return ret;
	}
	if (!env.no_inject) {
		ret = redirect_start(t, p, redir, err, sizeof(err));
		if (!ret) {
			probes_every_free_seen(p);
			return 0;
		}
		fprintf(stderr, "pymem-bpf: warning: allocator redirection failed (%s); probing "
			"allocator symbols instead\n", err);
	}
	lto = !t->shared && t->stripped;
	if (lto)
		fprintf(stderr, "pymem-bpf: warning: %s is a static, stripped (likely LTO) build: "
			"pymalloc's inlined fast path is not probed, coverage is incomplete\n",
			t->interp);
	ret = probes_attach_python(p, t);
	/* an LTO build frees objects inline, past the symbol probes */
	if (!ret && !lto)
		probes_every_free_seen(p);
	return ret;
}

static void warn_coverage(const struct pytarget *t)
{
	if (pytarget_pymalloc_bypassed(t))
		fprintf(stderr, "pymem-bpf: warning: PID %d runs with PYTHONMALLOC=%s: pymalloc is "
			"bypassed; allocations are tracked through libc malloc\n", t->pid,
			t->pythonmalloc);
}

/* Poll until the duration ends, a signal arrives or the target exits. */
static bool run_session(struct collector *c, const struct pytarget *t, double start)
{
	double next_top = start + env.interval;
	struct pollfd pfd = { .fd = syscall(SYS_pidfd_open, t->pid, 0), .events = POLLIN };
	bool exited = false;

	while (!exiting) {
		collector_wait(c, TICK_MS);
		if (poll(&pfd, pfd.fd >= 0 ? 1 : 0, 0) > 0 ||
		    (pfd.fd < 0 && kill(t->pid, 0) && errno == ESRCH)) {
			exited = true;
			break;
		}
		if (env.duration && now() - start >= env.duration)
			break;
		if (env.interval && now() >= next_top) {
			print_top(c, t, now() - start, stdout);
			fflush(stdout);
			next_top += env.interval;
		}
	}
	if (pfd.fd >= 0)
		close(pfd.fd);
	return exited;
}

int main(int argc, char **argv)
{
	static const struct argp_child children[] = {
		{ &view_argp, 0, "View options:", 0 },
		{},
	};
	static const struct argp argp = { .options = opts, .parser = parse_arg, .doc = doc,
					  .children = children };
	struct redirect *redir = NULL;
	struct probes *probes = NULL;
	struct symbolizer *sym = NULL;
	struct collector *col = NULL;
	struct pm_profile prof = {};
	bool launched = false, exited;
	struct kfeatures kf;
	struct pytarget t;
	char err[512] = "";
	int ret, status;
	double start;

	if (argc > 1 && !strcmp(argv[1], "report"))
		return report_main(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "diff"))
		return diff_main(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "check"))
		return check_main(argc - 1, argv + 1);
	argp_err_exit_status = EXIT_BAD_INPUT;
	if (argp_parse(&argp, argc, argv, ARGP_IN_ORDER, NULL, NULL))
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
	env.probes.uprobe_multi = kf.uprobe_multi;
	/* every way a user ends a session must reach the restore in cleanup */
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGQUIT, on_signal);
	signal(SIGPIPE, SIG_IGN);

	if (env.cmd) {
		ret = launch_start(env.cmd, &env.pid, err, sizeof(err));
		if (ret) {
			fprintf(stderr, "pymem-bpf: %s\n", err);
			return EXIT_BAD_INPUT;
		}
		launched = true;
	}
	ret = pytarget_open(env.pid, &t, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "pymem-bpf: %s\n", err);
		ret = EXIT_BAD_INPUT;
		goto cleanup;
	}
	warn_coverage(&t);
	ret = probes_start(&t, &env.probes, &probes);
	if (!ret)
		ret = attach_allocator(&t, probes, launched, &redir);
	if (ret) {
		ret = EXIT_FAILURE;
		goto cleanup;
	}
	/* until here a failure kills the launched command, stopped or traced */
	if (launched) {
		kill(env.pid, SIGCONT);
		launched = false;
	}
	start = now();
	fprintf(stderr, "pymem-bpf: attached to PID %d (python %s, %s)\n", t.pid, t.version,
		t.interp);

	sym = symbolizer_new(&t, &sym_ops, probes);
	col = sym ? collector_new(probes, sym) : NULL;
	if (!col) {
		fprintf(stderr, "pymem-bpf: out of memory\n");
		ret = EXIT_FAILURE;
		goto cleanup;
	}
	exited = run_session(col, &t, start);
	if (exited)
		fprintf(stderr, "pymem-bpf: target PID %d exited; writing the profile gathered "
			"so far\n", t.pid);
	if (build_profile(col, &t, now() - start, exited, &prof)) {
		fprintf(stderr, "pymem-bpf: cannot read the kernel maps\n");
		ret = EXIT_FAILURE;
		goto cleanup;
	}
	ret = EXIT_SUCCESS;
	output_top_print(&prof, env.top, env.output && !strcmp(env.output, "-") ? stderr : stdout);
	if (env.output &&
	    (view_invert(&prof, &env.vopts, env.view, env.format == OUTPUT_JSON) ||
	     output_write(&prof, env.format, env.view, env.output)))
		ret = EXIT_FAILURE;
cleanup:
	redirect_stop(redir);
	pm_profile_free(&prof);
	collector_free(col);
	symbolizer_free(sym);
	probes_stop(probes);
	if (launched) {
		kill(env.pid, SIGKILL);
		waitpid(env.pid, &status, 0);
	} else if (env.cmd && waitpid(env.pid, &status, WNOHANG) == env.pid) {
		if (WIFEXITED(status))
			fprintf(stderr, "pymem-bpf: command exited with status %d\n",
				WEXITSTATUS(status));
		else if (WIFSIGNALED(status))
			fprintf(stderr, "pymem-bpf: command killed by signal %d\n",
				WTERMSIG(status));
	}
	return ret;
}
