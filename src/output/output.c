// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "output.h"
#include "output_file.h"
#include "output_folded.h"
#include "output_html.h"
#include "output_json.h"
#include "output_pprof.h"
#include "output_speedscope.h"
#include "summary.h"

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

static int write_format(const struct pm_profile *p, enum output_format fmt, enum pm_view view,
			bool view_given, FILE *f)
{
	char why[512];

	switch (fmt) {
	case OUTPUT_JSON:
		return output_json_write(p, f);
	case OUTPUT_FOLDED:
		return output_folded_write(p, view, f);
	case OUTPUT_HTML:
		if (view_given)
			return output_html_write(p, view, NULL, f);
		view = summary_pick_view(p, why, sizeof(why));
		return output_html_write(p, view, why, f);
	case OUTPUT_SPEEDSCOPE:
		return output_speedscope_write(p, f);
	case OUTPUT_PPROF:
		return output_pprof_write(p, f);
	}
	return -EINVAL;
}

/* Write it whole or not at all; @created tells a failure to create from one to write. */
static int write_file(const struct pm_profile *p, enum output_format fmt, enum pm_view view,
		      bool view_given, const char *path, bool *created)
{
	struct output_file of;
	FILE *f;
	int err;

	*created = false;
	f = output_file_open(path, &of);
	if (!f)
		return -errno;
	*created = true;
	err = write_format(p, fmt, view, view_given, f);
	if (err) {
		output_file_abort(&of);
		return err;
	}
	return output_file_commit(&of);
}

int output_write(const struct pm_profile *p, enum output_format fmt, enum pm_view view,
		 bool view_given, const char *path)
{
	bool created;
	int err = write_file(p, fmt, view, view_given, path, &created);

	if (err)
		fprintf(stderr, "pymem-bpf: cannot %s %s: %s\n", created ? "write" : "create", path,
			strerror(-err));
	return err;
}

int output_save_fallback(const struct pm_profile *p, char *saved, size_t len)
{
	const char *dirs[] = { getenv("TMPDIR"), "/var/tmp", "/tmp", "." };
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	bool created;
	int err = -ENOENT;
	size_t i;

	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", localtime_r(&now, &tm));
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (!dirs[i] || !*dirs[i])
			continue;
		if (snprintf(saved, len, "%s/pymem-bpf-%d-%s.json", dirs[i], p->pid, stamp) >=
		    (int)len)
			continue;
		err = write_file(p, OUTPUT_JSON, PM_VIEW_LIVE_BYTES, true, saved, &created);
		if (!err)
			return 0;
	}
	return err;
}
