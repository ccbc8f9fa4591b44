// SPDX-License-Identifier: GPL-2.0
/*
 * A chunk is read with one process_vm_readv; one that crosses into an
 * unmapped page is read again a page at a time, so a mapping's last
 * chunk still serves the pages it has.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include "proc_maps.h"
#include "rcache.h"

#define CHUNK_SHIFT	16
#define CHUNK		(1ULL << CHUNK_SHIFT)
#define PAGE		4096ULL
#define PAGES		(CHUNK / PAGE)

struct chunk {
	uint64_t base;		/* 0: empty slot */
	uint64_t ok;		/* bit p: page p could be read */
	uint8_t *data;
};

/* Chunks' memory comes in 2 MiB slabs: one mapping for 32 chunks, freed at once */
#define SLAB		(2ULL << 20)

struct rcache {
	pid_t pid;
	struct chunk *tab;	/* open addressing, power-of-two size */
	size_t n, cap;
	uint64_t bytes;
	struct chunk *last;	/* the chunk read last: reads come in runs */
	void **slabs;
	size_t nslabs;
	size_t slab_used;	/* bytes of the last slab handed out */
	/* after rcache_snapshot(): the mappings a miss may still read, which were not writable */
	bool frozen;
	struct range { uint64_t start, end; } *ro;
	size_t nro;
};

struct rcache *rcache_new(pid_t pid)
{
	struct rcache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->pid = pid;
	c->cap = 256;
	c->tab = calloc(c->cap, sizeof(*c->tab));
	if (!c->tab) {
		free(c);
		return NULL;
	}
	return c;
}

void rcache_free(struct rcache *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->nslabs; i++)
		munmap(c->slabs[i], SLAB);
	free(c->slabs);
	free(c->ro);
	free(c->tab);
	free(c);
}

static struct chunk *slot(struct chunk *tab, size_t cap, uint64_t base)
{
	size_t i = ((base >> CHUNK_SHIFT) * 0x9e3779b97f4a7c15ULL) & (cap - 1);

	while (tab[i].base && tab[i].base != base)
		i = (i + 1) & (cap - 1);
	return &tab[i];
}

static int grow(struct rcache *c)
{
	c->last = NULL;
	size_t i, cap = c->cap * 2;
	struct chunk *tab = calloc(cap, sizeof(*tab));

	if (!tab)
		return -ENOMEM;
	for (i = 0; i < c->cap; i++)
		if (c->tab[i].base)
			*slot(tab, cap, c->tab[i].base) = c->tab[i];
	free(c->tab);
	c->tab = tab;
	c->cap = cap;
	return 0;
}

static ssize_t readv_at(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { .iov_base = buf, .iov_len = len };
	struct iovec remote = { .iov_base = (void *)(uintptr_t)addr, .iov_len = len };

	return process_vm_readv(pid, &local, 1, &remote, 1, 0);
}

static void fill(struct rcache *c, struct chunk *k)
{
	ssize_t got = readv_at(c->pid, k->base, k->data, CHUNK);
	uint64_t p;

	if (got == (ssize_t)CHUNK) {
		k->ok = ~0ULL;
		return;
	}
	/* a short read stops at the first fault: the pages past it may still be mapped */
	for (p = 0; p < PAGES; p++)
		if ((got > 0 && (p + 1) * PAGE <= (uint64_t)got) ||
		    readv_at(c->pid, k->base + p * PAGE, k->data + p * PAGE, PAGE) == (ssize_t)PAGE)
			k->ok |= 1ULL << p;
}

/* Frozen: the pages of the chunk at base that lie in a mapping that was not writable */
static uint64_t readonly_pages(const struct rcache *c, uint64_t base)
{
	uint64_t ok = 0, p, a;
	size_t i;

	for (p = 0; p < PAGES; p++) {
		a = base + p * PAGE;
		for (i = 0; i < c->nro; i++)
			if (a >= c->ro[i].start && a < c->ro[i].end) {
				ok |= 1ULL << p;
				break;
			}
	}
	return ok;
}

static uint8_t *chunk_memory(struct rcache *c)
{
	void **slabs, *slab;

	if (!c->nslabs || c->slab_used == SLAB) {
		slabs = realloc(c->slabs, (c->nslabs + 1) * sizeof(*slabs));
		if (!slabs)
			return NULL;
		c->slabs = slabs;
		slab = mmap(NULL, SLAB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (slab == MAP_FAILED)
			return NULL;
		c->slabs[c->nslabs++] = slab;
		c->slab_used = 0;
	}
	c->slab_used += CHUNK;
	return (uint8_t *)c->slabs[c->nslabs - 1] + c->slab_used - CHUNK;
}

static struct chunk *get(struct rcache *c, uint64_t base)
{
	struct chunk *k;

	if (c->last && c->last->base == base)
		return c->last;
	k = slot(c->tab, c->cap, base);
	if (k->base)
		return c->last = k;
	if ((c->n + 1) * 2 > c->cap) {
		if (grow(c))
			return NULL;
		k = slot(c->tab, c->cap, base);
	}
	k->data = chunk_memory(c);
	if (!k->data)
		return NULL;
	k->base = base;
	k->ok = 0;
	c->n++;
	c->bytes += CHUNK;
	fill(c, k);
	if (c->frozen)
		k->ok &= readonly_pages(c, base);
	return c->last = k;
}

static bool writable(const struct proc_map *m)
{
	return m->perms[0] == 'r' && m->perms[1] == 'w';
}

int rcache_snapshot(struct rcache *c, uint64_t budget)
{
	struct proc_maps maps;
	uint64_t total = 0, base;
	size_t i;
	int err;

	err = proc_maps_read(c->pid, &maps);
	if (err)
		return err;
	for (i = 0; i < maps.n; i++)
		if (writable(&maps.v[i]))
			total += maps.v[i].end - maps.v[i].start;
	c->ro = calloc(maps.n ?: 1, sizeof(*c->ro));
	if (total > budget || !c->ro) {
		err = c->ro ? -E2BIG : -ENOMEM;
		goto out;
	}
	for (i = 0; i < maps.n; i++) {
		const struct proc_map *m = &maps.v[i];

		if (m->perms[0] == 'r' && !writable(m))
			c->ro[c->nro++] = (struct range){ m->start, m->end };
		if (!writable(m))
			continue;
		for (base = m->start & ~(CHUNK - 1); base < m->end && !err; base += CHUNK)
			if (!get(c, base))
				err = -ENOMEM;
	}
	c->frozen = !err;
out:
	proc_maps_free(&maps);
	return err;
}

int rcache_read(struct rcache *c, uint64_t addr, void *buf, size_t len)
{
	uint8_t *out = buf;

	if (!addr || addr + len < addr)
		return -EFAULT;
	while (len) {
		uint64_t base = addr & ~(CHUNK - 1), off = addr - base;
		size_t n = len < CHUNK - off ? len : CHUNK - off;
		uint64_t first = off / PAGE, last = (off + n - 1) / PAGE;
		uint64_t want = (last - first == 63 ? ~0ULL : ((1ULL << (last - first + 1)) - 1)) << first;
		struct chunk *k = get(c, base);

		if (!k || (k->ok & want) != want)
			return -EFAULT;
		memcpy(out, k->data + off, n);
		out += n;
		addr += n;
		len -= n;
	}
	return 0;
}

const void *rcache_peek(struct rcache *c, uint64_t addr, size_t len)
{
	uint64_t base = addr & ~(CHUNK - 1), off = addr - base;
	struct chunk *k;

	if (!addr || off + len > CHUNK || (off & (PAGE - 1)) + len > PAGE)
		return NULL;
	k = c->last && c->last->base == base ? c->last : slot(c->tab, c->cap, base);
	if (k->base != base || !(k->ok & (1ULL << (off / PAGE))))
		return NULL;
	return k->data + off;
}

uint64_t rcache_word(struct rcache *c, uint64_t addr)
{
	uint64_t v;

	return rcache_read(c, addr, &v, sizeof(v)) ? 0 : v;
}

void rcache_stats(const struct rcache *c, uint64_t *chunks, uint64_t *bytes)
{
	*chunks = c->n;
	*bytes = c->bytes;
}
