// SPDX-License-Identifier: GPL-2.0
/*
 * py_offsets against ground truth: build/tests/py_offsets_fixtures.h holds,
 * per CPython build (pyenv 3.8-3.13, Debian's 3.13-3.15 from the sid root),
 * offsetof()/sizeof() taken from that build's own headers and, for 3.13+,
 * the leading bytes of its _PyRuntime as its ELF file holds them
 * (py_offsets.mk).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "py_debug_offsets.h"
#include "py_versions.h"

struct probe_fixture {
	const char *version;
	const char *build;		/* "pyenv" or "debian" */
	unsigned long hexversion;
	struct py_offsets off;		/* from the headers */
	size_t debug_version_at;	/* offsetof in _Py_DebugOffsets (3.13+) */
	size_t debug_ft_at;
	size_t debug_frame_at;
	size_t debug_threads_at;
	size_t debug_size;		/* sizeof(_Py_DebugOffsets) */
	size_t debug_len;		/* 0 before 3.13 */
	const unsigned char *debug;	/* first debug_len bytes of _PyRuntime */
};

static const struct probe_fixture fixtures[] = {
#include "py_offsets_fixtures.h"
};

#define NFIXTURES (sizeof(fixtures) / sizeof(fixtures[0]))

#define FIELDS(X)							\
	X(major) X(minor) X(runtime_interp_head) X(runtime_interp_main)	\
	X(interp_next) X(interp_threads_head) X(tstate_next)		\
	X(tstate_thread_id) X(tstate_frame) X(cframe_current_frame)	\
	X(tstate_datastack_chunk) X(tstate_datastack_limit)		\
	X(stackchunk_previous) X(stackchunk_size) X(tstate_base_frame)	\
	X(frame_code) X(frame_back) X(frame_lasti) X(frame_owner)	\
	X(code_filename) X(code_name) X(code_qualname)			\
	X(code_firstlineno) X(code_linetable) X(code_adaptive)		\
	X(unicode_state) X(unicode_length) X(unicode_ascii_data)	\
	X(unicode_compact_data) X(bytes_size) X(bytes_data)

#define COUNT(f) + 1
/* A field added to the record but not here would go unchecked. */
_Static_assert(sizeof(struct py_offsets) == (0 FIELDS(COUNT)) * sizeof(__u32),
	       "FIELDS() must list every struct py_offsets member");

static int count_mismatches(const struct probe_fixture *fx, const struct py_offsets *got)
{
	const struct py_offsets *want = &fx->off;
	int bad = 0;

#define CMP(f)								\
	if (got->f != want->f) {					\
		print_error("%s %s: %s = %u, headers say %u\n",		\
			    fx->build, fx->version, #f, got->f, want->f); \
		bad++;							\
	}
	FIELDS(CMP)
#undef CMP
	return bad;
}

static const struct probe_fixture *fixture_for(const char *build, int minor)
{
	size_t i;

	for (i = 0; i < NFIXTURES; i++)
		if (!strcmp(fixtures[i].build, build) && fixtures[i].off.major == 3 &&
		    (int)fixtures[i].off.minor == minor)
			return &fixtures[i];
	return NULL;
}

static void test_all_versions_probed(void **state)
{
	size_t i;
	int minor;

	assert_int_equal(NFIXTURES, 9);
	for (minor = 8; minor <= 13; minor++)
		assert_non_null(fixture_for("pyenv", minor));
	for (minor = 13; minor <= 15; minor++)
		assert_non_null(fixture_for("debian", minor));
	for (i = 0; i < NFIXTURES; i++) {
		const struct probe_fixture *fx = &fixtures[i];

		assert_int_equal((fx->hexversion >> 16) & 0xff, fx->off.minor);
		/* Only 3.13+ has the debug block, and then it is all there. */
		assert_int_equal(fx->debug_len, fx->off.minor >= 13 ? PY_DEBUG_OFFSETS_SIZE : 0);
		assert_true(fx->debug_size <= fx->debug_len);
	}
}

static void test_table_matches_headers(void **state)
{
	struct py_offsets off;
	int minor, bad = 0;

	for (minor = 8; minor <= 12; minor++) {
		const struct probe_fixture *fx = fixture_for("pyenv", minor);

		memset(&off, 0xa5, sizeof(off));
		assert_int_equal(py_offsets_from_table(3, minor, &off), 0);
		bad += count_mismatches(fx, &off);
	}
	assert_int_equal(bad, 0);
}

static void test_table_rejects_other_versions(void **state)
{
	static const int bad[][2] = { { 3, 7 }, { 3, 13 }, { 3, 14 }, { 3, 15 }, { 2, 7 },
				      { 4, 8 } };
	struct py_offsets off, before;
	size_t i;

	memset(&off, 0x5a, sizeof(off));
	before = off;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(py_offsets_from_table(bad[i][0], bad[i][1], &off), -ENOTSUP);
	assert_memory_equal(&off, &before, sizeof(off));
}

/* Every build's own block, parsed, gives what its headers say; no byte past it is read. */
static void test_debug_matches_headers(void **state)
{
	struct py_offsets off;
	unsigned char *copy;
	uint64_t version;
	int seen = 0;
	size_t i;

	for (i = 0; i < NFIXTURES; i++) {
		const struct probe_fixture *fx = &fixtures[i];

		if (!fx->debug_len)
			continue;
		memset(&off, 0xa5, sizeof(off));
		version = 0;
		assert_int_equal(py_offsets_from_debug(fx->debug, fx->debug_len, &off, &version),
				 0);
		assert_int_equal(version, fx->hexversion);
		assert_int_equal(count_mismatches(fx, &off), 0);

		/* The layout's length is the build's sizeof(_Py_DebugOffsets). */
		assert_int_equal(py_offsets_from_debug(fx->debug, fx->debug_size, &off, NULL), 0);
		assert_int_equal(py_offsets_from_debug(fx->debug, fx->debug_size - 1, &off, NULL),
				 -EINVAL);

		/* Callers read from a remote process into any buffer: misalign it. */
		copy = malloc(fx->debug_len + 1);
		assert_non_null(copy);
		memcpy(copy + 1, fx->debug, fx->debug_len);
		memset(&off, 0, sizeof(off));
		assert_int_equal(py_offsets_from_debug(copy + 1, fx->debug_len, &off, NULL), 0);
		assert_int_equal(count_mismatches(fx, &off), 0);
		free(copy);
		seen++;
	}
	assert_int_equal(seen, 4);
}

/* Parse a patched copy of a real block; on error *off must stay put. */
static int parse_patched(const struct probe_fixture *fx, size_t at, uint64_t val, size_t len,
			 struct py_offsets *out, uint64_t *version)
{
	struct py_offsets off, before;
	unsigned char buf[PY_DEBUG_OFFSETS_SIZE];
	int err;

	memcpy(buf, fx->debug, sizeof(buf));
	if (at < sizeof(buf))
		memcpy(buf + at, &val, sizeof(val));
	memset(&off, 0x5a, sizeof(off));
	before = off;
	err = py_offsets_from_debug(buf, len, &off, version);
	if (err)
		assert_memory_equal(&off, &before, sizeof(off));
	else if (out)
		*out = off;
	return err;
}

static void rejects_bad_input(const struct probe_fixture *fx)
{
	const size_t full = PY_DEBUG_OFFSETS_SIZE, none = (size_t)-1;
	unsigned long hex = fx->hexversion, minor = (hex >> 16) & 0xff;
	uint64_t version = 0;
	struct py_offsets off;

	assert_int_equal(py_offsets_from_debug(NULL, full, &off, NULL), -EINVAL);
	/* "xdebugpz" */
	assert_int_equal(parse_patched(fx, 0, 0x7a70677562656478ULL, full, NULL, NULL), -EINVAL);
	assert_int_equal(parse_patched(fx, none, 0, 16, NULL, NULL), -EINVAL);
	/* A field outside its struct means the bytes are not what we think. */
	assert_int_equal(parse_patched(fx, fx->debug_frame_at, 1 << 30, full, NULL, NULL),
			 -EINVAL);

	/* Other minors lay the block out differently: 3.12, 3.16 and 4.x are unknown. */
	assert_int_equal(parse_patched(fx, fx->debug_version_at, 0x030c01f0, full, NULL, NULL),
			 -ENOTSUP);
	assert_int_equal(parse_patched(fx, fx->debug_version_at, 0x031000f0, full, NULL, NULL),
			 -ENOTSUP);
	assert_int_equal(parse_patched(fx, fx->debug_version_at, 0x04000000 | (minor << 16) | 0xf0,
				       full, NULL, NULL), -ENOTSUP);
	/* A beta of X.Y.0: 3.15's betas still inserted words. */
	assert_int_equal(parse_patched(fx, fx->debug_version_at, (hex & ~0xffffUL) | 0xb4, full,
				       NULL, NULL), -ENOTSUP);
	/* Free-threaded builds have other headers and mimalloc for pymalloc. */
	assert_int_equal(parse_patched(fx, fx->debug_ft_at, 1, full, NULL, NULL), -ENOTSUP);

	/* Any later X.Y.z shares X.Y.0's block. */
	hex = (hex & ~0xff00UL) | 0x1900;
	assert_int_equal(parse_patched(fx, fx->debug_version_at, hex, full, NULL, &version), 0);
	assert_int_equal(version, hex);
}

static void test_debug_rejects_bad_input(void **state)
{
	int minor;

	rejects_bad_input(fixture_for("pyenv", 13));
	for (minor = 13; minor <= 15; minor++)
		rejects_bad_input(fixture_for("debian", minor));
}

/*
 * The values come from the block, not from a copy: a patch release that
 * moves a field (3.14.5 moved interpreter fields) is read as it is.
 */
static void test_debug_values_follow_block(void **state)
{
	const struct probe_fixture *fx = fixture_for("debian", 14);
	const size_t full = PY_DEBUG_OFFSETS_SIZE;
	struct py_offsets off;

	assert_non_null(fx);
	assert_int_equal(parse_patched(fx, fx->debug_threads_at, fx->off.interp_threads_head + 8,
				       full, &off, NULL), 0);
	assert_int_equal(off.interp_threads_head, fx->off.interp_threads_head + 8);
	off.interp_threads_head = fx->off.interp_threads_head;
	assert_int_equal(count_mismatches(fx, &off), 0);
}

/* The header alone tells a free-threaded build (3.13t, 3.14t) and its version. */
static void test_debug_header(void **state)
{
	const struct probe_fixture *fx = fixture_for("debian", 14);
	unsigned char buf[PY_DEBUG_OFFSETS_SIZE];
	const uint64_t one = 1;
	uint64_t version;
	bool ft = true;

	assert_non_null(fx);
	memcpy(buf, fx->debug, sizeof(buf));
	assert_int_equal(py_debug_header(buf, sizeof(buf), &version, &ft), 0);
	assert_int_equal(version, fx->hexversion);
	assert_false(ft);
	memcpy(buf + fx->debug_ft_at, &one, sizeof(one));
	assert_int_equal(py_debug_header(buf, sizeof(buf), &version, &ft), 0);
	assert_true(ft);
	assert_int_equal(py_debug_header(buf, 23, &version, &ft), -EINVAL);
	buf[0] = 'y';
	assert_int_equal(py_debug_header(buf, sizeof(buf), &version, &ft), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_versions_probed),
		cmocka_unit_test(test_table_matches_headers),
		cmocka_unit_test(test_table_rejects_other_versions),
		cmocka_unit_test(test_debug_matches_headers),
		cmocka_unit_test(test_debug_rejects_bad_input),
		cmocka_unit_test(test_debug_values_follow_block),
		cmocka_unit_test(test_debug_header),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
