// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include "uprobe_multi.h"

#define BPF_LINK_CREATE_CMD	28
#define UPROBE_MULTI_RETURN	1

/* union bpf_attr's link_create, as far as uprobe_multi goes (UAPI layout) */
struct link_create_attr {
	uint32_t prog_fd;
	uint32_t target_fd;
	uint32_t attach_type;
	uint32_t flags;
	uint64_t path;
	uint64_t offsets;
	uint64_t ref_ctr_offsets;
	uint64_t cookies;
	uint32_t cnt;
	uint32_t uflags;
	uint32_t pid;
	uint32_t pad;
};

int uprobe_multi_attach(int prog_fd, const char *path, const uint64_t *offsets,
			const uint64_t *cookies, uint32_t cnt, bool retprobe, pid_t pid)
{
	struct link_create_attr attr;
	long fd;

	memset(&attr, 0, sizeof(attr));
	attr.prog_fd = prog_fd;
	attr.attach_type = UPROBE_MULTI_ATTACH_TYPE;
	attr.path = (uintptr_t)path;
	attr.offsets = (uintptr_t)offsets;
	attr.cookies = (uintptr_t)cookies;
	attr.cnt = cnt;
	attr.uflags = retprobe ? UPROBE_MULTI_RETURN : 0;
	attr.pid = pid;
	fd = syscall(SYS_bpf, BPF_LINK_CREATE_CMD, &attr, sizeof(attr));
	return fd < 0 ? -errno : (int)fd;
}
