// SPDX-License-Identifier: GPL-2.0
/* PodList JSON: items[].metadata.{uid,name,namespace}, nothing else read. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "kubelet_podlist.h"

/* A string member of @o no longer than @max, copied; false otherwise. */
static bool copy_member(struct json_object *o, const char *key, char *out, size_t max)
{
	struct json_object *v;
	size_t n;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return false;
	n = (size_t)json_object_get_string_len(v);
	if (!n || n > max || memchr(json_object_get_string(v), 0, n))
		return false;
	memcpy(out, json_object_get_string(v), n);
	out[n] = 0;
	return true;
}

static bool read_pod(struct json_object *item, struct kube_pod *p)
{
	struct json_object *meta;

	if (!json_object_is_type(item, json_type_object) ||
	    !json_object_object_get_ex(item, "metadata", &meta) ||
	    !json_object_is_type(meta, json_type_object))
		return false;
	return copy_member(meta, "uid", p->uid, POD_UID_LEN) &&
	       cgroup_pod_uid_valid(p->uid, strlen(p->uid)) &&
	       copy_member(meta, "name", p->name, KUBE_NAME_LEN) &&
	       copy_member(meta, "namespace", p->ns, KUBE_NS_LEN);
}

static bool only_space(const char *p, const char *end)
{
	for (; p < end; p++)
		if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t')
			return false;
	return true;
}

static int uid_cmp(const void *a, const void *b)
{
	return strcmp(((const struct kube_pod *)a)->uid, ((const struct kube_pod *)b)->uid);
}

int kube_podlist_parse(const char *json, size_t len, struct kube_podlist *pl)
{
	struct json_object *root = NULL, *items;
	struct json_tokener *tok;
	size_t i, n;
	int err = 0;

	memset(pl, 0, sizeof(*pl));
	tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	root = json_tokener_parse_ex(tok, json, (int)(len > (size_t)INT32_MAX ? INT32_MAX : len));
	if (!root || json_tokener_get_error(tok) != json_tokener_success ||
	    !only_space(json + json_tokener_get_parse_end(tok), json + len) ||
	    !json_object_object_get_ex(root, "items", &items) ||
	    !json_object_is_type(items, json_type_array)) {
		err = -EINVAL;
		goto out;
	}
	n = json_object_array_length(items);
	pl->v = calloc(n ? n : 1, sizeof(*pl->v));
	if (!pl->v) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (read_pod(json_object_array_get_idx(items, i), &pl->v[pl->n]))
			pl->n++;
		else
			pl->skipped++;
	}
	qsort(pl->v, pl->n, sizeof(*pl->v), uid_cmp);
out:
	json_object_put(root);
	json_tokener_free(tok);
	if (err)
		kube_podlist_free(pl);
	return err;
}

const struct kube_pod *kube_podlist_find(const struct kube_podlist *pl, const char *uid)
{
	struct kube_pod key;

	if (!pl->n || strlen(uid) > POD_UID_LEN)
		return NULL;
	strcpy(key.uid, uid);
	return bsearch(&key, pl->v, pl->n, sizeof(*pl->v), uid_cmp);
}

void kube_podlist_free(struct kube_podlist *pl)
{
	free(pl->v);
	memset(pl, 0, sizeof(*pl));
}
