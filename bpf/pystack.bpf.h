/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The CPython stack walker: find the current thread's PyThreadState by fs
 * base, walk its frames and store the stack, deduplicated by hash.
 */
#ifndef PYMEM_PYSTACK_BPF_H
#define PYMEM_PYSTACK_BPF_H

#include "common.bpf.h"

#define MAX_INTERPS	4
#define FRAME_OWNED_BY_CSTACK 3

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u64);
} tstate_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct stack_rec);
} stacks SEC(".maps");

/* New stack ids that did not fit in new_stacks: the stack map must be scanned. */
volatile __u64 stacks_unreported = 0;

/* New stack ids, so userspace reads their code objects while they still exist. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} new_stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stack_rec);
} scratch SEC(".maps");

/*
 * firstlineno of recently walked code objects, direct-mapped, one atomic
 * word a slot: (code >> 4) << LINE_BITS | firstlineno.  Reading it from the
 * code object cost half the walk.  A slot is cleared when its code object
 * is freed, before the memory can hold another one.
 */
#define CODE_CACHE_SLOTS	8192
#define LINE_BITS		21

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CODE_CACHE_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} code_cache SEC(".maps");

static __always_inline __u64 *code_slot(__u64 code)
{
	__u32 k = (__u32)((code >> 4) * 0x9e3779b1U) >> 19;

	return bpf_map_lookup_elem(&code_cache, &k);
}

struct thread_walk {
	__u64 ts;
	__u64 fsbase;
};

static long thread_step(__u32 i, void *data)
{
	struct thread_walk *w = data;

	if (!w->ts)
		return 1;
	if (read_ptr(w->ts + pyoff.tstate_thread_id) == w->fsbase)
		return 1;
	w->ts = read_ptr(w->ts + pyoff.tstate_next);
	return 0;
}

/* The current thread's PyThreadState: the one whose thread_id is our fs base. */
static __always_inline __u64 find_tstate(__u32 tid)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct thread_walk w = { .fsbase = BPF_CORE_READ(task, thread.fsbase) };
	__u64 *cached, interp;
	int i;

	if (!py_runtime || !w.fsbase)
		return 0;
	cached = bpf_map_lookup_elem(&tstate_cache, &tid);
	if (cached && *cached && read_ptr(*cached + pyoff.tstate_thread_id) == w.fsbase)
		return *cached;

	interp = read_ptr(py_runtime + pyoff.runtime_interp_head);
	for (i = 0; i < MAX_INTERPS && interp; i++) {
		w.ts = read_ptr(interp + pyoff.interp_threads_head);
		bpf_loop(PYMEM_MAX_THREADS, thread_step, &w, 0);
		if (w.ts) {
			bpf_map_update_elem(&tstate_cache, &tid, &w.ts, BPF_ANY);
			return w.ts;
		}
		interp = read_ptr(interp + pyoff.interp_next);
	}
	return 0;
}

static __always_inline __u64 top_frame(__u64 tstate)
{
	__u64 f = read_ptr(tstate + pyoff.tstate_frame);

	if (f && pyoff.cframe_current_frame != PY_OFF_NONE)
		f = read_ptr(f + pyoff.cframe_current_frame);
	return f;
}

static __always_inline __u64 mix(__u64 h, __u64 v)
{
	h ^= v;
	h *= 0x100000001b3ULL;
	return h ^ (h >> 29);
}

/* Read one frame; returns 1 to record it, 0 to skip it, -1 on a read error. */
static __always_inline int read_firstlineno(__u64 code, struct py_frame *out)
{
	__u64 *slot = code_cache_ok ? code_slot(code) : NULL;
	__s32 v;

	if (slot && *slot && *slot >> LINE_BITS == code >> 4) {
		out->firstlineno = *slot & ((1U << LINE_BITS) - 1);
		return 1;
	}
	if (bpf_probe_read_user(&v, sizeof(v), (void *)(code + pyoff.code_firstlineno)))
		return -1;
	out->firstlineno = v;
	if (slot && v >= 0 && v < (1 << LINE_BITS))
		*slot = (code >> 4) << LINE_BITS | v;
	return 1;
}

#define FRAME_CHUNK 128	/* every frame field we need lies in the first 128 bytes */

/* Field at a (rodata) offset of a frame read whole: one read per frame, not four. */
#define CHUNK_FIELD(buf, off, type) (*(type *)((buf) + ((off) & (FRAME_CHUNK - 1))))

static __always_inline int read_frame_chunk(__u64 frame, struct py_frame *out, __u64 *back)
{
	__u8 buf[FRAME_CHUNK + 8];
	__u64 code;

	if (bpf_probe_read_user(buf, FRAME_CHUNK, (void *)frame))
		return -2;	/* e.g. the frame ends its mapping: read field by field */
	*back = CHUNK_FIELD(buf, pyoff.frame_back, __u64);
	if (pyoff.frame_owner != PY_OFF_NONE &&
	    CHUNK_FIELD(buf, pyoff.frame_owner, __u8) >= FRAME_OWNED_BY_CSTACK)
		return 0;
	/* 3.14 tags stack references in bit 0 */
	code = CHUNK_FIELD(buf, pyoff.frame_code, __u64) & ~1ULL;
	if (!code)
		return 0;
	if (pyoff.code_adaptive == PY_OFF_NONE)
		out->lasti = CHUNK_FIELD(buf, pyoff.frame_lasti, __s32);
	else
		out->lasti = (CHUNK_FIELD(buf, pyoff.frame_lasti, __u64) -
			      (code + pyoff.code_adaptive)) / 2;
	out->code = code;
	return read_firstlineno(code, out);
}

static __always_inline int read_frame(__u64 frame, struct py_frame *out, __u64 *back)
{
	__u64 code, instr;
	__u8 owner;
	__s32 v;
	int ret;

	if (frame_chunk_ok) {
		ret = read_frame_chunk(frame, out, back);
		if (ret != -2)
			return ret;
	}
	*back = read_ptr(frame + pyoff.frame_back);
	if (pyoff.frame_owner != PY_OFF_NONE) {
		if (bpf_probe_read_user(&owner, 1, (void *)(frame + pyoff.frame_owner)))
			return -1;
		if (owner >= FRAME_OWNED_BY_CSTACK)
			return 0;
	}
	if (bpf_probe_read_user(&code, sizeof(code), (void *)(frame + pyoff.frame_code)))
		return -1;
	/* 3.14 tags stack references in bit 0 */
	code &= ~1ULL;
	if (!code)
		return 0;
	if (pyoff.code_adaptive == PY_OFF_NONE) {
		if (bpf_probe_read_user(&v, sizeof(v), (void *)(frame + pyoff.frame_lasti)))
			return -1;
		out->lasti = v;
	} else {
		if (bpf_probe_read_user(&instr, sizeof(instr), (void *)(frame + pyoff.frame_lasti)))
			return -1;
		out->lasti = (instr - (code + pyoff.code_adaptive)) / 2;
	}
	out->code = code;
	return read_firstlineno(code, out);
}

struct frame_walk {
	struct stack_rec *r;
	__u64 frame;
	__u64 h;
	__u32 n;
	bool read_error;
};

static long frame_step(__u32 i, void *data)
{
	struct frame_walk *w = data;
	__u64 back = 0;
	__u32 n = w->n;
	int ret;

	if (!w->frame || n >= PYMEM_MAX_FRAMES)
		return 1;
	ret = read_frame(w->frame, &w->r->frames[n & (PYMEM_MAX_FRAMES - 1)], &back);
	if (ret < 0) {
		w->read_error = true;
		return 1;
	}
	if (ret > 0) {
		w->h = mix(mix(w->h, w->r->frames[n & (PYMEM_MAX_FRAMES - 1)].code),
			   w->r->frames[n & (PYMEM_MAX_FRAMES - 1)].lasti);
		w->n = n + 1;
	}
	w->frame = back;
	return 0;
}

/* Walk the Python stack and return the id of the deduplicated stack record. */
static __noinline __u64 capture_stack(__u32 pid, __u32 tid, __u32 site, __u64 ip)
{
	struct frame_walk w = {};
	__u64 id, tstate;
	__u32 zero = 0;
	int err;

	w.r = bpf_map_lookup_elem(&scratch, &zero);
	if (!w.r)
		return STACK_ID_NONE;
	w.r->pid = pid;
	w.r->site = site;
	w.r->native_ip = ip;
	w.r->flags = 0;
	w.h = mix(mix(mix(0xcbf29ce484222325ULL, pid), site), ip);

	tstate = find_tstate(tid);
	if (tstate)
		w.frame = top_frame(tstate);
	else
		w.r->flags |= STACK_F_NO_THREAD;

	/* shim frames are skipped without a slot, so allow more steps than slots */
	bpf_loop(PYMEM_MAX_FRAMES * 2, frame_step, &w, 0);
	if (w.read_error) {
		w.r->flags |= STACK_F_READ_ERROR;
		drop(DROP_STACK_READ);
	} else if (w.frame) {
		w.r->flags |= STACK_F_TRUNCATED;
		drop(DROP_STACK_TRUNCATED);
	}
	w.r->nframes = w.n;
	id = mix(w.h, w.r->flags) | 2;	/* never a reserved id */
	if (bpf_map_lookup_elem(&stacks, &id))
		return id;
	err = bpf_map_update_elem(&stacks, &id, w.r, BPF_NOEXIST);
	if (err && err != -EEXIST) {
		drop(DROP_STACKS_FULL);
		return STACK_ID_MAP_FULL;
	}
	/* a full ring only delays symbolization: userspace then scans the map */
	if (!err && bpf_ringbuf_output(&new_stacks, &id, sizeof(id), 0))
		__sync_fetch_and_add(&stacks_unreported, 1);
	return id;
}

#endif /* PYMEM_PYSTACK_BPF_H */
