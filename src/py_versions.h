/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fill a struct py_offsets for one CPython target: from a built-in table
 * (3.8-3.12) or from the _Py_DebugOffsets block that opens _PyRuntime (3.13).
 */
#ifndef PYMEM_PY_VERSIONS_H
#define PYMEM_PY_VERSIONS_H

#include <stddef.h>
#include <stdint.h>
#include "py_offsets.h"

/*
 * Bytes to read at the address of _PyRuntime before calling
 * py_offsets_from_debug(): sizeof(_Py_DebugOffsets) in 3.13.
 */
#define PY_DEBUG_OFFSETS_SIZE 584

/* 0, or -ENOTSUP if (major, minor) is not 3.8-3.12. */
int py_offsets_from_table(int major, int minor, struct py_offsets *off);

/*
 * Parse the first @len bytes of a 3.13 _PyRuntime.  On success *version_hex
 * (if not NULL) gets PY_VERSION_HEX of the target.  -EINVAL for a bad cookie,
 * short buffer or inconsistent offsets; -ENOTSUP for a version or build
 * (free-threaded) whose layout is not known.
 */
int py_offsets_from_debug(const void *buf, size_t len, struct py_offsets *off,
			  uint64_t *version_hex);

#endif /* PYMEM_PY_VERSIONS_H */
