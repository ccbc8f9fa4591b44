// SPDX-License-Identifier: GPL-2.0
/*
 * "holders": [{"path": [{"kind", "name"[, "function", "thread"]}, ...],
 *              "type", "objects", "bytes"}, ...]   per stack, root first;
 * "heap": {"paused_ms", "partial", "objects_walked", "types": [{"type",
 *          "objects", "bytes"}], "opaque": [{"type", "objects", "address"}],
 *          "pymalloc": {"available": true, "arenas", "arena_bytes", "pool_size", "empty_pools",
 *                       "classes": [{"size", "pools", "used_blocks", "free_blocks"}]}
 *                      | {"available": false, "reason"},
 *          "rss_bytes", "pss_bytes"}
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "output_json_holders.h"

static struct json_object *step_obj(const struct pm_hold_step *st)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "kind", json_object_new_string(st->kind ? st->kind : "?"));
	json_object_object_add(o, "name", json_object_new_string(st->name ? st->name : "?"));
	if (st->function) {
		json_object_object_add(o, "function", json_object_new_string(st->function));
		json_object_object_add(o, "thread", json_object_new_uint64(st->thread));
	}
	return o;
}

struct json_object *json_holders_obj(const struct pm_stack *s)
{
	struct json_object *arr = json_object_new_array_ext(s->nholders), *o, *path;
	size_t i, j;

	for (i = 0; arr && i < s->nholders; i++) {
		const struct pm_holder *h = &s->holders[i];

		o = json_object_new_object();
		path = json_object_new_array_ext(h->nsteps);
		if (!o || !path) {
			json_object_put(o);
			json_object_put(path);
			json_object_put(arr);
			return NULL;
		}
		for (j = 0; j < h->nsteps; j++)
			json_object_array_add(path, step_obj(&h->steps[j]));
		json_object_object_add(o, "path", path);
		json_object_object_add(o, "type", json_object_new_string(h->type ? h->type : "?"));
		json_object_object_add(o, "objects", json_object_new_uint64(h->objects));
		json_object_object_add(o, "bytes", json_object_new_uint64(h->bytes));
		json_object_array_add(arr, o);
	}
	return arr;
}

static struct json_object *types_obj(const struct pm_heap_type *v, size_t n, bool opaque)
{
	struct json_object *arr = json_object_new_array_ext(n), *o;
	size_t i;

	for (i = 0; arr && i < n; i++) {
		o = json_object_new_object();
		if (!o)
			break;
		json_object_object_add(o, "type", json_object_new_string(v[i].type));
		json_object_object_add(o, "objects", json_object_new_uint64(v[i].objects));
		if (opaque)
			json_object_object_add(o, "address", json_object_new_uint64(v[i].address));
		else
			json_object_object_add(o, "bytes", json_object_new_uint64(v[i].bytes));
		json_object_array_add(arr, o);
	}
	return arr;
}

static void put_u64(struct json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_uint64(v));
}

static struct json_object *pymalloc_obj(const struct pm_heap *h)
{
	struct json_object *o = json_object_new_object(), *arr, *c;
	size_t i;

	if (!o)
		return NULL;
	json_object_object_add(o, "available", json_object_new_boolean(!h->pymalloc));
	if (h->pymalloc) {
		json_object_object_add(o, "reason", json_object_new_string(h->pymalloc));
		return o;
	}
	put_u64(o, "arenas", h->arenas);
	put_u64(o, "arena_bytes", h->arena_bytes);
	put_u64(o, "pool_size", h->pool_size);
	put_u64(o, "empty_pools", h->empty_pools);
	arr = json_object_new_array_ext(h->nclasses);
	for (i = 0; arr && i < h->nclasses; i++) {
		c = json_object_new_object();
		if (!c)
			break;
		put_u64(c, "size", h->classes[i].size);
		put_u64(c, "pools", h->classes[i].pools);
		put_u64(c, "used_blocks", h->classes[i].used_blocks);
		put_u64(c, "free_blocks", h->classes[i].free_blocks);
		json_object_array_add(arr, c);
	}
	json_object_object_add(o, "classes", arr);
	return o;
}

struct json_object *json_heap_obj(const struct pm_heap *h)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "paused_ms", json_object_new_double(h->paused_ms));
	json_object_object_add(o, "partial", json_object_new_boolean(h->partial));
	json_object_object_add(o, "objects_walked", json_object_new_uint64(h->objects_walked));
	json_object_object_add(o, "types", types_obj(h->types, h->ntypes, false));
	json_object_object_add(o, "opaque", types_obj(h->opaque, h->nopaque, true));
	json_object_object_add(o, "pymalloc", pymalloc_obj(h));
	json_object_object_add(o, "rss_bytes", json_object_new_uint64(h->rss_bytes));
	json_object_object_add(o, "pss_bytes", json_object_new_uint64(h->pss_bytes));
	return o;
}

/* A string member as a new string; NULL (and *bad) when it is missing and required. */
static char *str_member(struct json_object *o, const char *key, bool required, bool *bad)
{
	struct json_object *v = pmj_member(o, key, json_type_string);
	char *s;

	if (!v) {
		*bad |= required || json_object_object_get_ex(o, key, NULL);
		return NULL;
	}
	s = strdup(json_object_get_string(v));
	*bad |= !s;
	return s;
}

static int read_holder(struct json_object *o, struct pm_holder *h)
{
	struct json_object *path = pmj_member(o, "path", json_type_array), *st;
	bool bad = false;
	size_t i;

	memset(h, 0, sizeof(*h));
	if (!path)
		return -EINVAL;
	h->nsteps = json_object_array_length(path);
	h->steps = calloc(h->nsteps ? h->nsteps : 1, sizeof(*h->steps));
	if (!h->steps)
		return -ENOMEM;
	for (i = 0; i < h->nsteps && !bad; i++) {
		st = json_object_array_get_idx(path, i);
		if (!json_object_is_type(st, json_type_object))
			return -EINVAL;
		h->steps[i].kind = str_member(st, "kind", true, &bad);
		h->steps[i].name = str_member(st, "name", true, &bad);
		h->steps[i].function = str_member(st, "function", false, &bad);
		if (h->steps[i].function && pmj_get_u64(st, "thread", &h->steps[i].thread))
			bad = true;
	}
	h->type = str_member(o, "type", true, &bad);
	if (bad || pmj_get_u64(o, "objects", &h->objects) || pmj_get_u64(o, "bytes", &h->bytes))
		return -EINVAL;
	return 0;
}

int json_holders_read(struct json_object *o, struct pm_stack *s)
{
	struct json_object *arr = pmj_member(o, "holders", json_type_array);
	size_t i, n;
	int err;

	if (!arr)
		return json_object_object_get_ex(o, "holders", NULL) ? -EINVAL : 0;
	n = json_object_array_length(arr);
	s->holders = calloc(n ? n : 1, sizeof(*s->holders));
	if (!s->holders)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		err = read_holder(json_object_array_get_idx(arr, i), &s->holders[i]);
		s->nholders = i + 1;
		if (err)
			return err;
	}
	return 0;
}

static int read_types(struct json_object *arr, bool opaque, struct pm_heap_type **out, size_t *n)
{
	struct json_object *o;
	bool bad = false;
	size_t i;

	if (!arr)
		return -EINVAL;
	*n = json_object_array_length(arr);
	*out = calloc(*n ? *n : 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (i = 0; i < *n; i++) {
		o = json_object_array_get_idx(arr, i);
		(*out)[i].type = str_member(o, "type", true, &bad);
		if (bad || pmj_get_u64(o, "objects", &(*out)[i].objects) ||
		    pmj_get_u64(o, opaque ? "address" : "bytes",
				opaque ? &(*out)[i].address : &(*out)[i].bytes))
			return -EINVAL;
	}
	return 0;
}

static int read_classes(struct json_object *arr, struct pm_heap *h)
{
	struct json_object *c;
	uint64_t size;
	size_t i;

	if (!arr)
		return -EINVAL;
	h->nclasses = json_object_array_length(arr);
	h->classes = calloc(h->nclasses ? h->nclasses : 1, sizeof(*h->classes));
	if (!h->classes)
		return -ENOMEM;
	for (i = 0; i < h->nclasses; i++) {
		c = json_object_array_get_idx(arr, i);
		if (pmj_get_u64(c, "size", &size) || size > UINT32_MAX ||
		    pmj_get_u64(c, "pools", &h->classes[i].pools) ||
		    pmj_get_u64(c, "used_blocks", &h->classes[i].used_blocks) ||
		    pmj_get_u64(c, "free_blocks", &h->classes[i].free_blocks))
			return -EINVAL;
		h->classes[i].size = size;
	}
	return 0;
}

/* "pymalloc": its arenas, or why they were not read */
static int read_pymalloc(struct json_object *pm, struct pm_heap *h)
{
	struct json_object *ok = pmj_member(pm, "available", json_type_boolean);
	bool bad = false;

	if (!ok)
		return -EINVAL;
	if (!json_object_get_boolean(ok)) {
		h->pymalloc = str_member(pm, "reason", true, &bad);
		return bad ? -EINVAL : 0;
	}
	if (pmj_get_u64(pm, "arenas", &h->arenas) ||
	    pmj_get_u64(pm, "arena_bytes", &h->arena_bytes) ||
	    pmj_get_u64(pm, "pool_size", &h->pool_size) ||
	    pmj_get_u64(pm, "empty_pools", &h->empty_pools))
		return -EINVAL;
	return read_classes(pmj_member(pm, "classes", json_type_array), h);
}

int json_heap_read(struct json_object *root, struct pm_profile *p)
{
	struct json_object *o = pmj_member(root, "heap", json_type_object), *v, *pm;
	struct pm_heap *h;
	int err;

	if (!o)
		return json_object_object_get_ex(root, "heap", NULL) ? -EINVAL : 0;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	p->heap = h;
	v = pmj_member(o, "partial", json_type_boolean);
	pm = pmj_member(o, "pymalloc", json_type_object);
	if (!v || !pm || pmj_get_double(o, "paused_ms", &h->paused_ms) ||
	    pmj_get_u64(o, "objects_walked", &h->objects_walked) ||
	    pmj_get_u64(o, "rss_bytes", &h->rss_bytes) || pmj_get_u64(o, "pss_bytes", &h->pss_bytes))
		return -EINVAL;
	h->partial = json_object_get_boolean(v);
	err = read_pymalloc(pm, h);
	if (!err)
		err = read_types(pmj_member(o, "types", json_type_array), false, &h->types,
				 &h->ntypes);
	if (!err)
		err = read_types(pmj_member(o, "opaque", json_type_array), true, &h->opaque,
				 &h->nopaque);
	return err;
}
