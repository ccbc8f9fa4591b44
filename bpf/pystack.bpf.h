/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The CPython stack walker: find the current thread's PyThreadState by fs
 * base, walk its frames and name the stack by hash; a stack's frames go to
 * userspace on the ring the first time it is met.
 */
#ifndef PYMEM_PYSTACK_BPF_H
#define PYMEM_PYSTACK_BPF_H

#include "common.bpf.h"
#include "pycode.bpf.h"

#define MAX_INTERPS	4
/*
 * Frame owners from here on are not Python code: FRAME_OWNED_BY_CSTACK in
 * 3.12 and 3.13, FRAME_OWNED_BY_INTERPRETER (and CSTACK, 4) in 3.14+.
 */
#define FRAME_OWNED_BY_CSTACK 3
/* low bits of a frame's code reference that are tags (3.14+ _PyStackRef), not address */
#define STACKREF_TAGS 3ULL

/* Ids of the stacks sent to userspace (struct news_stack carries the frames), by pid */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, struct pid_key);
	__type(value, __u8);
} stacks SEC(".maps");

/* Its values, from here rather than the BPF stack */
const __u8 stack_sent = 1;

/*
 * The stack id each trampoline stack hash was learnt for, by pid and hash:
 * relearnt when the hash is met afresh after a code object's
 * death, so a hash never names a stack of dead code.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, struct pid_key);
	__type(value, __u64);
} alias SEC(".maps");

/*
 * A cache of alias in front of it, indexed by the hash: a batched event's
 * stack id is one array slot away, not a jhash and a bucket walk (those
 * cost exact mode a twentieth of its time on a request-handler loop).  An
 * entry holds while its tag is the mix of (pid, hash, alias_gen), which
 * every learning bumps after it updates alias, and userspace when a process
 * leaves: a fill made from a lookup before the bump is stale at once.  A
 * fill takes the entry's tag to ALIAS_FILLING first, so that no reader
 * takes one fill's id under another's tag.
 */
#define ALIAS_CACHE	16384
#define ALIAS_FILLING	2	/* tags are odd, an empty entry's is 0 */

struct alias_ent {
	__u64 tag;
	__u64 id;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, ALIAS_CACHE);
	__type(key, __u32);
	__type(value, struct alias_ent);
} alias_cache SEC(".maps");

volatile __u64 alias_gen = 0;

/*
 * Learn hash as a name of stack id.  A global function: its key is built
 * on a frame of its own, not on the probe's under the whole stack walk.
 */
__noinline int alias_learn(__u32 pid, __u64 hash, __u64 id)
{
	struct pid_key key = { .pid = pid, .key = hash };
	int err = bpf_map_update_elem(&alias, &key, &id, BPF_ANY);

	__sync_fetch_and_add(&alias_gen, 1);
	return err;
}

/* The stack id process pid's hash was learnt for, or NULL */
static __always_inline __u64 *alias_find(__u32 pid, __u64 hash, __u64 *out)
{
	struct pid_key key = { .pid = pid, .key = hash };
	__u64 tag = (hash ^ (((__u64)pid << 32 ^ alias_gen) * 0x9e3779b97f4a7c15ULL)) | 1;
	__u32 i = (__u32)(tag >> 32) & (ALIAS_CACHE - 1);
	struct alias_ent *c = bpf_map_lookup_elem(&alias_cache, &i);
	__u64 *id, seen;

	if (!c)
		return NULL;
	/* x86 keeps loads in order: an id read between two sightings of the tag is its fill's */
	if (READ_ONCE(c->tag) == tag) {
		*out = READ_ONCE(c->id);
		if (READ_ONCE(c->tag) == tag)
			return out;
	}
	id = bpf_map_lookup_elem(&alias, &key);
	if (!id)
		return NULL;
	*out = *id;
	seen = READ_ONCE(c->tag);
	if (seen != ALIAS_FILLING &&
	    __sync_val_compare_and_swap(&c->tag, seen, ALIAS_FILLING) == seen) {
		WRITE_ONCE(c->id, *out);
		WRITE_ONCE(c->tag, tag);
	}
	return out;
}

#define FRAME_CHUNK	PYMEM_FRAME_CHUNK
#define TSTATE_SPAN	PYMEM_TSTATE_SPAN
/* bytes of a frame stack chunk read at once: dozens of frames, in a walker that fits its task storage */
#define WINDOW		4096

struct frame_walk {
	__u64 frame;
	__u64 base;			/* the thread's sentinel frame, where the walk ends (3.15+) */
	__u64 h;
	__u32 n;
	bool read_error;
	__u64 win_lo, win_hi;		/* frame stack bytes in wk->window */
	__u64 chunk_lo, chunk_hi;	/* the frame stack chunk being walked */
	__u64 prev_lo, prev_hi;		/* the chunk before it, once looked up */
};

/*
 * A thread's walker state, kept in its task storage: neither another thread
 * nor a task preempting this one on the same CPU can clobber it.
 */
struct walker {
	__u64 tstate;		/* this thread's PyThreadState, checked on each use */
	struct pid_key key;	/* the stack's, here rather than on the BPF stack */
	struct frame_walk w;	/* the walk under way */
	struct news_stack news;	/* the stack being walked, as the ring carries it */
	/* frames read in bulk; first the PyThreadState span */
	__u8 window[WINDOW + FRAME_CHUNK + 8];
	/*
	 * A frame outside the frame stack, read alone: here rather than on the
	 * BPF stack, which the whole call chain down to code_gen_slow() shares
	 * with the probe (512 bytes, bpf_loop callbacks counted in on newer kernels).
	 */
	__u8 lone[FRAME_CHUNK + 8];
};

_Static_assert(sizeof(struct walker) <= TASK_STORAGE_VALUE_MAX, "walker too large");

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct walker);
} walkers SEC(".maps");

/* The thread's walker; NULL if it cannot be made (the stack is then not known) */
static __always_inline struct walker *walker_get(void)
{
	return task_state(&walkers);
}

/* A field of the PyThreadState span the walker read (tg's [tstate_span_lo, + tstate_span_len)) */
#define SPAN_FIELD(wk, tg, off) \
	(*(__u64 *)((wk)->window + (((off) - (tg)->tstate_span_lo) & (TSTATE_SPAN - 1))))

static __always_inline bool read_span(struct walker *wk, const struct pymem_target *tg, __u64 ts)
{
	__u32 len = tg->tstate_span_len & (TSTATE_SPAN - 1);

	return !bpf_probe_read_user(wk->window, len, (void *)(ts + tg->tstate_span_lo));
}

struct thread_walk {
	__u64 ts;
	__u64 fsbase;
	__u32 thread_id;	/* the offsets of PyThreadState's thread_id and next */
	__u32 next;
};

static long thread_step(__u32 i, void *data)
{
	struct thread_walk *w = data;

	if (!w->ts)
		return 1;
	if (read_ptr(w->ts + w->thread_id) == w->fsbase)
		return 1;
	w->ts = read_ptr(w->ts + w->next);
	return 0;
}

/* The PyThreadState whose thread_id is our fs base, from the interpreters' lists. */
static __always_inline __u64 search_tstate(const struct pymem_target *tg, __u64 fsbase)
{
	struct thread_walk w = {
		.fsbase = fsbase,
		.thread_id = tg->off.tstate_thread_id,
		.next = tg->off.tstate_next,
	};
	__u64 interp;
	int i;

	interp = read_ptr(tg->py_runtime + tg->off.runtime_interp_head);
	for (i = 0; i < MAX_INTERPS && interp; i++) {
		w.ts = read_ptr(interp + tg->off.interp_threads_head);
		bpf_loop(PYMEM_MAX_THREADS, thread_step, &w, 0);
		if (w.ts)
			return w.ts;
		interp = read_ptr(interp + tg->off.interp_next);
	}
	return 0;
}

/*
 * Read the thread's span of PyThreadState (the cached pointer is checked by
 * its thread_id) and set the top frame and the chunk holding it.  A
 * subprogram of its own, off the walk's call chain: the process's layout
 * it holds over its reads is not on the stack under every frame walked.
 */
static __noinline bool thread_top(struct walker *wk)
{
	const struct pymem_target *tg;
	/* a trusted BTF pointer: a direct load, not a helper call */
	__u64 fsbase = bpf_get_current_task_btf()->thread.fsbase;
	struct frame_walk *w;
	__u64 ts, f;

	if (!wk)
		return false;
	w = &wk->w;
	ts = wk->tstate;
	tg = target_of(wk->news.rec.pid);
	if (!tg || !tg->py_runtime || !fsbase)
		return false;
	if (!ts || !read_span(wk, tg, ts) ||
	    SPAN_FIELD(wk, tg, tg->off.tstate_thread_id) != fsbase) {
		ts = search_tstate(tg, fsbase);
		if (!ts || !read_span(wk, tg, ts))
			return false;
		wk->tstate = ts;
	}
	f = SPAN_FIELD(wk, tg, tg->off.tstate_frame);
	if (f && tg->off.cframe_current_frame != PY_OFF_NONE)
		f = read_ptr(f + tg->off.cframe_current_frame);
	w->frame = f;
	if (tg->off.tstate_base_frame != PY_OFF_NONE)
		w->base = SPAN_FIELD(wk, tg, tg->off.tstate_base_frame);
	if (tg->off.tstate_datastack_chunk != PY_OFF_NONE) {
		w->chunk_lo = SPAN_FIELD(wk, tg, tg->off.tstate_datastack_chunk);
		w->chunk_hi = SPAN_FIELD(wk, tg, tg->off.tstate_datastack_limit);
	}
	return true;
}

static __always_inline __u64 mix(__u64 h, __u64 v)
{
	h ^= v;
	h *= 0x100000001b3ULL;
	return h ^ (h >> 29);
}

/* Field at an offset (of tg->off) of a frame's first FRAME_CHUNK bytes. */
#define CHUNK_FIELD(buf, off, type) (*(type *)((buf) + ((off) & (FRAME_CHUNK - 1))))

/* A frame from its first bytes, already read; 1 to record it, 0 to skip it. */
static __always_inline int parse_frame(const struct pymem_target *tg, const __u8 *buf,
				       struct py_frame *out, __u64 *back)
{
	__u64 code;

	*back = CHUNK_FIELD(buf, tg->off.frame_back, __u64);
	if (tg->off.frame_owner != PY_OFF_NONE &&
	    CHUNK_FIELD(buf, tg->off.frame_owner, __u8) >= FRAME_OWNED_BY_CSTACK)
		return 0;
	/* 3.14+ tag stack references in their low bits; objects are 16-byte aligned */
	code = CHUNK_FIELD(buf, tg->off.frame_code, __u64) & ~STACKREF_TAGS;
	if (!code)
		return 0;
	if (tg->off.code_adaptive == PY_OFF_NONE)
		out->lasti = CHUNK_FIELD(buf, tg->off.frame_lasti, __s32);
	else
		out->lasti = (CHUNK_FIELD(buf, tg->off.frame_lasti, __u64) -
			      (code + tg->off.code_adaptive)) / 2;
	out->code = code;
	out->gen = code_gen(tg, code);
	return 1;
}

/*
 * A frame outside any frame stack chunk (<=3.10, generators, C-stack shims):
 * read its first frame_need bytes, which every frame has.
 */
static __always_inline int read_frame(struct walker *wk, const struct pymem_target *tg,
				      __u64 frame, struct py_frame *out, __u64 *back)
{
	__u32 need = tg->frame_need;

	if (need > FRAME_CHUNK || bpf_probe_read_user(wk->lone, need, (void *)frame))
		return -1;
	return parse_frame(tg, wk->lone, out, back);
}

static __always_inline bool in_range(const struct pymem_target *tg, __u64 f, __u64 lo, __u64 hi)
{
	return f >= lo && f + tg->frame_need <= hi;
}

/*
 * Frames below the current chunk's are in older chunks: each chunk starts
 * with a pointer to the one before and its size.
 */
static __always_inline bool find_chunk(const struct pymem_target *tg, struct frame_walk *w,
				       __u64 f)
{
	__u64 prev;

	if (in_range(tg, f, w->chunk_lo, w->chunk_hi))
		return true;
	if (!w->chunk_lo)
		return false;
	if (!w->prev_lo) {
		prev = read_ptr(w->chunk_lo + tg->off.stackchunk_previous);
		if (!prev)
			return false;
		w->prev_lo = prev;
		w->prev_hi = prev + read_ptr(prev + tg->off.stackchunk_size);
	}
	if (!in_range(tg, f, w->prev_lo, w->prev_hi))
		return false;	/* a frame outside the stack, e.g. a generator's */
	w->chunk_lo = w->prev_lo;
	w->chunk_hi = w->prev_hi;
	w->prev_lo = w->prev_hi = 0;
	return true;
}

/*
 * The frame's bytes in the window, reading the window afresh (ending at
 * this frame, callers below it) when it is not there; NULL if the frame is
 * not in the frame stack.  One read stands for dozens of frames.
 */
static __always_inline const __u8 *frame_bytes(struct walker *wk, const struct pymem_target *tg,
					       __u64 f)
{
	struct frame_walk *w = &wk->w;
	__u64 lo, hi, len;

	if (!in_range(tg, f, w->win_lo, w->win_hi)) {
		if (!find_chunk(tg, w, f))
			return NULL;
		hi = f + FRAME_CHUNK;
		if (hi > w->chunk_hi)
			hi = w->chunk_hi;
		lo = hi > w->chunk_lo + WINDOW ? hi - WINDOW : w->chunk_lo;
		len = hi - lo;
		if (len > WINDOW)
			return NULL;
		if (bpf_probe_read_user(wk->window, len, (void *)lo)) {
			w->win_lo = w->win_hi = 0;
			return NULL;
		}
		w->win_lo = lo;
		w->win_hi = hi;
	}
	return wk->window + ((f - w->win_lo) & (WINDOW - 1));
}

#define STEP_FRAMES	8	/* frames a walk step reads: the loop's overhead is per step */

/*
 * A few frames of the walk; returns 1 when it is over.  A global function,
 * so the verifier checks it once rather than once per path into the loop.
 * The process's layout is looked up here, not handed down: a pointer more
 * on the walk's frames would cost the call chain's stack.
 */
__noinline int walk_step(struct walker *wk)
{
	const struct pymem_target *tg;
	struct frame_walk *w;
	struct py_frame *out;
	const __u8 *buf;
	__u64 f, h, back;
	int ret = 0, k;
	__u32 n;

	if (!wk)
		return 1;
	tg = target_of(wk->news.rec.pid);
	if (!tg)
		return 1;
	w = &wk->w;
	f = w->frame;
	h = w->h;
	n = w->n;
#pragma unroll
	for (k = 0; k < STEP_FRAMES; k++) {
		/* the sentinel under the thread's first frame: the walk is whole */
		if (f == w->base)
			f = 0;
		if (!f || n >= PYMEM_MAX_FRAMES) {
			ret = 1;
			break;
		}
		out = &wk->news.rec.frames[n & (PYMEM_MAX_FRAMES - 1)];
		back = 0;
		buf = frame_bytes(wk, tg, f);
		if (buf)
			ret = parse_frame(tg, buf, out, &back);
		else
			ret = read_frame(wk, tg, f, out, &back);
		if (ret < 0) {
			w->read_error = true;
			ret = 1;
			break;
		}
		if (ret > 0) {
			h = mix(mix(h, out->code), (__u64)out->gen << 32 | out->lasti);
			n++;
		}
		ret = 0;
		f = back;
	}
	w->frame = f;
	w->h = h;
	w->n = n;
	return ret;
}

static long frame_step(__u32 i, void *data)
{
	return walk_step(*(struct walker **)data) ? 1 : 0;
}

/* Walk the Python stack and return the id of the deduplicated stack record. */
static __noinline __u64 capture_stack(struct walker *wk, __u32 pid, __u32 site, __u64 ip)
{
	struct pid_key *key;
	struct frame_walk *w;
	struct stack_rec *r;
	__u64 size, n;
	int err;

	if (!wk) {
		/* no task storage for this thread's walker: the stack is not known */
		drop(pid, DROP_STACK_READ);
		return STACK_ID_UNKNOWN(site);
	}
	w = &wk->w;
	__builtin_memset(w, 0, sizeof(*w));
	r = &wk->news.rec;
	r->pid = pid;
	r->site = site;
	r->native_ip = ip;
	r->flags = 0;
	w->h = mix(mix(mix(0xcbf29ce484222325ULL, pid), site), ip);

	if (!thread_top(wk))
		r->flags |= STACK_F_NO_THREAD;

	/* shim frames are skipped without a slot, so allow more steps than slots */
	bpf_loop(PYMEM_MAX_FRAMES * 2 / STEP_FRAMES, frame_step, &wk, 0);
	if (w->read_error) {
		r->flags |= STACK_F_READ_ERROR;
		drop(pid, DROP_STACK_READ);
	} else if (w->frame) {
		r->flags |= STACK_F_TRUNCATED;
		drop(pid, DROP_STACK_TRUNCATED);
	}
	r->nframes = w->n;
	key = &wk->key;
	key->pid = pid;
	key->pad = 0;
	key->key = mix(w->h, r->flags) | 2;	/* never a reserved id */
	if (bpf_map_lookup_elem(&stacks, key))
		return key->key;
	err = bpf_map_update_elem(&stacks, key, &stack_sent, BPF_NOEXIST);
	if (err == -EEXIST)
		return key->key;
	if (err) {
		drop(pid, DROP_STACKS_FULL);
		return STACK_ID_MAP_FULL;
	}
	wk->news.type = NEWS_STACK;
	wk->news.id = key->key;
	n = w->n < PYMEM_MAX_FRAMES ? w->n : PYMEM_MAX_FRAMES;
	/* the mask keeps the verifier's bound (n <= PYMEM_MAX_FRAMES already) */
	size = NEWS_STACK_HEAD + (n & (2 * PYMEM_MAX_FRAMES - 1)) * sizeof(struct py_frame);
	/* a full ring: forget the id, so that the stack's next event sends it again */
	if (bpf_ringbuf_output(&news, &wk->news, size, 0))
		bpf_map_delete_elem(&stacks, key);
	return key->key;
}

#endif /* PYMEM_PYSTACK_BPF_H */
