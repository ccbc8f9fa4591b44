// SPDX-License-Identifier: GPL-2.0
/*
 * CPython 3.13 and later describe their own layout for out-of-process
 * tools: _PyRuntime starts with _Py_DebugOffsets, a flat run of 8-byte
 * words (the cookie "xdebugpy", PY_VERSION_HEX, free_threaded, then for each
 * struct its size followed by its fields' offsets).  Every offset is taken
 * from the running build's block, never from a copy: the values move between
 * patch releases (3.14.5 moved interpreter fields).  All that is known here
 * is which word holds which value, which CPython keeps stable within a minor
 * release from its .0 on (3.15's betas still inserted words);
 * tests/unit/test_py_offsets.c checks every layout against each build's own
 * headers.
 */
#include <errno.h>
#include <string.h>
#include "py_debug_offsets.h"

#define WORD 8

/* The values read from the block. */
enum dbg_item {
	D_RT_SIZE, D_RT_INTERP_HEAD,
	D_IS_SIZE, D_IS_NEXT, D_IS_THREADS_HEAD,
	D_TS_SIZE, D_TS_NEXT, D_TS_CURRENT_FRAME, D_TS_BASE_FRAME, D_TS_THREAD_ID,
	D_TS_DATASTACK_CHUNK,
	D_FR_SIZE, D_FR_PREVIOUS, D_FR_EXECUTABLE, D_FR_INSTR_PTR, D_FR_OWNER,
	D_CO_SIZE, D_CO_FILENAME, D_CO_NAME, D_CO_QUALNAME, D_CO_LINETABLE,
	D_CO_FIRSTLINENO, D_CO_ADAPTIVE,
	D_BY_SIZE, D_BY_OB_SIZE, D_BY_OB_SVAL,
	D_UN_SIZE, D_UN_STATE, D_UN_LENGTH, D_UN_ASCII_SIZE, D_UN_COMPACT_SIZE,
	D__MAX
};

/* One minor's block: the word of each value, 0 (the cookie's) for one it lacks. */
struct dbg_layout {
	unsigned int minor;
	unsigned int words;		/* sizeof(_Py_DebugOffsets) / 8 */
	unsigned char at[D__MAX];
};

/* Word indices from Include/internal/pycore_runtime.h (3.13), pycore_debug_offsets.h (3.14+). */
static const struct dbg_layout layouts[] = {
	{ 13, 73, {
		[D_RT_SIZE] = 3, [D_RT_INTERP_HEAD] = 5,
		[D_IS_SIZE] = 6, [D_IS_NEXT] = 8, [D_IS_THREADS_HEAD] = 9,
		[D_TS_SIZE] = 19, [D_TS_NEXT] = 21, [D_TS_CURRENT_FRAME] = 23,
		[D_TS_THREAD_ID] = 24, [D_TS_DATASTACK_CHUNK] = 26,
		[D_FR_SIZE] = 28, [D_FR_PREVIOUS] = 29, [D_FR_EXECUTABLE] = 30,
		[D_FR_INSTR_PTR] = 31, [D_FR_OWNER] = 33,
		[D_CO_SIZE] = 34, [D_CO_FILENAME] = 35, [D_CO_NAME] = 36, [D_CO_QUALNAME] = 37,
		[D_CO_LINETABLE] = 38, [D_CO_FIRSTLINENO] = 39, [D_CO_ADAPTIVE] = 43,
		[D_BY_SIZE] = 64, [D_BY_OB_SIZE] = 65, [D_BY_OB_SVAL] = 66,
		[D_UN_SIZE] = 67, [D_UN_STATE] = 68, [D_UN_LENGTH] = 69, [D_UN_ASCII_SIZE] = 70,
	} },
	{ 14, 95, {
		[D_RT_SIZE] = 3, [D_RT_INTERP_HEAD] = 5,
		[D_IS_SIZE] = 6, [D_IS_NEXT] = 8, [D_IS_THREADS_HEAD] = 9,
		[D_TS_SIZE] = 22, [D_TS_NEXT] = 24, [D_TS_CURRENT_FRAME] = 26,
		[D_TS_THREAD_ID] = 27, [D_TS_DATASTACK_CHUNK] = 29,
		[D_FR_SIZE] = 31, [D_FR_PREVIOUS] = 32, [D_FR_EXECUTABLE] = 33,
		[D_FR_INSTR_PTR] = 34, [D_FR_OWNER] = 36,
		[D_CO_SIZE] = 39, [D_CO_FILENAME] = 40, [D_CO_NAME] = 41, [D_CO_QUALNAME] = 42,
		[D_CO_LINETABLE] = 43, [D_CO_FIRSTLINENO] = 44, [D_CO_ADAPTIVE] = 48,
		[D_BY_SIZE] = 74, [D_BY_OB_SIZE] = 75, [D_BY_OB_SVAL] = 76,
		[D_UN_SIZE] = 77, [D_UN_STATE] = 78, [D_UN_LENGTH] = 79, [D_UN_ASCII_SIZE] = 80,
	} },
	{ 15, 111, {
		[D_RT_SIZE] = 3, [D_RT_INTERP_HEAD] = 5,
		[D_IS_SIZE] = 6, [D_IS_NEXT] = 8, [D_IS_THREADS_HEAD] = 9,
		[D_TS_SIZE] = 22, [D_TS_NEXT] = 24, [D_TS_CURRENT_FRAME] = 26,
		[D_TS_BASE_FRAME] = 27, [D_TS_THREAD_ID] = 30, [D_TS_DATASTACK_CHUNK] = 32,
		[D_FR_SIZE] = 39, [D_FR_PREVIOUS] = 40, [D_FR_EXECUTABLE] = 41,
		[D_FR_INSTR_PTR] = 42, [D_FR_OWNER] = 44,
		[D_CO_SIZE] = 47, [D_CO_FILENAME] = 48, [D_CO_NAME] = 49, [D_CO_QUALNAME] = 50,
		[D_CO_LINETABLE] = 51, [D_CO_FIRSTLINENO] = 52, [D_CO_ADAPTIVE] = 56,
		[D_BY_SIZE] = 86, [D_BY_OB_SIZE] = 87, [D_BY_OB_SVAL] = 88,
		[D_UN_SIZE] = 89, [D_UN_STATE] = 90, [D_UN_LENGTH] = 91, [D_UN_ASCII_SIZE] = 92,
		[D_UN_COMPACT_SIZE] = 93,
	} },
};

#define DST(f) offsetof(struct py_offsets, f)

/* One record field: the value holding it and the size of the struct it lies in. */
struct dbg_field {
	unsigned short dst;
	unsigned char item;
	unsigned char bound;
};

static const struct dbg_field fields[] = {
	{ DST(runtime_interp_head),	D_RT_INTERP_HEAD,	D_RT_SIZE },
	{ DST(interp_next),		D_IS_NEXT,		D_IS_SIZE },
	{ DST(interp_threads_head),	D_IS_THREADS_HEAD,	D_IS_SIZE },
	{ DST(tstate_next),		D_TS_NEXT,		D_TS_SIZE },
	{ DST(tstate_thread_id),	D_TS_THREAD_ID,		D_TS_SIZE },
	{ DST(tstate_frame),		D_TS_CURRENT_FRAME,	D_TS_SIZE },
	{ DST(tstate_base_frame),	D_TS_BASE_FRAME,	D_TS_SIZE },
	{ DST(tstate_datastack_chunk),	D_TS_DATASTACK_CHUNK,	D_TS_SIZE },
	{ DST(frame_code),		D_FR_EXECUTABLE,	D_FR_SIZE },
	{ DST(frame_back),		D_FR_PREVIOUS,		D_FR_SIZE },
	{ DST(frame_lasti),		D_FR_INSTR_PTR,		D_FR_SIZE },
	{ DST(frame_owner),		D_FR_OWNER,		D_FR_SIZE },
	{ DST(code_filename),		D_CO_FILENAME,		D_CO_SIZE },
	{ DST(code_name),		D_CO_NAME,		D_CO_SIZE },
	{ DST(code_qualname),		D_CO_QUALNAME,		D_CO_SIZE },
	{ DST(code_firstlineno),	D_CO_FIRSTLINENO,	D_CO_SIZE },
	{ DST(code_linetable),		D_CO_LINETABLE,		D_CO_SIZE },
	{ DST(code_adaptive),		D_CO_ADAPTIVE,		D_CO_SIZE },
	{ DST(unicode_state),		D_UN_STATE,		D_UN_SIZE },
	{ DST(unicode_length),		D_UN_LENGTH,		D_UN_SIZE },
	{ DST(unicode_ascii_data),	D_UN_ASCII_SIZE,	D_UN_SIZE },
	{ DST(unicode_compact_data),	D_UN_COMPACT_SIZE,	D_UN_SIZE },
	{ DST(bytes_size),		D_BY_OB_SIZE,		D_BY_SIZE },
	{ DST(bytes_data),		D_BY_OB_SVAL,		D_BY_SIZE },
};

static uint64_t word_at(const unsigned char *buf, unsigned int word)
{
	uint64_t v;

	/* the caller's buffer may be unaligned */
	memcpy(&v, buf + (size_t)word * WORD, sizeof(v));
	return v;
}

static void set_field(struct py_offsets *off, unsigned int dst, __u32 val)
{
	memcpy((char *)off + dst, &val, sizeof(val));
}

/*
 * The fields no block has, derived from ones it has, true for 3.13-3.15:
 * interpreters.main is the pointer right after interpreters.head,
 * datastack_limit two pointers after datastack_chunk (datastack_top
 * between), _PyStackChunk starts with previous and size, and before 3.15
 * gave its size, PyCompactUnicodeObject is PyASCIIObject followed by
 * utf8_length and utf8.
 */
static int fill_derived(const unsigned char *buf, const struct dbg_layout *l,
			struct py_offsets *off)
{
	off->runtime_interp_main = off->runtime_interp_head + WORD;
	if (off->runtime_interp_main >= word_at(buf, l->at[D_RT_SIZE]))
		return -EINVAL;
	off->tstate_datastack_limit = off->tstate_datastack_chunk + 2 * WORD;
	if (off->tstate_datastack_limit >= word_at(buf, l->at[D_TS_SIZE]))
		return -EINVAL;
	off->stackchunk_previous = 0;
	off->stackchunk_size = WORD;
	if (off->unicode_compact_data == PY_OFF_NONE)
		off->unicode_compact_data = off->unicode_ascii_data + 2 * WORD;
	off->cframe_current_frame = PY_OFF_NONE;
	return 0;
}

static int fill(const unsigned char *buf, const struct dbg_layout *l, struct py_offsets *off)
{
	const struct dbg_field *f;
	uint64_t val, bound;
	size_t i;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		f = &fields[i];
		if (!l->at[f->item]) {
			set_field(off, f->dst, PY_OFF_NONE);
			continue;
		}
		val = word_at(buf, l->at[f->item]);
		bound = word_at(buf, l->at[f->bound]);
		/* a field must lie inside its struct; anything else is not this block */
		if (val >= bound || bound >= PY_OFF_NONE)
			return -EINVAL;
		set_field(off, f->dst, (__u32)val);
	}
	return fill_derived(buf, l, off);
}

int py_debug_header(const void *buf, size_t len, uint64_t *version_hex, bool *free_threaded)
{
	static const char cookie[8] = "xdebugpy";

	if (!buf || len < 3 * WORD || memcmp(buf, cookie, sizeof(cookie)))
		return -EINVAL;
	*version_hex = word_at(buf, 1);
	*free_threaded = word_at(buf, 2) != 0;
	return 0;
}

bool py_debug_prerelease(uint64_t version_hex)
{
	/* micro 0, release level below 0xf (final) */
	return !(version_hex & 0xff00) && (version_hex & 0xf0) != 0xf0;
}

static const struct dbg_layout *layout_for(uint64_t version)
{
	unsigned int major = (version >> 24) & 0xff, minor = (version >> 16) & 0xff;
	size_t i;

	if (major != 3 || py_debug_prerelease(version))
		return NULL;
	for (i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
		if (layouts[i].minor == minor)
			return &layouts[i];
	return NULL;
}

int py_offsets_from_debug(const void *buf, size_t len, struct py_offsets *off,
			  uint64_t *version_hex)
{
	const struct dbg_layout *l;
	struct py_offsets tmp;
	uint64_t version;
	bool ft;
	int err;

	if (py_debug_header(buf, len, &version, &ft))
		return -EINVAL;
	l = layout_for(version);
	/* free-threaded builds have other object headers and no pymalloc */
	if (!l || ft)
		return -ENOTSUP;
	if (len < (size_t)l->words * WORD || l->words * WORD > PY_DEBUG_OFFSETS_SIZE)
		return -EINVAL;

	memset(&tmp, 0, sizeof(tmp));
	tmp.major = 3;
	tmp.minor = l->minor;
	err = fill(buf, l, &tmp);
	if (err)
		return err;
	*off = tmp;
	if (version_hex)
		*version_hex = version;
	return 0;
}
