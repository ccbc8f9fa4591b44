// SPDX-License-Identifier: GPL-2.0
/* pymem-bpf agent: its options, the one loaded object, the loop, and the restore on exit. */
#include <argp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include "agent.h"
#include "agent_main.h"
#include "cli_args.h"
#include "collect.h"
#include "kfeatures.h"
#include "kubelet.h"
#include "overhead.h"
#include "proc_cpu.h"
#include "session.h"

#define SCAN_S		0.5	/* a new process is attached within this (and the attach) */
#define TICK_MS		100

/*
 * Maps for a fleet, not for one exact process: every target shares them.
 * 50 busy processes fit with room (see tests/bench/agent.py).
 */
static struct {
	const char *listen;
	const char *match;
	const char *kubelet;
	uint64_t sample_interval;
	double max_overhead;
	struct probes_opts probes;
} aenv = {
	.listen = "127.0.0.1:9464",
	.sample_interval = 512 * 1024,
	.probes = { .max_live = 1 << 18, .max_stacks = 1 << 16, .max_targets = 128,
		    .max_codes = 1 << 16, .news_bytes = 4 << 20 },
};

static const char doc[] =
"Profile every CPython process on the host and serve the results over HTTP.\n"
"\n"
"USAGE: pymem-bpf agent [--listen ADDR:PORT] [--match REGEX] [--sample-interval BYTES]\n"
"                       [--max-overhead PCT] [--kubelet URL]\n"
"\n"
"ENDPOINTS (read-only GETs):\n"
"    /metrics                      Prometheus text: live and allocated bytes per process\n"
"    /debug/pprof/heap?pid=N       Go heap profile (inuse_space default); or ?container=ID, ?pod=UID\n"
"    /debug/pprof/allocs?pid=N     the same, alloc_space the default\n"
"    /targets                      JSON: every Python process found, attached or why not\n"
"\n"
"It listens on 127.0.0.1:9464 unless --listen says otherwise. EXIT STATUS: 0 after\n"
"SIGTERM or SIGINT (every target restored), 1 runtime failure, 2 bad input.";

enum { OPT_LISTEN = 0x200, OPT_MATCH, OPT_SAMPLE, OPT_MAX_OVERHEAD, OPT_KUBELET };

static const struct argp_option opts[] = {
	{ "listen", OPT_LISTEN, "ADDR:PORT", 0, "Serve HTTP here (default 127.0.0.1:9464)", 0 },
	{ "match", OPT_MATCH, "REGEX", 0, "Only processes whose executable or command line "
	  "matches this POSIX extended regex", 0 },
	{ "sample-interval", OPT_SAMPLE, "BYTES", 0, "Mean bytes between sampled allocations "
	  "(suffix K, KiB, M, MiB; default 512KiB; 0: every allocation)", 0 },
	{ "max-overhead", OPT_MAX_OVERHEAD, "PCT", 0, "Grow the interval while the probes take "
	  "more than PCT% of the targets' CPU time together (0 < PCT <= 100)", 0 },
	{ "kubelet", OPT_KUBELET, "URL", 0, "Label pods with their names and namespaces from "
	  "this kubelet (https://NODE_IP:10250, or the API server's proxy to it)", 0 },
	{ "verbose", 'v', NULL, 0, "Show libbpf's messages", 0 },
	{},
};

static regex_t match_re;
static bool has_match;

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	char why[128];
	int err;

	switch (key) {
	case OPT_LISTEN:
		aenv.listen = arg;
		break;
	case OPT_MATCH:
		if (has_match)
			regfree(&match_re);
		err = regcomp(&match_re, arg, REG_EXTENDED | REG_NOSUB);
		if (err) {
			regerror(err, &match_re, why, sizeof(why));
			arg_fail(state, "bad --match regex %s: %s", arg, why);
		}
		has_match = true;
		break;
	case OPT_KUBELET:
		aenv.kubelet = arg;
		break;
	case OPT_SAMPLE:
		aenv.sample_interval = arg_bytes(arg, state);
		break;
	case OPT_MAX_OVERHEAD:
		aenv.max_overhead = arg_percent(arg, state);
		break;
	case ARGP_KEY_END:
		if (aenv.max_overhead && !aenv.sample_interval)
			arg_fail(state, "--max-overhead adapts sampled mode's interval: not with "
				 "--sample-interval 0");
		break;
	default:
		return arg_rest(key, arg, state, &aenv.probes.verbose);
	}
	return 0;
}

/* ADDR:PORT, ADDR an IPv4 address or [an IPv6 one]; the listening socket, or -1 with why */
static int listen_on(const char *spec, char *why, size_t len)
{
	struct sockaddr_storage ss = {};
	struct sockaddr_in *v4 = (void *)&ss;
	struct sockaddr_in6 *v6 = (void *)&ss;
	char host[64], *end;
	const char *colon = strrchr(spec, ':');
	unsigned long port;
	int fd, one = 1;
	size_t hl;

	if (!colon || colon == spec || (hl = colon - spec) >= sizeof(host)) {
		snprintf(why, len, "bad --listen %s: want ADDR:PORT", spec);
		return -1;
	}
	memcpy(host, spec, hl);
	host[hl] = '\0';
	port = strtoul(colon + 1, &end, 10);
	if (*end || !colon[1] || !port || port > 65535) {
		snprintf(why, len, "bad --listen %s: the port must be 1-65535", spec);
		return -1;
	}
	if (host[0] == '[' && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		ss.ss_family = AF_INET6;
		v6->sin6_port = htons(port);
		if (inet_pton(AF_INET6, host + 1, &v6->sin6_addr) != 1)
			ss.ss_family = 0;
	} else {
		ss.ss_family = AF_INET;
		v4->sin_port = htons(port);
		if (inet_pton(AF_INET, host, &v4->sin_addr) != 1)
			ss.ss_family = 0;
	}
	if (!ss.ss_family) {
		snprintf(why, len, "bad --listen %s: not an IP address", spec);
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (void *)&ss, ss.ss_family == AF_INET ? sizeof(*v4) : sizeof(*v6)) ||
	    listen(fd, 64)) {
		snprintf(why, len, "cannot listen on %s: %s", spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static volatile sig_atomic_t exiting;

static void on_signal(int sig)
{
	exiting = 1;
}

static int targets_cpu_ns(void *arg, uint64_t *ns)
{
	struct agent *ag = arg;
	uint64_t one;
	size_t i;

	*ns = 0;
	for (i = 0; i < ag->n; i++)
		if (ag->t[i]->a && !proc_cpu_read(ag->t[i]->pid, &one))
			*ns += one;
	return 0;
}

/* Every attached target sampled at interval, and those attached from now on */
static int targets_interval(void *arg, uint64_t interval)
{
	struct agent *ag = arg;
	size_t i;

	for (i = 0; i < ag->n; i++)
		if (ag->t[i]->a && attach_sample_interval(ag->t[i]->a, interval))
			fprintf(stderr, "pymem-bpf agent: PID %d keeps its interval: it is gone\n",
				ag->t[i]->pid);
	ag->sample_interval = interval;
	return 0;
}

/* --max-overhead over the targets together: the BPF programs' time is the object's */
static const struct overhead_ops all_targets = {
	.cpu_ns = targets_cpu_ns,
	.apply = targets_interval,
};

static void run(struct agent *ag, struct http *h)
{
	double next = 0, now;
	size_t i;

	while (!exiting) {
		now = session_now();
		if (now >= next) {
			discover_scan(ag, now);
			next = now + SCAN_S;
		}
		if (ag->oh)
			overhead_tick(ag->oh, now);
		http_serve(h, TICK_MS);
		for (i = 0; i < ag->n; i++)
			attach_follow_libs(ag->t[i]->a, session_now());
	}
}

int agent_main(int argc, char **argv)
{
	static const struct argp argp = { .options = opts, .parser = parse_arg, .doc = doc };
	struct agent ag = { .self = getpid() };
	struct http *h = NULL;
	struct kfeatures kf;
	int fd, ret = EXIT_FAILURE;
	char why[256];

	argp_err_exit_status = EXIT_BAD_INPUT;
	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		return EXIT_BAD_INPUT;
	if (!kfeatures_privileged()) {
		fprintf(stderr, "pymem-bpf agent: need root, or CAP_BPF, CAP_PERFMON and "
			"CAP_SYS_PTRACE (try sudo)\n");
		return EXIT_BAD_INPUT;
	}
	kfeatures_probe(&kf);
	if (kfeatures_require(&kf, why, sizeof(why))) {
		fprintf(stderr, "pymem-bpf agent: %s\n", why);
		return EXIT_BAD_INPUT;
	}
	/* before the 250 ms load: a port in use is bad input, said at once */
	fd = listen_on(aenv.listen, why, sizeof(why));
	if (fd < 0) {
		fprintf(stderr, "pymem-bpf agent: %s\n", why);
		return EXIT_BAD_INPUT;
	}
	ag.match = match_re;
	ag.has_match = has_match;
	ag.sample_interval = aenv.sample_interval;
	/* a wrong URL, token or certificate is said now, in one line */
	if (aenv.kubelet) {
		ag.kubelet = kubelet_open(aenv.kubelet, why, sizeof(why));
		if (!ag.kubelet) {
			fprintf(stderr, "pymem-bpf agent: %s\n", why);
			close(fd);
			return EXIT_BAD_INPUT;
		}
	}
	aenv.probes.uprobe_multi = kf.uprobe_multi;
	/* every way the agent is told to stop must reach the restore of every target */
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGQUIT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	if (probes_load(&aenv.probes, &ag.probes))
		goto out;
	if (aenv.max_overhead) {
		ag.oh = overhead_new(ag.probes, &all_targets, &ag, aenv.sample_interval,
				     aenv.max_overhead, why, sizeof(why));
		if (!ag.oh) {
			fprintf(stderr, "pymem-bpf agent: %s\n", why);
			goto out;
		}
	}
	ag.news = news_new(ag.probes);
	h = ag.news ? http_start(&ag, fd) : NULL;
	if (!h)
		goto out;
	fd = -1;	/* the server's now */
	fprintf(stderr, "pymem-bpf: agent listening on http://%s\n", aenv.listen);
	run(&ag, h);
	ret = EXIT_SUCCESS;
out:
	http_stop(h);
	if (fd >= 0)
		close(fd);
	targets_free(&ag);
	overhead_free(ag.oh);
	news_free(ag.news);
	probes_stop(ag.probes);
	kubelet_close(ag.kubelet);
	if (has_match)
		regfree(&match_re);
	return ret;
}
