/* SPDX-License-Identifier: GPL-2.0 */
/* One entry point for every output format, written whole or not at all. */
#ifndef PYMEM_OUTPUT_H
#define PYMEM_OUTPUT_H

#include "profile.h"

enum output_format {
	OUTPUT_JSON,
	OUTPUT_FOLDED,
	OUTPUT_HTML,
	OUTPUT_SPEEDSCOPE,
	OUTPUT_PPROF,
};

/* "json", "folded", "html", "speedscope", "pprof"; -EINVAL otherwise. */
int output_format_parse(const char *s, enum output_format *fmt);
/* Write p to path ('-' for stdout); prints its own error.  0 or -errno. */
int output_write(const struct pm_profile *p, enum output_format fmt, enum pm_view view,
		 const char *path);

#endif
