/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A libc function entered past pymem-bpf's own probe point on it: the
 * instructions up to and including the probed one, moved, then a jump to
 * the one after.  Exact mode's raw-domain trampolines report each event
 * themselves; their call into libc's malloc would otherwise also hit the
 * probes there (an int3 at the entry, a uretprobe, ~5 us each here).
 */
#ifndef PYMEM_LIBC_DETOUR_H
#define PYMEM_LIBC_DETOUR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LIBC_DETOUR_MAX	128

struct libc_detour {
	uint8_t code[LIBC_DETOUR_MAX];	/* position independent: absolute jumps out */
	uint32_t len;			/* 0: none */
};

/*
 * code: len bytes of the function, at addr in the target; probe_off: where
 * its probe is.  False (out->len 0) if an instruction to move cannot be:
 * a call, a return, an unconditional or indirect jump, a RIP-relative
 * operand, or one cut off at len.
 */
bool libc_detour_make(const uint8_t *code, size_t len, uint64_t addr, size_t probe_off,
		      struct libc_detour *out);

#endif
