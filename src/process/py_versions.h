/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The struct py_offsets of CPython 3.8-3.12, from a built-in table (3.13 and
 * later carry theirs: py_debug_offsets.h).
 */
#ifndef PYMEM_PY_VERSIONS_H
#define PYMEM_PY_VERSIONS_H

#include "py_offsets.h"

/* 0, or -ENOTSUP if (major, minor) is not 3.8-3.12. */
int py_offsets_from_table(int major, int minor, struct py_offsets *off);

#endif /* PYMEM_PY_VERSIONS_H */
