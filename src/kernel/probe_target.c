// SPDX-License-Identifier: GPL-2.0
/*
 * One process served by the loaded object: its slot of configuration, its
 * probes (libc's allocator and _exit, the interpreter's or its
 * trampolines), and the freeing of everything it left in the shared maps.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "elf_syms.h"
#include "probe_site.h"
#include "probes_priv.h"
#include "remote.h"
#include "uprobe_multi.h"

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

struct probe_target {
	struct probes *p;
	pid_t pid;
	uint32_t slot;
	int fds[MAX_LINKS];			/* uprobe_multi links */
	int nfds;
	struct bpf_link **links;		/* else one link per probe point */
	size_t nlinks;
	char interp_dso[256];
	char libc_dso[256];
	bool sees_dlopen;			/* sampled: lib_loaded is on libc's dlopen */
};

const char *probes_site_name(enum pymem_site site)
{
	return site < SITE__MAX ? sites[site].name : "?";
}

const char *probes_site_dso(const struct probe_target *pt, enum pymem_site site)
{
	return site < SITE__MAX && sites[site].python ? pt->interp_dso : pt->libc_dso;
}

/* Probe points of one DSO, grouped by program: one uprobe_multi link each. */
struct multi {
	uint64_t off[SITE__MAX];
	uint64_t cookie[SITE__MAX];
	uint32_t n;
};

/* One perf-event link per probe point: kernels before 6.6 have no uprobe_multi. */
static int attach_each(struct probe_target *p, struct bpf_program *prog, const char *path,
		       const struct multi *m, bool ret)
{
	struct bpf_link **grown, *link;
	uint32_t i;

	grown = realloc(p->links, (p->nlinks + m->n) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	p->links = grown;
	for (i = 0; i < m->n; i++) {
		LIBBPF_OPTS(bpf_uprobe_opts, uo, .bpf_cookie = m->cookie[i], .retprobe = ret);

		link = bpf_program__attach_uprobe_opts(prog, p->pid, path, m->off[i], &uo);
		if (!link)
			return -errno;
		p->links[p->nlinks++] = link;
	}
	return 0;
}

static int attach_multi(struct probe_target *p, struct bpf_program *prog, const char *path,
			const struct multi *m, bool ret)
{
	int fd;

	if (!m->n)
		return 0;
	if (!p->p->multi)
		fd = attach_each(p, prog, path, m, ret);
	else if (p->nfds == MAX_LINKS)
		fd = -E2BIG;
	else
		fd = uprobe_multi_attach(bpf_program__fd(prog), path, m->off, m->cookie, m->n,
					 ret, p->pid);
	if (fd < 0) {
		fprintf(stderr, "pymem-bpf: failed to attach %s to %s: %s\n",
			bpf_program__name(prog), path, strerror(-fd));
		return fd;
	}
	if (p->p->multi)
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

/*
 * libc's _exit into m: the batch's last events are accounted there (one hit
 * per process, so its entry will do).  A libc without it takes them along
 * when the process exits.
 */
static void exit_point(struct probe_target *p, const struct elf_syms *e, const char *path,
		       struct multi *m)
{
	uint64_t vaddr, size;

	if (!elf_syms_lookup(e, "_exit", &vaddr, &size) &&
	    !elf_syms_vaddr_to_offset(e, vaddr, &m->off[0])) {
		m->n = 1;
		return;
	}
	if (p->p->verbose)
		fprintf(stderr, "pymem-bpf: _exit not found in %s: events still batched when "
			"the process exits will be missing\n", path);
}

static int attach_dso(struct probe_target *p, const char *path, bool python)
{
	struct multi allocs = {}, frees = {}, maps = {}, unmaps = {}, exits = {};
	typeof(p->p->skel->progs) *progs = &p->p->skel->progs;
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
			if (p->p->verbose)
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
	if (!python)
		exit_point(p, e, path, &exits);
	elf_syms_close(e);
	err = attach_multi(p, progs->alloc_enter, path, &allocs, false);
	err = err ?: attach_multi(p, progs->alloc_exit, path, &allocs, true);
	err = err ?: attach_multi(p, progs->free_enter, path, &frees, false);
	/* anonymous mmap: its own entry program, the allocations' return program */
	err = err ?: attach_multi(p, progs->mmap_enter, path, &maps, false);
	err = err ?: attach_multi(p, progs->alloc_exit, path, &maps, true);
	err = err ?: attach_multi(p, progs->munmap_enter, path, &unmaps, false);
	return err ?: attach_multi(p, progs->exit_drain, path, &exits, false);
}

/*
 * Sampled mode's probes on libc: lib_loaded on the return of dlopen, so
 * that a library's GOT is redirected as it loads (without it, no dlopen in
 * libc or the attach failed, userspace looks at the maps now and then
 * instead); and _exit, where the batch's last samples are accounted, as
 * in exact mode.
 */
static int sampled_points(struct probe_target *p, const char *path)
{
	struct multi loaded = { .n = 1 }, exits = {};
	uint64_t vaddr, size;
	struct elf_syms *e;

	e = elf_syms_open(path);
	if (!e)
		return 0;
	if (!elf_syms_lookup(e, "dlopen", &vaddr, &size) &&
	    !elf_syms_vaddr_to_offset(e, vaddr, &loaded.off[0]))
		p->sees_dlopen = !attach_multi(p, p->p->skel->progs.lib_loaded, path, &loaded,
					       true);
	exit_point(p, e, path, &exits);
	elf_syms_close(e);
	if (!p->sees_dlopen && p->p->verbose)
		fprintf(stderr, "pymem-bpf: no dlopen probe in %s: libraries loaded later are "
			"looked for every second\n", path);
	return attach_multi(p, p->p->skel->progs.exit_drain, path, &exits, false);
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


/* Keys of map fd whose pid is pid (struct pid_key); malloc'd, *n of them. */
static struct pid_key *keys_of(int fd, pid_t pid, size_t *n)
{
	struct pid_key k, next, *keys = NULL, *grown;
	size_t cap = 0;
	void *prev = NULL;

	*n = 0;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		if (k.pid != (__u32)pid)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 256;
			grown = realloc(keys, cap * sizeof(*keys));
			if (!grown)
				break;
			keys = grown;
		}
		keys[(*n)++] = k;
	}
	return keys;
}

/* Delete pid's entries of map fd; each key deleted is passed to gone (if not NULL). */
static void forget_keys(int fd, pid_t pid, void (*gone)(struct probes *, const struct pid_key *),
			struct probes *p)
{
	size_t i, n;
	struct pid_key *keys = keys_of(fd, pid, &n);

	for (i = 0; i < n; i++)
		if (!bpf_map_delete_elem(fd, &keys[i]) && gone)
			gone(p, &keys[i]);
	free(keys);
}

static void code_gone(struct probes *p, const struct pid_key *k)
{
	__atomic_fetch_sub(&p->code_filter[CODE_FILTER_INDEX(k->pid, k->key)], 1,
			   __ATOMIC_RELAXED);
}

static void spill_gone(struct probes *p, const struct pid_key *k)
{
	__atomic_fetch_sub(&p->skel->bss->spilled, 1, __ATOMIC_RELAXED);
}

/*
 * Everything a process left in the shared maps, once no probe of it can
 * fire: its blocks are taken out of the live table as the BPF side takes
 * them (a compare-and-swap of the address).
 */
static void forget(struct probes *p, pid_t pid, uint32_t slot)
{
	struct pymem_bpf *skel = p->skel;
	struct live_bucket *live = probes_map_whole(skel->maps.live);
	uint64_t *cache = probes_map_whole(skel->maps.code_cache);
	struct live_slot *s;
	uint32_t b, k;
	__u64 addr;

	if (!live || !cache)
		fprintf(stderr, "pymem-bpf: cannot map the live table to free PID %d's entries: "
			"%s\n", pid, strerror(errno));
	for (b = 0; live && b < p->live_buckets; b++) {
		for (k = 0; k < LIVE_WAYS; k++) {
			s = &live[b].slot[k];
			addr = __atomic_load_n(&s->addr, __ATOMIC_RELAXED);
			if (addr && s->pid == (__u32)pid)
				__atomic_compare_exchange_n(&s->addr, &addr, 0, false,
							    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
		}
	}
	forget_keys(bpf_map__fd(skel->maps.spill), pid, spill_gone, p);
	forget_keys(bpf_map__fd(skel->maps.stats), pid, NULL, p);
	forget_keys(bpf_map__fd(skel->maps.stacks), pid, NULL, p);
	forget_keys(bpf_map__fd(skel->maps.alias), pid, NULL, p);
	/* and its hashes out of alias_cache: a pid seen again is another process */
	__atomic_fetch_add(&skel->bss->alias_gen, 1, __ATOMIC_RELAXED);
	forget_keys(bpf_map__fd(skel->maps.codes), pid, code_gone, p);
	if (cache)
		memset(&cache[(size_t)slot * CODE_CACHE_SLOTS], 0,
		       CODE_CACHE_SLOTS * sizeof(*cache));
	probes_unmap_whole(live, skel->maps.live);
	probes_unmap_whole(cache, skel->maps.code_cache);
}

/* The slot's configuration for t; -ENOTSUP if the walker cannot read its layout */
static int configure(struct pymem_target *c, const struct pytarget *t, uint32_t slot)
{
	memset(c, 0, sizeof(*c));
	c->slot = slot;
	c->py_runtime = t->runtime;
	c->interp_text_lo = t->text_lo;
	c->interp_text_hi = t->text_hi;
	c->libc_text_lo = t->libc_text_lo;
	c->libc_text_hi = t->libc_text_hi;
	c->frame_need = frame_need(&t->off);
	c->off = t->off;
	if (tstate_span(&t->off, &c->tstate_span_lo, &c->tstate_span_len) || !c->frame_need) {
		fprintf(stderr, "pymem-bpf: thread state or frame layout too spread out for "
			"the walker\n");
		return -ENOTSUP;
	}
	return 0;
}

int probes_target_open(struct probes *p, const struct pytarget *t, uint64_t sample_interval,
		       struct probe_target **out)
{
	struct pid_key full = { .pid = t->pid, .key = STACK_ID_MAP_FULL };
	struct stack_stats zero = {};
	struct probe_target *pt;
	struct pymem_target *c;
	__u32 slot, pid = t->pid;
	int err;

	*out = NULL;
	for (slot = 0; slot < p->max_targets && p->used[slot]; slot++)
		;
	if (slot == p->max_targets)
		return -ENOSPC;
	pt = calloc(1, sizeof(*pt));
	if (!pt)
		return -ENOMEM;
	pt->p = p;
	pt->pid = t->pid;
	pt->slot = slot;
	snprintf(pt->interp_dso, sizeof(pt->interp_dso), "%.255s", pytarget_base_name(t->interp));
	snprintf(pt->libc_dso, sizeof(pt->libc_dso), "%.255s", pytarget_base_name(t->libc));
	c = &p->targets[slot];
	err = configure(c, t, slot);
	if (err) {
		free(pt);
		return err;
	}
	/* before the first sample: each is weighed with the interval it was taken at */
	c->sample_interval = sample_interval;
	p->used[slot] = true;
	/* whole before the BPF side can find it */
	__atomic_store_n(&c->pid, pid, __ATOMIC_RELEASE);
	if (bpf_map_update_elem(probes_stats_fd(p), &full, &zero, BPF_NOEXIST) ||
	    bpf_map_update_elem(bpf_map__fd(p->skel->maps.target_slots), &pid, &slot, BPF_ANY)) {
		err = -errno;
		fprintf(stderr, "pymem-bpf: cannot prepare the maps for PID %d: %s\n", pid,
			strerror(errno));
		goto fail;
	}
	if (t->libc[0]) {
		err = sample_interval ? sampled_points(pt, t->libc_open) :
					attach_dso(pt, t->libc_open, false);
		if (err)
			goto fail;
	}
	*out = pt;
	return 0;
fail:
	probes_target_close(pt);
	return err;
}

void probes_target_close(struct probe_target *pt)
{
	struct probes *p;
	__u32 pid;
	size_t i;

	if (!pt)
		return;
	p = pt->p;
	pid = pt->pid;
	for (i = 0; i < (size_t)pt->nfds; i++)
		close(pt->fds[i]);
	for (i = 0; i < pt->nlinks; i++)
		bpf_link__destroy(pt->links[i]);
	free(pt->links);
	bpf_map_delete_elem(bpf_map__fd(p->skel->maps.target_slots), &pid);
	forget(p, pt->pid, pt->slot);
	memset(&p->targets[pt->slot], 0, sizeof(p->targets[pt->slot]));
	p->used[pt->slot] = false;
	free(pt);
}

struct probes *probes_of(const struct probe_target *pt)
{
	return pt->p;
}

pid_t probes_target_pid(const struct probe_target *pt)
{
	return pt->pid;
}

int probes_attach_python(struct probe_target *pt, const struct pytarget *t)
{
	return attach_dso(pt, t->interp_open, true);
}

int probes_attach_tramp(struct probe_target *pt, const char *path,
			const struct tramp_image *img)
{
	typeof(pt->p->skel->progs) *progs = &pt->p->skel->progs;
	struct multi allocs = {}, frees = {}, batched = {};
	int d, f, err;

	for (d = 0; d < TRAMP_SETS; d++) {
		for (f = 0; f < TRAMP__MAX; f++) {
			struct multi *m = f != TRAMP_FREE ? &allocs :
					  TRAMP_BATCHED(d) ? &batched : &frees;

			if (img->probe[d][f])
				multi_add(m, img->probe[d][f], tramp_site(d, f));
		}
	}
	/* sampled mode's reallocs that report their old block freed, and frees that flush */
	for (d = 0; d < TRAMP_SETS; d++) {
		if (img->realloc_free[d])
			multi_add(&frees, img->realloc_free[d], tramp_site(d, TRAMP_FREE));
		if (img->realloc_flush[d])
			multi_add(&batched, img->realloc_flush[d], tramp_site(d, TRAMP_FREE));
		if (img->free_flush[d])
			multi_add(&batched, img->free_flush[d], tramp_site(d, TRAMP_FREE));
	}
	/* the batched allocations' flush, and the code objects' deaths: their cookie is not read */
	if (img->flush)
		multi_add(&batched, img->flush, SITE_PYOBJECT_MALLOC);
	if (img->code_dealloc_probe)
		multi_add(&batched, img->code_dealloc_probe, SITE_PYOBJECT_FREE);
	err = attach_multi(pt, progs->tramp_alloc, path, &allocs, false);
	err = err ?: attach_multi(pt, progs->tramp_free, path, &frees, false);
	return err ?: attach_multi(pt, progs->tramp_batch, path, &batched, false);
}

static struct pymem_target *slot_of(const struct probe_target *pt)
{
	return &pt->p->targets[pt->slot];
}

void probes_sample_interval(struct probe_target *pt, uint64_t interval)
{
	__atomic_store_n(&slot_of(pt)->sample_interval, interval, __ATOMIC_RELEASE);
}

bool probes_take_loaded(struct probe_target *pt)
{
	return __atomic_exchange_n(&slot_of(pt)->libs_loaded, 0, __ATOMIC_ACQ_REL);
}

bool probes_sees_dlopen(const struct probe_target *pt)
{
	return pt->sees_dlopen;
}

void probes_batch_at(struct probe_target *pt, uint64_t addr)
{
	__atomic_store_n(&slot_of(pt)->batch_addr, addr, __ATOMIC_RELEASE);
}

int probes_drain_batch(const struct probe_target *pt)
{
	struct batch_args args = { .pid = pt->pid };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &args, .ctx_size_in = sizeof(args));
	uint64_t at = __atomic_load_n(&slot_of(pt)->batch_addr, __ATOMIC_ACQUIRE);
	int err;

	if (!at)
		return 0;
	err = remote_read(pt->pid, at, &args.batch, sizeof(args.batch));
	if (err)
		return err;
	err = bpf_prog_test_run_opts(bpf_program__fd(pt->p->skel->progs.drain_batch), &opts);
	return err ? -errno : 0;
}

bool probes_code_current(const struct probe_target *pt, uint64_t code, uint32_t gen)
{
	struct pid_key key = { .pid = pt->pid, .key = code };
	struct code_ent now;

	return !bpf_map_lookup_elem(bpf_map__fd(pt->p->skel->maps.codes), &key, &now) &&
	       now.gen == gen;
}

void probes_every_free_seen(struct probe_target *pt)
{
	__atomic_store_n(&slot_of(pt)->every_free_seen, 1, __ATOMIC_RELEASE);
}

void probes_peak(const struct probe_target *pt, struct peak_state *out)
{
	const struct peak_state *g = &slot_of(pt)->peak;

	out->live = __atomic_load_n(&g->live, __ATOMIC_RELAXED);
	out->peak = __atomic_load_n(&g->peak, __ATOMIC_RELAXED);
	out->gen = __atomic_load_n(&g->gen, __ATOMIC_RELAXED);
	out->peak_ns = __atomic_load_n(&g->peak_ns, __ATOMIC_RELAXED);
}

uint64_t probes_stack_walks(const struct probe_target *pt)
{
	return __atomic_load_n(&slot_of(pt)->stack_walks, __ATOMIC_RELAXED);
}

void probes_drops(const struct probe_target *pt, uint64_t out[DROP__MAX])
{
	int k;

	for (k = 0; k < DROP__MAX; k++)
		out[k] = __atomic_load_n(&slot_of(pt)->drops[k], __ATOMIC_RELAXED);
}
