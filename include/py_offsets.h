/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Layout of the CPython structures that the BPF stack walker and the
 * userspace symbolizer read.  One record per target, filled from a table
 * (3.8-3.12) or from the target's own _Py_DebugOffsets (3.13+); nothing else
 * in the tree knows a CPython offset.
 */
#ifndef PYMEM_PY_OFFSETS_H
#define PYMEM_PY_OFFSETS_H

#ifdef __BPF__
#include "vmlinux.h"
#else
#include <linux/types.h>
#endif

#define PY_OFF_NONE 0xffffffffU

struct py_offsets {
	__u32 major;
	__u32 minor;

	/* _PyRuntimeState */
	__u32 runtime_interp_head;	/* interpreters.head */
	__u32 runtime_interp_main;	/* interpreters.main */

	/* PyInterpreterState */
	__u32 interp_next;
	__u32 interp_threads_head;	/* tstate_head (<=3.11), threads.head (3.12+) */

	/* PyThreadState */
	__u32 tstate_next;
	__u32 tstate_thread_id;		/* == pthread_self() == fs base */
	__u32 tstate_frame;		/* frame (<=3.10), cframe (3.11, 3.12), current_frame (3.13+) */
	__u32 cframe_current_frame;	/* 3.11, 3.12 only, else PY_OFF_NONE */
	/* the frame stack (3.11+, else PY_OFF_NONE): frames lie in chunks it bounds */
	__u32 tstate_datastack_chunk;	/* _PyStackChunk *, its first word the previous chunk */
	__u32 tstate_datastack_limit;	/* end of that chunk */
	__u32 stackchunk_previous;	/* _PyStackChunk: the older chunk */
	__u32 stackchunk_size;		/* _PyStackChunk: bytes in the chunk */
	/* the sentinel frame at the bottom of every thread's chain (3.15+, else PY_OFF_NONE) */
	__u32 tstate_base_frame;

	/* PyFrameObject (<=3.10) or _PyInterpreterFrame (3.11+) */
	__u32 frame_code;		/* f_code, or f_executable (3.13+; a tagged _PyStackRef in 3.14+) */
	__u32 frame_back;		/* f_back, or previous (3.11+) */
	__u32 frame_lasti;		/* f_lasti (int, <=3.10), prev_instr (3.11, 3.12), instr_ptr (3.13+) */
	__u32 frame_owner;		/* owner (char, 3.12+; FRAME_OWNED_BY_* >= 3: no Python code), else PY_OFF_NONE */

	/* PyCodeObject */
	__u32 code_filename;
	__u32 code_name;
	__u32 code_qualname;		/* 3.11+, else PY_OFF_NONE */
	__u32 code_firstlineno;		/* int */
	__u32 code_linetable;		/* co_lnotab (3.8, 3.9), co_linetable (3.10+) */
	__u32 code_adaptive;		/* co_code_adaptive (3.11+), else PY_OFF_NONE */

	/* PyUnicodeObject (compact forms) and PyBytesObject */
	__u32 unicode_state;		/* bitfield: kind (bits 2-4), compact (5), ascii (6) */
	__u32 unicode_length;
	__u32 unicode_ascii_data;	/* sizeof(PyASCIIObject) */
	__u32 unicode_compact_data;	/* sizeof(PyCompactUnicodeObject) */
	__u32 bytes_size;		/* ob_size */
	__u32 bytes_data;		/* ob_sval */
};

#endif /* PYMEM_PY_OFFSETS_H */
