// SPDX-License-Identifier: GPL-2.0
/*
 * A C library that allocates with libc's malloc family itself, as a C
 * extension's own code does: its calls go through its GOT, not through
 * Python's allocator.  Built by the tests (test_sampled_libs.py), loaded
 * with ctypes by clib_user.py.
 */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HELD 100000

static void *held[MAX_HELD];
static size_t nheld;
/* a churned block escapes here, so that the compiler keeps its malloc and free */
void *volatile clib_sink;

/* n blocks of size bytes, kept until clib_release */
size_t clib_hold(size_t n, size_t size)
{
	size_t i;

	for (i = 0; i < n && nheld < MAX_HELD; i++) {
		held[nheld] = malloc(size);
		memset(held[nheld++], 1, size);
	}
	return i;
}

/* n zeroed blocks of count * size bytes, kept */
size_t clib_hold_calloc(size_t n, size_t count, size_t size)
{
	size_t i;

	for (i = 0; i < n && nheld < MAX_HELD; i++)
		held[nheld++] = calloc(count, size);
	return i;
}

/* n blocks grown from size to 4 * size by realloc, kept */
size_t clib_hold_grown(size_t n, size_t size)
{
	size_t i, s;

	for (i = 0; i < n && nheld < MAX_HELD; i++) {
		void *p = malloc(size);

		for (s = 2 * size; s <= 4 * size; s += size)
			p = realloc(p, s);
		held[nheld++] = p;
	}
	return i;
}

/*
 * n blocks of size bytes aligned to 64 (a page for valloc), kept: by
 * posix_memalign, aligned_alloc, memalign or valloc (how 0 to 3)
 */
size_t clib_hold_aligned(size_t n, size_t size, int how)
{
	size_t i;
	void *p;

	for (i = 0; i < n && nheld < MAX_HELD; i++) {
		switch (how) {
		case 0:
			if (posix_memalign(&p, 64, size))
				return i;
			break;
		case 1:
			p = aligned_alloc(64, size);
			break;
		case 2:
			p = memalign(64, size);
			break;
		default:
			p = valloc(size);
		}
		if (!p)
			return i;
		memset(p, 1, size);
		held[nheld++] = p;
	}
	return i;
}

/* n blocks of size bytes, each grown to 4 * size by reallocarray, kept */
size_t clib_hold_array(size_t n, size_t size)
{
	size_t i;
	void *p;

	for (i = 0; i < n && nheld < MAX_HELD; i++) {
		p = reallocarray(malloc(size), 4, size);
		if (!p)
			return i;
		held[nheld++] = p;
	}
	return i;
}

/* n blocks of size bytes, each freed at once */
void clib_churn(size_t n, size_t size)
{
	size_t i;

	for (i = 0; i < n; i++) {
		clib_sink = malloc(size);
		free(clib_sink);
	}
}

void clib_release(void)
{
	while (nheld)
		free(held[--nheld]);
}
