// SPDX-License-Identifier: GPL-2.0
/* The frame a row names: the leaf, and the user's own caller when the leaf is library code. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "view.h"
#include "where.h"

int where_parse(const char *arg, struct where_rule *r)
{
	if (!arg || !*arg)
		return -EINVAL;
	r->glob = NULL;
	if (!strcmp(arg, "user")) {
		r->kind = WHERE_USER;
	} else if (!strcmp(arg, "leaf")) {
		r->kind = WHERE_LEAF;
	} else {
		r->kind = WHERE_GLOB;
		r->glob = arg;
	}
	return 0;
}

/* Where "json/decoder.py" starts in ".../lib/python3.11/json/decoder.py", or NULL. */
static const char *stdlib_rest(const char *file)
{
	const char *p, *rest;

	for (p = strstr(file, "/python3."); p; p = strstr(p + 1, "/python3.")) {
		/* the directory above is lib (or lib64, as Fedora names it) */
		if (!((p - file >= 4 && !strncmp(p - 4, "/lib", 4)) ||
		      (p - file >= 6 && !strncmp(p - 6, "/lib64", 6))))
			continue;
		rest = p + strlen("/python3.");
		if (*rest < '0' || *rest > '9')
			continue;
		rest += strspn(rest, "0123456789");
		if (*rest != '/')
			continue;
		rest++;
		/* installed packages live below the standard library's directory */
		if (!strncmp(rest, "site-packages/", 14) || !strncmp(rest, "dist-packages/", 14))
			return NULL;
		return rest;
	}
	return NULL;
}

bool where_in_stdlib(const char *file)
{
	if (!file)
		return false;
	return !strncmp(file, "<frozen ", 8) || stdlib_rest(file);
}

static bool passed_over(const struct pm_frame *fr, const struct where_rule *r)
{
	switch (r->kind) {
	case WHERE_USER:
		return where_in_stdlib(fr->file);
	case WHERE_GLOB:
		return view_frame_matches(fr, r->glob);
	case WHERE_LEAF:
		break;
	}
	return false;
}

/* Index of the leaf-most Python frame, or -1. */
static long leaf_python(const struct pm_frame *frames, size_t nframes)
{
	long i;

	for (i = (long)nframes - 1; i >= 0; i--)
		if (frames[i].kind == PM_FRAME_PYTHON)
			return i;
	return -1;
}

/* Index of where_caller()'s frame, or -1. */
static long caller_index(const struct pm_frame *frames, size_t nframes,
			 const struct where_rule *r)
{
	long i = leaf_python(frames, nframes);

	if (i < 0 || !passed_over(&frames[i], r))
		return -1;
	for (i--; i >= 0; i--)
		if (frames[i].kind == PM_FRAME_PYTHON && !passed_over(&frames[i], r))
			return i;
	return -1;
}

const struct pm_frame *where_caller(const struct pm_frame *frames, size_t nframes,
				    const struct where_rule *r)
{
	long i = caller_index(frames, nframes, r);

	return i < 0 ? NULL : &frames[i];
}

const struct pm_frame *where_frame(const struct pm_frame *frames, size_t nframes,
				   const struct where_rule *r)
{
	const struct pm_frame *c = where_caller(frames, nframes, r);

	return c ? c : view_leaf_frame(frames, nframes);
}

/* Line breaks would tear a table apart. */
static void flatten(char *s)
{
	for (; s && *s; s++)
		if (*s == '\n' || *s == '\r')
			*s = ' ';
}

char *where_label(const struct pm_frame *fr, const struct where_rule *r)
{
	struct pm_frame shown;
	const char *rest;
	char *s;

	if (!fr)
		return strdup("[unknown]");
	shown = *fr;
	rest = fr->file ? stdlib_rest(fr->file) : NULL;
	if (r->kind == WHERE_USER && fr->kind == PM_FRAME_PYTHON && rest)
		shown.file = (char *)rest;
	s = pm_frame_label(&shown);
	flatten(s);
	return s;
}

char *where_text(const struct pm_frame *frames, size_t nframes, const struct where_rule *r)
{
	long c = caller_index(frames, nframes, r), leaf = leaf_python(frames, nframes);
	char *cs, *ls, *out = NULL;

	ls = where_label(view_leaf_frame(frames, nframes), r);
	if (c < 0 || !ls)
		return ls;
	cs = where_label(&frames[c], r);
	if (cs && asprintf(&out, "%s -> %s%s", cs, leaf - c > 1 ? "... -> " : "", ls) < 0)
		out = NULL;
	free(cs);
	free(ls);
	return out;
}
