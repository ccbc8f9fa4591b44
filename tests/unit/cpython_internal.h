/* SPDX-License-Identifier: GPL-2.0 */
/*
 * For the probes built against one CPython build's own headers: the
 * runtime, interpreter, thread and frame structs of every version 3.8-3.15,
 * wherever each version declares them.
 */
#ifndef PYMEM_TESTS_CPYTHON_INTERNAL_H
#define PYMEM_TESTS_CPYTHON_INTERNAL_H

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
#if PY_VERSION_HEX >= 0x030e0000
#include "pycore_interpframe.h"
#include "pycore_tstate.h"
#endif

#endif
