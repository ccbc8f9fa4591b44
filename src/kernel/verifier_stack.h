/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The deepest BPF stack a loaded program can use: its subprograms' depths as
 * the verifier measured them, summed down the deepest chain of calls and
 * bpf_loop callbacks, each frame rounded up as the verifier rounds it.  The
 * verifier refuses a chain over 512 bytes; it reports only the depths.
 */
#ifndef PYMEM_VERIFIER_STACK_H
#define PYMEM_VERIFIER_STACK_H

#include <stddef.h>

#define BPF_STACK_LIMIT		512	/* MAX_BPF_STACK */

/*
 * The deepest chain of the program loaded as prog_fd, given the verifier's
 * "stack depth" figures ("96+64+..." in subprogram order).  Returns its bytes
 * and describes it in desc ("tramp_alloc 96 > capture_stack 64 > ..."), or
 * -errno.
 */
int verifier_stack_chain(int prog_fd, const char *depths, char *desc, size_t len);

#endif
