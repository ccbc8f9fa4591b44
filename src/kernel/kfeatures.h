/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the running kernel offers the BPF side, asked of the kernel itself
 * (version numbers lie: distributions backport, and CONFIG_ options differ).
 */
#ifndef PYMEM_KFEATURES_H
#define PYMEM_KFEATURES_H

#include <stdbool.h>
#include <stddef.h>

struct kfeatures {
	char release[128];	/* uname -r */
	/* required */
	bool btf;		/* /sys/kernel/btf/vmlinux: CO-RE and trusted task pointers (5.4+) */
	bool ringbuf;		/* 5.8 */
	bool task_storage;	/* 5.11 */
	bool syscall_prog;	/* BPF_PROG_TYPE_SYSCALL, run from userspace (5.14) */
	bool bpf_loop;		/* 5.17 */
	/* optional: without them pymem-bpf is slower to attach or per event, not wrong */
	bool uprobe_multi;	/* one link for many probe points (6.6) */
};

/* Root, or CAP_BPF with CAP_PERFMON (CAP_SYS_ADMIN covers both on old kernels). */
bool kfeatures_privileged(void);

/* Probe the running kernel; never fails (a feature it cannot confirm is absent). */
void kfeatures_probe(struct kfeatures *f);

/*
 * 0 if every required feature is there; else -ENOTSUP with one line naming
 * what is missing, and the kernel that brought it, in err.
 */
int kfeatures_require(const struct kfeatures *f, char *err, size_t errlen);

#endif
