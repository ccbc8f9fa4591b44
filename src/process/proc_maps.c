// SPDX-License-Identifier: GPL-2.0
/* /proc/PID/maps parsing and lookups. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "proc_maps.h"

#define DELETED_SUFFIX " (deleted)"

/* "start-end perms offset major:minor inode     path" */
static int parse_line(char *line, struct proc_map *pm)
{
	unsigned long long start, end, off, ino;
	size_t len, slen = strlen(DELETED_SUFFIX);
	char *p;
	int n = 0;

	memset(pm, 0, sizeof(*pm));
	if (sscanf(line, "%llx-%llx %4s %llx %x:%x %llu%n", &start, &end, pm->perms, &off,
		   &pm->dev_major, &pm->dev_minor, &ino, &n) != 7 || !n)
		return -EINVAL;
	/* the kernel never shows an empty mapping; one would hide its neighbour from lookups */
	if (end <= start || strlen(pm->perms) != 4)
		return -EINVAL;
	pm->start = start;
	pm->end = end;
	pm->offset = off;
	pm->inode = ino;
	/* The path is the rest of the line and may itself contain spaces. */
	p = line + n;
	p += strspn(p, " \t");
	len = strcspn(p, "\n");
	if (!len)
		return 0;
	if (len > slen && !memcmp(p + len - slen, DELETED_SUFFIX, slen)) {
		pm->deleted = true;
		len -= slen;
	}
	pm->pseudo = p[0] != '/';
	pm->path = strndup(p, len);
	return pm->path ? 0 : -ENOMEM;
}

static int map_cmp(const void *a, const void *b)
{
	const struct proc_map *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return 0;
}

int proc_maps_parse(FILE *f, struct proc_maps *m)
{
	size_t cap = 0, linecap = 0;
	char *line = NULL;
	struct proc_map *nv;
	int err = 0;

	m->v = NULL;
	m->n = 0;
	while (getline(&line, &linecap, f) >= 0) {
		if (line[0] == '\n' || !line[0])
			continue;
		if (m->n == cap) {
			cap = cap ? cap * 2 : 64;
			nv = realloc(m->v, cap * sizeof(*m->v));
			if (!nv) {
				err = -ENOMEM;
				goto out;
			}
			m->v = nv;
		}
		err = parse_line(line, &m->v[m->n]);
		if (err)
			goto out;
		m->n++;
	}
	if (ferror(f))
		err = errno ? -errno : -EIO;
	/* The kernel emits them sorted; crafted input may not be. (No lines: no array.) */
	if (!err && m->n)
		qsort(m->v, m->n, sizeof(*m->v), map_cmp);
out:
	free(line);
	if (err)
		proc_maps_free(m);
	return err;
}

ssize_t proc_readlink(int pid, const char *name, char *out, size_t len)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/%s", pid, name);
	n = readlink(link, out, len - 1);
	out[n > 0 ? n : 0] = '\0';
	return n < 0 ? -errno : n;
}

/* The root of process @pid as this process sees it, "" for our own root. */
static void target_root(int pid, char *root, size_t len)
{
	ssize_t n = proc_readlink(pid, "root", root, len);

	if (n <= 1 || (size_t)n >= len - 1)
		root[0] = '\0';	/* "/", unreadable, or too long to prefix anything */
}

/* @path without @root in front, in place, if @root is in front of it. */
static void strip_root(const char *root, char *path)
{
	size_t n = strlen(root);

	if (n && !strncmp(path, root, n) && path[n] == '/')
		memmove(path, path + n, strlen(path + n) + 1);
}

void proc_maps_target_path(int pid, char *path)
{
	char root[PATH_MAX];

	target_root(pid, root, sizeof(root));
	strip_root(root, path);
}

int proc_maps_read(int pid, struct proc_maps *m)
{
	char root[PATH_MAX] = "";
	size_t i;
	char path[64];
	FILE *f;
	int err;

	if (pid) {
		snprintf(path, sizeof(path), "/proc/%d/maps", pid);
		target_root(pid, root, sizeof(root));
	} else {
		snprintf(path, sizeof(path), "/proc/self/maps");
	}
	f = fopen(path, "re");
	if (!f) {
		m->v = NULL;
		m->n = 0;
		return -errno;
	}
	errno = 0;
	err = proc_maps_parse(f, m);
	fclose(f);
	/* A zombie or an exiting task shows an empty map: nothing to profile there. */
	if (!err && !m->n)
		err = -ESRCH;
	for (i = 0; !err && i < m->n; i++)
		if (m->v[i].path && !m->v[i].pseudo)
			strip_root(root, m->v[i].path);
	return err;
}

void proc_maps_free(struct proc_maps *m)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		free(m->v[i].path);
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

const struct proc_map *proc_maps_find(const struct proc_maps *m, uint64_t addr)
{
	size_t lo = 0, hi = m->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (m->v[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo && addr < m->v[lo - 1].end)
		return &m->v[lo - 1];
	return NULL;
}

int proc_maps_load_bias(const struct proc_maps *m, const char *path, uint64_t first_load_vaddr,
			uint64_t *bias)
{
	const struct proc_map *pm;
	size_t i;

	for (i = 0; i < m->n; i++) {
		pm = &m->v[i];
		if (pm->path && !pm->pseudo && !pm->offset && !strcmp(pm->path, path)) {
			*bias = pm->start - first_load_vaddr;
			return 0;
		}
	}
	return -ENOENT;
}

const struct proc_map *proc_maps_find_path(const struct proc_maps *m,
					   bool (*match)(const char *path, void *arg), void *arg)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (m->v[i].path && !m->v[i].pseudo && match(m->v[i].path, arg))
			return &m->v[i];
	return NULL;
}
