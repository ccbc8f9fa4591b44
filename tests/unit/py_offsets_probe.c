// SPDX-License-Identifier: GPL-2.0
/*
 * Ground truth for test_py_offsets: built once per CPython build against that
 * build's own (internal) headers, it prints one fixture entry whose numbers
 * come from offsetof()/sizeof() on the real structs.  For 3.13+ it also dumps
 * the leading bytes of _PyRuntime as the build's ELF file (libpython or the
 * executable, argv[1]) initializes them: _Py_DebugOffsets holds no pointer,
 * so they are the bytes the running interpreter has.
 *
 *   cc -isystem $P/include/python3.X -isystem $P/include/python3.X/internal \
 *      py_offsets_probe.c build/obj/{elf_syms,elf_syms_lookup,grow}.o -lelf -lz
 *   ./a.out $P/lib/libpython3.X.so.1.0 [debian|pyenv]
 */
#include "cpython_internal.h"

#include "../../src/process/elf_syms.h"
#include "../../src/process/py_debug_offsets.h"

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
#if PY_VERSION_HEX >= 0x030f0000
	PUT(tstate_base_frame, offsetof(PyThreadState, base_frame));
#else
	PUT(tstate_base_frame, NONE);
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

static int put_debug_bytes(const char *elf)
{
	unsigned char p[PY_DEBUG_OFFSETS_SIZE];
	struct elf_syms *e = elf_syms_open(elf);
	uint64_t vaddr, size;
	size_t i;

	if (!e || elf_syms_lookup(e, "_PyRuntime", &vaddr, &size) ||
	    elf_syms_read(e, vaddr, p, sizeof(p))) {
		fprintf(stderr, "py_offsets_probe: no _PyRuntime in %s\n", elf);
		return 1;
	}
	elf_syms_close(e);
	/* Where the test pokes bad values, straight from the real layout. */
	printf("\t.debug_version_at = %zu,\n", offsetof(_Py_DebugOffsets, version));
	printf("\t.debug_ft_at = %zu,\n", offsetof(_Py_DebugOffsets, free_threaded));
	printf("\t.debug_frame_at = %zu,\n",
	       offsetof(_Py_DebugOffsets, thread_state.current_frame));
	printf("\t.debug_threads_at = %zu,\n",
	       offsetof(_Py_DebugOffsets, interpreter_state.threads_head));
	printf("\t.debug_size = %zu,\n", sizeof(_Py_DebugOffsets));
	printf("\t.debug_len = %d,\n\t.debug = (const unsigned char[]){", PY_DEBUG_OFFSETS_SIZE);
	for (i = 0; i < PY_DEBUG_OFFSETS_SIZE; i++)
		printf("%s0x%02x,", i % 12 ? " " : "\n\t\t", p[i]);
	printf("\n\t},\n");
	return 0;
}
#else
static int put_debug_bytes(const char *elf)
{
	printf("\t.debug_len = 0,\n\t.debug = NULL,\n");
	return 0;
}
#endif

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: py_offsets_probe ELF BUILD\n");
		return 2;
	}
	printf("{\n\t.version = \"%s\",\n\t.build = \"%s\",\n\t.hexversion = 0x%08lxUL,\n"
	       "\t.off = {\n", PY_VERSION, argv[2], (unsigned long)PY_VERSION_HEX);
	put_offsets();
	printf("\t},\n");
	if (put_debug_bytes(argv[1]))
		return 1;
	printf("},\n");
	return 0;
}
