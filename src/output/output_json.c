// SPDX-License-Identifier: GPL-2.0
/*
 * JSON profile writer (output_json_read.c reads it back).  The layout is a contract with other
 * tools: pid, python{version,executable,libpython}, container{id,runtime,pod_uid}
 * (in one), start_time, duration_s, sample_interval (bytes; only when
 * sampled, every count then an estimate) and max_overhead_pct (only when
 * the interval adapted to it; sample_interval is then the last),
 * libc_followed (sampled: libraries whose own malloc calls are seen, their
 * GOT entries, and entries bound to another allocator, not seen), target_exited, totals, dropped (every reason),
 * stack_walks (allocations whose stack the BPF side walked), series_info (with -i),
 * stacks (root first, largest live bytes first, each with its series).  Stacks are streamed one per line so a big
 * profile never needs a whole json-c tree in memory.
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

#define JSON_FLAGS	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/*
 * Counters, then the churn view: bytes freed within 1 ms/100 ms/1 s, the
 * log2-microsecond lifetime histogram, and rates over the session.
 * A NULL from json-c (out of memory) is stored as null; not worth a path.
 */
static void add_counts(struct json_object *o, const struct pm_counts *c, double dur)
{
	struct json_object *within = json_object_new_object();
	struct json_object *hist = json_object_new_array_ext(PYMEM_LIFETIME_BUCKETS);
	size_t i;

	for (i = 0; i < NCOUNTS; i++)
		json_object_object_add(o, count_keys[i],
				       json_object_new_uint64(*count_fields((struct pm_counts *)c, i)));
	for (i = 0; within && i < 3; i++)
		json_object_object_add(within, within_keys[i],
				       json_object_new_uint64(c->freed_within[i]));
	json_object_object_add(o, "freed_within", within);
	for (i = 0; hist && i < PYMEM_LIFETIME_BUCKETS; i++)
		json_object_array_add(hist, json_object_new_uint64(c->lifetime_bytes[i]));
	json_object_object_add(o, "lifetime_bytes", hist);
	json_object_object_add(o, "alloc_bytes_per_s",
			       json_object_new_double(dur > 0 ? c->alloc_bytes / dur : 0));
	json_object_object_add(o, "alloc_objects_per_s",
			       json_object_new_double(dur > 0 ? c->alloc_objects / dur : 0));
}

static struct json_object *new_string_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static struct json_object *python_obj(const struct pm_profile *p)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "version", json_object_new_string_len(p->version,
			       strnlen(p->version, sizeof(p->version))));
	json_object_object_add(o, "executable",
			       json_object_new_string(p->executable ? p->executable : ""));
	json_object_object_add(o, "libpython", new_string_or_null(p->libpython));
	return o;
}

/* Sampled mode: the libraries whose own malloc calls are seen (struct pm_profile's libs) */
static struct json_object *libs_obj(const struct pm_profile *p)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "libraries", json_object_new_uint64(p->libs.libraries));
	json_object_object_add(o, "got_entries", json_object_new_uint64(p->libs.entries));
	json_object_object_add(o, "bound_elsewhere", json_object_new_uint64(p->libs.foreign));
	return o;
}

/* "" is no value: null */
static struct json_object *string_or_null(const char *s)
{
	return new_string_or_null(*s ? s : NULL);
}

static bool on_host(const struct pm_profile *p)
{
	return !p->container.container[0] && !p->container.pod_uid[0];
}

static struct json_object *container_obj(const struct pm_profile *p)
{
	const struct cgroup_id *c = &p->container;
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "id", string_or_null(c->container));
	json_object_object_add(o, "runtime", string_or_null(c->runtime));
	json_object_object_add(o, "pod_uid", string_or_null(c->pod_uid));
	return o;
}

static struct json_object *frame_obj(const struct pm_frame *fr)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "kind", json_object_new_string(
			       fr->kind == PM_FRAME_PYTHON ? "python" : "native"));
	json_object_object_add(o, "function",
			       json_object_new_string(fr->function ? fr->function : ""));
	json_object_object_add(o, "file", json_object_new_string(fr->file ? fr->file : ""));
	json_object_object_add(o, "line", json_object_new_int(fr->line));
	return o;
}

static struct json_object *series_obj(const struct pm_stack *s)
{
	struct json_object *arr = json_object_new_array_ext(s->npoints), *pt;
	size_t i;

	for (i = 0; arr && i < s->npoints; i++) {
		pt = json_object_new_object();
		if (pt) {
			json_object_object_add(pt, "t", json_object_new_double(s->series[i].t));
			json_object_object_add(pt, "alloc_bytes",
					       json_object_new_uint64(s->series[i].alloc_bytes));
			json_object_object_add(pt, "live_bytes",
					       json_object_new_uint64(s->series[i].live_bytes));
		}
		json_object_array_add(arr, pt);
	}
	return arr;
}

static struct json_object *stack_obj(const struct pm_stack *s, double dur)
{
	struct json_object *o = json_object_new_object();
	struct json_object *frames = json_object_new_array_ext(s->nframes);
	size_t i;

	if (!o || !frames) {
		json_object_put(o);
		json_object_put(frames);
		return NULL;
	}
	for (i = 0; i < s->nframes; i++)
		json_object_array_add(frames, frame_obj(&s->frames[i]));
	json_object_object_add(o, "frames", frames);
	add_counts(o, &s->c, dur);
	if (s->npoints)
		json_object_object_add(o, "series", series_obj(s));
	if (s->nholders)
		json_object_object_add(o, "holders", json_holders_obj(s));
	return o;
}

/* Print @v (consumed) after an optional "key": prefix. */
static int put_value(FILE *f, const char *sep, const char *key, struct json_object *v)
{
	const char *txt;

	if (!v)
		return -ENOMEM;
	txt = json_object_to_json_string_ext(v, JSON_FLAGS);
	if (!txt) {
		json_object_put(v);
		return -ENOMEM;
	}
	if (key)
		fprintf(f, "%s\"%s\":%s", sep, key, txt);
	else
		fprintf(f, "%s%s", sep, txt);
	json_object_put(v);
	return 0;
}

/* How the series were bounded; NULL when there are none. */
static struct json_object *series_info_obj(const struct pm_profile *p)
{
	struct json_object *o;

	if (!(p->series.step_s > 0))
		return NULL;
	o = json_object_new_object();
	if (!o)
		return NULL;
	json_object_object_add(o, "step_s", json_object_new_double(p->series.step_s));
	json_object_object_add(o, "max_points", json_object_new_int64(p->series.max_points));
	json_object_object_add(o, "max_stacks", json_object_new_int64(p->series.max_stacks));
	return o;
}

static int header_write(const struct pm_profile *p, FILE *f)
{
	struct json_object *totals, *dropped, *peak, *series;
	double dur = isfinite(p->duration_s) ? p->duration_s : 0.0;
	int d, err;

	totals = json_object_new_object();
	if (totals)
		add_counts(totals, &p->totals, dur);
	peak = json_object_new_object();
	if (peak) {
		json_object_object_add(peak, "live_bytes", json_object_new_uint64(p->peak_live_bytes));
		json_object_object_add(peak, "time_s", json_object_new_double(p->peak_time_s));
	}
	dropped = json_object_new_object();
	for (d = 0; dropped && d < DROP__MAX; d++)
		json_object_object_add(dropped, pm_drop_name(d),
				       json_object_new_uint64(p->dropped[d]));

	fprintf(f, "{\"pid\":%d", p->pid);
	err = put_value(f, ",", "python", python_obj(p));
	if (!err && on_host(p))
		fprintf(f, ",\"container\":null");
	else if (!err)
		err = put_value(f, ",", "container", container_obj(p));
	if (!err && p->start_time > 0)
		err = put_value(f, ",", "start_time", json_object_new_double(p->start_time));
	if (!err)
		err = put_value(f, ",", "duration_s", json_object_new_double(dur));
	if (!err && p->sample_interval)
		err = put_value(f, ",", "sample_interval", json_object_new_uint64(p->sample_interval));
	if (!err && p->max_overhead > 0)
		err = put_value(f, ",", "max_overhead_pct", json_object_new_double(p->max_overhead));
	if (!err && p->sample_interval)
		err = put_value(f, ",", "libc_followed", libs_obj(p));
	if (!err)
		err = put_value(f, ",", "target_exited", json_object_new_boolean(p->target_exited));
	if (!err) {
		err = put_value(f, ",", "totals", totals);
		totals = NULL;
	}
	if (!err) {
		err = put_value(f, ",", "peak", peak);
		peak = NULL;
	}
	if (!err) {
		err = put_value(f, ",", "dropped", dropped);
		dropped = NULL;
	}
	if (!err)
		err = put_value(f, ",", "stack_walks", json_object_new_uint64(p->stack_walks));
	series = series_info_obj(p);
	if (!err && series)
		err = put_value(f, ",", "series_info", series);
	if (!err && p->heap)
		err = put_value(f, ",", "heap", json_heap_obj(p->heap));
	json_object_put(peak);
	json_object_put(totals);
	json_object_put(dropped);
	return err;
}

static uint64_t live_bytes(const struct pm_stack *s)
{
	return s->c.live_bytes;
}

int output_json_write(const struct pm_profile *p, FILE *f)
{
	const struct pm_stack **order;
	size_t i;
	int err;

	/* The profile is const: sort pointers to its stacks instead. */
	order = pm_profile_order_by(p, live_bytes);
	if (!order)
		return -ENOMEM;

	err = header_write(p, f);
	if (err)
		goto out;
	fputs(",\"stacks\":[", f);
	for (i = 0; i < p->nstacks && !err; i++)
		err = put_value(f, i ? ",\n" : "\n", NULL, stack_obj(order[i], p->duration_s));
	if (err)
		goto out;
	fputs("\n]}\n", f);
	if (fflush(f))
		err = -errno;
	else if (ferror(f))
		err = -EIO;
out:
	free(order);
	return err;
}
