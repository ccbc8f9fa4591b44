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
/*
 * Write p to path ('-' for stdout); prints its own error.  0 or -errno.
 * An HTML page opens on @view if @view_given, else on the view that tells
 * this capture's story (summary_pick_view()) and says why.
 */
int output_write(const struct pm_profile *p, enum output_format fmt, enum pm_view view,
		 bool view_given, const char *path);
/*
 * When the output asked for cannot be written (a full disk): @p as JSON,
 * "pymem-bpf-PID-YYYYmmdd-HHMMSS.json" in the first of $TMPDIR, /var/tmp,
 * /tmp and the current directory that takes it, its path in @saved.
 * Quiet; 0 or the last -errno.
 */
int output_save_fallback(const struct pm_profile *p, char *saved, size_t len);

#endif
