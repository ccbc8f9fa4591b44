/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Sampled mode's view of a C extension's direct malloc: the GOT entries
 * through which the target's libraries call libc's malloc, calloc, realloc
 * and free and its aligned allocators, pointed at the TRAMP_LIBC
 * trampolines.  Exact mode's check that the interpreter's own calls reach
 * libc's functions.
 */
#ifndef PYMEM_GOT_H
#define PYMEM_GOT_H

#include <stdbool.h>
#include "inject.h"
#include "proc_maps.h"
#include "pytarget.h"
#include "trampoline.h"

struct got;

struct got_stats {
	unsigned int libraries;	/* with an entry redirected */
	unsigned int entries;	/* redirected */
	unsigned int foreign;	/* left alone: bound to another malloc (an LD_PRELOADed one) */
};

/*
 * Where t's libc has each function of enum tramp_fn (maps: t's; 0: not
 * there), all zero unless malloc, calloc, realloc and free are found (no
 * libc, a libc without them).
 */
void got_libc_functions(const struct pytarget *t, const struct proc_maps *maps,
			uint64_t libc_fn[TRAMP__MAX]);
/*
 * For t's libraries: libc_fn[f] is where libc's function is, tramp[f] its
 * trampoline (0: none, the function's entries are left alone).  NULL when
 * out of memory.
 */
struct got *got_new(const struct pytarget *t, const uint64_t libc_fn[TRAMP__MAX],
		    const uint64_t tramp[TRAMP__MAX]);
/* Does maps show a library not looked at yet? */
bool got_news(const struct got *g, const struct proc_maps *maps);
/*
 * Redirect the entries of each library in maps not looked at yet, with
 * every thread of the target stopped (in).  Every library but libc and the
 * dynamic linker, whose own calls are not a library's; the interpreter's
 * free only (its allocations are its allocator tables').
 */
void got_redirect(struct got *g, struct inject *in, const struct proc_maps *maps);
/*
 * Exact mode: does the interpreter itself (t->interp) call libc's malloc,
 * calloc, realloc and free (bound[f]): is each of its entries for the
 * function bound to libc's, or to a PLT entry that jumps there?  With every
 * thread stopped (in).
 */
void got_interp_bound(const struct pytarget *t, const uint64_t libc_fn[TRAMP__MAX],
		      struct inject *in, const struct proc_maps *maps, bool bound[TRAMP_TABLE_FNS]);
/* Put back every entry that still holds its trampoline, every thread stopped (in). */
void got_restore(struct got *g, struct inject *in);
void got_stats(const struct got *g, struct got_stats *st);
void got_free(struct got *g);

#endif /* PYMEM_GOT_H */
