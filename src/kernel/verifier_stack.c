// SPDX-License-Identifier: GPL-2.0
/*
 * The call graph comes from the program as the kernel holds it (its
 * translated instructions): after JIT a bpf-to-bpf call keeps its relative
 * target in off, and a callback's address load (BPF_PSEUDO_FUNC) in imm.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include "verifier_stack.h"

#define MAX_SUBPROGS	64

struct graph {
	__u32 n;
	__u32 start[MAX_SUBPROGS];	/* first instruction */
	__u32 depth[MAX_SUBPROGS];	/* as the verifier rounds it */
	__u64 calls[MAX_SUBPROGS];	/* bit c: calls, or passes as a callback, subprogram c */
	const char *name[MAX_SUBPROGS];
};

static __u32 round_frame(__u32 d)
{
	return ((d ? d : 1) + 31) / 32 * 32;
}

static int subprog_at(const struct graph *g, __u64 insn)
{
	__u32 i;

	for (i = 0; i < g->n; i++)
		if (g->start[i] == insn)
			return i;
	return -1;
}

static int subprog_of(const struct graph *g, __u64 insn)
{
	int i;

	for (i = g->n - 1; i >= 0; i--)
		if (g->start[i] <= insn)
			return i;
	return 0;
}

static void add_edges(struct graph *g, const struct bpf_insn *in, __u32 count)
{
	__s64 target;
	__u32 i;
	int to;

	for (i = 0; i < count; i++) {
		target = -1;
		if (in[i].code == (BPF_JMP | BPF_CALL) && in[i].src_reg == BPF_PSEUDO_CALL)
			target = (__s64)i + in[i].off + 1;
		else if (in[i].code == (BPF_LD | BPF_IMM | BPF_DW) &&
			 in[i].src_reg == BPF_PSEUDO_FUNC)
			target = (__s64)i + in[i].imm + 1;
		to = target >= 0 ? subprog_at(g, target) : -1;
		if (to >= 0)
			g->calls[subprog_of(g, i)] |= 1ULL << to;
	}
}

/* The deepest chain from s; its path, leaf last, in path (of length *len) */
static __u32 deepest(const struct graph *g, __u32 s, __u32 *path, __u32 *len, int hops)
{
	__u32 best = 0, best_path[MAX_SUBPROGS], best_len = 0, sub[MAX_SUBPROGS], sub_len, d, c;

	if (hops > MAX_SUBPROGS) {
		*len = 0;
		return 0;	/* a cycle: the verifier refuses recursion anyway */
	}
	for (c = 0; c < g->n; c++) {
		if (!(g->calls[s] >> c & 1))
			continue;
		d = deepest(g, c, sub, &sub_len, hops + 1);
		if (d > best) {
			best = d;
			best_len = sub_len;
			memcpy(best_path, sub, sub_len * sizeof(*sub));
		}
	}
	path[0] = s;
	memcpy(path + 1, best_path, best_len * sizeof(*path));
	*len = best_len + 1;
	return g->depth[s] + best;
}

static int read_graph(int fd, const char *depths, struct graph *g, struct btf **btf,
		      struct bpf_insn **insns, __u32 *count)
{
	struct bpf_func_info fi[MAX_SUBPROGS];
	struct bpf_prog_info info = {};
	__u32 ilen = sizeof(info), i;
	const struct btf_type *t;
	const char *p = depths;
	char *end;

	if (bpf_obj_get_info_by_fd(fd, &info, &ilen))
		return -errno;
	if (!info.nr_func_info || info.nr_func_info > MAX_SUBPROGS ||
	    info.func_info_rec_size != sizeof(*fi) || !info.xlated_prog_len)
		return -ENOTSUP;
	*count = info.xlated_prog_len / sizeof(**insns);
	*insns = calloc(*count, sizeof(**insns));
	if (!*insns)
		return -ENOMEM;
	g->n = info.nr_func_info;
	memset(&info, 0, sizeof(info));
	info.nr_func_info = g->n;
	info.func_info_rec_size = sizeof(*fi);
	info.func_info = (__u64)(unsigned long)fi;
	info.xlated_prog_len = *count * sizeof(**insns);
	info.xlated_prog_insns = (__u64)(unsigned long)*insns;
	ilen = sizeof(info);
	if (bpf_obj_get_info_by_fd(fd, &info, &ilen))
		return -errno;
	*btf = btf__load_from_kernel_by_id(info.btf_id);
	for (i = 0; i < g->n; i++) {
		g->start[i] = fi[i].insn_off;
		t = *btf ? btf__type_by_id(*btf, fi[i].type_id) : NULL;
		g->name[i] = t ? btf__name_by_offset(*btf, t->name_off) : "?";
		g->depth[i] = round_frame(strtoul(p, &end, 10));
		if (end == p)
			return -EINVAL;	/* fewer figures than subprograms */
		p = *end == '+' ? end + 1 : end;
	}
	return 0;
}

int verifier_stack_chain(int prog_fd, const char *depths, char *desc, size_t len)
{
	__u32 path[MAX_SUBPROGS], plen, i, total, count = 0;
	struct bpf_insn *insns = NULL;
	struct graph g = {};
	struct btf *btf = NULL;
	size_t at = 0;
	int err;

	err = read_graph(prog_fd, depths, &g, &btf, &insns, &count);
	if (!err) {
		add_edges(&g, insns, count);
		total = deepest(&g, 0, path, &plen, 0);
		desc[0] = 0;
		for (i = 0; i < plen && at < len; i++)
			at += snprintf(desc + at, len - at, "%s%s %u", i ? " > " : "",
				       g.name[path[i]], g.depth[path[i]]);
		err = total;
	}
	btf__free(btf);
	free(insns);
	return err;
}
