// SPDX-License-Identifier: GPL-2.0
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli_args.h"
#include "check.h"
#include "kfeatures.h"
#include "probes.h"
#include "py_versions.h"
#include "pytarget.h"

static struct {
	pid_t pid;
	struct probes_opts probes;
} cenv = {
	.probes = { .max_live = 1 << 20, .max_stacks = 1 << 18 },
};

static const char doc[] =
"Can this kernel run pymem-bpf?  Lists the kernel features it uses, then loads\n"
"the BPF programs (attaching nothing) and prints what the verifier says of\n"
"each: instructions processed, time, and each subprogram's stack depth.\n"
"\n"
"USAGE: pymem-bpf check [-p PID]\n"
"\n"
"The programs serve every Python layout (each process's is in a map); with\n"
"-p, that process is first checked to be a Python pymem-bpf can profile.\n"
"EXIT STATUS: 0 loadable, 1 refused by the verifier, 2 a required kernel\n"
"feature is missing, or bad input.";

static const struct argp_option opts[] = {
	{ "pid", 'p', "PID", 0, "Check that this process is a Python pymem-bpf can profile", 0 },
	{ "verbose", 'v', NULL, 0, "Show libbpf's messages", 0 },
	{},
};

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	char *end;

	switch (key) {
	case 'p':
		cenv.pid = strtol(arg, &end, 10);
		if (*end || cenv.pid <= 0)
			arg_fail(state, "invalid PID: %s", arg);
		break;
	default:
		return arg_rest(key, arg, state, &cenv.probes.verbose);
	}
	return 0;
}

static void print_features(const struct kfeatures *f)
{
	const struct {
		const char *name;
		bool have, required;
	} rows[] = {
		{ "BTF", f->btf, true },
		{ "ring buffer", f->ringbuf, true },
		{ "task storage", f->task_storage, true },
		{ "syscall programs", f->syscall_prog, true },
		{ "bpf_loop", f->bpf_loop, true },
		{ "uprobe_multi links", f->uprobe_multi, false },
	};
	size_t i;

	printf("kernel %s\n", f->release);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		printf("  %-20s %s%s\n", rows[i].name, rows[i].have ? "yes" : "no",
		       rows[i].required ? "" : " (optional: slower without)");
}

int check_main(int argc, char **argv)
{
	static const struct argp argp = { .options = opts, .parser = parse_arg, .doc = doc };
	struct probes *p = NULL;
	struct kfeatures f;
	struct pytarget t;
	char err[512];
	int ret;

	argp_err_exit_status = EXIT_BAD_INPUT;
	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		return EXIT_BAD_INPUT;
	if (!kfeatures_privileged()) {
		fprintf(stderr, "pymem-bpf: need root, or CAP_BPF and CAP_PERFMON (try sudo)\n");
		return EXIT_BAD_INPUT;
	}
	kfeatures_probe(&f);
	print_features(&f);
	fflush(stdout);
	if (kfeatures_require(&f, err, sizeof(err))) {
		fprintf(stderr, "pymem-bpf: %s\n", err);
		return EXIT_BAD_INPUT;
	}
	if (cenv.pid) {
		ret = pytarget_open(cenv.pid, &t, err, sizeof(err));
		if (ret) {
			fprintf(stderr, "pymem-bpf: %s\n", err);
			return EXIT_BAD_INPUT;
		}
		printf("PID %d: python %s (%s)\n", t.pid, t.version, t.interp);
	}
	cenv.probes.uprobe_multi = f.uprobe_multi;
	ret = probes_load(&cenv.probes, &p);
	if (!ret)
		probes_print_verifier(p, stdout);
	probes_stop(p);
	return ret ? EXIT_FAILURE : EXIT_SUCCESS;
}
