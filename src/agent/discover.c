// SPDX-License-Identifier: GPL-2.0
/*
 * Finding CPython processes: a scan of /proc every tick.  A process is
 * looked at once (its executable's name, else a libpython in its maps);
 * after that only its start time and executable are compared, so that a
 * reused pid or an exec is seen.  /proc/PID/exe and maps name files as
 * the process sees them, in any root or mount namespace.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "agent.h"
#include "proc_maps.h"

/* Field 22 of /proc/PID/stat, after the command's closing parenthesis; 0 if unreadable */
static unsigned long long start_time(pid_t pid)
{
	unsigned long long v = 0;
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	/* the space before field N is the (N - 2)th after the ')' */
	for (field = 3; p && field <= 22; field++)
		p = strchr(p + 1, ' ');
	if (p)
		v = strtoull(p + 1, NULL, 10);
	return v;
}

/* The command line, its arguments joined by spaces */
static void read_cmdline(pid_t pid, char *out, size_t len)
{
	char path[64];
	ssize_t n, i;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	out[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, out, len - 1);
	close(fd);
	if (n <= 0)
		n = 0;
	for (i = 0; i < n; i++)
		if (!out[i])
			out[i] = ' ';
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
}

/* python, python3, python3.11, python3.14t ...: the interpreter as its own executable */
static bool python_name(const char *exe)
{
	const char *base = strrchr(exe, '/');

	base = base ? base + 1 : exe;
	if (strncmp(base, "python", 6))
		return false;
	for (base += 6; *base; base++)
		if (!isdigit((unsigned char)*base) && *base != '.' && *base != 't')
			return false;
	return true;
}

/* An embedding program (uwsgi, a test harness) has libpython in its maps. */
static bool maps_libpython(pid_t pid)
{
	char path[64], line[512];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, "/libpython3") != NULL;
	fclose(f);
	return found;
}

static bool selected(struct agent *ag, struct agent_target *t)
{
	char cmd[4096];

	if (!python_name(t->exe) && !maps_libpython(t->pid))
		return false;
	if (!ag->has_match)
		return true;
	if (!regexec(&ag->match, t->exe, 0, NULL, 0))
		return true;
	read_cmdline(t->pid, cmd, sizeof(cmd));
	return !regexec(&ag->match, cmd, 0, NULL, 0);
}

static struct agent_target *add(struct agent *ag, pid_t pid, unsigned long long start)
{
	struct agent_target *t, **grown;

	if (ag->n == ag->cap) {
		grown = realloc(ag->t, (ag->cap ? ag->cap * 2 : 64) * sizeof(*grown));
		if (!grown)
			return NULL;
		ag->t = grown;
		ag->cap = ag->cap ? ag->cap * 2 : 64;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->pid = pid;
	t->start = start;
	ag->t[ag->n++] = t;
	return t;
}

/* A process seen in this scan: new, or the same one (exec'd anew, perhaps) */
static void look_at(struct agent *ag, pid_t pid, double now)
{
	unsigned long long start = start_time(pid);
	struct agent_target *t = agent_find(ag, pid);
	char exe[sizeof(t->exe)];

	if (!start)
		return;		/* gone already */
	proc_readlink(pid, "exe", exe, sizeof(exe));
	if (t && t->start == start && !strcmp(t->exe, exe)) {
		t->seen = true;
		if (t->python && !t->a && t->tries < AGENT_TRIES && now >= t->next_try)
			targets_attach(ag, t, now);
		return;
	}
	if (t) {
		/* the pid was reused, or the process exec'd: a new process */
		targets_detach(t);
		memset(t, 0, sizeof(*t));
		t->pid = pid;
		t->start = start;
	} else {
		t = add(ag, pid, start);
		if (!t)
			return;
	}
	t->seen = true;
	snprintf(t->exe, sizeof(t->exe), "%s", exe);
	/* kernel threads have no exe */
	t->python = exe[0] && selected(ag, t);
	if (t->python)
		targets_attach(ag, t, now);
}

void discover_scan(struct agent *ag, double now)
{
	struct dirent *de;
	char *end;
	DIR *d;
	size_t i, kept;
	long pid;

	for (i = 0; i < ag->n; i++)
		ag->t[i]->seen = false;
	d = opendir("/proc");
	if (!d)
		return;
	while ((de = readdir(d))) {
		pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0 || pid == ag->self)
			continue;
		look_at(ag, pid, now);
	}
	closedir(d);
	/* gone: its kernel state is freed, and it leaves the list */
	for (i = kept = 0; i < ag->n; i++) {
		if (ag->t[i]->seen) {
			ag->t[kept++] = ag->t[i];
			continue;
		}
		if (ag->t[i]->a)
			fprintf(stderr, "pymem-bpf: agent: PID %d exited\n", ag->t[i]->pid);
		targets_detach(ag->t[i]);
		free(ag->t[i]);
	}
	ag->n = kept;
}
