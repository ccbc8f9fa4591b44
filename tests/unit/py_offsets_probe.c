// SPDX-License-Identifier: GPL-2.0
/*
 * Ground truth for test_py_offsets: built once per pyenv CPython against that
 * build's own (internal) headers, it prints one fixture entry whose numbers
 * come from offsetof()/sizeof() on the real structs.  For 3.13+ it is linked
 * with libpython and also dumps the leading bytes of the real _PyRuntime.
 *
 *   cc -Isrc -isystem $P/include/python3.X -isystem $P/include/python3.X/internal \
 *      py_offsets_probe.c -L$P/lib -lpython3.X -Wl,-rpath,$P/lib
 */
#define Py_BUILD_CORE 1
#include <Python.h>
#include <stdio.h>

#if PY_VERSION_HEX < 0x03090000
#include <frameobject.h>
#include "pycore_pystate.h"		/* _PyRuntimeState, PyInterpreterState */
#elif PY_VERSION_HEX < 0x030b0000
#include <frameobject.h>
#include "pycore_runtime.h"
#include "pycore_interp.h"
#else
#include "pycore_runtime.h"
#include "pycore_interp.h"
#include "pycore_frame.h"		/* _PyInterpreterFrame */
#endif

#include "../../src/py_versions.h"

#define NONE ((size_t)-1)

static void put(const char *name, size_t val)
{
	if (val == NONE)
		printf("\t\t.%s = PY_OFF_NONE,\n", name);
	else
		printf("\t\t.%s = %zu,\n", name, val);
}

#define PUT(field, val) put(#field, (val))

static void put_thread_frame(void)
{
#if PY_VERSION_HEX < 0x030b0000
	PUT(tstate_frame, offsetof(PyThreadState, frame));
	PUT(cframe_current_frame, NONE);
	PUT(frame_code, offsetof(PyFrameObject, f_code));
	PUT(frame_back, offsetof(PyFrameObject, f_back));
	PUT(frame_lasti, offsetof(PyFrameObject, f_lasti));
	PUT(frame_owner, NONE);
#elif PY_VERSION_HEX < 0x030d0000
	PUT(tstate_frame, offsetof(PyThreadState, cframe));
	PUT(cframe_current_frame, offsetof(_PyCFrame, current_frame));
	PUT(frame_code, offsetof(_PyInterpreterFrame, f_code));
	PUT(frame_back, offsetof(_PyInterpreterFrame, previous));
	PUT(frame_lasti, offsetof(_PyInterpreterFrame, prev_instr));
#if PY_VERSION_HEX < 0x030c0000
	PUT(frame_owner, NONE);		/* the record wants owner from 3.12 on */
#else
	PUT(frame_owner, offsetof(_PyInterpreterFrame, owner));
#endif
#else
	PUT(tstate_frame, offsetof(PyThreadState, current_frame));
	PUT(cframe_current_frame, NONE);
	PUT(frame_code, offsetof(_PyInterpreterFrame, f_executable));
	PUT(frame_back, offsetof(_PyInterpreterFrame, previous));
	PUT(frame_lasti, offsetof(_PyInterpreterFrame, instr_ptr));
	PUT(frame_owner, offsetof(_PyInterpreterFrame, owner));
#endif
}

static void put_code(void)
{
	PUT(code_filename, offsetof(PyCodeObject, co_filename));
	PUT(code_name, offsetof(PyCodeObject, co_name));
	PUT(code_firstlineno, offsetof(PyCodeObject, co_firstlineno));
#if PY_VERSION_HEX < 0x030a0000
	PUT(code_linetable, offsetof(PyCodeObject, co_lnotab));
#else
	PUT(code_linetable, offsetof(PyCodeObject, co_linetable));
#endif
#if PY_VERSION_HEX < 0x030b0000
	PUT(code_qualname, NONE);
	PUT(code_adaptive, NONE);
#else
	PUT(code_qualname, offsetof(PyCodeObject, co_qualname));
	PUT(code_adaptive, offsetof(PyCodeObject, co_code_adaptive));
#endif
}

static void put_offsets(void)
{
	printf("\t\t.major = %d,\n\t\t.minor = %d,\n", PY_MAJOR_VERSION, PY_MINOR_VERSION);
	PUT(runtime_interp_head, offsetof(_PyRuntimeState, interpreters.head));
	PUT(runtime_interp_main, offsetof(_PyRuntimeState, interpreters.main));
	PUT(interp_next, offsetof(PyInterpreterState, next));
#if PY_VERSION_HEX < 0x030b0000
	PUT(interp_threads_head, offsetof(PyInterpreterState, tstate_head));
#else
	PUT(interp_threads_head, offsetof(PyInterpreterState, threads.head));
#endif
	PUT(tstate_next, offsetof(PyThreadState, next));
	PUT(tstate_thread_id, offsetof(PyThreadState, thread_id));
#if PY_VERSION_HEX < 0x030b0000
	PUT(tstate_datastack_chunk, NONE);
	PUT(tstate_datastack_limit, NONE);
	PUT(stackchunk_previous, NONE);
	PUT(stackchunk_size, NONE);
#else
	PUT(tstate_datastack_chunk, offsetof(PyThreadState, datastack_chunk));
	PUT(tstate_datastack_limit, offsetof(PyThreadState, datastack_limit));
	PUT(stackchunk_previous, offsetof(_PyStackChunk, previous));
	PUT(stackchunk_size, offsetof(_PyStackChunk, size));
#endif
	put_thread_frame();
	put_code();
	PUT(unicode_state, offsetof(PyASCIIObject, state));
	PUT(unicode_length, offsetof(PyASCIIObject, length));
	PUT(unicode_ascii_data, sizeof(PyASCIIObject));
	PUT(unicode_compact_data, sizeof(PyCompactUnicodeObject));
	PUT(bytes_size, offsetof(PyBytesObject, ob_base.ob_size));
	PUT(bytes_data, offsetof(PyBytesObject, ob_sval));
}

#if PY_VERSION_HEX >= 0x030d0000
_Static_assert(sizeof(_Py_DebugOffsets) <= PY_DEBUG_OFFSETS_SIZE,
	       "PY_DEBUG_OFFSETS_SIZE does not cover _Py_DebugOffsets");

static void put_debug_bytes(void)
{
	const unsigned char *p = (const unsigned char *)&_PyRuntime;
	size_t i;

	/* Where the test pokes bad values, straight from the real layout. */
	printf("\t.debug_version_at = %zu,\n", offsetof(_Py_DebugOffsets, version));
	printf("\t.debug_ft_at = %zu,\n", offsetof(_Py_DebugOffsets, free_threaded));
	printf("\t.debug_frame_at = %zu,\n",
	       offsetof(_Py_DebugOffsets, thread_state.current_frame));
	printf("\t.debug_len = %d,\n\t.debug = (const unsigned char[]){", PY_DEBUG_OFFSETS_SIZE);
	for (i = 0; i < PY_DEBUG_OFFSETS_SIZE; i++)
		printf("%s0x%02x,", i % 12 ? " " : "\n\t\t", p[i]);
	printf("\n\t},\n");
}
#else
static void put_debug_bytes(void)
{
	printf("\t.debug_len = 0,\n\t.debug = NULL,\n");
}
#endif

int main(void)
{
	printf("{\n\t.version = \"%s\",\n\t.hexversion = 0x%08lxUL,\n\t.off = {\n",
	       PY_VERSION, (unsigned long)PY_VERSION_HEX);
	put_offsets();
	printf("\t},\n");
	put_debug_bytes();
	printf("},\n");
	return 0;
}
