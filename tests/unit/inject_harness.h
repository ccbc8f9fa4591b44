/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the inject unit tests share: a target process on pipes, what /proc
 * says about its threads, and one full stop, memfd injection and release.
 * Failures are cmocka assertions.
 */
#ifndef PYMEM_INJECT_HARNESS_H
#define PYMEM_INJECT_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "inject.h"

#define LINE_MS		10000

struct target {
	pid_t pid;
	int in, out;		/* its stdin (write end), its stdout (read end) */
	char buf[8192];
	size_t len;
};

extern struct target tg;	/* the current test's target, killed by teardown */

void spawn(struct target *t, char *const argv[]);
void spawn_target(struct target *t, const char *mode, const char *n, const char *arg,
		  const char *arg2);
bool read_line(struct target *t, char *line, size_t size, int ms);
void expect_line(struct target *t, const char *want);
void send_str(struct target *t, const char *s);
int finish(struct target *t);
/* finish(), and the target exited with status 0 */
void finish_ok(struct target *t);
/* n lines of whole 16-byte reads whose data ends with msg ("" for any) */
void expect_reads(struct target *t, int n, const char *msg);
int teardown(void **state);

double now_ms(void);
void sleep_ms(int ms);

ssize_t proc_read(pid_t pid, pid_t tid, const char *name, char *buf, size_t size);
int tids(pid_t pid, pid_t *out, int max);
int count_in(pid_t pid, long nr);
void wait_in(pid_t pid, long nr, int n);
void status_of(pid_t pid, pid_t tid, const char *key, char *out, size_t size);
void assert_untraced(pid_t pid);

long sys(struct inject *in, long nr, long a1, long a2, long a3, long a4, long a5, long a6);
void stop_inject_release(pid_t pid);

#endif /* PYMEM_INJECT_HARNESS_H */
