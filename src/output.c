// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "output.h"
#include "output_file.h"
#include "output_folded.h"
#include "output_html.h"
#include "output_json.h"
#include "output_pprof.h"
#include "output_speedscope.h"

static const char *const names[] = {
	[OUTPUT_JSON] = "json",
	[OUTPUT_FOLDED] = "folded",
	[OUTPUT_HTML] = "html",
	[OUTPUT_SPEEDSCOPE] = "speedscope",
	[OUTPUT_PPROF] = "pprof",
};

int output_format_parse(const char *s, enum output_format *fmt)
{
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(s, names[i])) {
			*fmt = i;
			return 0;
		}
	}
	return -EINVAL;
}

int output_write(const struct pm_profile *p, enum output_format fmt, enum pm_view view,
		 const char *path)
{
	struct output_file of;
	FILE *f;
	int err;

	f = output_file_open(path, &of);
	if (!f) {
		err = -errno;
		fprintf(stderr, "pymem-bpf: cannot create %s: %s\n", path, strerror(errno));
		return err;
	}
	switch (fmt) {
	case OUTPUT_JSON:
		err = output_json_write(p, f);
		break;
	case OUTPUT_FOLDED:
		err = output_folded_write(p, view, f);
		break;
	case OUTPUT_HTML:
		err = output_html_write(p, view, f);
		break;
	case OUTPUT_SPEEDSCOPE:
		err = output_speedscope_write(p, f);
		break;
	case OUTPUT_PPROF:
		err = output_pprof_write(p, f);
		break;
	default:
		err = -EINVAL;
	}
	if (err) {
		output_file_abort(&of);
		fprintf(stderr, "pymem-bpf: cannot write %s: %s\n", path, strerror(-err));
		return err;
	}
	err = output_file_commit(&of);
	if (err)
		fprintf(stderr, "pymem-bpf: cannot write %s: %s\n", path, strerror(-err));
	return err;
}
