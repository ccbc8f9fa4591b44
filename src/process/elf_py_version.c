// SPDX-License-Identifier: GPL-2.0
/* CPython's PY_VERSION string, found in an ELF file's read-only data. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* memmem */
#endif
#include <errno.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "elf_syms_priv.h"

#define VER_MAX_CANDS	16
#define VER_MAX_LEN	32

struct ver_cand {
	char s[VER_MAX_LEN];
	unsigned int whole;	/* occurrences as a complete string */
	unsigned int total;
	uint64_t first;		/* lowest vaddr seen */
};

static const char *skip_digits(const char *p, const char *end)
{
	while (p < end && *p >= '0' && *p <= '9')
		p++;
	return p;
}

/* Length of "<digits>[([abc]|rc)<digits>][+]" at @p when a NUL ends it, else 0. */
static size_t version_tail(const char *p, const char *end)
{
	const char *q = skip_digits(p, end), *rel = q;

	if (q == p)
		return 0;
	if (q + 1 < end && q[0] == 'r' && q[1] == 'c')
		rel = q + 2;
	else if (q < end && (*q == 'a' || *q == 'b' || *q == 'c'))
		rel = q + 1;
	if (rel != q) {
		q = skip_digits(rel, end);
		if (q == rel)
			return 0;
	}
	if (q < end && *q == '+')
		q++;
	return q < end && !*q ? (size_t)(q - p) : 0;
}

static void add_cand(struct ver_cand *c, size_t *n, const char *s, size_t len, bool whole,
		     uint64_t vaddr)
{
	size_t i;

	if (len >= VER_MAX_LEN)
		return;
	for (i = 0; i < *n; i++)
		if (strlen(c[i].s) == len && !memcmp(c[i].s, s, len))
			break;
	if (i == *n) {
		if (*n == VER_MAX_CANDS)
			return;
		memset(&c[i], 0, sizeof(c[i]));
		memcpy(c[i].s, s, len);
		c[i].first = vaddr;
		(*n)++;
	}
	c[i].whole += whole;
	c[i].total++;
	if (vaddr < c[i].first)
		c[i].first = vaddr;
}

static int scan_range(const struct elf_syms *e, const struct erange *r, const char *prefix,
		      struct ver_cand *c, size_t *n)
{
	size_t plen = strlen(prefix), tail;
	char *buf, *p, *end;
	ssize_t got;
	int err = 0;

	if (!r->filesz)
		return 0;
	buf = malloc(r->filesz);
	if (!buf)
		return -ENOMEM;
	got = pread(e->fd, buf, r->filesz, r->offset);
	if (got < 0) {
		err = -errno;
		goto out;
	}
	end = buf + got;
	for (p = buf; (p = memmem(p, end - p, prefix, plen)); p++) {
		/* "13.11.2" or "2.3.11.2" is some other number, not a tail-merged literal. */
		if (p > buf && ((p[-1] >= '0' && p[-1] <= '9') || p[-1] == '.'))
			continue;
		tail = version_tail(p + plen, end);
		if (tail)
			add_cand(c, n, p, plen + tail, p == buf || !p[-1], r->addr + (p - buf));
	}
out:
	free(buf);
	return err;
}

/* The version Py_Version (3.11+) spells, e.g. "3.12.0rc1"; empty if unavailable. */
static void py_version_hex_str(const struct elf_syms *e, char *out, size_t len)
{
	static const char *const level[16] = { [0xA] = "a", [0xB] = "b", [0xC] = "rc" };
	uint64_t addr;
	uint32_t v;

	out[0] = 0;
	if (elf_syms_lookup(e, "Py_Version", &addr, NULL) ||
	    elf_syms_read(e, addr, &v, sizeof(v)))
		return;
	if ((v >> 4 & 0xf) == 0xF)
		snprintf(out, len, "%u.%u.%u", v >> 24, v >> 16 & 0xff, v >> 8 & 0xff);
	else if (level[v >> 4 & 0xf])
		snprintf(out, len, "%u.%u.%u%s%u", v >> 24, v >> 16 & 0xff, v >> 8 & 0xff,
			 level[v >> 4 & 0xf], v & 0xf);
}

static bool agrees(const struct ver_cand *c, const char *hexver)
{
	size_t len = strcspn(c->s, "+");

	return *hexver && strlen(hexver) == len && !memcmp(c->s, hexver, len);
}

static bool better(const struct ver_cand *a, const struct ver_cand *b, const char *hexver)
{
	if (agrees(a, hexver) != agrees(b, hexver))
		return agrees(a, hexver);
	if (!a->whole != !b->whole)
		return a->whole;
	if (a->total != b->total)
		return a->total > b->total;
	return a->first < b->first;
}

int elf_syms_find_python_version(const struct elf_syms *e, int major, int minor, char *out,
				 size_t outlen)
{
	struct ver_cand cands[VER_MAX_CANDS];
	char prefix[32], hexver[VER_MAX_LEN];
	const struct ver_cand *best = NULL;
	size_t i, n = 0;
	int err;

	snprintf(prefix, sizeof(prefix), "%d.%d.", major, minor);
	for (i = 0; i < e->nro; i++) {
		err = scan_range(e, &e->ro[i], prefix, cands, &n);
		if (err)
			return err;
	}
	/* Without section headers, fall back to read-only, non-exec segments. */
	for (i = 0; !e->nro && i < e->nloads; i++) {
		if ((e->loads[i].flags & (PF_R | PF_W | PF_X)) != PF_R)
			continue;
		err = scan_range(e, &e->loads[i], prefix, cands, &n);
		if (err)
			return err;
	}
	if (!n)
		return -ENOENT;
	py_version_hex_str(e, hexver, sizeof(hexver));
	for (i = 0; i < n; i++)
		if (!best || better(&cands[i], best, hexver))
			best = &cands[i];
	if (strlen(best->s) >= outlen)
		return -ENOSPC;
	strcpy(out, best->s);
	return 0;
}
