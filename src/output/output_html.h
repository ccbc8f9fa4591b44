/* SPDX-License-Identifier: GPL-2.0 */
/* A self-contained interactive HTML flame graph (icicle, root on top). */
#ifndef PYMEM_OUTPUT_HTML_H
#define PYMEM_OUTPUT_HTML_H

#include <stdio.h>
#include "profile.h"

/*
 * Marks around the embedded profile data, a JSON document in which every
 * '<' is written as \u003c, so tools and tests can pull it out.
 */
#define OUTPUT_HTML_DATA_OPEN	"<script type=\"application/json\" id=\"pm-data\">\n"
#define OUTPUT_HTML_DATA_CLOSE	"\n</script>"

/*
 * One HTML page with inline CSS and script and no external references.
 * It opens on @view and lets the reader switch between the four views,
 * search, zoom and hover.  The data is a prefix tree of frames, labelled
 * "function (file:line)" or "symbol [dso]", with stacks whose four view
 * values are all zero left out.  @why, if not NULL, says why it opens on
 * @view.  0 or -errno.
 */
int output_html_write(const struct pm_profile *p, enum pm_view view, const char *why, FILE *f);

#endif /* PYMEM_OUTPUT_HTML_H */
