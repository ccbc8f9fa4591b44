// SPDX-License-Identifier: GPL-2.0
/* Probe the running kernel for what pymem.bpf.o needs, each by trying it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/utsname.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "kfeatures.h"
#include "uprobe_multi.h"

/*
 * A uprobe_multi link on "/" fails with EBADF (not a regular file) only
 * where the kernel knows the link type; older kernels refuse the program
 * or the attach type first.
 */
static bool probe_uprobe_multi(void)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = UPROBE_MULTI_ATTACH_TYPE);
	uint64_t off = 0;
	int prog, link;

	prog = bpf_prog_load(BPF_PROG_TYPE_KPROBE, NULL, "GPL", insns, 2, &opts);
	if (prog < 0)
		return false;
	link = uprobe_multi_attach(prog, "/", &off, NULL, 1, false, 0);
	if (link >= 0)
		close(link);
	close(prog);
	return link == -EBADF;
}

bool kfeatures_privileged(void)
{
	unsigned long long caps = 0;
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &caps) == 1)
			break;
	fclose(f);
	/* CAP_SYS_ADMIN (21), or CAP_PERFMON (38) with CAP_BPF (39) */
	return (caps >> 21 & 1) || ((caps >> 38 & 1) && (caps >> 39 & 1));
}

void kfeatures_probe(struct kfeatures *f)
{
	struct utsname u;

	memset(f, 0, sizeof(*f));
	if (!uname(&u))
		snprintf(f->release, sizeof(f->release), "%s", u.release);
	f->btf = !access("/sys/kernel/btf/vmlinux", R_OK);
	f->ringbuf = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) == 1;
	f->task_storage = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_TASK_STORAGE, NULL) == 1;
	f->syscall_prog = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SYSCALL, NULL) == 1;
	f->bpf_loop = libbpf_probe_bpf_helper(BPF_PROG_TYPE_KPROBE, BPF_FUNC_loop, NULL) == 1;
	f->uprobe_multi = probe_uprobe_multi();
}

int kfeatures_require(const struct kfeatures *f, char *err, size_t errlen)
{
	static const struct {
		size_t off;
		const char *what;
	} req[] = {
		{ offsetof(struct kfeatures, btf), "BTF type information (CONFIG_DEBUG_INFO_BTF)" },
		{ offsetof(struct kfeatures, ringbuf), "BPF ring buffers (Linux 5.8)" },
		{ offsetof(struct kfeatures, task_storage), "BPF task storage (Linux 5.11)" },
		{ offsetof(struct kfeatures, syscall_prog), "BPF syscall programs (Linux 5.14)" },
		{ offsetof(struct kfeatures, bpf_loop), "the bpf_loop helper (Linux 5.17)" },
	};
	size_t i;

	for (i = 0; i < sizeof(req) / sizeof(req[0]); i++) {
		if (*(const bool *)((const char *)f + req[i].off))
			continue;
		snprintf(err, errlen, "kernel %s lacks %s; pymem-bpf needs Linux 6.1 or newer",
			 f->release, req[i].what);
		return -ENOTSUP;
	}
	return 0;
}
