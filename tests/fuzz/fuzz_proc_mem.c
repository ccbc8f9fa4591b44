// SPDX-License-Identifier: GPL-2.0
/* libFuzzer: /proc/PID/smaps_rollup (process/proc_mem.c), read for every target's metrics. */
#include <stdint.h>
#include <stdlib.h>
#include "proc_mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proc_mem m;

	/* values are whole kB: a parsed byte count is a multiple of 1024 */
	if (!proc_mem_parse((const char *)data, size, &m) &&
	    ((m.rss_bytes | m.pss_bytes | m.anon_bytes | m.swap_bytes) & 1023))
		abort();
	return 0;
}
