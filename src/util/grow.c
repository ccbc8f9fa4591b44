// SPDX-License-Identifier: GPL-2.0
/* A growing array's capacity (see grow.h). */
#include <errno.h>
#include <stdlib.h>
#include "grow.h"

int grow_array(void **arr, size_t *cap, size_t need, size_t size)
{
	size_t ncap = *cap ? *cap : 64;
	void *n;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	n = reallocarray(*arr, ncap, size);
	if (!n)
		return -ENOMEM;
	*arr = n;
	*cap = ncap;
	return 0;
}
