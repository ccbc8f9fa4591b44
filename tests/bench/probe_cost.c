// SPDX-License-Identifier: GPL-2.0
/*
 * The bare cost of one uprobe hit on this machine, with no BPF program:
 * a perf uprobe event (counting only) on a 5-byte NOP, which kernel 6.18
 * turns into a call; on a 1-byte NOP, an int3 whose NOP is emulated; and
 * on an ordinary instruction, an int3 plus a single-step, as at a function
 * entry that symbol probes use.
 *
 *     probe_cost [CALLS]     prints "nop5 NS", "nop1 NS", "insn NS", "push NS", "jcc NS" (ns per hit)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

void site_nop5(void);
void site_nop1(void);
void site_insn(void);
void site_push(void);
void site_jcc(void);
/* push and jcc: how glibc's malloc and free (after a test) begin */
__asm__(".text\n.globl site_nop5\nsite_nop5:\n.byte 0x0f,0x1f,0x44,0x00,0x00\nret\n"
	".globl site_nop1\nsite_nop1:\nnop\nret\n"
	".globl site_insn\nsite_insn:\nmov %rdi,%rax\nret\n"
	".globl site_push\nsite_push:\npush %r12\npop %r12\nret\n"
	".globl site_jcc\nsite_jcc:\nje 1f\n1:\nret\n");

static double run(void (*fn)(void), long calls)
{
	struct timespec a, b;
	long i;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < calls; i++)
		fn();
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
}

/* File offset of fn in our own executable, from /proc/self/maps. */
static long file_offset(void *fn)
{
	unsigned long lo, hi, off, a = (unsigned long)fn;
	char line[512], perms[8];
	FILE *f = fopen("/proc/self/maps", "r");
	long ret = -1;

	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %7s %lx", &lo, &hi, perms, &off) == 4 && a >= lo &&
		    a < hi && perms[2] == 'x') {
			ret = a - lo + off;
			break;
		}
	}
	if (f)
		fclose(f);
	return ret;
}

static int open_probe(const char *exe, long off)
{
	struct perf_event_attr attr;
	int type;
	FILE *f = fopen("/sys/bus/event_source/devices/uprobe/type", "r");

	if (!f || fscanf(f, "%d", &type) != 1)
		return -1;
	fclose(f);
	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = type;
	attr.config1 = (unsigned long)exe;
	attr.config2 = off;
	return syscall(SYS_perf_event_open, &attr, getpid(), -1, -1, 0);
}

static double cost(const char *exe, void (*fn)(void), long calls)
{
	double bare = run(fn, calls), probed;
	int fd = open_probe(exe, file_offset((void *)fn));

	if (fd < 0) {
		fprintf(stderr, "perf_event_open: %s\n", strerror(errno));
		exit(1);
	}
	run(fn, 1000);	/* the first hits are where the kernel optimizes */
	probed = run(fn, calls);
	close(fd);
	return (probed - bare) / calls;
}

int main(int argc, char **argv)
{
	long calls = argc > 1 ? atol(argv[1]) : 200000;
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n < 0)
		return 1;
	exe[n] = '\0';
	printf("nop5 %.0f\n", cost(exe, site_nop5, calls));
	printf("nop1 %.0f\n", cost(exe, site_nop1, calls));
	printf("insn %.0f\n", cost(exe, site_insn, calls));
	printf("push %.0f\n", cost(exe, site_push, calls));
	printf("jcc %.0f\n", cost(exe, site_jcc, calls));
	return 0;
}
