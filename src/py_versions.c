// SPDX-License-Identifier: GPL-2.0
/*
 * CPython layouts, x86_64, default (GIL, non-debug) builds.
 *
 * 3.8-3.12 come from a table; tests/unit/test_py_offsets.c checks every
 * number against offsetof() on the matching pyenv build's headers.  3.13 is
 * read from _Py_DebugOffsets, the block the interpreter keeps at the start of
 * _PyRuntime so that out-of-process tools need no table.
 */
#include <errno.h>
#include <string.h>
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

/*
 * _Py_DebugOffsets is a flat run of 8-byte words: the cookie, then uint64_t
 * fields; each sub-struct starts with its struct's size.  Word indices for 3.13.0
 * (Include/internal/pycore_runtime.h).  CPython keeps this block stable within
 * a minor release only, so every later 3.13.x shares it.
 */
enum {
	W313_VERSION		= 1,
	W313_FREE_THREADED	= 2,
	W313_RT_SIZE		= 3,
	W313_RT_INTERP_HEAD	= 5,
	W313_IS_SIZE		= 6,
	W313_IS_NEXT		= 8,
	W313_IS_THREADS_HEAD	= 9,
	W313_TS_SIZE		= 19,
	W313_TS_NEXT		= 21,
	W313_TS_CURRENT_FRAME	= 23,
	W313_TS_THREAD_ID	= 24,
	W313_TS_DATASTACK_CHUNK	= 26,
	W313_FR_SIZE		= 28,
	W313_FR_PREVIOUS	= 29,
	W313_FR_EXECUTABLE	= 30,
	W313_FR_INSTR_PTR	= 31,
	W313_FR_OWNER		= 33,
	W313_CO_SIZE		= 34,
	W313_CO_FILENAME	= 35,
	W313_CO_NAME		= 36,
	W313_CO_QUALNAME	= 37,
	W313_CO_LINETABLE	= 38,
	W313_CO_FIRSTLINENO	= 39,
	W313_CO_ADAPTIVE	= 43,
	W313_BY_SIZE		= 64,
	W313_BY_OB_SIZE		= 65,
	W313_BY_OB_SVAL		= 66,
	W313_UN_SIZE		= 67,
	W313_UN_STATE		= 68,
	W313_UN_LENGTH		= 69,
	W313_UN_ASCII_SIZE	= 70,
	W313_NWORDS		= 73,
};

#define WORD 8
#define DST(f) offsetof(struct py_offsets, f)

/* One record field: the word holding it and the word bounding it. */
struct dbg_field {
	unsigned short dst;
	unsigned char word;
	unsigned char size_word;
};

static const struct dbg_field dbg313_fields[] = {
	{ DST(runtime_interp_head),	W313_RT_INTERP_HEAD,	W313_RT_SIZE },
	{ DST(interp_next),		W313_IS_NEXT,		W313_IS_SIZE },
	{ DST(interp_threads_head),	W313_IS_THREADS_HEAD,	W313_IS_SIZE },
	{ DST(tstate_next),		W313_TS_NEXT,		W313_TS_SIZE },
	{ DST(tstate_thread_id),	W313_TS_THREAD_ID,	W313_TS_SIZE },
	{ DST(tstate_frame),		W313_TS_CURRENT_FRAME,	W313_TS_SIZE },
	{ DST(tstate_datastack_chunk),	W313_TS_DATASTACK_CHUNK, W313_TS_SIZE },
	{ DST(frame_code),		W313_FR_EXECUTABLE,	W313_FR_SIZE },
	{ DST(frame_back),		W313_FR_PREVIOUS,	W313_FR_SIZE },
	{ DST(frame_lasti),		W313_FR_INSTR_PTR,	W313_FR_SIZE },
	{ DST(frame_owner),		W313_FR_OWNER,		W313_FR_SIZE },
	{ DST(code_filename),		W313_CO_FILENAME,	W313_CO_SIZE },
	{ DST(code_name),		W313_CO_NAME,		W313_CO_SIZE },
	{ DST(code_qualname),		W313_CO_QUALNAME,	W313_CO_SIZE },
	{ DST(code_firstlineno),	W313_CO_FIRSTLINENO,	W313_CO_SIZE },
	{ DST(code_linetable),		W313_CO_LINETABLE,	W313_CO_SIZE },
	{ DST(code_adaptive),		W313_CO_ADAPTIVE,	W313_CO_SIZE },
	{ DST(unicode_state),		W313_UN_STATE,		W313_UN_SIZE },
	{ DST(unicode_length),		W313_UN_LENGTH,		W313_UN_SIZE },
	{ DST(unicode_ascii_data),	W313_UN_ASCII_SIZE,	W313_UN_SIZE },
	{ DST(bytes_size),		W313_BY_OB_SIZE,	W313_BY_SIZE },
	{ DST(bytes_data),		W313_BY_OB_SVAL,	W313_BY_SIZE },
};

_Static_assert(W313_NWORDS * WORD == PY_DEBUG_OFFSETS_SIZE,
	       "PY_DEBUG_OFFSETS_SIZE must cover the 3.13 _Py_DebugOffsets");

static uint64_t word_at(const unsigned char *buf, unsigned int word)
{
	uint64_t v;

	/* Word 0 is the cookie; the caller's buffer may be unaligned. */
	memcpy(&v, buf + (size_t)word * WORD, sizeof(v));
	return v;
}

static void set_field(struct py_offsets *off, unsigned int dst, __u32 val)
{
	memcpy((char *)off + dst, &val, sizeof(val));
}

/*
 * The fields _Py_DebugOffsets lacks, derived from ones it has, both true for
 * every 3.13.x: interpreters.main is the pointer right after
 * interpreters.head, datastack_limit is two pointers after datastack_chunk
 * (datastack_top between), _PyStackChunk starts with previous and size, and
 * PyCompactUnicodeObject is PyASCIIObject followed by utf8_length and utf8
 * (wstr went away in 3.12).
 */
static int fill_derived_313(const unsigned char *buf, struct py_offsets *off)
{
	off->runtime_interp_main = off->runtime_interp_head + WORD;
	if (off->runtime_interp_main >= word_at(buf, W313_RT_SIZE))
		return -EINVAL;
	off->tstate_datastack_limit = off->tstate_datastack_chunk + 2 * WORD;
	if (off->tstate_datastack_limit >= word_at(buf, W313_TS_SIZE))
		return -EINVAL;
	off->stackchunk_previous = 0;
	off->stackchunk_size = WORD;
	off->unicode_compact_data = off->unicode_ascii_data + 2 * WORD;
	off->cframe_current_frame = PY_OFF_NONE;
	return 0;
}

static int fill_313(const unsigned char *buf, struct py_offsets *off)
{
	const struct dbg_field *f;
	uint64_t val, bound;
	size_t i;

	for (i = 0; i < sizeof(dbg313_fields) / sizeof(dbg313_fields[0]); i++) {
		f = &dbg313_fields[i];
		val = word_at(buf, f->word);
		bound = word_at(buf, f->size_word);
		/* A field must lie inside its struct; anything else is garbage. */
		if (val >= bound || bound >= PY_OFF_NONE)
			return -EINVAL;
		set_field(off, f->dst, (__u32)val);
	}
	return fill_derived_313(buf, off);
}

int py_offsets_from_debug(const void *buf, size_t len, struct py_offsets *off,
			  uint64_t *version_hex)
{
	static const char cookie[8] = "xdebugpy";
	const unsigned char *p = buf;
	struct py_offsets tmp;
	uint64_t version;
	unsigned int major, minor;
	int err;

	if (!buf || len < (W313_FREE_THREADED + 1) * WORD || memcmp(p, cookie, sizeof(cookie)))
		return -EINVAL;
	version = word_at(p, W313_VERSION);
	major = (version >> 24) & 0xff;
	minor = (version >> 16) & 0xff;
	/* Later minors reorder and grow the block; only 3.13's layout is known. */
	if (major != 3 || minor != 13)
		return -ENOTSUP;
	if (len < PY_DEBUG_OFFSETS_SIZE)
		return -EINVAL;
	/* Free-threaded builds change object headers and the GIL model. */
	if (word_at(p, W313_FREE_THREADED))
		return -ENOTSUP;

	memset(&tmp, 0, sizeof(tmp));
	tmp.major = major;
	tmp.minor = minor;
	err = fill_313(p, &tmp);
	if (err)
		return err;
	*off = tmp;
	if (version_hex)
		*version_hex = version;
	return 0;
}
