/* SPDX-License-Identifier: GPL-2.0 */
/* Process model: which Python a PID runs, where its allocator and libc live. */
#ifndef PYMEM_PYTARGET_H
#define PYMEM_PYTARGET_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "py_offsets.h"

/* Exit code for every kind of bad input (bad PID, not Python, unsupported, ...) */
#define EXIT_BAD_INPUT 2

/* PyTypeObject.tp_dealloc, the same in every version */
#define TP_DEALLOC	48

struct pytarget {
	pid_t pid;
	/* paths as the target sees them (chroots and containers have roots of their own) */
	char exe[PATH_MAX];		/* the executable */
	char interp[PATH_MAX];		/* file holding _PyRuntime: libpython or exe */
	char interp_open[PATH_MAX];	/* same, reachable from here (pytarget_map_path()) */
	char libc[PATH_MAX];
	char libc_open[PATH_MAX];
	bool shared;			/* interpreter is a shared libpython */
	bool stripped;			/* no .symtab: static LTO distro build */
	int major, minor;
	char version[32];
	uint64_t runtime;		/* &_PyRuntime in the target */
	uint64_t text_lo, text_hi;	/* the interpreter's executable mapping(s) */
	uint64_t libc_text_lo, libc_text_hi;	/* libc's */
	/* &PyCode_Type, &PyUnicode_Type, &PyBytes_Type: a read object must be one */
	uint64_t code_type, str_type, bytes_type;
	struct py_offsets off;
	char pythonmalloc[32];		/* PYTHONMALLOC from the target's environment */
};

/*
 * Inspect pid.  Returns 0, or a negative errno with a one-line reason in err:
 * -ESRCH no such process, -ENOEXEC not Python, -ENOTSUP unsupported version.
 */
int pytarget_open(pid_t pid, struct pytarget *t, char *err, size_t errlen);

/* True when the environment makes pymalloc step aside (PYTHONMALLOC=malloc...). */
bool pytarget_pymalloc_bypassed(const struct pytarget *t);

struct proc_map;
/*
 * A path this process can open for the file mapped at @m (its path as the
 * target sees it): /proc/PID/root/PATH while that is the file mapped, else
 * /proc/PID/map_files/START-END (a file replaced or deleted since); "" if
 * neither can be had.
 */
void pytarget_map_path(pid_t pid, const struct proc_map *m, char *out, size_t len);
/* The file name of a path. */
const char *pytarget_base_name(const char *path);

/* Does the executable at path look like a Python interpreter (static or via libpython)? */
bool pytarget_exe_is_python(const char *path);

#endif
