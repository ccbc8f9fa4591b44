// SPDX-License-Identifier: GPL-2.0
/* /proc/PID/smaps_rollup: one "Name:   N kB" line per counter. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "proc_mem.h"

struct field {
	const char *name;
	size_t off;
};

static const struct field fields[] = {
	{ "Rss:", offsetof(struct proc_mem, rss_bytes) },
	{ "Pss:", offsetof(struct proc_mem, pss_bytes) },
	{ "Anonymous:", offsetof(struct proc_mem, anon_bytes) },
	{ "Swap:", offsetof(struct proc_mem, swap_bytes) },
};

/* The kB value after a field's name, up to end; false unless digits then " kB". */
static bool parse_kb(const char *p, const char *end, uint64_t *bytes)
{
	uint64_t kb = 0;
	bool digits = false;

	while (p < end && *p == ' ')
		p++;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		if (kb > (UINT64_MAX >> 10) / 10)
			return false;
		kb = kb * 10 + (uint64_t)(*p - '0');
		digits = true;
	}
	if (!digits || end - p < 3 || memcmp(p, " kB", 3))
		return false;
	*bytes = kb << 10;
	return true;
}

int proc_mem_parse(const char *text, size_t len, struct proc_mem *out)
{
	const char *p = text, *end = text + len;
	bool rss = false, pss = false;

	memset(out, 0, sizeof(*out));
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));

		if (!eol)
			eol = end;
		for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
			size_t n = strlen(fields[i].name);

			if ((size_t)(eol - p) < n || memcmp(p, fields[i].name, n))
				continue;
			if (!parse_kb(p + n, eol, (uint64_t *)((char *)out + fields[i].off)))
				break;
			rss |= i == 0;
			pss |= i == 1;
			break;
		}
		p = eol + 1;
	}
	return rss && pss ? 0 : -EINVAL;
}

int proc_mem_read(pid_t pid, struct proc_mem *out)
{
	char path[64], buf[4096];
	ssize_t n;
	size_t len = 0;
	int fd, err;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/smaps_rollup");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (len < sizeof(buf) && (n = read(fd, buf + len, sizeof(buf) - len)) > 0)
		len += (size_t)n;
	err = n < 0 ? -errno : 0;
	close(fd);
	if (err)
		return err;
	return proc_mem_parse(buf, len, out);
}
