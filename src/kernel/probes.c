// SPDX-License-Identifier: GPL-2.0
/* Load pymem.bpf.o and attach it to the allocator entry points of one process. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/utsname.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "elf_syms.h"
#include "probe_site.h"
#include "probes.h"
#include "remote.h"
#include "pymem.skel.h"
#include "uprobe_multi.h"
#include "verifier_log.h"
#include "verifier_stack.h"

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

#define MAX_LINKS 16

struct probes {
	struct pymem_bpf *skel;
	bool multi;				/* the kernel has uprobe_multi links */
	int fds[MAX_LINKS];			/* uprobe_multi links */
	int nfds;
	struct bpf_link **links;		/* else one link per probe point */
	size_t nlinks;
	char *logs;				/* each program's verifier log */
	double load_ms;
	pid_t pid;				/* the target, once its trampolines are probed */
	int stats_fd;				/* keeps the kernel counting run time, or -1 */
	char interp_dso[256];
	char libc_dso[256];
};

static bool verbose;

/*
 * libbpf speaks only with -v: a refusal is reported in one line of ours,
 * with the verifier's reason, never as a log dump.
 */
static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return verbose ? vfprintf(stderr, fmt, args) : 0;
}

const char *probes_site_name(enum pymem_site site)
{
	return site < SITE__MAX ? sites[site].name : "?";
}

const char *probes_site_dso(const struct probes *p, enum pymem_site site)
{
	return site < SITE__MAX && sites[site].python ? p->interp_dso : p->libc_dso;
}

/* Probe points of one DSO, grouped by program: one uprobe_multi link each. */
struct multi {
	uint64_t off[SITE__MAX];
	uint64_t cookie[SITE__MAX];
	uint32_t n;
};

/* One perf-event link per probe point: kernels before 6.6 have no uprobe_multi. */
static int attach_each(struct probes *p, struct bpf_program *prog, const char *path,
		       const struct multi *m, bool ret, pid_t pid)
{
	struct bpf_link **grown, *link;
	uint32_t i;

	grown = realloc(p->links, (p->nlinks + m->n) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	p->links = grown;
	for (i = 0; i < m->n; i++) {
		LIBBPF_OPTS(bpf_uprobe_opts, uo, .bpf_cookie = m->cookie[i], .retprobe = ret);

		link = bpf_program__attach_uprobe_opts(prog, pid, path, m->off[i], &uo);
		if (!link)
			return -errno;
		p->links[p->nlinks++] = link;
	}
	return 0;
}

static int attach_multi(struct probes *p, struct bpf_program *prog, const char *path,
			const struct multi *m, bool ret, pid_t pid)
{
	int fd;

	if (!m->n)
		return 0;
	if (!p->multi)
		fd = attach_each(p, prog, path, m, ret, pid);
	else if (p->nfds == MAX_LINKS)
		fd = -E2BIG;
	else
		fd = uprobe_multi_attach(bpf_program__fd(prog), path, m->off, m->cookie, m->n,
					 ret, pid);
	if (fd < 0) {
		fprintf(stderr, "pymem-bpf: failed to attach %s to %s: %s\n",
			bpf_program__name(prog), path, strerror(-fd));
		return fd;
	}
	if (p->multi)
		p->fds[p->nfds++] = fd;
	return 0;
}

static void multi_add(struct multi *m, uint64_t off, enum pymem_site s)
{
	uint32_t i;

	/* Aliases share an address; one probe per address keeps one event per call. */
	for (i = 0; i < m->n; i++)
		if (m->off[i] == off)
			return;
	m->off[m->n] = off;
	m->cookie[m->n++] = PYMEM_COOKIE(s, sites[s].kind);
}

/* A free's probe point: past a leading compare the kernel would single-step. */
static uint64_t free_probe_offset(const struct elf_syms *e, uint64_t vaddr, uint64_t off)
{
	uint8_t code[32];

	if (elf_syms_read(e, vaddr, code, sizeof(code)))
		return off;
	return off + probe_site_entry_skip(code, sizeof(code), vaddr);
}

static int attach_dso(struct probes *p, pid_t pid, const char *path, bool python)
{
	struct multi allocs = {}, frees = {}, maps = {}, unmaps = {};
	uint64_t vaddr, size, off;
	struct elf_syms *e;
	int s, err;

	e = elf_syms_open(path);
	if (!e) {
		fprintf(stderr, "pymem-bpf: cannot read ELF %s: %s\n", path, strerror(errno));
		return -errno;
	}
	for (s = 0; s < SITE__MAX; s++) {
		if (sites[s].python != python)
			continue;
		if (elf_syms_lookup(e, sites[s].name, &vaddr, &size) ||
		    elf_syms_vaddr_to_offset(e, vaddr, &off)) {
			/* not every libc has every variant */
			if (verbose)
				fprintf(stderr, "pymem-bpf: %s not found in %s\n", sites[s].name,
					path);
			continue;
		}
		if (s == SITE_MMAP)
			multi_add(&maps, off, s);
		else if (s == SITE_MUNMAP)
			multi_add(&unmaps, off, s);
		else if (sites[s].kind == CALL_FREE)
			multi_add(&frees, free_probe_offset(e, vaddr, off), s);
		else
			multi_add(&allocs, off, s);
	}
	elf_syms_close(e);
	err = attach_multi(p, p->skel->progs.alloc_enter, path, &allocs, false, pid);
	err = err ?: attach_multi(p, p->skel->progs.alloc_exit, path, &allocs, true, pid);
	err = err ?: attach_multi(p, p->skel->progs.free_enter, path, &frees, false, pid);
	/* anonymous mmap: its own entry program, the allocations' return program */
	err = err ?: attach_multi(p, p->skel->progs.mmap_enter, path, &maps, false, pid);
	err = err ?: attach_multi(p, p->skel->progs.alloc_exit, path, &maps, true, pid);
	return err ?: attach_multi(p, p->skel->progs.munmap_enter, path, &unmaps, false, pid);
}

static __u32 max_u32(__u32 a, __u32 b)
{
	return a > b ? a : b;
}

/* Bytes of a frame that hold every field the walker reads; 0 if over one chunk. */
static __u32 frame_need(const struct py_offsets *o)
{
	__u32 need = max_u32(max_u32(o->frame_back, o->frame_code), o->frame_lasti) + 8;

	if (o->frame_owner != PY_OFF_NONE)
		need = max_u32(need, o->frame_owner + 1);
	/* the BPF side masks frame field offsets with PYMEM_FRAME_CHUNK - 1 */
	return need <= PYMEM_FRAME_CHUNK ? need : 0;
}

/* Buckets of the live-block table for max_live blocks: a power of two, at least a page's */
static __u32 live_table_buckets(__u32 max_live)
{
	__u32 n = LIVE_PAGE_BUCKETS;

	while (n < max_live / LIVE_WAYS && n < 1u << 31)
		n <<= 1;
	return n;
}

/*
 * The span of PyThreadState the walker reads at once: thread_id, the frame
 * (or cframe) pointer, the sentinel frame's and the frame stack chunk's bounds.
 */
static int tstate_span(const struct py_offsets *o, __u32 *lo, __u32 *len)
{
	__u32 fields[] = { o->tstate_thread_id, o->tstate_frame, o->tstate_base_frame,
			   o->tstate_datastack_chunk, o->tstate_datastack_limit };
	__u32 min = PY_OFF_NONE, max = 0;
	size_t i;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (fields[i] == PY_OFF_NONE)
			continue;
		min = fields[i] < min ? fields[i] : min;
		max = max_u32(max, fields[i] + 8);
	}
	/* the BPF side masks offsets into the span with PYMEM_TSTATE_SPAN - 1 */
	if (max - min >= PYMEM_TSTATE_SPAN)
		return -ENOTSUP;
	*lo = min;
	*len = max - min;
	return 0;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

#define PROG_LOG(p, i)	((p)->logs + (size_t)(i) * VERIFIER_LOG_BUF)

/*
 * Load every program with the verifier's statistics on (its reason too,
 * should it refuse one).  uprobe_multi links need their attach type set
 * at load, and kernels before 6.6 refuse that type.
 */
static int load(struct probes *p)
{
	struct bpf_program *prog, *refused = NULL;
	struct utsname u;
	char why[256];
	int i = 0, err;
	double t0;

	bpf_object__for_each_program(prog, p->skel->obj)
		i++;
	p->logs = calloc(i, VERIFIER_LOG_BUF);
	if (!p->logs)
		return -ENOMEM;
	i = 0;
	bpf_object__for_each_program(prog, p->skel->obj) {
		if (p->multi && prog != p->skel->progs.drain_batch)
			bpf_program__set_expected_attach_type(prog, UPROBE_MULTI_ATTACH_TYPE);
		bpf_program__set_log_buf(prog, PROG_LOG(p, i), VERIFIER_LOG_BUF);
		bpf_program__set_log_level(prog, VERIFIER_LOG_STATS);
		i++;
	}
	t0 = now_ms();
	err = pymem_bpf__load(p->skel);
	p->load_ms = now_ms() - t0;
	if (!err)
		return 0;
	/* libbpf loads in order and stops at a refusal: the last program with a log */
	i = 0;
	bpf_object__for_each_program(prog, p->skel->obj) {
		if (PROG_LOG(p, i)[0])
			refused = prog;
		i++;
	}
	if (!refused) {
		fprintf(stderr, "pymem-bpf: failed to load the BPF object: %s (-v shows libbpf's "
			"messages)\n", strerror(-err));
		return err;
	}
	i = 0;
	bpf_object__for_each_program(prog, p->skel->obj) {
		if (prog == refused)
			verifier_refusal(PROG_LOG(p, i), why, sizeof(why));
		i++;
	}
	uname(&u);
	fprintf(stderr, "pymem-bpf: the verifier of kernel %s refused BPF program %s: %s "
		"(-v shows libbpf's messages)\n", u.release, bpf_program__name(refused), why);
	return err;
}

void probes_print_verifier(const struct probes *p, FILE *out)
{
	struct verifier_stats vs;
	struct bpf_program *prog;
	char chain[512];
	int i = 0, depth;

	fprintf(out, "%-14s %8s %9s %6s  %s\n", "PROGRAM", "INSNS", "VERIFY_MS", "STACK",
		"DEEPEST CHAIN (bytes per frame, as the verifier rounds them)");
	bpf_object__for_each_program(prog, p->skel->obj) {
		verifier_stats_parse(PROG_LOG(p, i++), &vs);
		depth = verifier_stack_chain(bpf_program__fd(prog), vs.stack, chain, sizeof(chain));
		if (depth < 0)
			snprintf(chain, sizeof(chain), "(not known: %s)", strerror(-depth));
		fprintf(out, "%-14s %8ld %9.1f %6d  %s\n", bpf_program__name(prog), vs.insns,
			vs.usec / 1e3, depth, chain);
		if (verbose)
			fprintf(out, "%s", PROG_LOG(p, i - 1));
	}
	fprintf(out, "load: %.0f ms; the verifier allows a chain of %d bytes\n", p->load_ms,
		BPF_STACK_LIMIT);
}

int probes_load(const struct pytarget *t, const struct probes_opts *o, struct probes **out)
{
	struct stack_stats zero = {};
	__u32 live_buckets;
	__u64 full_id = STACK_ID_MAP_FULL;
	struct pymem_bpf *skel;
	struct probes *p;
	int err;

	verbose = o->verbose;
	libbpf_set_print(print_libbpf);
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->stats_fd = -1;
	snprintf(p->interp_dso, sizeof(p->interp_dso), "%.255s",
		 pytarget_base_name(t->interp));
	snprintf(p->libc_dso, sizeof(p->libc_dso), "%.255s", pytarget_base_name(t->libc));

	skel = pymem_bpf__open();
	if (!skel) {
		err = -errno;
		fprintf(stderr, "pymem-bpf: failed to open the BPF object: %s\n", strerror(errno));
		goto fail;
	}
	p->skel = skel;
	skel->rodata->py_runtime = t->runtime;
	skel->rodata->interp_text_lo = t->text_lo;
	skel->rodata->interp_text_hi = t->text_hi;
	skel->rodata->frame_need = frame_need(&t->off);
	err = tstate_span(&t->off, (__u32 *)&skel->rodata->tstate_span_lo,
			  (__u32 *)&skel->rodata->tstate_span_len);
	if (err || !skel->rodata->frame_need) {
		err = -ENOTSUP;
		fprintf(stderr, "pymem-bpf: thread state or frame layout too spread out for "
			"the walker\n");
		goto fail;
	}

	memcpy((void *)&skel->rodata->pyoff, &t->off, sizeof(t->off));
	live_buckets = live_table_buckets(o->max_live);
	bpf_map__set_max_entries(skel->maps.live, live_buckets);
	skel->rodata->live_mask = live_buckets - 1;
	/* blocks whose bucket is full: at most as many as may be live */
	bpf_map__set_max_entries(skel->maps.spill, o->max_live);
	bpf_map__set_max_entries(skel->maps.stacks, o->max_stacks);
	/* hashes name stacks: as many as there are stacks */
	bpf_map__set_max_entries(skel->maps.alias, o->max_stacks);
	bpf_map__set_max_entries(skel->maps.stats, o->max_stacks + 1);

	p->multi = o->uprobe_multi;
	err = load(p);
	if (err)
		goto fail;
	err = bpf_map_update_elem(bpf_map__fd(skel->maps.stats), &full_id, &zero, BPF_NOEXIST);
	if (err) {
		fprintf(stderr, "pymem-bpf: cannot prepare the counter map: %s\n", strerror(errno));
		goto fail;
	}
	*out = p;
	return 0;
fail:
	probes_stop(p);
	return err ? err : -EINVAL;
}

int probes_start(const struct pytarget *t, const struct probes_opts *o, struct probes **out)
{
	int err = probes_load(t, o, out);

	if (err || !t->libc[0])
		return err;
	err = attach_dso(*out, t->pid, t->libc_open, false);
	if (err) {
		probes_stop(*out);
		*out = NULL;
	}
	return err;
}

int probes_attach_python(struct probes *p, const struct pytarget *t)
{
	return attach_dso(p, t->pid, t->interp_open, true);
}

int probes_attach_tramp(struct probes *p, pid_t pid, const char *path,
			const struct tramp_image *img)
{
	struct multi allocs = {}, frees = {}, batched = {};
	int d, f, err;

	for (d = 0; d < TRAMP_DOMAINS; d++) {
		for (f = 0; f < TRAMP__MAX; f++) {
			struct multi *m = f != TRAMP_FREE ? &allocs :
					  TRAMP_BATCHED(d) ? &batched : &frees;

			if (img->probe[d][f])
				multi_add(m, img->probe[d][f], tramp_site(d, f));
		}
	}
	/* sampled mode's reallocs that report their old block freed */
	for (d = 0; d < TRAMP_DOMAINS; d++)
		if (img->realloc_free[d])
			multi_add(&frees, img->realloc_free[d], tramp_site(d, TRAMP_FREE));
	/* the batched allocations' flush: its cookie is not read */
	if (img->flush)
		multi_add(&batched, img->flush, SITE_PYOBJECT_MALLOC);
	err = attach_multi(p, p->skel->progs.tramp_alloc, path, &allocs, false, pid);
	err = err ?: attach_multi(p, p->skel->progs.tramp_free, path, &frees, false, pid);
	return err ?: attach_multi(p, p->skel->progs.tramp_batch, path, &batched, false, pid);
}

void probes_batch_at(struct probes *p, pid_t pid, uint64_t addr)
{
	p->pid = pid;
	p->skel->bss->batch_addr = addr;
}

int probes_drain_batch(const struct probes *p)
{
	struct batch_args args = { .pid = p->pid };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &args, .ctx_size_in = sizeof(args));
	uint64_t at = p->skel->bss->batch_addr;
	int err;

	if (!at)
		return 0;
	err = remote_read(p->pid, at, &args.batch, sizeof(args.batch));
	if (err)
		return err;
	err = bpf_prog_test_run_opts(bpf_program__fd(p->skel->progs.drain_batch), &opts);
	return err ? -errno : 0;
}

void probes_sample_interval(struct probes *p, uint64_t interval)
{
	p->skel->bss->sample_interval = interval;
}

int probes_count_run_time(struct probes *p)
{
	if (p->stats_fd >= 0)
		return 0;
	p->stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	return p->stats_fd < 0 ? -errno : 0;
}

int probes_run_time(const struct probes *p, uint64_t *ns)
{
	struct bpf_program *prog;
	struct bpf_prog_info info;
	__u32 len;

	*ns = 0;
	bpf_object__for_each_program(prog, p->skel->obj) {
		/* userspace's drain runs in pymem-bpf, not in the target */
		if (prog == p->skel->progs.drain_batch || bpf_program__fd(prog) < 0)
			continue;
		memset(&info, 0, sizeof(info));
		len = sizeof(info);
		if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len))
			return -errno;
		*ns += info.run_time_ns;
	}
	return 0;
}

void probes_stop(struct probes *p)
{
	int i;

	if (!p)
		return;
	for (i = 0; i < p->nfds; i++)
		close(p->fds[i]);
	if (p->stats_fd >= 0)
		close(p->stats_fd);
	for (i = 0; i < (int)p->nlinks; i++)
		bpf_link__destroy(p->links[i]);
	free(p->links);
	pymem_bpf__destroy(p->skel);
	free(p->logs);
	free(p);
}

int probes_news_fd(const struct probes *p)
{
	return bpf_map__fd(p->skel->maps.news);
}

bool probes_code_current(const struct probes *p, uint64_t code, uint32_t gen)
{
	struct code_ent now;

	return !bpf_map_lookup_elem(bpf_map__fd(p->skel->maps.codes), &code, &now) &&
	       now.gen == gen;
}

int probes_stats_fd(const struct probes *p)
{
	return bpf_map__fd(p->skel->maps.stats);
}

int probes_live_fd(const struct probes *p)
{
	return bpf_map__fd(p->skel->maps.live);
}

int probes_spill_fd(const struct probes *p)
{
	return bpf_map__fd(p->skel->maps.spill);
}

uint64_t probes_spilled(const struct probes *p)
{
	return p->skel->bss->spilled;
}

void probes_every_free_seen(struct probes *p)
{
	p->skel->bss->every_free_seen = true;
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
