// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <cmocka.h>
#include "output_pprof.h"
#include "pprof.pb-c.h"

typedef Perftools__Profiles__Profile Profile;

static const char *const want_types[4][2] = {
	{ "alloc_objects", "count" }, { "alloc_space", "bytes" },
	{ "inuse_objects", "count" }, { "inuse_space", "bytes" },
};

static void add(struct pm_profile *p, const struct pm_frame *fr, size_t n,
		uint64_t alloc_bytes, uint64_t alloc_objs, uint64_t live_bytes, uint64_t live_objs)
{
	struct pm_counts c = {
		.alloc_bytes = alloc_bytes, .alloc_objects = alloc_objs,
		.free_bytes = alloc_bytes - live_bytes, .free_objects = alloc_objs - live_objs,
		.live_bytes = live_bytes, .live_objects = live_objs,
	};

	assert_int_equal(pm_profile_add(p, fr, n, &c), 0);
}

/* gunzip a whole buffer with zlib; *out is malloc'd. */
static size_t gunzip(const unsigned char *in, size_t len, unsigned char **out)
{
	size_t cap = 1 << 16, n = 0;
	unsigned char *buf = malloc(cap);
	z_stream z = { 0 };
	int ret;

	assert_non_null(buf);
	assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);	/* gzip only */
	z.next_in = (unsigned char *)in;
	z.avail_in = len;
	do {
		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		z.next_out = buf + n;
		z.avail_out = cap - n;
		ret = inflate(&z, Z_NO_FLUSH);
		assert_true(ret == Z_OK || ret == Z_STREAM_END);
		n = cap - z.avail_out;
	} while (ret != Z_STREAM_END);
	assert_int_equal(z.avail_in, 0);	/* nothing after the gzip member */
	inflateEnd(&z);
	*out = buf;
	return n;
}

static Profile *encode_decode(const struct pm_profile *p)
{
	unsigned char *raw, *pb;
	char *buf = NULL;
	size_t len = 0, n;
	Profile *prof;
	FILE *m;

	m = open_memstream(&buf, &len);
	assert_non_null(m);
	assert_int_equal(output_pprof_write(p, m), 0);
	assert_int_equal(fclose(m), 0);
	raw = (unsigned char *)buf;
	assert_true(len > 18);
	assert_int_equal(raw[0], 0x1f);		/* gzip magic */
	assert_int_equal(raw[1], 0x8b);
	n = gunzip(raw, len, &pb);
	prof = perftools__profiles__profile__unpack(NULL, n, pb);
	assert_non_null(prof);
	free(pb);
	free(buf);
	return prof;
}

static const char *str(const Profile *prof, int64_t i)
{
	assert_true(i >= 0 && (size_t)i < prof->n_string_table);
	return prof->string_table[i];
}

static const Perftools__Profiles__Location *location(const Profile *prof, uint64_t id)
{
	assert_true(id >= 1 && id <= prof->n_location);
	assert_int_equal(prof->location[id - 1]->id, id);
	return prof->location[id - 1];
}

static const Perftools__Profiles__Function *function(const Profile *prof, uint64_t id)
{
	assert_true(id >= 1 && id <= prof->n_function);
	assert_int_equal(prof->function[id - 1]->id, id);
	return prof->function[id - 1];
}

static void check_header(const Profile *prof)
{
	const Perftools__Profiles__Mapping *m;
	size_t i;

	assert_true(prof->n_string_table > 0);
	assert_string_equal(prof->string_table[0], "");
	assert_int_equal(prof->n_sample_type, 4);
	for (i = 0; i < 4; i++) {
		assert_string_equal(str(prof, prof->sample_type[i]->type), want_types[i][0]);
		assert_string_equal(str(prof, prof->sample_type[i]->unit), want_types[i][1]);
	}
	assert_string_equal(str(prof, prof->default_sample_type), "inuse_space");

	assert_int_equal(prof->n_mapping, 1);
	m = prof->mapping[0];
	assert_int_equal(m->id, 1);
	assert_true(m->has_functions);
	assert_true(m->has_filenames);
	assert_true(m->has_line_numbers);
	assert_false(m->has_inline_frames);
}

/* Frame name as the writer must store it. */
static const char *frame_name(const struct pm_frame *fr)
{
	return fr->function && *fr->function ? fr->function : "[unknown]";
}

/*
 * Native: the symbol.  Python: "MODULE.NAME", never the bare name, or pprof
 * would strip a "<module>" as C++ template arguments.
 */
static void check_system_name(const char *sys, const struct pm_frame *fr)
{
	const char *name = frame_name(fr);
	size_t ls = strlen(sys), ln = strlen(name);

	if (fr->kind == PM_FRAME_NATIVE) {
		assert_string_equal(sys, name);
		return;
	}
	assert_true(ls > ln + 1);
	assert_string_equal(sys + ls - ln, name);
	assert_int_equal(sys[ls - ln - 1], '.');
}

/* The system name of the function with this name and file. */
static const char *system_name_of(const Profile *prof, const char *name, const char *file)
{
	size_t i;

	for (i = 0; i < prof->n_function; i++) {
		const Perftools__Profiles__Function *fn = prof->function[i];

		if (!strcmp(str(prof, fn->name), name) && !strcmp(str(prof, fn->filename), file))
			return str(prof, fn->system_name);
	}
	fail_msg("no function %s in %s", name, file);
	return NULL;
}

/*
 * Every nonzero stack is one sample, in profile order, with the same values
 * and frames (leaf first); functions and locations are each distinct.
 */
static void check_samples(const Profile *prof, const struct pm_profile *p)
{
	size_t i, j, k, si = 0;

	for (i = 0; i < p->nstacks; i++) {
		const struct pm_stack *s = &p->stacks[i];
		const Perftools__Profiles__Sample *sm;
		int64_t want[4] = {
			s->c.alloc_objects, s->c.alloc_bytes, s->c.live_objects, s->c.live_bytes,
		};

		if (!want[0] && !want[1] && !want[2] && !want[3])
			continue;
		assert_true(si < prof->n_sample);
		sm = prof->sample[si++];
		assert_int_equal(sm->n_value, 4);
		for (k = 0; k < 4; k++)
			assert_int_equal(sm->value[k], want[k]);
		assert_int_equal(sm->n_location_id, s->nframes ? s->nframes : 1);
		for (j = 0; j < s->nframes; j++) {
			const struct pm_frame *fr = &s->frames[s->nframes - 1 - j];
			const Perftools__Profiles__Location *loc = location(prof, sm->location_id[j]);
			const Perftools__Profiles__Function *fn;

			assert_int_equal(loc->mapping_id, 1);
			assert_int_equal(loc->n_line, 1);
			assert_int_equal(loc->line[0]->line, fr->line);
			fn = function(prof, loc->line[0]->function_id);
			assert_string_equal(str(prof, fn->name), frame_name(fr));
			check_system_name(str(prof, fn->system_name), fr);
			assert_string_equal(str(prof, fn->filename), fr->file ? fr->file : "");
		}
	}
	assert_int_equal(si, prof->n_sample);

	for (i = 0; i < prof->n_function; i++)
		for (j = i + 1; j < prof->n_function; j++)
			assert_false(prof->function[i]->name == prof->function[j]->name &&
				     prof->function[i]->filename == prof->function[j]->filename);
	for (i = 0; i < prof->n_location; i++)
		for (j = i + 1; j < prof->n_location; j++)
			assert_false(prof->location[i]->line[0]->function_id ==
				     prof->location[j]->line[0]->function_id &&
				     prof->location[i]->line[0]->line ==
				     prof->location[j]->line[0]->line);
	for (i = 0; i < prof->n_string_table; i++)
		for (j = i + 1; j < prof->n_string_table; j++)
			assert_string_not_equal(prof->string_table[i], prof->string_table[j]);
}

static size_t count_comments(const Profile *prof, const char *prefix)
{
	size_t i, n = 0;

	for (i = 0; i < prof->n_comment; i++)
		if (!strncmp(str(prof, prof->comment[i]), prefix, strlen(prefix)))
			n++;
	return n;
}

static bool has_comment(const Profile *prof, const char *text)
{
	size_t i;

	for (i = 0; i < prof->n_comment; i++)
		if (!strcmp(str(prof, prof->comment[i]), text))
			return true;
	return false;
}

static void test_known_profile(void **state)
{
	struct pm_frame a[3] = {
		{ PM_FRAME_PYTHON, "<module>", "app.py", 1 },
		{ PM_FRAME_PYTHON, "load", "lib/io.py", 33 },
		{ PM_FRAME_NATIVE, "PyBytes_FromStringAndSize", "libpython3.11.so.1.0", 0 },
	};
	/* Same function as a[1] at another line: one Function, two Locations. */
	struct pm_frame b[3] = {
		{ PM_FRAME_PYTHON, "<module>", "app.py", 1 },
		{ PM_FRAME_PYTHON, "load", "lib/io.py", 40 },
		{ PM_FRAME_NATIVE, "malloc", "libc.so.6", 0 },
	};
	/* Same name as a[1] in another file: a distinct Function. */
	struct pm_frame c[2] = {
		{ PM_FRAME_PYTHON, "<module>", "app.py", 1 },
		{ PM_FRAME_PYTHON, "load", "other.py", 33 },
	};
	struct pm_frame zero[1] = { { PM_FRAME_NATIVE, "calloc", "libc.so.6", 0 } };
	struct pm_frame noname[1] = { { PM_FRAME_NATIVE, "", "libc.so.6", 0 } };
	struct pm_profile p = { 0 };
	char want[64];
	Profile *prof;
	size_t i;

	p.pid = 4242;
	strcpy(p.version, "3.11.7");
	p.executable = strdup("/usr/bin/python3.11");
	p.duration_s = 2.5;
	p.dropped[DROP_UNKNOWN_FREE] = 12;
	p.dropped[DROP_LIVE_FULL] = 3;
	add(&p, a, 3, 4096, 4, 1024, 1);
	add(&p, b, 3, 900, 30, 0, 0);
	add(&p, c, 2, 5000000000ULL, 7, 5000000000ULL, 7);
	add(&p, zero, 1, 0, 0, 0, 0);		/* nothing to show: no sample */
	add(&p, noname, 1, 64, 2, 64, 2);
	pm_profile_sum(&p);

	prof = encode_decode(&p);
	check_header(prof);
	assert_string_equal(str(prof, prof->mapping[0]->filename), "/usr/bin/python3.11");
	assert_int_equal(prof->n_sample, 4);
	check_samples(prof, &p);
	/* <module>, load@io, PyBytes, load@io:40, malloc, load@other, [unknown] */
	assert_int_equal(prof->n_location, 7);
	assert_int_equal(prof->n_function, 6);
	assert_int_equal(prof->duration_nanos, 2500000000LL);
	assert_string_equal(system_name_of(prof, "<module>", "app.py"), "app.<module>");
	assert_string_equal(system_name_of(prof, "load", "lib/io.py"), "io.load");
	assert_string_equal(system_name_of(prof, "load", "other.py"), "other.load");
	assert_string_equal(system_name_of(prof, "malloc", "libc.so.6"), "malloc");
	assert_string_equal(system_name_of(prof, "[unknown]", "libc.so.6"), "[unknown]");

	snprintf(want, sizeof(want), "dropped %s=12", pm_drop_name(DROP_UNKNOWN_FREE));
	assert_true(has_comment(prof, want));
	snprintf(want, sizeof(want), "dropped %s=3", pm_drop_name(DROP_LIVE_FULL));
	assert_true(has_comment(prof, want));
	assert_int_equal(count_comments(prof, "dropped "), 2);

	/* The sample values add up to the profile totals, counter by counter. */
	{
		int64_t sum[4] = { 0 };

		for (i = 0; i < prof->n_sample; i++)
			for (size_t k = 0; k < 4; k++)
				sum[k] += prof->sample[i]->value[k];
		assert_int_equal(sum[0], p.totals.alloc_objects);
		assert_int_equal(sum[1], p.totals.alloc_bytes);
		assert_int_equal(sum[2], p.totals.live_objects);
		assert_int_equal(sum[3], p.totals.live_bytes);
	}
	perftools__profiles__profile__free_unpacked(prof, NULL);
	pm_profile_free(&p);
}

static void test_empty_profile(void **state)
{
	struct pm_profile p = { 0 };
	Profile *prof;

	prof = encode_decode(&p);
	check_header(prof);
	assert_int_equal(prof->n_sample, 0);
	assert_int_equal(prof->n_location, 0);
	assert_int_equal(prof->n_function, 0);
	assert_int_equal(prof->duration_nanos, 0);
	assert_int_equal(count_comments(prof, "dropped "), 0);
	perftools__profiles__profile__free_unpacked(prof, NULL);
}

/* Exact: a period of 1 (every event); sampled: the interval, in space/bytes, as Go's heap profiles say it. */
static void test_period(void **state)
{
	struct pm_profile p = { 0 };
	Profile *prof;

	prof = encode_decode(&p);
	assert_int_equal(prof->period, 1);
	perftools__profiles__profile__free_unpacked(prof, NULL);
	p.sample_interval = 524288;
	prof = encode_decode(&p);
	assert_int_equal(prof->period, 524288);
	assert_string_equal(str(prof, prof->period_type->type), "space");
	assert_string_equal(str(prof, prof->period_type->unit), "bytes");
	perftools__profiles__profile__free_unpacked(prof, NULL);
}

/* Many stacks over a small vocabulary: the hash indexes grow, deflate streams. */
static void test_many_stacks(void **state)
{
	static const char *const names[] = { "f", "g", "h", "parse", "emit", "run" };
	static const char *const files[] = { "a.py", "b.py", "c.py" };
	struct pm_frame fr[12];
	struct pm_profile p = { 0 };
	unsigned int seed = 12345;
	size_t i, j, pairs = 0, nlines = 0;
	bool fn_seen[6][3] = { { false } };
	bool line_seen[6][3][50] = { { { false } } };
	Profile *prof;

	for (i = 0; i < 20000; i++) {
		size_t n = 1 + rand_r(&seed) % 12;

		for (j = 0; j < n; j++) {
			fr[j].kind = PM_FRAME_PYTHON;
			fr[j].function = (char *)names[rand_r(&seed) % 6];
			fr[j].file = (char *)files[rand_r(&seed) % 3];
			fr[j].line = rand_r(&seed) % 50;
		}
		add(&p, fr, n, 100 + i, 1 + i % 7, i % 3 ? 100 + i : 0, i % 3 ? 1 + i % 7 : 0);
	}
	/* The expected distinct counts, brute force over what the profile kept. */
	for (i = 0; i < p.nstacks; i++) {
		for (j = 0; j < p.stacks[i].nframes; j++) {
			const struct pm_frame *f = &p.stacks[i].frames[j];
			size_t ni = 0, fi = 0;

			while (strcmp(names[ni], f->function))
				ni++;
			while (strcmp(files[fi], f->file))
				fi++;
			pairs += !fn_seen[ni][fi];
			fn_seen[ni][fi] = true;
			nlines += !line_seen[ni][fi][f->line];
			line_seen[ni][fi][f->line] = true;
		}
	}
	prof = encode_decode(&p);
	check_header(prof);
	assert_int_equal(prof->n_sample, p.nstacks);
	assert_int_equal(prof->n_function, pairs);
	assert_int_equal(prof->n_location, nlines);
	check_samples(prof, &p);
	perftools__profiles__profile__free_unpacked(prof, NULL);
	pm_profile_free(&p);
}

/* A full stream reports the error instead of claiming success. */
static void test_write_error(void **state)
{
	struct pm_frame a[1] = { { PM_FRAME_PYTHON, "f", "a.py", 1 } };
	struct pm_profile p = { 0 };
	FILE *f;

	add(&p, a, 1, 10, 1, 10, 1);
	f = fopen("/dev/full", "w");
	if (!f)
		skip();
	assert_true(output_pprof_write(&p, f) < 0);
	fclose(f);
	pm_profile_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_profile),
		cmocka_unit_test(test_empty_profile),
		cmocka_unit_test(test_period),
		cmocka_unit_test(test_many_stacks),
		cmocka_unit_test(test_write_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
