// SPDX-License-Identifier: GPL-2.0
/* Load pymem.bpf.o and attach it to the allocator entry points of one process. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "elf_syms.h"
#include "probes.h"
#include "pymem.skel.h"

struct site_def {
	const char *name;
	enum pymem_call_kind kind;
	bool python;		/* lives in the interpreter, not libc */
};

static const struct site_def sites[SITE__MAX] = {
	[SITE_PYOBJECT_MALLOC]	= { "PyObject_Malloc", CALL_MALLOC, true },
	[SITE_PYOBJECT_CALLOC]	= { "PyObject_Calloc", CALL_CALLOC, true },
	[SITE_PYOBJECT_REALLOC]	= { "PyObject_Realloc", CALL_REALLOC, true },
	[SITE_PYOBJECT_FREE]	= { "PyObject_Free", CALL_FREE, true },
	[SITE_PYMEM_MALLOC]	= { "PyMem_Malloc", CALL_MALLOC, true },
	[SITE_PYMEM_CALLOC]	= { "PyMem_Calloc", CALL_CALLOC, true },
	[SITE_PYMEM_REALLOC]	= { "PyMem_Realloc", CALL_REALLOC, true },
	[SITE_PYMEM_FREE]	= { "PyMem_Free", CALL_FREE, true },
	[SITE_PYMEM_RAW_MALLOC]	= { "PyMem_RawMalloc", CALL_MALLOC, true },
	[SITE_PYMEM_RAW_CALLOC]	= { "PyMem_RawCalloc", CALL_CALLOC, true },
	[SITE_PYMEM_RAW_REALLOC] = { "PyMem_RawRealloc", CALL_REALLOC, true },
	[SITE_PYMEM_RAW_FREE]	= { "PyMem_RawFree", CALL_FREE, true },
	[SITE_MALLOC]		= { "malloc", CALL_MALLOC, false },
	[SITE_CALLOC]		= { "calloc", CALL_CALLOC, false },
	[SITE_REALLOC]		= { "realloc", CALL_REALLOC, false },
	[SITE_FREE]		= { "free", CALL_FREE, false },
	[SITE_POSIX_MEMALIGN]	= { "posix_memalign", CALL_POSIX_MEMALIGN, false },
	[SITE_ALIGNED_ALLOC]	= { "aligned_alloc", CALL_ALIGNED, false },
	[SITE_MEMALIGN]		= { "memalign", CALL_ALIGNED, false },
	[SITE_VALLOC]		= { "valloc", CALL_MALLOC, false },
	[SITE_MMAP]		= { "mmap", CALL_MALLOC, false },
	[SITE_MUNMAP]		= { "munmap", CALL_FREE, false },
};

#define MAX_LINKS (SITE__MAX * 3 + 3)

struct probes {
	struct pymem_bpf *skel;
	struct bpf_link *links[MAX_LINKS];
	int nlinks;
	char interp_dso[256];
	char libc_dso[256];
};

static bool verbose;

static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG && !verbose)
		return 0;
	if (level != LIBBPF_WARN && !verbose)
		return 0;
	return vfprintf(stderr, fmt, args);
}

const char *probes_site_name(enum pymem_site site)
{
	return site < SITE__MAX ? sites[site].name : "?";
}

const char *probes_site_dso(const struct probes *p, enum pymem_site site)
{
	if (site == SITE_MMAP || site == SITE_MUNMAP)
		return "kernel";
	return site < SITE__MAX && sites[site].python ? p->interp_dso : p->libc_dso;
}

static int add_link(struct probes *p, struct bpf_link *l, const char *what)
{
	int err = libbpf_get_error(l);

	if (err) {
		fprintf(stderr, "pymem-bpf: failed to attach %s: %s\n", what, strerror(-err));
		return err;
	}
	p->links[p->nlinks++] = l;
	return 0;
}

/* One uprobe (plus a uretprobe for allocations) on sites[s] in path. */
static int attach_site(struct probes *p, pid_t pid, const char *path, struct elf_syms *e,
		       enum pymem_site s, uint64_t *seen, int *nseen)
{
	const struct site_def *d = &sites[s];
	LIBBPF_OPTS(bpf_uprobe_opts, opts);
	uint64_t vaddr, size, off;
	struct bpf_program *prog;
	int i, err;

	if (elf_syms_lookup(e, d->name, &vaddr, &size) ||
	    elf_syms_vaddr_to_offset(e, vaddr, &off)) {
		/* not every libc has every variant (musl lacks valloc's alias...) */
		if (verbose)
			fprintf(stderr, "pymem-bpf: %s not found in %s\n", d->name, path);
		return 0;
	}
	/* Aliases share an address; one probe per address keeps one event per call. */
	for (i = 0; i < *nseen; i++)
		if (seen[i] == off)
			return 0;
	seen[(*nseen)++] = off;

	opts.bpf_cookie = PYMEM_COOKIE(s, d->kind);
	prog = d->kind == CALL_FREE ? p->skel->progs.free_enter : p->skel->progs.alloc_enter;
	err = add_link(p, bpf_program__attach_uprobe_opts(prog, pid, path, off, &opts), d->name);
	if (err || d->kind == CALL_FREE)
		return err;
	opts.retprobe = true;
	return add_link(p, bpf_program__attach_uprobe_opts(p->skel->progs.alloc_exit, pid, path,
							   off, &opts), d->name);
}

static int attach_dso(struct probes *p, pid_t pid, const char *path, bool python)
{
	uint64_t seen[SITE__MAX];
	struct elf_syms *e;
	int s, err = 0, nseen = 0;

	e = elf_syms_open(path);
	if (!e) {
		fprintf(stderr, "pymem-bpf: cannot read ELF %s: %s\n", path, strerror(errno));
		return -errno;
	}
	for (s = 0; s < SITE__MAX && !err; s++) {
		if (sites[s].python != python || s == SITE_MMAP || s == SITE_MUNMAP)
			continue;
		err = attach_site(p, pid, path, e, s, seen, &nseen);
	}
	elf_syms_close(e);
	return err;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

int probes_start(const struct pytarget *t, const struct probes_opts *o, struct probes **out)
{
	struct stack_stats zero = {};
	__u64 full_id = STACK_ID_MAP_FULL;
	struct pymem_bpf *skel;
	struct probes *p;
	int err;

	verbose = o->verbose;
	libbpf_set_print(print_libbpf);
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	snprintf(p->interp_dso, sizeof(p->interp_dso), "%.255s", base_name(t->interp));
	snprintf(p->libc_dso, sizeof(p->libc_dso), "%.255s", base_name(t->libc));

	skel = pymem_bpf__open();
	if (!skel) {
		err = -errno;
		fprintf(stderr, "pymem-bpf: failed to open the BPF object: %s\n", strerror(errno));
		goto fail;
	}
	p->skel = skel;
	skel->rodata->target_tgid = t->pid;
	skel->rodata->py_runtime = t->runtime;
	skel->rodata->interp_text_lo = t->text_lo;
	skel->rodata->interp_text_hi = t->text_hi;
	memcpy((void *)&skel->rodata->pyoff, &t->off, sizeof(t->off));
	bpf_map__set_max_entries(skel->maps.live, o->max_live);
	bpf_map__set_max_entries(skel->maps.stacks, o->max_stacks);
	bpf_map__set_max_entries(skel->maps.stats, o->max_stacks + 1);

	err = pymem_bpf__load(skel);
	if (err) {
		fprintf(stderr, "pymem-bpf: failed to load the BPF object: %s\n", strerror(-err));
		goto fail;
	}
	err = bpf_map_update_elem(bpf_map__fd(skel->maps.stats), &full_id, &zero, BPF_NOEXIST);
	if (err) {
		fprintf(stderr, "pymem-bpf: cannot prepare the counter map: %s\n", strerror(errno));
		goto fail;
	}
	if (t->libc[0])
		err = attach_dso(p, t->pid, t->libc_open, false);
	if (err)
		goto fail;
	err = add_link(p, bpf_program__attach(skel->progs.sys_enter), "sys_enter");
	err = err ?: add_link(p, bpf_program__attach(skel->progs.sys_exit), "sys_exit");
	if (err)
		goto fail;
	*out = p;
	return 0;
fail:
	probes_stop(p);
	return err ? err : -EINVAL;
}

int probes_attach_python(struct probes *p, const struct pytarget *t)
{
	return attach_dso(p, t->pid, t->interp_open, true);
}

/* Trampoline domains, in alloc_table order (raw, mem, obj), to sites. */
static const enum pymem_site tramp_sites[TRAMP_DOMAINS][TRAMP__MAX] = {
	{ SITE_PYMEM_RAW_MALLOC, SITE_PYMEM_RAW_CALLOC, SITE_PYMEM_RAW_REALLOC,
	  SITE_PYMEM_RAW_FREE },
	{ SITE_PYMEM_MALLOC, SITE_PYMEM_CALLOC, SITE_PYMEM_REALLOC, SITE_PYMEM_FREE },
	{ SITE_PYOBJECT_MALLOC, SITE_PYOBJECT_CALLOC, SITE_PYOBJECT_REALLOC,
	  SITE_PYOBJECT_FREE },
};

int probes_attach_tramp(struct probes *p, pid_t pid, const char *path,
			const struct tramp_image *img)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts);
	struct bpf_program *prog;
	int d, f, err;

	for (d = 0; d < TRAMP_DOMAINS; d++) {
		for (f = 0; f < TRAMP__MAX; f++) {
			enum pymem_site s = tramp_sites[d][f];

			if (!img->probe[d][f])
				continue;
			opts.bpf_cookie = PYMEM_COOKIE(s, sites[s].kind);
			prog = f == TRAMP_FREE ? p->skel->progs.tramp_free :
						 p->skel->progs.tramp_alloc;
			err = add_link(p, bpf_program__attach_uprobe_opts(prog, pid, path,
						img->probe[d][f], &opts), sites[s].name);
			if (err)
				return err;
		}
	}
	return 0;
}

void probes_stop(struct probes *p)
{
	int i;

	if (!p)
		return;
	for (i = 0; i < p->nlinks; i++)
		bpf_link__destroy(p->links[i]);
	pymem_bpf__destroy(p->skel);
	free(p);
}

int probes_stacks_fd(const struct probes *p)
{
	return bpf_map__fd(p->skel->maps.stacks);
}

int probes_new_stacks_fd(const struct probes *p)
{
	return bpf_map__fd(p->skel->maps.new_stacks);
}

int probes_stats_fd(const struct probes *p)
{
	return bpf_map__fd(p->skel->maps.stats);
}

int probes_peak(const struct probes *p, struct peak_state *out)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(bpf_map__fd(p->skel->maps.peak), &zero, out) ? -errno : 0;
}

void probes_drops(const struct probes *p, uint64_t out[DROP__MAX])
{
	int ncpu = libbpf_num_possible_cpus(), fd = bpf_map__fd(p->skel->maps.drops);
	uint64_t vals[ncpu > 0 ? ncpu : 1];
	__u32 k;
	int c;

	for (k = 0; k < DROP__MAX; k++) {
		out[k] = 0;
		if (ncpu <= 0 || bpf_map_lookup_elem(fd, &k, vals))
			continue;
		for (c = 0; c < ncpu; c++)
			out[k] += vals[c];
	}
}
