// SPDX-License-Identifier: GPL-2.0
/* Stacks' holders and the heap summary: merging, trimming, freeing, naming. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "profile.h"

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static bool same_path(const struct pm_holder *a, const struct pm_holder *b)
{
	size_t i;

	if (a->nsteps != b->nsteps || !str_eq(a->type, b->type))
		return false;
	for (i = 0; i < a->nsteps; i++)
		if (!str_eq(a->steps[i].kind, b->steps[i].kind) ||
		    !str_eq(a->steps[i].name, b->steps[i].name) ||
		    !str_eq(a->steps[i].function, b->steps[i].function) ||
		    a->steps[i].thread != b->steps[i].thread)
			return false;
	return true;
}

static char *dup_or_null(const char *s, bool *fail)
{
	char *d = s ? strdup(s) : NULL;

	if (s && !d)
		*fail = true;
	return d;
}

void pm_holder_free(struct pm_holder *h)
{
	size_t i;

	for (i = 0; i < h->nsteps; i++) {
		free(h->steps[i].kind);
		free(h->steps[i].name);
		free(h->steps[i].function);
	}
	free(h->steps);
	free(h->type);
}

static int holder_copy(struct pm_holder *dst, const struct pm_holder *src)
{
	bool fail = false;
	size_t i;

	*dst = *src;
	dst->steps = calloc(src->nsteps ? src->nsteps : 1, sizeof(*dst->steps));
	if (!dst->steps)
		return -ENOMEM;
	for (i = 0; i < src->nsteps; i++) {
		dst->steps[i].kind = dup_or_null(src->steps[i].kind, &fail);
		dst->steps[i].name = dup_or_null(src->steps[i].name, &fail);
		dst->steps[i].function = dup_or_null(src->steps[i].function, &fail);
		dst->steps[i].thread = src->steps[i].thread;
	}
	dst->type = dup_or_null(src->type, &fail);
	if (fail) {
		pm_holder_free(dst);
		return -ENOMEM;
	}
	return 0;
}

int pm_holders_merge(struct pm_stack *dst, const struct pm_stack *src)
{
	struct pm_holder *v;
	size_t i, j;
	int err;

	if (dst == src || !src->nholders)
		return 0;
	for (i = 0; i < src->nholders; i++) {
		for (j = 0; j < dst->nholders; j++)
			if (same_path(&dst->holders[j], &src->holders[i]))
				break;
		if (j < dst->nholders) {
			dst->holders[j].objects += src->holders[i].objects;
			dst->holders[j].bytes += src->holders[i].bytes;
			continue;
		}
		v = realloc(dst->holders, (dst->nholders + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		dst->holders = v;
		err = holder_copy(&v[dst->nholders], &src->holders[i]);
		if (err)
			return err;
		dst->nholders++;
	}
	return 0;
}

static int by_bytes(const void *a, const void *b)
{
	const struct pm_holder *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	return x->objects < y->objects ? 1 : x->objects > y->objects ? -1 : 0;
}

void pm_holders_trim(struct pm_stack *s, size_t max)
{
	struct pm_holder *rest;
	size_t i;

	if (!s->nholders)
		return;
	qsort(s->holders, s->nholders, sizeof(*s->holders), by_bytes);
	if (s->nholders <= max || !max)
		return;
	rest = &s->holders[max - 1];
	for (i = max; i < s->nholders; i++) {
		rest->objects += s->holders[i].objects;
		rest->bytes += s->holders[i].bytes;
		pm_holder_free(&s->holders[i]);
	}
	pm_holder_free(rest);
	rest->nsteps = 0;
	rest->steps = NULL;
	rest->type = strdup("(other paths)");
	s->nholders = max;
}

void pm_holders_free(struct pm_stack *s)
{
	size_t i;

	for (i = 0; i < s->nholders; i++)
		pm_holder_free(&s->holders[i]);
	free(s->holders);
	s->holders = NULL;
	s->nholders = 0;
}

static void types_free(struct pm_heap_type *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i].type);
	free(v);
}

void pm_heap_free(struct pm_heap *h)
{
	if (!h)
		return;
	types_free(h->types, h->ntypes);
	types_free(h->opaque, h->nopaque);
	free(h->pymalloc);
	free(h->classes);
	free(h);
}

static void put_step(FILE *f, const struct pm_hold_step *st, bool first)
{
	const char *k = st->kind ? st->kind : "?", *n = st->name ? st->name : "?";

	if (!strcmp(k, "module"))
		fprintf(f, "module %s", n);
	else if (!strcmp(k, "local"))
		fprintf(f, "local %s in %s (thread %llu)", n, st->function ? st->function : "?",
			(unsigned long long)st->thread);
	else if (!strcmp(k, "key"))
		/* "*" (a key that is no str) and "(keys)" (the keys themselves) are no key's text */
		fprintf(f, strcmp(n, "*") && strcmp(n, "(keys)") ? "[\"%s\"]" : "[%s]", n);
	else if (!strcmp(k, "index"))
		fputs("[*]", f);
	else if (!strcmp(k, "cell"))
		fprintf(f, " <cell %s>", n);
	else
		fprintf(f, "%s%s", first ? "" : " . ", n);
}

char *pm_holder_path(const struct pm_holder *h)
{
	char *buf = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	if (!h->nsteps)
		fputs(h->type && !strcmp(h->type, "(other paths)") ? "(other paths)" :
		      "(not reached from a root)", f);
	for (i = 0; i < h->nsteps; i++)
		put_step(f, &h->steps[i], !i);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}
