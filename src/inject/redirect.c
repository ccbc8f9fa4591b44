// SPDX-License-Identifier: GPL-2.0
/*
 * The trampolines live in a memfd the target creates and maps itself (by
 * injected syscalls), because uprobes need a file-backed executable
 * mapping.  Table entries are swapped and restored only while every thread
 * is stopped.  If pymem-bpf dies without restoring, each trampoline still
 * forwards to the original function and its nop5 does nothing: the target
 * keeps working, unprofiled.  The pages after the code hold the flag that
 * keeps a forked child off the probe points, the batch of events and the
 * tags of the stack hashes met (see trampoline.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include "alloc_table.h"
#include "elf_syms.h"
#include "got.h"
#include "inject.h"
#include "libc_detour.h"
#include "probe_site.h"
#include "proc_maps.h"
#include "redirect.h"
#include "remote.h"
#include "trampoline.h"

/* malloc, calloc, realloc, free follow ctx */
#define TABLE_FNS_OFF	(ALLOC_SLOT_MALLOC * 8)

_Static_assert(TRAMP_DOMAINS == DOMAIN__MAX, "a trampoline set per allocator domain");

struct redirect {
	pid_t pid;
	uint64_t table[TRAMP_DOMAINS];			/* runtime address of each table */
	uint64_t orig[TRAMP_DOMAINS][TRAMP_TABLE_FNS];	/* what they held before */
	uint64_t tramp[TRAMP_DOMAINS][TRAMP_TABLE_FNS];	/* what we put there */
	int memfd;					/* ours, keeps the probed file open */
	struct tramp_walk walk;				/* how its trampolines hash a stack */
	struct redirect_opts o;				/* sampled mode's */
	uint64_t base;					/* the mapping, in the target */
	uint64_t libc_fn[TRAMP__MAX];			/* libc's functions (0: not found) */
	bool raw_default;				/* the raw table holds CPython's own */
	struct got *got;				/* sampled: the libraries' entries */
	uint64_t dealloc_hook;				/* what PyCode_Type's tp_dealloc holds (0: kept) */
};

/*
 * How the trampolines hash the calling thread's stack: the interpreter's
 * own getter of its thread state (a TLS read or _PyRuntime's current
 * thread), then the frame layout the BPF walker reads too.
 */
static void walk_config(const struct pytarget *t, const struct elf_syms *e, uint64_t bias,
			struct tramp_walk *w)
{
	const struct py_offsets *o = &t->off;
	uint64_t get;

	memset(w, 0, sizeof(*w));
	if (!elf_syms_lookup(e, "PyThreadState_GetUnchecked", &get, NULL) ||
	    !elf_syms_lookup(e, "_PyThreadState_UncheckedGet", &get, NULL))
		w->get_tstate = bias + get;
	if (w->get_tstate && !elf_syms_lookup(e, "PyGILState_GetThisThreadState", &get, NULL))
		w->get_own_tstate = bias + get;
	w->code_type = t->code_type;
	w->tstate_thread_id = o->tstate_thread_id;
	w->tstate_frame = o->tstate_frame;
	w->cframe_current_frame = o->cframe_current_frame;
	w->frame_code = o->frame_code;
	w->frame_back = o->frame_back;
	w->frame_lasti = o->frame_lasti;
	w->frame_owner = o->frame_owner;
	w->lasti_is_int = o->code_adaptive == PY_OFF_NONE;
	/* without the object type, a code object's death would go unseen */
	if (!w->code_type)
		w->get_tstate = 0;
}

/*
 * Sampled mode: whether pymalloc's frees can stay off the trampolines (see
 * tramp_build): both GIL domains hold pymalloc's defaults (not the raw
 * domain's functions, as PYTHONMALLOC=malloc or a build without pymalloc
 * puts there), and PyCode_Type's tp_dealloc is there to hook instead.
 */
static void code_dealloc_config(const struct pytarget *t, struct redirect *r,
				const enum alloc_table_state st[TRAMP_DOMAINS])
{
	uint64_t dealloc;
	int d;

	for (d = DOMAIN_MEM; d <= DOMAIN_OBJ; d++)
		if (st[d] != ALLOC_TABLE_DEFAULT ||
		    r->orig[d][TRAMP_FREE] == r->orig[DOMAIN_RAW][TRAMP_FREE])
			return;
	if (r->walk.code_type &&
	    !remote_read(t->pid, r->walk.code_type + TP_DEALLOC, &dealloc, sizeof(dealloc)))
		r->walk.code_dealloc = dealloc;
}

/*
 * Sampled mode: libc's clock_gettime in the target, with which the
 * trampolines date batched events (walk.clock); 0 if libc has none, or if
 * the target's CLOCK_MONOTONIC is offset from the kernel's, which the BPF
 * side reads (a time namespace's, in /proc/PID/timens_offsets).
 */
static uint64_t libc_clock(const struct pytarget *t, const struct proc_maps *maps)
{
	long long sec, nsec;
	char path[64], line[128];
	uint64_t bias, v, at = 0;
	struct elf_syms *e;
	bool offset = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/timens_offsets", t->pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		offset |= sscanf(line, "monotonic %lld %lld", &sec, &nsec) == 2 && (sec || nsec);
	if (f)
		fclose(f);
	e = !offset && t->libc_open[0] ? elf_syms_open(t->libc_open) : NULL;
	if (!e)
		return 0;
	if (!proc_maps_load_bias(maps, t->libc, elf_syms_first_load_vaddr(e), &bias) &&
	    !elf_syms_lookup(e, "clock_gettime", &v, NULL))
		at = bias + v;
	elf_syms_close(e);
	return at;
}

/* Where the tables are, and what they hold now, checked against the file's defaults. */
static int find_tables(const struct pytarget *t, struct redirect *r, char *err, size_t errlen)
{
	struct proc_maps maps = {};
	struct alloc_table tab;
	enum alloc_table_state st[TRAMP_DOMAINS];
	struct elf_syms *e;
	uint64_t bias, cur[ALLOC_SLOT__MAX];
	char desc[256];
	int d, f, ret;

	e = elf_syms_open(t->interp_open);
	if (!e) {
		snprintf(err, errlen, "cannot read %s: %s", t->interp_open, strerror(errno));
		return -errno;
	}
	ret = proc_maps_read(t->pid, &maps);
	if (!ret)
		ret = proc_maps_load_bias(&maps, t->interp, elf_syms_first_load_vaddr(e), &bias);
	if (ret) {
		snprintf(err, errlen, "cannot find where %s is mapped", t->interp);
		goto out;
	}
	for (d = 0; d < TRAMP_DOMAINS; d++) {
		ret = alloc_table_find(e, t->interp_open, d, &tab);
		if (ret) {
			snprintf(err, errlen, "cannot find the %s allocator table in %s",
				 alloc_domain_name(d), t->interp);
			goto out;
		}
		r->table[d] = bias + tab.vaddr;
		ret = remote_read(t->pid, r->table[d], cur, sizeof(cur));
		if (ret) {
			snprintf(err, errlen, "cannot read the %s allocator table", alloc_domain_name(d));
			goto out;
		}
		for (f = 0; f < ALLOC_SLOT__MAX; f++)
			cur[f] -= cur[f] ? bias : 0;
		st[d] = alloc_table_classify(e, d, &tab, cur, desc, sizeof(desc));
		if (st[d] == ALLOC_TABLE_HOOKED) {
			/* wrapping someone else's hook could outlive it: leave it alone */
			snprintf(err, errlen, "the %s allocator is already hooked: %s",
				 alloc_domain_name(d), desc);
			ret = -EBUSY;
			goto out;
		}
		for (f = 0; f < TRAMP_TABLE_FNS; f++)
			r->orig[d][f] = cur[f + 1] ? cur[f + 1] + bias : 0;
	}
	walk_config(t, e, bias, &r->walk);
	got_libc_functions(t, &maps, r->libc_fn);
	r->raw_default = st[DOMAIN_RAW] == ALLOC_TABLE_DEFAULT;
	if (r->o.sample_interval) {
		code_dealloc_config(t, r, st);
		r->walk.clock = libc_clock(t, &maps);
	}
out:
	proc_maps_free(&maps);
	elf_syms_close(e);
	return ret;
}

/*
 * Exact mode: which of the raw domain's functions the trampolines do
 * themselves, entering libc past the probes pymem-bpf puts there (see
 * tramp_build): the raw table holds CPython's own functions, the
 * interpreter's entries for libc's function are bound to it, and the
 * function's first instructions (the file's: the probes' are in the
 * target's copy) can be moved.  False if none.
 */
static bool raw_detours(const struct pytarget *t, const struct redirect *r, struct inject *in,
			struct libc_detour detour[TRAMP_TABLE_FNS])
{
	bool bound[TRAMP_TABLE_FNS], any = false;
	struct proc_maps maps = {};
	struct elf_syms *e = NULL;
	uint64_t bias, vaddr;
	uint8_t code[64];
	size_t probe;
	int f;

	memset(detour, 0, TRAMP_TABLE_FNS * sizeof(*detour));
	if (r->o.sample_interval || !r->raw_default || !t->libc[0] || !r->libc_fn[TRAMP_MALLOC] ||
	    proc_maps_read(t->pid, &maps) || !(e = elf_syms_open(t->libc_open)) ||
	    proc_maps_load_bias(&maps, t->libc, elf_syms_first_load_vaddr(e), &bias))
		goto out;
	got_interp_bound(t, r->libc_fn, in, &maps, bound);
	for (f = 0; f < TRAMP_TABLE_FNS; f++) {
		vaddr = r->libc_fn[f] - bias;
		if (!bound[f] || elf_syms_read(e, vaddr, code, sizeof(code)))
			continue;
		/* where probe_target.c puts them: an allocation's entry, a free past its compare */
		probe = f == TRAMP_FREE ? probe_site_entry_skip(code, sizeof(code), vaddr) : 0;
		any |= libc_detour_make(code, sizeof(code), r->libc_fn[f], probe, &detour[f]);
	}
out:
	elf_syms_close(e);
	proc_maps_free(&maps);
	return any;
}

/*
 * The data pages: private anonymous memory over the mapping's pages after
 * the code, wiped to zeroes in any child the target forks; the guard flag
 * set to 1 here.
 */
static int map_guard(struct inject *in, uint64_t base, char *err, size_t errlen)
{
	static const uint8_t on = 1;
	uint64_t guard = base + TRAMP_GUARD_OFF;
	long ret;
	int perr = 0;

	ret = inject_syscall(in, SYS_mmap, guard, TRAMP_DATA_SIZE, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0, &perr);
	/* MAP_FIXED: guard itself, or a negative errno */
	if (!perr && ret >= 0)
		ret = inject_syscall(in, SYS_madvise, guard, TRAMP_DATA_SIZE, MADV_WIPEONFORK,
				     0, 0, 0, &perr);
	if (perr)
		ret = perr;
	if (ret) {
		snprintf(err, errlen, "cannot set up the fork guard page in the target: %s",
			 strerror(-ret));
		return ret;
	}
	ret = inject_write(in, guard, &on, sizeof(on));
	if (ret)
		snprintf(err, errlen, "cannot set the fork guard in the target: %s", strerror(-ret));
	return ret;
}

/* Sampled mode's state, draws and shared thread slot, before any trampoline runs */
static int sample_setup(struct inject *in, const struct redirect *r, uint64_t base,
			char *err, size_t errlen)
{
	static int64_t draws[TRAMP_DRAWS];
	struct tramp_sample_state st;
	struct tramp_thread shared;
	int ret;

	tramp_sample_fill(&st, draws, &shared, r->o.sample_interval, r->o.seed, r->o.repeatable);
	ret = inject_write(in, base + TRAMP_DRAWS_OFF, draws, sizeof(draws));
	if (!ret)
		ret = inject_write(in, base + TRAMP_SAMPLE_OFF, &st, sizeof(st));
	if (!ret)
		ret = inject_write(in, base + TRAMP_THREADS_OFF + (TRAMP_THREAD_SLOTS - 1) * 32,
				   &shared, sizeof(shared));
	if (ret)
		snprintf(err, errlen, "cannot set up sampling in the target: %s", strerror(-ret));
	return ret;
}

/* memfd_create + write + mmap in the stopped target; returns the mapping's address. */
static int map_image(struct inject *in, struct redirect *r, const struct tramp_image *img,
		     uint64_t *base, char *err, size_t errlen)
{
	static const char name[] = "pymem-bpf-trampolines";
	uint64_t scratch = inject_scratch(in, sizeof(name));
	char path[64];
	long fd, addr;
	int perr = 0, ret;

	if (!scratch || inject_write(in, scratch, name, sizeof(name))) {
		snprintf(err, errlen, "cannot write into the target");
		return -EFAULT;
	}
	fd = inject_syscall(in, SYS_memfd_create, scratch, MFD_CLOEXEC, 0, 0, 0, 0, &perr);
	if (perr || fd < 0) {
		snprintf(err, errlen, "memfd_create in the target failed: %s",
			 strerror(perr ? -perr : -fd));
		return perr ? perr : fd;
	}
	snprintf(path, sizeof(path), "/proc/%d/fd/%ld", r->pid, fd);
	r->memfd = open(path, O_RDWR | O_CLOEXEC);
	if (r->memfd < 0 || pwrite(r->memfd, img->bytes, sizeof(img->bytes), 0) !=
			    (ssize_t)sizeof(img->bytes)) {
		snprintf(err, errlen, "cannot write the trampolines: %s", strerror(errno));
		inject_syscall(in, SYS_close, fd, 0, 0, 0, 0, 0, &perr);
		return -EIO;
	}
	/* MAP_PRIVATE: uprobes skip shared mappings.  The pages after the first become data. */
	addr = inject_syscall(in, SYS_mmap, 0, TRAMP_MAP_SIZE, PROT_READ | PROT_EXEC,
			      MAP_PRIVATE, fd, 0, &perr);
	inject_syscall(in, SYS_close, fd, 0, 0, 0, 0, 0, &perr);
	if (addr < 0 && addr > -4096) {
		snprintf(err, errlen, "mmap in the target failed: %s", strerror(-addr));
		return addr;
	}
	*base = addr;
	ret = map_guard(in, addr, err, errlen);
	if (!ret && r->o.sample_interval)
		ret = sample_setup(in, r, addr, err, errlen);
	return ret;
}

static int write_tables(struct inject *in, struct redirect *r,
			const uint64_t val[TRAMP_DOMAINS][TRAMP_TABLE_FNS])
{
	int d, err;

	for (d = 0; d < TRAMP_DOMAINS; d++) {
		err = inject_write(in, r->table[d] + TABLE_FNS_OFF, val[d], sizeof(val[d]));
		if (err)
			return err;
	}
	return 0;
}

/* Sampled mode: the libraries' entries for libc's functions, to the TRAMP_LIBC set */
static void libs_start(struct redirect *r, struct inject *in, const struct pytarget *t,
		       const struct tramp_image *img)
{
	struct proc_maps maps = {};
	uint64_t tramp[TRAMP__MAX];
	int f;

	/* an aligned allocator libc lacks has no trampoline (entry 0) */
	for (f = 0; f < TRAMP__MAX; f++)
		tramp[f] = img->entry[TRAMP_LIBC][f] ? r->base + img->entry[TRAMP_LIBC][f] : 0;
	r->got = got_new(t, r->libc_fn, tramp);
	if (r->got && !proc_maps_read(r->pid, &maps))
		got_redirect(r->got, in, &maps);
	proc_maps_free(&maps);
}

int redirect_follow_libs(struct redirect *r)
{
	struct proc_maps maps = {};
	struct inject *in = NULL;
	char err[256];
	int ret;

	if (!r || !r->got)
		return 0;
	ret = proc_maps_read(r->pid, &maps);
	if (ret || !got_news(r->got, &maps))
		goto out;
	proc_maps_free(&maps);
	ret = inject_stop(r->pid, &in, err, sizeof(err));
	/* what is mapped with every thread stopped, a library that came meanwhile too */
	if (!ret)
		ret = proc_maps_read(r->pid, &maps);
	if (!ret)
		got_redirect(r->got, in, &maps);
	inject_release(in);
out:
	proc_maps_free(&maps);
	return ret;
}

void redirect_libs_stats(const struct redirect *r, struct got_stats *st)
{
	got_stats(r ? r->got : NULL, st);
}

int redirect_start(const struct pytarget *t, struct probe_target *p, const struct redirect_opts *o,
		   struct redirect **out, char *err, size_t errlen)
{
	uint64_t now[TRAMP_DOMAINS][TRAMP_TABLE_FNS], orig[TRAMP_SETS][TRAMP__MAX] = {}, base = 0;
	struct libc_detour detour[TRAMP_TABLE_FNS];
	uint64_t dealloc = 0;
	struct tramp_image img;
	struct inject *in = NULL;
	struct redirect *r;
	char path[64];
	int d, f, ret;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->pid = t->pid;
	r->memfd = -1;
	r->o = *o;
	ret = find_tables(t, r, err, errlen);
	if (ret)
		goto fail;
	ret = inject_stop(t->pid, &in, err, errlen);
	if (ret)
		goto fail;
	/* the tables (and tp_dealloc) may have moved on between the first look and the stop */
	for (d = 0; d < TRAMP_DOMAINS && !ret; d++)
		ret = inject_read(in, r->table[d] + TABLE_FNS_OFF, now[d], sizeof(now[d]));
	if (!ret && r->walk.code_dealloc)
		ret = inject_read(in, r->walk.code_type + TP_DEALLOC, &dealloc, sizeof(dealloc));
	if (ret || memcmp(now, r->orig, sizeof(now)) ||
	    (r->walk.code_dealloc && dealloc != r->walk.code_dealloc)) {
		snprintf(err, errlen, "the allocator tables changed while pymem-bpf attached");
		ret = -EAGAIN;
		goto fail;
	}
	for (d = 0; d < TRAMP_DOMAINS; d++)
		memcpy(orig[d], r->orig[d], sizeof(r->orig[d]));
	memcpy(orig[TRAMP_LIBC], r->libc_fn, sizeof(r->libc_fn));
	tramp_build(&img, orig, &r->walk, r->o.sample_interval != 0,
		    raw_detours(t, r, in, detour) ? detour : NULL);
	ret = map_image(in, r, &img, &base, err, errlen);
	if (ret)
		goto fail;
	r->base = base;
	/* probes first, then the swap: no event falls between the two */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", r->memfd);
	ret = probes_attach_tramp(p, path, &img);
	if (ret) {
		snprintf(err, errlen, "cannot attach to the trampolines: %s", strerror(-ret));
		goto fail;
	}
	/* a function with no trampoline (pymalloc's free in sampled mode) stays */
	for (d = 0; d < TRAMP_DOMAINS; d++)
		for (f = 0; f < TRAMP_TABLE_FNS; f++)
			r->tramp[d][f] = img.probe[d][f] ? base + img.entry[d][f] : r->orig[d][f];
	ret = write_tables(in, r, r->tramp);
	if (!ret && img.code_dealloc) {
		r->dealloc_hook = base + img.code_dealloc;
		ret = inject_write(in, r->walk.code_type + TP_DEALLOC, &r->dealloc_hook, 8);
	}
	if (ret) {
		write_tables(in, r, r->orig);
		if (r->dealloc_hook)
			inject_write(in, r->walk.code_type + TP_DEALLOC, &r->walk.code_dealloc, 8);
		snprintf(err, errlen, "cannot write the allocator tables: %s", strerror(-ret));
		goto fail;
	}
	/* before the threads run again, so the first batched event is drained */
	probes_batch_at(p, base + TRAMP_BATCH_OFF);
	if (img.entry[TRAMP_LIBC][TRAMP_MALLOC])
		libs_start(r, in, t, &img);
	inject_release(in);
	*out = r;
	return 0;
fail:
	inject_release(in);
	if (r->memfd >= 0)
		close(r->memfd);
	free(r);
	return ret;
}

int redirect_sample_interval(struct redirect *r, uint64_t interval)
{
	static int64_t draws[TRAMP_DRAWS];
	struct tramp_sample_state st;
	struct tramp_thread shared;

	if (!r->o.sample_interval)
		return -EINVAL;
	tramp_sample_fill(&st, draws, &shared, interval, r->o.seed, r->o.repeatable);
	r->o.sample_interval = interval;
	return remote_write(r->pid, r->base + TRAMP_DRAWS_OFF, draws, sizeof(draws));
}

/* PyCode_Type's tp_dealloc back, unless someone put another there meanwhile */
static void dealloc_restore(struct redirect *r, struct inject *in)
{
	uint64_t at = r->walk.code_type + TP_DEALLOC, now;

	if (inject_read(in, at, &now, sizeof(now)) || now != r->dealloc_hook) {
		fprintf(stderr, "pymem-bpf: the code objects' tp_dealloc of PID %d was changed "
			"while profiled; its hook stays in place and forwards to it\n", r->pid);
		return;
	}
	if (inject_write(in, at, &r->walk.code_dealloc, sizeof(r->walk.code_dealloc)))
		fprintf(stderr, "pymem-bpf: cannot restore the code objects' tp_dealloc of PID %d\n",
			r->pid);
}

void redirect_stop(struct redirect *r)
{
	uint64_t now[TRAMP_DOMAINS][TRAMP_TABLE_FNS];
	struct inject *in = NULL;
	char err[256] = "";
	int d, ret;

	if (!r)
		return;
	ret = inject_stop(r->pid, &in, err, sizeof(err));
	if (ret == -ESRCH || ret == -ENOENT)
		goto out;	/* the target is gone, and the tables with it */
	if (ret) {
		fprintf(stderr, "pymem-bpf: cannot stop PID %d to restore its allocator (%s); "
			"the trampolines stay and forward to it\n", r->pid, err);
		goto out;
	}
	for (d = 0; d < TRAMP_DOMAINS; d++) {
		/* through a live thread: the main one may have exited, its memory with it */
		if (inject_read(in, r->table[d] + TABLE_FNS_OFF, now[d], sizeof(now[d]))) {
			fprintf(stderr, "pymem-bpf: cannot read the %s allocator of PID %d; its "
				"trampolines stay in place and forward to it\n",
				alloc_domain_name(d), r->pid);
			continue;
		}
		/* someone wrapped us meanwhile (tracemalloc.start()): keep their chain */
		if (memcmp(now[d], r->tramp[d], sizeof(now[d]))) {
			fprintf(stderr, "pymem-bpf: the %s allocator of PID %d was changed while "
				"profiled; its trampolines stay in place and forward to it\n",
				alloc_domain_name(d), r->pid);
			continue;
		}
		if (inject_write(in, r->table[d] + TABLE_FNS_OFF, r->orig[d], sizeof(r->orig[d])))
			fprintf(stderr, "pymem-bpf: cannot restore the %s allocator of PID %d\n",
				alloc_domain_name(d), r->pid);
	}
	if (r->dealloc_hook)
		dealloc_restore(r, in);
	got_restore(r->got, in);
	inject_release(in);
out:
	if (r->memfd >= 0)
		close(r->memfd);
	got_free(r->got);
	free(r);
}
