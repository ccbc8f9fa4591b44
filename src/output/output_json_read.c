// SPDX-License-Identifier: GPL-2.0
/*
 * The JSON profile read back (report, diff): what output_json.c writes,
 * and profiles written before newer keys (start_time, series_info,
 * container, sample_interval, holders) were there.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "output_json.h"
#include "output_json_holders.h"
#include "output_json_keys.h"

struct json_object *pmj_member(struct json_object *o, const char *key, enum json_type t)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, t))
		return NULL;
	return v;
}

/* A number, written as a double or as an integer. */
int pmj_get_double(struct json_object *o, const char *key, double *out)
{
	struct json_object *v = pmj_member(o, key, json_type_double);

	if (!v)
		v = pmj_member(o, key, json_type_int);
	if (!v)
		return -EINVAL;
	*out = json_object_get_double(v);
	return 0;
}

int pmj_get_u64(struct json_object *o, const char *key, uint64_t *out)
{
	struct json_object *v = pmj_member(o, key, json_type_int);

	/* json-c clamps values above INT64_MAX to INT64_MAX for get_int64. */
	if (!v || json_object_get_int64(v) < 0)
		return -EINVAL;
	*out = json_object_get_uint64(v);
	return 0;
}

static int read_counts(struct json_object *o, struct pm_counts *c)
{
	struct json_object *within, *hist, *v;
	size_t i;

	if (!o)
		return -EINVAL;
	memset(c, 0, sizeof(*c));
	/* peak_bytes and the churn view are newer than the rest: optional */
	for (i = 0; i < NCOUNTS; i++)
		if (pmj_get_u64(o, count_keys[i], count_fields(c, i)) &&
		    (strcmp(count_keys[i], "peak_bytes") ||
		     json_object_object_get_ex(o, count_keys[i], NULL)))
			return -EINVAL;
	within = pmj_member(o, "freed_within", json_type_object);
	for (i = 0; within && i < 3; i++)
		if (pmj_get_u64(within, within_keys[i], &c->freed_within[i]))
			return -EINVAL;
	hist = pmj_member(o, "lifetime_bytes", json_type_array);
	if (hist && json_object_array_length(hist) != PYMEM_LIFETIME_BUCKETS)
		return -EINVAL;
	for (i = 0; hist && i < PYMEM_LIFETIME_BUCKETS; i++) {
		v = json_object_array_get_idx(hist, i);
		if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
			return -EINVAL;
		c->lifetime_bytes[i] = json_object_get_uint64(v);
	}
	return 0;
}

static int read_frame(struct json_object *o, struct pm_frame *fr)
{
	struct json_object *kind = pmj_member(o, "kind", json_type_string);
	struct json_object *fn = pmj_member(o, "function", json_type_string);
	struct json_object *file = pmj_member(o, "file", json_type_string);
	struct json_object *line = pmj_member(o, "line", json_type_int);
	int64_t l;

	if (!kind || !fn || !file || !line)
		return -EINVAL;
	if (!strcmp(json_object_get_string(kind), "python"))
		fr->kind = PM_FRAME_PYTHON;
	else if (!strcmp(json_object_get_string(kind), "native"))
		fr->kind = PM_FRAME_NATIVE;
	else
		return -EINVAL;
	l = json_object_get_int64(line);
	if (l < INT_MIN || l > INT_MAX)
		return -EINVAL;
	/* Borrowed from the json tree; pm_profile_add() copies them. */
	fr->function = (char *)json_object_get_string(fn);
	fr->file = (char *)json_object_get_string(file);
	fr->line = l;
	return 0;
}

/* The stack's series (optional: only -i sessions have one), into s->series. */
static int read_series(struct json_object *o, struct pm_stack *s)
{
	struct json_object *arr = pmj_member(o, "series", json_type_array), *pt;
	size_t i, n;

	if (!arr)
		return json_object_object_get_ex(o, "series", NULL) ? -EINVAL : 0;
	n = json_object_array_length(arr);
	s->series = calloc(n ? n : 1, sizeof(*s->series));
	if (!s->series)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		pt = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(pt, json_type_object) ||
		    pmj_get_double(pt, "t", &s->series[i].t) ||
		    pmj_get_u64(pt, "alloc_bytes", &s->series[i].alloc_bytes) ||
		    pmj_get_u64(pt, "live_bytes", &s->series[i].live_bytes))
			return -EINVAL;
		/* merging stacks walks series in time order */
		if (i && !(s->series[i].t > s->series[i - 1].t))
			return -EINVAL;
	}
	s->npoints = n;
	return 0;
}

static int read_stack(struct json_object *o, struct pm_profile *p)
{
	struct json_object *arr = pmj_member(o, "frames", json_type_array);
	struct pm_frame *frames = NULL;
	struct pm_stack s = {};
	size_t i, n;
	int err = -EINVAL;

	if (!arr || read_counts(o, &s.c))
		return -EINVAL;
	err = read_series(o, &s);
	if (!err)
		err = json_holders_read(o, &s);
	if (err)
		goto out;
	err = -EINVAL;
	n = json_object_array_length(arr);
	frames = calloc(n ? n : 1, sizeof(*frames));
	if (!frames) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++)
		if (read_frame(json_object_array_get_idx(arr, i), &frames[i]))
			goto out;
	err = pm_profile_add_stack(p, frames, n, &s);
out:
	free(frames);
	free(s.series);
	pm_holders_free(&s);
	return err;
}

static int read_python(struct json_object *o, struct pm_profile *p)
{
	struct json_object *ver = pmj_member(o, "version", json_type_string);
	struct json_object *exe = pmj_member(o, "executable", json_type_string);
	struct json_object *lib;

	if (!ver || !exe || !json_object_object_get_ex(o, "libpython", &lib))
		return -EINVAL;
	if (json_object_get_string_len(ver) >= (int)sizeof(p->version))
		return -EINVAL;
	strcpy(p->version, json_object_get_string(ver));
	p->executable = strdup(json_object_get_string(exe));
	if (!p->executable)
		return -ENOMEM;
	if (json_object_is_type(lib, json_type_null))
		return 0;
	if (!json_object_is_type(lib, json_type_string))
		return -EINVAL;
	p->libpython = strdup(json_object_get_string(lib));
	return p->libpython ? 0 : -ENOMEM;
}

/* Reasons missing from the file count as zero; unknown ones are ignored. */
static int read_dropped(struct json_object *o, struct pm_profile *p)
{
	struct json_object *v;
	int d;

	if (!o)
		return -EINVAL;
	for (d = 0; d < DROP__MAX; d++) {
		if (!json_object_object_get_ex(o, pm_drop_name(d), &v))
			continue;
		if (pmj_get_u64(o, pm_drop_name(d), &p->dropped[d]))
			return -EINVAL;
	}
	return 0;
}

static int read_peak(struct json_object *o, struct pm_profile *p)
{
	if (!o)
		return 0;
	if (pmj_get_u64(o, "live_bytes", &p->peak_live_bytes) ||
	    pmj_get_double(o, "time_s", &p->peak_time_s))
		return -EINVAL;
	return 0;
}

/* Newer than the rest, so optional: start_time and series_info. */
/* A string member of o, or null, into out (of len bytes); false if neither fits */
static bool read_short_string(struct json_object *o, const char *key, char *out, size_t len)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return true;
	if (!json_object_is_type(v, json_type_string) ||
	    (size_t)json_object_get_string_len(v) >= len)
		return false;
	strcpy(out, json_object_get_string(v));
	return true;
}

/* Absent or null on the host (and in profiles written before it) */
static int read_container(struct json_object *root, struct cgroup_id *c)
{
	struct json_object *o = pmj_member(root, "container", json_type_object);

	if (!o)
		return 0;
	return read_short_string(o, "id", c->container, sizeof(c->container)) &&
	       read_short_string(o, "runtime", c->runtime, sizeof(c->runtime)) &&
	       read_short_string(o, "pod_uid", c->pod_uid, sizeof(c->pod_uid)) ? 0 : -EINVAL;
}

static int read_optional(struct json_object *root, struct pm_profile *p)
{
	struct json_object *info = pmj_member(root, "series_info", json_type_object);
	uint64_t points, stacks;

	if (read_container(root, &p->container))
		return -EINVAL;
	if (json_object_object_get_ex(root, "start_time", NULL) &&
	    pmj_get_double(root, "start_time", &p->start_time))
		return -EINVAL;
	if (json_object_object_get_ex(root, "sample_interval", NULL) &&
	    pmj_get_u64(root, "sample_interval", &p->sample_interval))
		return -EINVAL;
	if (json_object_object_get_ex(root, "max_overhead_pct", NULL) &&
	    pmj_get_double(root, "max_overhead_pct", &p->max_overhead))
		return -EINVAL;
	/* older profiles have none */
	if (json_object_object_get_ex(root, "stack_walks", NULL) &&
	    pmj_get_u64(root, "stack_walks", &p->stack_walks))
		return -EINVAL;
	if (!info)
		return json_object_object_get_ex(root, "series_info", NULL) ? -EINVAL : 0;
	if (pmj_get_double(info, "step_s", &p->series.step_s) ||
	    pmj_get_u64(info, "max_points", &points) || pmj_get_u64(info, "max_stacks", &stacks) ||
	    points > UINT32_MAX || stacks > UINT32_MAX)
		return -EINVAL;
	p->series.max_points = points;
	p->series.max_stacks = stacks;
	return 0;
}

static int read_root(struct json_object *root, struct pm_profile *p)
{
	struct json_object *pid, *python, *exited, *stacks;
	size_t i, n;
	int err;

	if (!json_object_is_type(root, json_type_object))
		return -EINVAL;
	pid = pmj_member(root, "pid", json_type_int);
	python = pmj_member(root, "python", json_type_object);
	exited = pmj_member(root, "target_exited", json_type_boolean);
	stacks = pmj_member(root, "stacks", json_type_array);
	if (!pid || !python || !exited || !stacks || pmj_get_double(root, "duration_s", &p->duration_s))
		return -EINVAL;

	p->pid = json_object_get_int(pid);
	p->target_exited = json_object_get_boolean(exited);
	err = read_python(python, p);
	if (!err)
		err = read_optional(root, p);
	if (!err)
		err = read_counts(pmj_member(root, "totals", json_type_object), &p->totals);
	if (!err)
		err = read_dropped(pmj_member(root, "dropped", json_type_object), p);
	if (!err)
		err = read_peak(pmj_member(root, "peak", json_type_object), p);
	if (!err)
		err = json_heap_read(root, p);
	n = json_object_array_length(stacks);
	for (i = 0; i < n && !err; i++)
		err = read_stack(json_object_array_get_idx(stacks, i), p);
	return err;
}

static int slurp(FILE *f, char **out, size_t *len)
{
	size_t cap = 1 << 16, n = 0, got;
	char *buf = malloc(cap), *nb;

	while (buf) {
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (n < cap)
			break;
		cap *= 2;
		nb = realloc(buf, cap);
		if (!nb)
			free(buf);
		buf = nb;
	}
	if (!buf)
		return -ENOMEM;
	if (ferror(f)) {
		free(buf);
		return -EIO;
	}
	*out = buf;
	*len = n;
	return 0;
}

int output_json_read(FILE *f, struct pm_profile *p)
{
	struct json_tokener *tok = NULL;
	struct json_object *root = NULL;
	char *buf = NULL;
	size_t len, end;
	int err;

	memset(p, 0, sizeof(*p));
	err = slurp(f, &buf, &len);
	if (err)
		return err;
	err = -EFBIG;
	if (len > INT_MAX)
		goto out;
	err = -ENOMEM;
	tok = json_tokener_new();
	if (!tok)
		goto out;
	err = -EINVAL;
	root = json_tokener_parse_ex(tok, buf, len);
	if (!root || json_tokener_get_error(tok) != json_tokener_success)
		goto out;
	/* Only whitespace may follow the document. */
	for (end = json_tokener_get_parse_end(tok); end < len; end++)
		if (!buf[end] || !strchr(" \t\r\n", buf[end]))
			goto out;
	err = read_root(root, p);
out:
	if (err)
		pm_profile_free(p);
	json_object_put(root);
	if (tok)
		json_tokener_free(tok);
	free(buf);
	return err;
}
