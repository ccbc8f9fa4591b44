// SPDX-License-Identifier: GPL-2.0
/*
 * Folded-stack writer.  Frames are joined with ';' and the value follows
 * the last space, so a frame must never contain ';' or a line break:
 * those become ':' and ' '.  Two stacks that differ only in a way the
 * rendering hides (e.g. a ';' vs ':' in a name) end up on one line, summed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "output_folded.h"

struct folded_line {
	char *text;
	uint64_t value;
};

static void put_clean(FILE *m, const char *s)
{
	for (; *s; s++) {
		if (*s == ';')
			fputc(':', m);
		else if (*s == '\n' || *s == '\r')
			fputc(' ', m);
		else
			fputc(*s, m);
	}
}

static void put_frame(FILE *m, const struct pm_frame *fr)
{
	const char *fn = fr->function && *fr->function ? fr->function : "[unknown]";
	const char *file = fr->file ? fr->file : "";

	put_clean(m, fn);
	if (fr->kind == PM_FRAME_PYTHON) {
		fputs(" (", m);
		put_clean(m, file);
		fprintf(m, ":%d)", fr->line);
	} else if (*file) {
		fputs(" [", m);
		put_clean(m, file);
		fputc(']', m);
	}
}

/* Returns a malloc'd "root;...;leaf" or NULL when out of memory. */
static char *render_stack(const struct pm_stack *s)
{
	char *text = NULL;
	size_t len, i;
	FILE *m;

	m = open_memstream(&text, &len);
	if (!m)
		return NULL;
	if (!s->nframes)
		fputs("[unknown]", m);
	for (i = 0; i < s->nframes; i++) {
		if (i)
			fputc(';', m);
		put_frame(m, &s->frames[i]);
	}
	if (fclose(m)) {
		free(text);
		return NULL;
	}
	return text;
}

static int line_cmp(const void *a, const void *b)
{
	return strcmp(((const struct folded_line *)a)->text,
		      ((const struct folded_line *)b)->text);
}

int output_folded_write(const struct pm_profile *p, enum pm_view view, FILE *f)
{
	struct folded_line *lines;
	size_t i, j, n = 0;
	uint64_t sum;
	int err = 0;

	lines = calloc(p->nstacks ? p->nstacks : 1, sizeof(*lines));
	if (!lines)
		return -ENOMEM;
	for (i = 0; i < p->nstacks; i++) {
		uint64_t v = pm_view_value(&p->stacks[i].c, view);

		if (!v)
			continue;
		lines[n].text = render_stack(&p->stacks[i]);
		if (!lines[n].text) {
			err = -ENOMEM;
			goto out;
		}
		lines[n++].value = v;
	}

	/*
	 * The lost events on a comment line, which flame graph tools skip (it
	 * ends in no count).  Sorting puts equal renderings side by side and
	 * fixes the order.
	 */
	pm_drops_line(f, p, "# ");
	qsort(lines, n, sizeof(*lines), line_cmp);
	for (i = 0; i < n; i = j) {
		sum = 0;
		for (j = i; j < n && !strcmp(lines[i].text, lines[j].text); j++)
			sum += lines[j].value;
		fprintf(f, "%s %" PRIu64 "\n", lines[i].text, sum);
	}
	if (fflush(f))
		err = -errno;
	else if (ferror(f))
		err = -EIO;
out:
	for (i = 0; i < n; i++)
		free(lines[i].text);
	free(lines);
	return err;
}
