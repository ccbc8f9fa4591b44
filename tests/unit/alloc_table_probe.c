// SPDX-License-Identifier: GPL-2.0
/*
 * Ground truth for test_alloc_table on 3.12+: built against one CPython
 * build's internal headers, prints where _PyRuntime keeps the raw, mem and
 * obj allocator tables, as one fixture entry for the build named by argv[1].
 */
#define Py_BUILD_CORE 1
#include <Python.h>
#include <stddef.h>
#include <stdio.h>
#include "pycore_runtime.h"

#define OFF(dom)	offsetof(_PyRuntimeState, allocators.standard.dom)

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: alloc_table_probe BUILD\n");
		return 2;
	}
	printf("\t{ \"%s\", %d, %d, { %zu, %zu, %zu }, %zu },\n", argv[1], PY_MAJOR_VERSION,
	       PY_MINOR_VERSION, OFF(raw), OFF(mem), OFF(obj), sizeof(PyMemAllocatorEx));
	return 0;
}
