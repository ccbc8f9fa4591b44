/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The struct py_offsets of CPython 3.13 and later, read from the block of
 * offsets the running build keeps at the start of _PyRuntime
 * (_Py_DebugOffsets).
 */
#ifndef PYMEM_PY_DEBUG_OFFSETS_H
#define PYMEM_PY_DEBUG_OFFSETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "py_offsets.h"

/*
 * Bytes to read at the address of _PyRuntime before parsing: the largest
 * sizeof(_Py_DebugOffsets) known (3.15's).
 */
#define PY_DEBUG_OFFSETS_SIZE 888

/* The first and last minor versions whose block is known (3.x). */
#define PY_DEBUG_MIN_MINOR 13
#define PY_DEBUG_MAX_MINOR 15

/*
 * The block's header: PY_VERSION_HEX of the build and whether it is
 * free-threaded.  0, or -EINVAL if @buf does not start with the cookie.
 */
int py_debug_header(const void *buf, size_t len, uint64_t *version_hex, bool *free_threaded);

/*
 * A pre-release of an X.Y.0 (alpha, beta, candidate): its block may still
 * differ from the release's (3.15's betas inserted words), so it is not read.
 */
bool py_debug_prerelease(uint64_t version_hex);

/*
 * Parse the first @len bytes of a 3.13+ _PyRuntime into *off (left alone on
 * error); *version_hex (if not NULL) gets PY_VERSION_HEX of the target.
 * -EINVAL for a bad cookie, a short buffer or offsets that cannot be right;
 * -ENOTSUP for a version (another minor, a pre-release) or a free-threaded
 * build whose block is not known.
 */
int py_offsets_from_debug(const void *buf, size_t len, struct py_offsets *off,
			  uint64_t *version_hex);

#endif /* PYMEM_PY_DEBUG_OFFSETS_H */
