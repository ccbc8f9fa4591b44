// SPDX-License-Identifier: GPL-2.0
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "cli_args.h"
#include "output.h"
#include "output_json.h"
#include "output_file.h"
#include "output_top.h"
#include "pytarget.h"
#include "report.h"
#include "summary.h"
#include "view.h"

static struct report_env {
	const char *input;
	const char *output;
	enum output_format format;
	enum pm_view view;
	bool view_given;
	struct view_opts vopts;
	struct top_opts topts;
} renv = { .output = "-", .format = OUTPUT_FOLDED, .topts = TOP_OPTS_DEFAULT };

static const char doc[] =
"Convert a profile written with -f json.\n"
"\n"
"USAGE: pymem-bpf report PROFILE.json [-f json|folded|html|top] [-o OUT] [--view VIEW]\n"
"       [--group-by KEY] [--include GLOB] [--exclude GLOB] [--min-size N] [--inverted]\n"
"\n"
"EXAMPLES:\n"
"    pymem-bpf report heap.json -f html -o heap.html\n"
"    pymem-bpf report heap.json -f folded --view alloc-bytes | flamegraph.pl > a.svg\n"
"    pymem-bpf report heap.json -f top\n"
"    pymem-bpf report heap.json -f top --view alloc-bytes --where leaf\n"
"    pymem-bpf report heap.json -f html --exclude '*/importlib/*' --inverted\n"
"    pymem-bpf report heap.json -f top --group-by line --min-size 1M";

enum { OPT_VIEW = 0x100 };

static const struct argp_option opts[] = {
	{ "output", 'o', "FILE", 0, "Write to FILE (default: stdout)", 0 },
	{ "format", 'f', "FORMAT", 0, "folded (default), json, html, pprof, speedscope, or top for a table", 0 },
	{ "view", OPT_VIEW, "VIEW", 0, "live-bytes, live-objects, alloc-bytes, alloc-objects, "
	  "peak-bytes (default live-bytes; HTML: alloc-bytes when churn dominates)", 0 },
	{},
};

static bool top_only;

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &renv.vopts;
		state->child_inputs[1] = &renv.topts;
		break;
	case 'o':
		renv.output = arg;
		break;
	case 'f':
		top_only = !strcmp(arg, "top");
		if (!top_only && output_format_parse(arg, &renv.format))
			arg_fail(state, "unknown format: %s", arg);
		break;
	case OPT_VIEW:
		if (pm_view_parse(arg, &renv.view))
			arg_fail(state, "unknown view: %s", arg);
		renv.view_given = true;
		break;
	case ARGP_KEY_ARG:
		if (renv.input)
			arg_fail(state, "one profile at a time");
		renv.input = arg;
		break;
	case ARGP_KEY_END:
		if (!renv.input)
			arg_fail(state, "which profile? give PROFILE.json");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

int report_main(int argc, char **argv)
{
	static const struct argp_child children[] = {
		{ &view_argp, 0, "View options:", 0 },
		{ &top_argp, 0, "Table options (-f top):", 0 },
		{},
	};
	static const struct argp argp = { .options = opts, .parser = parse_arg, .doc = doc,
					  .children = children };
	struct pm_profile p = {};
	FILE *f;
	int err;

	/* A bad option is bad input, not argp's EX_USAGE. */
	argp_err_exit_status = EXIT_BAD_INPUT;
	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		return EXIT_BAD_INPUT;
	if (!top_only && strcmp(renv.output, "-")) {
		err = output_file_check(renv.output);
		if (err) {
			fprintf(stderr, "pymem-bpf: cannot create %s: %s\n", renv.output,
				strerror(-err));
			return EXIT_BAD_INPUT;
		}
	}
	f = fopen(renv.input, "re");
	if (!f) {
		fprintf(stderr, "pymem-bpf: cannot open %s: %s\n", renv.input, strerror(errno));
		return EXIT_BAD_INPUT;
	}
	err = output_json_read(f, &p);
	fclose(f);
	if (err) {
		fprintf(stderr, "pymem-bpf: %s is not a pymem-bpf JSON profile\n", renv.input);
		return EXIT_BAD_INPUT;
	}
	err = view_apply_root_first(&p, &renv.vopts, renv.view);
	if (!err && !top_only)
		err = view_invert(&p, &renv.vopts, renv.view, renv.format == OUTPUT_JSON);
	if (err) {
		fprintf(stderr, "pymem-bpf: out of memory\n");
	} else if (top_only) {
		output_top_print(&p, renv.view, &renv.topts, stdout);
		summary_churn_print(&p, &renv.topts.where, stdout);
	} else {
		err = output_write(&p, renv.format, renv.view, renv.view_given, renv.output);
	}
	pm_profile_free(&p);
	return err ? 1 : 0;
}
