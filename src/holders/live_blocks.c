// SPDX-License-Identifier: GPL-2.0
/* Both maps are read in batches: one key at a time takes seconds for a million blocks. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include "addr_table.h"
#include "live_blocks.h"
#include "probes.h"
#include "pymem.h"

#define BATCH	1024

static int push(struct live_blocks *b, size_t *cap, const struct live_slot *s, pid_t pid)
{
	struct live_block *v;

	if (!s->addr || s->pid != (__u32)pid)
		return 0;
	if (b->n == *cap) {
		*cap = *cap ? *cap * 2 : 4096;
		v = realloc(b->v, *cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		b->v = v;
	}
	b->v[b->n++] = (struct live_block){ .addr = s->addr, .size = s->size,
					    .stack_id = s->stack_id, .holder = LIVE_NO_HOLDER,
					    .leaf_type = LIVE_NO_HOLDER };
	return 0;
}

/* The table mapped read-only: a scan of memory, with no copy. */
static int read_table(int fd, struct live_blocks *b, size_t *cap, pid_t pid)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), i, k;
	const struct live_bucket *v;
	size_t size;
	int err = 0;

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	size = (size_t)info.max_entries * info.value_size;
	if (info.value_size != sizeof(*v))
		return -EINVAL;
	v = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	if (v == MAP_FAILED)
		return -errno;
	for (i = 0; i < info.max_entries && !err; i++)
		for (k = 0; k < LIVE_WAYS && !err; k++)
			err = push(b, cap, &v[i].slot[k], pid);
	munmap((void *)v, size);
	return err;
}

static int read_spill(int fd, struct live_blocks *b, size_t *cap, pid_t pid)
{
	struct live_slot *vals = calloc(BATCH, sizeof(*vals));
	struct pid_key *keys = calloc(BATCH, sizeof(*keys)), batch;
	void *in = NULL;
	int ret, err = 0;
	__u32 i, n;

	if (!vals || !keys) {
		err = -ENOMEM;
		goto out;
	}
	do {
		n = BATCH;
		ret = bpf_map_lookup_batch(fd, in, &batch, keys, vals, &n, NULL);
		if (ret && ret != -ENOENT) {
			err = ret;
			break;
		}
		for (i = 0; i < n && !err; i++)
			err = push(b, cap, &vals[i], pid);
		in = &batch;
	} while (!ret && !err);
out:
	free(vals);
	free(keys);
	return err;
}

static int build_index(struct live_blocks *b)
{
	size_t i, j;

	/* two thirds full at most: probes stay short, and less memory is zeroed than at half */
	for (b->cap = 1024; b->cap < b->n + b->n / 2; b->cap *= 2)
		;
	b->index = addr_table_alloc(b->cap * sizeof(*b->index));
	if (!b->index)
		return -ENOMEM;
	for (i = 0; i < b->n; i++) {
		for (j = addr_hash(b->v[i].addr, b->cap); b->index[j].addr; j = (j + 1) & (b->cap - 1))
			;
		b->index[j] = (struct addr_slot){ b->v[i].addr, i };
	}
	return 0;
}

int live_blocks_read(const struct probes *p, pid_t pid, struct live_blocks *out)
{
	size_t cap = 0;
	int err;

	memset(out, 0, sizeof(*out));
	err = read_table(probes_live_fd(p), out, &cap, pid);
	/* iterating an empty hash map still visits every one of its buckets */
	if (!err && probes_spilled(p))
		err = read_spill(probes_spill_fd(p), out, &cap, pid);
	if (!err)
		err = build_index(out);
	if (err)
		live_blocks_free(out);
	return err;
}

void live_blocks_free(struct live_blocks *b)
{
	free(b->v);
	addr_table_free(b->index, b->cap * sizeof(*b->index));
	memset(b, 0, sizeof(*b));
}

struct live_block *live_blocks_find(const struct live_blocks *b, uint64_t addr)
{
	size_t j;

	if (!b->cap)
		return NULL;
	for (j = addr_hash(addr, b->cap); b->index[j].addr; j = (j + 1) & (b->cap - 1))
		if (b->index[j].addr == addr)
			return &b->v[b->index[j].i];
	return NULL;
}
