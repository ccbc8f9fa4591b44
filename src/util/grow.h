/* SPDX-License-Identifier: GPL-2.0 */
/* A growing array's capacity, shared by the loader's tables. */
#ifndef PYMEM_GROW_H
#define PYMEM_GROW_H

#include <stddef.h>

/*
 * Make room for need elements of size bytes in *arr, whose capacity is
 * *cap: doubled from 64 until it fits, as few reallocations as appends
 * allow.  0, or -ENOMEM with *arr and *cap unchanged (the product is
 * checked for overflow).
 */
int grow_array(void **arr, size_t *cap, size_t need, size_t size);

#endif
