/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The JSON of --holders: each stack's "holders" and the profile's "heap"
 * (see README, JSON), written and read back; and the reading helpers the
 * JSON reader shares with it.
 */
#ifndef PYMEM_OUTPUT_JSON_HOLDERS_H
#define PYMEM_OUTPUT_JSON_HOLDERS_H

#include <json-c/json.h>
#include "profile.h"

struct json_object *json_holders_obj(const struct pm_stack *s);
struct json_object *json_heap_obj(const struct pm_heap *h);
/* A stack's "holders" (optional) into s; 0 or -EINVAL / -ENOMEM. */
int json_holders_read(struct json_object *o, struct pm_stack *s);
/* The profile's "heap" (optional) into p->heap; 0 or -EINVAL / -ENOMEM. */
int json_heap_read(struct json_object *root, struct pm_profile *p);

/* output_json_read.c: a member of type t, or NULL; numbers into *out, 0 or -EINVAL */
struct json_object *pmj_member(struct json_object *o, const char *key, enum json_type t);
int pmj_get_double(struct json_object *o, const char *key, double *out);
int pmj_get_u64(struct json_object *o, const char *key, uint64_t *out);

#endif
