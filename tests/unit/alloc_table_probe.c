// SPDX-License-Identifier: GPL-2.0
/*
 * Ground truth for test_alloc_table on 3.12+: built against one pyenv
 * CPython's internal headers, prints where _PyRuntime keeps the raw, mem and
 * obj allocator tables, as one fixture entry.
 */
#define Py_BUILD_CORE 1
#include <Python.h>
#include <stddef.h>
#include <stdio.h>
#include "pycore_runtime.h"

#define OFF(dom)	offsetof(_PyRuntimeState, allocators.standard.dom)

int main(void)
{
	printf("\t{ %d, %d, { %zu, %zu, %zu }, %zu },\n", PY_MAJOR_VERSION, PY_MINOR_VERSION,
	       OFF(raw), OFF(mem), OFF(obj), sizeof(PyMemAllocatorEx));
	return 0;
}
