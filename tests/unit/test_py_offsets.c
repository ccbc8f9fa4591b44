// SPDX-License-Identifier: GPL-2.0
/*
 * py_offsets against ground truth: build/tests/py_offsets_fixtures.h holds, per
 * pyenv CPython 3.8-3.13, offsetof()/sizeof() taken from that build's headers
 * and, for 3.13, the real leading bytes of its _PyRuntime (py_offsets.mk).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "py_versions.h"

struct probe_fixture {
	const char *version;
	unsigned long hexversion;
	struct py_offsets off;		/* from the headers */
	size_t debug_version_at;	/* offsetof in _Py_DebugOffsets (3.13+) */
	size_t debug_ft_at;
	size_t debug_frame_at;
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
	X(stackchunk_previous) X(stackchunk_size)			\
	X(frame_code) X(frame_back) X(frame_lasti) X(frame_owner)	\
	X(code_filename) X(code_name) X(code_qualname)			\
	X(code_firstlineno) X(code_linetable) X(code_adaptive)		\
	X(unicode_state) X(unicode_length) X(unicode_ascii_data)	\
	X(unicode_compact_data) X(bytes_size) X(bytes_data)

#define COUNT(f) + 1
/* A field added to the record but not here would go unchecked. */
_Static_assert(sizeof(struct py_offsets) == (0 FIELDS(COUNT)) * sizeof(__u32),
	       "FIELDS() must list every struct py_offsets member");

static int count_mismatches(const char *who, const struct py_offsets *got,
			    const struct py_offsets *want)
{
	int bad = 0;

#define CMP(f)								\
	if (got->f != want->f) {					\
		print_error("%s: %s = %u, headers say %u\n", who, #f,	\
			    got->f, want->f);				\
		bad++;							\
	}
	FIELDS(CMP)
#undef CMP
	return bad;
}

static const struct probe_fixture *fixture_for(int minor)
{
	size_t i;

	for (i = 0; i < NFIXTURES; i++)
		if (fixtures[i].off.major == 3 && (int)fixtures[i].off.minor == minor)
			return &fixtures[i];
	return NULL;
}

static void test_all_versions_probed(void **state)
{
	int minor;

	assert_int_equal(NFIXTURES, 6);
	for (minor = 8; minor <= 13; minor++) {
		const struct probe_fixture *fx = fixture_for(minor);

		assert_non_null(fx);
		assert_int_equal((fx->hexversion >> 16) & 0xff, minor);
		/* Only 3.13+ has the debug block, and then it is all there. */
		assert_int_equal(fx->debug_len, minor >= 13 ? PY_DEBUG_OFFSETS_SIZE : 0);
	}
}

static void test_table_matches_headers(void **state)
{
	struct py_offsets off;
	int minor, bad = 0;

	for (minor = 8; minor <= 12; minor++) {
		const struct probe_fixture *fx = fixture_for(minor);

		memset(&off, 0xa5, sizeof(off));
		assert_int_equal(py_offsets_from_table(3, minor, &off), 0);
		bad += count_mismatches(fx->version, &off, &fx->off);
	}
	assert_int_equal(bad, 0);
}

static void test_table_rejects_other_versions(void **state)
{
	static const int bad[][2] = { { 3, 7 }, { 3, 13 }, { 3, 14 }, { 2, 7 }, { 4, 8 } };
	struct py_offsets off, before;
	size_t i;

	memset(&off, 0x5a, sizeof(off));
	before = off;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(py_offsets_from_table(bad[i][0], bad[i][1], &off), -ENOTSUP);
	assert_memory_equal(&off, &before, sizeof(off));
}

static void test_debug_matches_headers(void **state)
{
	const struct probe_fixture *fx = fixture_for(13);
	struct py_offsets off;
	uint64_t version = 0;
	unsigned char *copy;

	assert_non_null(fx);
	memset(&off, 0xa5, sizeof(off));
	assert_int_equal(py_offsets_from_debug(fx->debug, fx->debug_len, &off, &version), 0);
	assert_int_equal(version, fx->hexversion);
	assert_int_equal(count_mismatches(fx->version, &off, &fx->off), 0);

	/* Callers read from a remote process into any buffer: misalign it. */
	copy = malloc(fx->debug_len + 1);
	assert_non_null(copy);
	memcpy(copy + 1, fx->debug, fx->debug_len);
	memset(&off, 0, sizeof(off));
	assert_int_equal(py_offsets_from_debug(copy + 1, fx->debug_len, &off, NULL), 0);
	assert_int_equal(count_mismatches(fx->version, &off, &fx->off), 0);
	free(copy);
}

/* Parse a patched copy of the real 3.13 block; on error *off must stay put. */
static int parse_patched(size_t at, uint64_t val, size_t len, uint64_t *version)
{
	const struct probe_fixture *fx = fixture_for(13);
	struct py_offsets off, before;
	unsigned char buf[PY_DEBUG_OFFSETS_SIZE];
	int err;

	assert_non_null(fx);
	memcpy(buf, fx->debug, sizeof(buf));
	if (at < sizeof(buf))
		memcpy(buf + at, &val, sizeof(val));
	memset(&off, 0x5a, sizeof(off));
	before = off;
	err = py_offsets_from_debug(buf, len, &off, version);
	if (err)
		assert_memory_equal(&off, &before, sizeof(off));
	return err;
}

static void test_debug_rejects_bad_input(void **state)
{
	const struct probe_fixture *fx = fixture_for(13);
	const size_t full = PY_DEBUG_OFFSETS_SIZE, none = (size_t)-1;
	uint64_t hex, version = 0;
	struct py_offsets off;

	assert_non_null(fx);
	hex = fx->hexversion;
	assert_int_equal(py_offsets_from_debug(NULL, full, &off, NULL), -EINVAL);
	/* "xdebugpz" */
	assert_int_equal(parse_patched(0, 0x7a70677562656478ULL, full, NULL), -EINVAL);
	assert_int_equal(parse_patched(none, 0, 16, NULL), -EINVAL);
	assert_int_equal(parse_patched(none, 0, full - 1, NULL), -EINVAL);
	/* A field outside its struct means the bytes are not what we think. */
	assert_int_equal(parse_patched(fx->debug_frame_at, 1 << 30, full, NULL), -EINVAL);

	/* Other minors lay the block out differently. */
	assert_int_equal(parse_patched(fx->debug_version_at, 0x030e00f0, full, NULL), -ENOTSUP);
	assert_int_equal(parse_patched(fx->debug_version_at, 0x030c01f0, full, NULL), -ENOTSUP);
	assert_int_equal(parse_patched(fx->debug_version_at, 0x040d00f0, full, NULL), -ENOTSUP);
	assert_int_equal(parse_patched(fx->debug_ft_at, 1, full, NULL), -ENOTSUP);

	/* Any 3.13.x shares 3.13.0's block. */
	hex = (hex & ~0xff00UL) | 0x0900;
	assert_int_equal(parse_patched(fx->debug_version_at, hex, full, &version), 0);
	assert_int_equal(version, hex);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_versions_probed),
		cmocka_unit_test(test_table_matches_headers),
		cmocka_unit_test(test_table_rejects_other_versions),
		cmocka_unit_test(test_debug_matches_headers),
		cmocka_unit_test(test_debug_rejects_bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
