// SPDX-License-Identifier: GPL-2.0
/* Load pymem.bpf.o once: the maps sized for every process it will serve. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "probes_priv.h"
#include "uprobe_multi.h"
#include "verifier_log.h"
#include "verifier_stack.h"

static bool verbose;

/*
 * libbpf speaks only with -v: a refusal is reported in one line of ours,
 * with the verifier's reason, never as a log dump.
 */
static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return verbose ? vfprintf(stderr, fmt, args) : 0;
}

/* Buckets of the live-block table for max_live blocks: a power of two, at least a page's */
static __u32 live_table_buckets(__u32 max_live)
{
	__u32 n = LIVE_PAGE_BUCKETS;

	while (n < max_live / LIVE_WAYS && n < 1u << 31)
		n <<= 1;
	return n;
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

void *probes_map_whole(struct bpf_map *m)
{
	size_t len = (size_t)bpf_map__value_size(m) * bpf_map__max_entries(m);
	void *at = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(m), 0);

	return at == MAP_FAILED ? NULL : at;
}

void probes_unmap_whole(void *at, struct bpf_map *m)
{
	if (at)
		munmap(at, (size_t)bpf_map__value_size(m) * bpf_map__max_entries(m));
}

static void size_maps(struct probes *p, const struct probes_opts *o)
{
	struct pymem_bpf *skel = p->skel;

	p->live_buckets = live_table_buckets(o->max_live);
	bpf_map__set_max_entries(skel->maps.live, p->live_buckets);
	skel->rodata->live_mask = p->live_buckets - 1;
	/* blocks whose bucket is full: at most as many as may be live */
	bpf_map__set_max_entries(skel->maps.spill, o->max_live);
	bpf_map__set_max_entries(skel->maps.stacks, o->max_stacks);
	/* hashes name stacks: as many as there are stacks */
	bpf_map__set_max_entries(skel->maps.alias, o->max_stacks);
	/* and each target's STACK_ID_MAP_FULL */
	bpf_map__set_max_entries(skel->maps.stats, o->max_stacks + p->max_targets);
	bpf_map__set_max_entries(skel->maps.targets, p->max_targets);
	bpf_map__set_max_entries(skel->maps.target_slots, p->max_targets);
	bpf_map__set_max_entries(skel->maps.code_cache, p->max_targets * CODE_CACHE_SLOTS);
	if (o->max_codes)
		bpf_map__set_max_entries(skel->maps.codes, o->max_codes);
	if (o->news_bytes)
		bpf_map__set_max_entries(skel->maps.news, o->news_bytes);
}

int probes_load(const struct probes_opts *o, struct probes **out)
{
	struct probes *p;
	int err;

	verbose = o->verbose;
	libbpf_set_print(print_libbpf);
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->verbose = o->verbose;
	p->stats_fd = -1;
	p->multi = o->uprobe_multi;
	p->max_targets = o->max_targets ?: 1;
	p->used = calloc(p->max_targets, sizeof(*p->used));
	p->skel = pymem_bpf__open();
	if (!p->used || !p->skel) {
		err = -errno;
		fprintf(stderr, "pymem-bpf: failed to open the BPF object: %s\n", strerror(errno));
		goto fail;
	}
	size_maps(p, o);
	err = load(p);
	if (err)
		goto fail;
	p->targets = probes_map_whole(p->skel->maps.targets);
	p->code_filter = probes_map_whole(p->skel->maps.code_filter);
	if (!p->targets || !p->code_filter) {
		err = -errno;
		fprintf(stderr, "pymem-bpf: cannot map the BPF maps: %s\n", strerror(errno));
		goto fail;
	}
	*out = p;
	return 0;
fail:
	probes_stop(p);
	return err ? err : -EINVAL;
}

void probes_stop(struct probes *p)
{
	if (!p)
		return;
	if (p->skel) {
		probes_unmap_whole(p->targets, p->skel->maps.targets);
		probes_unmap_whole(p->code_filter, p->skel->maps.code_filter);
	}
	if (p->stats_fd >= 0)
		close(p->stats_fd);
	pymem_bpf__destroy(p->skel);
	free(p->used);
	free(p->logs);
	free(p);
}

/* The kernel's own figure for a map, as bpftool shows it: fdinfo's memlock */
static uint64_t map_memlock(int fd)
{
	unsigned long long v = 0;
	char path[64], line[128];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

uint64_t probes_map_bytes(const struct probes *p)
{
	struct bpf_map *m;
	uint64_t sum = 0;

	bpf_object__for_each_map(m, p->skel->obj)
		if (bpf_map__fd(m) >= 0)
			sum += map_memlock(bpf_map__fd(m));
	return sum;
}

int probes_news_fd(const struct probes *p)
{
	return bpf_map__fd(p->skel->maps.news);
}

int probes_stats_fd(const struct probes *p)
{
	return bpf_map__fd(p->skel->maps.stats);
}

/* Stacks' counters are read from the kernel this many at a time. */
#define STATS_BATCH	4096

int probes_stats_each(const struct probes *p,
		      int (*fn)(void *arg, const struct pid_key *k, const struct stack_stats *s),
		      void *arg)
{
	int fd = probes_stats_fd(p), err = 0, ret;
	struct stack_stats *vals;
	struct pid_key *keys;
	uint64_t batch;
	void *in = NULL;
	__u32 i, n;

	keys = calloc(STATS_BATCH, sizeof(*keys));
	vals = calloc(STATS_BATCH, sizeof(*vals));
	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	/* in batches: one key at a time took seconds for tens of thousands of stacks */
	do {
		n = STATS_BATCH;
		ret = bpf_map_lookup_batch(fd, in, &batch, keys, vals, &n, NULL);
		if (ret && ret != -ENOENT) {
			err = ret;
			goto out;
		}
		for (i = 0; i < n && !err; i++)
			err = fn(arg, &keys[i], &vals[i]);
		in = &batch;
	} while (!ret && !err);
out:
	free(keys);
	free(vals);
	return err;
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
