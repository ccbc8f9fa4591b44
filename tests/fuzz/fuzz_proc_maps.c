// SPDX-License-Identifier: GPL-2.0
/* libFuzzer: /proc/PID/maps (process/proc_maps.c), read for every target. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "proc_maps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proc_maps m;
	uint64_t bias;
	size_t i;
	FILE *f;

	if (!size)
		return 0;
	f = fmemopen((void *)data, size, "r");
	if (!f)
		return 0;
	if (!proc_maps_parse(f, &m)) {
		for (i = 0; i < m.n; i++) {
			/* sorted, none empty, the start of each inside a mapping */
			if ((i && m.v[i - 1].start > m.v[i].start) || m.v[i].end <= m.v[i].start ||
			    !proc_maps_find(&m, m.v[i].start))
				abort();
			if (m.v[i].path)
				proc_maps_load_bias(&m, m.v[i].path, 0, &bias);
		}
		proc_maps_find(&m, 0);
		proc_maps_find(&m, UINT64_MAX);
		proc_maps_free(&m);
	}
	fclose(f);
	return 0;
}
