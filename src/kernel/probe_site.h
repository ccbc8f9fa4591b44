/* SPDX-License-Identifier: GPL-2.0 */
/* Where on a function an entry probe costs least. */
#ifndef PYMEM_PROBE_SITE_H
#define PYMEM_PROBE_SITE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Bytes to move an entry-only probe (one that reads the arguments, no
 * return probe) past the start of a function whose first bytes are code:
 * 0, or the length of a leading flags-only compare that a conditional
 * jump follows.  The kernel emulates a probed jump but single-steps a
 * compare (about 10 us a hit here, against under 1 us), and a compare
 * changes no register, so the probe still sees the arguments.  glibc's
 * free() begins with test %rdi,%rdi; je.
 */
size_t probe_site_entry_skip(const uint8_t *code, size_t len, uint64_t addr);

#endif
