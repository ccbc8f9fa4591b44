// SPDX-License-Identifier: GPL-2.0
/*
 * CPython layouts 3.8-3.12, x86_64, default (GIL, non-debug) builds, from a
 * table; tests/unit/test_py_offsets.c checks every number against offsetof()
 * on the matching pyenv build's headers.  3.13 and later are read from the
 * running build itself (py_debug_offsets.c).
 */
#include <errno.h>
#include "py_versions.h"

#define TABLE_MIN_MINOR 8
#define TABLE_MAX_MINOR 12

static const struct py_offsets table[] = {
	[8 - TABLE_MIN_MINOR] = {
		.major = 3, .minor = 8,
		.runtime_interp_head = 32, .runtime_interp_main = 40,
		.interp_next = 0, .interp_threads_head = 8,
		.tstate_next = 8, .tstate_thread_id = 176,
		.tstate_frame = 24, .cframe_current_frame = PY_OFF_NONE,
		.tstate_datastack_chunk = PY_OFF_NONE, .tstate_datastack_limit = PY_OFF_NONE,
		.stackchunk_previous = PY_OFF_NONE, .stackchunk_size = PY_OFF_NONE,
		.tstate_base_frame = PY_OFF_NONE,
		.frame_code = 32, .frame_back = 24, .frame_lasti = 104,
		.frame_owner = PY_OFF_NONE,
		.code_filename = 104, .code_name = 112, .code_qualname = PY_OFF_NONE,
		.code_firstlineno = 40, .code_linetable = 120,	/* co_lnotab */
		.code_adaptive = PY_OFF_NONE,
		.unicode_state = 32, .unicode_length = 16,
		.unicode_ascii_data = 48, .unicode_compact_data = 72,
		.bytes_size = 16, .bytes_data = 32,
	},
	[9 - TABLE_MIN_MINOR] = {
		.major = 3, .minor = 9,
		.runtime_interp_head = 32, .runtime_interp_main = 40,
		.interp_next = 0, .interp_threads_head = 8,
		.tstate_next = 8, .tstate_thread_id = 176,
		.tstate_frame = 24, .cframe_current_frame = PY_OFF_NONE,
		.tstate_datastack_chunk = PY_OFF_NONE, .tstate_datastack_limit = PY_OFF_NONE,
		.stackchunk_previous = PY_OFF_NONE, .stackchunk_size = PY_OFF_NONE,
		.tstate_base_frame = PY_OFF_NONE,
		.frame_code = 32, .frame_back = 24, .frame_lasti = 104,
		.frame_owner = PY_OFF_NONE,
		.code_filename = 104, .code_name = 112, .code_qualname = PY_OFF_NONE,
		.code_firstlineno = 40, .code_linetable = 120,	/* co_lnotab */
		.code_adaptive = PY_OFF_NONE,
		.unicode_state = 32, .unicode_length = 16,
		.unicode_ascii_data = 48, .unicode_compact_data = 72,
		.bytes_size = 16, .bytes_data = 32,
	},
	[10 - TABLE_MIN_MINOR] = {
		.major = 3, .minor = 10,
		.runtime_interp_head = 32, .runtime_interp_main = 40,
		.interp_next = 0, .interp_threads_head = 8,
		.tstate_next = 8, .tstate_thread_id = 176,
		.tstate_frame = 24, .cframe_current_frame = PY_OFF_NONE,
		.tstate_datastack_chunk = PY_OFF_NONE, .tstate_datastack_limit = PY_OFF_NONE,
		.stackchunk_previous = PY_OFF_NONE, .stackchunk_size = PY_OFF_NONE,
		.tstate_base_frame = PY_OFF_NONE,
		.frame_code = 32, .frame_back = 24, .frame_lasti = 96,
		.frame_owner = PY_OFF_NONE,
		.code_filename = 104, .code_name = 112, .code_qualname = PY_OFF_NONE,
		.code_firstlineno = 40, .code_linetable = 120,
		.code_adaptive = PY_OFF_NONE,
		.unicode_state = 32, .unicode_length = 16,
		.unicode_ascii_data = 48, .unicode_compact_data = 72,
		.bytes_size = 16, .bytes_data = 32,
	},
	[11 - TABLE_MIN_MINOR] = {
		.major = 3, .minor = 11,
		.runtime_interp_head = 40, .runtime_interp_main = 48,
		.interp_next = 0, .interp_threads_head = 16,	/* threads.head */
		.tstate_next = 8, .tstate_thread_id = 152,
		.tstate_frame = 56, .cframe_current_frame = 8,
		.tstate_datastack_chunk = 296, .tstate_datastack_limit = 312,
		.stackchunk_previous = 0, .stackchunk_size = 8,
		.tstate_base_frame = PY_OFF_NONE,
		.frame_code = 32, .frame_back = 48, .frame_lasti = 56,
		.frame_owner = PY_OFF_NONE,
		.code_filename = 112, .code_name = 120, .code_qualname = 128,
		.code_firstlineno = 72, .code_linetable = 136,
		.code_adaptive = 184,
		.unicode_state = 32, .unicode_length = 16,
		.unicode_ascii_data = 48, .unicode_compact_data = 72,
		.bytes_size = 16, .bytes_data = 32,
	},
	[12 - TABLE_MIN_MINOR] = {
		.major = 3, .minor = 12,
		.runtime_interp_head = 40, .runtime_interp_main = 48,
		.interp_next = 0, .interp_threads_head = 72,
		.tstate_next = 8, .tstate_thread_id = 136,
		.tstate_frame = 56, .cframe_current_frame = 0,
		.tstate_datastack_chunk = 232, .tstate_datastack_limit = 248,
		.stackchunk_previous = 0, .stackchunk_size = 8,
		.tstate_base_frame = PY_OFF_NONE,
		.frame_code = 0, .frame_back = 8, .frame_lasti = 56,
		.frame_owner = 70,
		.code_filename = 112, .code_name = 120, .code_qualname = 128,
		.code_firstlineno = 68, .code_linetable = 136,
		.code_adaptive = 192,
		.unicode_state = 32, .unicode_length = 16,
		.unicode_ascii_data = 40, .unicode_compact_data = 56,	/* wstr gone */
		.bytes_size = 16, .bytes_data = 32,
	},
};

int py_offsets_from_table(int major, int minor, struct py_offsets *off)
{
	if (major != 3 || minor < TABLE_MIN_MINOR || minor > TABLE_MAX_MINOR)
		return -ENOTSUP;
	*off = table[minor - TABLE_MIN_MINOR];
	return 0;
}
