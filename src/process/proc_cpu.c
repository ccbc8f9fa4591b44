// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "proc_cpu.h"

int proc_cpu_parse(const char *text, size_t len, uint64_t *ticks)
{
	char buf[1024], *p;
	uint64_t ut, st;

	if (len >= sizeof(buf))
		len = sizeof(buf) - 1;
	memcpy(buf, text, len);
	buf[len] = 0;
	p = strrchr(buf, ')');
	/* state, then 10 fields, then utime (14th) and stime (15th) */
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %" SCNu64 " %" SCNu64,
			 &ut, &st) != 2)
		return -EINVAL;
	*ticks = ut + st;
	return 0;
}

int proc_cpu_read(pid_t pid, uint64_t *ns)
{
	char path[64], text[1024];
	uint64_t ticks;
	ssize_t n;
	long hz = sysconf(_SC_CLK_TCK);
	int fd, err;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, text, sizeof(text));
	err = n < 0 ? -errno : 0;
	close(fd);
	if (err)
		return err;
	err = proc_cpu_parse(text, n, &ticks);
	if (!err)
		*ns = ticks * (1000000000ULL / (hz > 0 ? hz : 100));
	return err;
}
