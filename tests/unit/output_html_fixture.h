/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the HTML page's unit tests share: a fixture profile (with names that
 * would break the page if not escaped), the page written to memory, and
 * its data element parsed.
 */
#ifndef PYMEM_TESTS_OUTPUT_HTML_FIXTURE_H
#define PYMEM_TESTS_OUTPUT_HTML_FIXTURE_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <json-c/json.h>
#include "output_html.h"
#include "counts.h"

/* Would end the data or script element, start a comment, or break quoting. */
#define NASTY_FN	"</script><script>alert(\"x\")</script> " \
			"na\xc3\xafve_\xe5\x87\xbd\xe6\x95\xb0 <!--"
#define NASTY_FILE	"/tmp/\"q\"/<x>.py"
#define NASTY_LABEL	NASTY_FN " (" NASTY_FILE ":7)"
#define NASTY_EXE	"/opt/<b>&\"py\"</b>/python"
#define MODULE		"p:<module> (/srv/app.py:1)"
#define LOAD		MODULE ";p:load (/srv/app.py:40)"

/* Eight stacks over the four views, one named to break the page if left unescaped */
void fixture(struct pm_profile *p);

/* The page for view, with why (NULL: none) as its reason line, malloc'd */
char *write_html_why(const struct pm_profile *p, enum pm_view view, const char *why);

char *write_html(const struct pm_profile *p, enum pm_view view);

/* The text between the data markers, malloc'd. */
char *extract(const char *doc, const char *open, const char *close);

/* The page's data element parsed (and its text, malloc'd, in *text if not NULL) */
struct json_object *parse_data(const char *doc, char **text);

/* o's member key; a failure if it has none */
struct json_object *get(struct json_object *o, const char *key);

/* Points for fixture stacks, as an -i session gives them. */
void add_series(struct pm_profile *p, size_t i, const struct pm_point *pts, size_t n);

/* fixture() with an -i session's series for three stacks, one of a single point */
void series_fixture(struct pm_profile *p);

#endif
