/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Code objects by incarnation.  A dead code object's address is soon reused
 * (module code dies right after it runs), so a frame names its code by
 * address and a number given when a walk first meets the object, forgotten
 * when its free is seen.  Stacks of different incarnations differ, and the
 * object's names and line table are taken at that first meeting, while a
 * frame still holds it.
 */
#ifndef PYMEM_PYCODE_BPF_H
#define PYMEM_PYCODE_BPF_H

#include "common.bpf.h"

/* New stacks and code objects, in the order they were met (struct news_*). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} news SEC(".maps");

/*
 * Each thread's line table piece on its way to the ring: needed only when a
 * walk first meets a code object, and in task storage of its own, since a
 * thread's walker would not fit beside it (TASK_STORAGE_VALUE_MAX).
 */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct news_table);
} tables SEC(".maps");

_Static_assert(sizeof(struct news_table) <= TASK_STORAGE_VALUE_MAX, "news_table too large");

/* Live code objects met in a walk, by process and address (struct pid_key). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PYMEM_MAX_CODES);
	__type(key, struct pid_key);
	__type(value, struct code_ent);
} codes SEC(".maps");

/*
 * How many codes entries hash to each slot: a free whose slot is empty is
 * not of a known code object, and most frees are not.  Every process's
 * entries share it: another's only cost a lookup that finds nothing.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, CODE_FILTER_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} code_filter SEC(".maps");

/*
 * Recently met codes entries, direct-mapped, one atomic word a slot:
 * (code >> 17) << 32 | gen.  The slot index is code's bits 4-16 XOR bits
 * 17-29, which with the tag's bits 17-46 give back bits 4-16: the word names
 * the code exactly (user addresses are below 2^47, code objects 16-byte
 * aligned).  A lookup in codes cost most of a frame's walk.  Each process
 * has CODE_CACHE_SLOTS of its own, at its slot's place (sized by userspace).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, CODE_CACHE_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} code_cache SEC(".maps");

/* The last incarnation number given (its low 32 bits) */
volatile __u64 code_gen_last = 0;

static __always_inline bool code_cacheable(__u64 code)
{
	return !(code & 15) && !(code >> 47);
}

static __always_inline __u64 *code_slot(const struct pymem_target *tg, __u64 code)
{
	__u32 k = ((code >> 4) ^ (code >> 17)) & (CODE_CACHE_SLOTS - 1);

	k += tg->slot * CODE_CACHE_SLOTS;

	return bpf_map_lookup_elem(&code_cache, &k);
}

static __always_inline __u32 *code_filter_slot(__u32 pid, __u64 code)
{
	__u32 k = CODE_FILTER_INDEX(pid, code);

	return bpf_map_lookup_elem(&code_filter, &k);
}

/* A compact str's characters, if they fit in cap - 1 bytes (cap a power of two). */
static __always_inline void take_str(const struct pymem_target *tg, __u64 str,
				     struct news_str *out, __u8 *buf, __u32 cap)
{
	__u32 state, kind, n;
	__s64 len;

	out->kind = 0;
	if (!str ||
	    bpf_probe_read_user(&state, sizeof(state), (void *)(str + tg->off.unicode_state)) ||
	    bpf_probe_read_user(&len, sizeof(len), (void *)(str + tg->off.unicode_length)))
		return;
	kind = (state >> 2) & 7;
	/* only compact strs keep their characters right after the header */
	if (!((state >> 5) & 1) || len < 0 || len >= cap || (kind != 1 && kind != 2 && kind != 4))
		return;
	n = (__u32)len * kind;
	if (n >= cap)
		return;
	/* keep clang from reading with the unchecked copy of n */
	asm volatile("" : "+r"(n));
	str += (state >> 6) & 1 ? tg->off.unicode_ascii_data : tg->off.unicode_compact_data;
	if (bpf_probe_read_user(buf, n & (cap - 1), (void *)str))
		return;
	out->kind = kind;
	out->len = len;
}

/*
 * The line table in pieces, built in t (the ring takes only what a piece
 * fills); false if the ring had no room.
 */
static __always_inline bool table_news(const struct pymem_target *tg, struct news_table *t,
				       __u64 code, __u32 gen, __u64 table, __u32 n)
{
	__u32 i, len;

	t->type = NEWS_TABLE;
	t->gen = gen;
	t->code = code;
	t->pid = tg->pid;
	for (i = 0; i < PYMEM_TABLE_CHUNKS; i++) {
		t->off = i * PYMEM_TABLE_CHUNK;
		if (t->off >= n)
			return true;
		len = n - t->off;
		/* 1..PYMEM_TABLE_CHUNK, in a form the verifier can bound */
		len = ((len - 1) & (PYMEM_TABLE_CHUNK - 1)) + 1;
		if (n - t->off > PYMEM_TABLE_CHUNK)
			len = PYMEM_TABLE_CHUNK;
		t->len = len;
		/* unreadable: userspace sees the table cut short and reads it itself */
		if (bpf_probe_read_user(t->data, len, (void *)(table + tg->off.bytes_data + t->off)))
			return true;
		if (bpf_ringbuf_output(&news, t, offsetof(struct news_table, data) + len, 0))
			return false;
	}
	return true;
}

/* What userspace needs of the code object, on the news ring; false if the ring was full. */
static __always_inline bool code_news(const struct pymem_target *tg, __u64 code, __u32 gen,
				      struct news_table *t)
{
	struct news_code *r = bpf_ringbuf_reserve(&news, sizeof(*r), 0);
	__u64 table;
	__s64 n = -1;

	if (!r)
		return false;
	r->type = NEWS_CODE;
	r->gen = gen;
	r->code = code;
	r->pid = tg->pid;
	if (bpf_probe_read_user(&r->firstlineno, sizeof(r->firstlineno),
				(void *)(code + tg->off.code_firstlineno))) {
		/* not a readable code object: userspace will find as much */
		bpf_ringbuf_discard(r, 0);
		return true;
	}
	take_str(tg, read_ptr(code + (tg->off.code_qualname != PY_OFF_NONE ? tg->off.code_qualname :
				  tg->off.code_name)), &r->name, r->name_data, PYMEM_NAME_MAX);
	take_str(tg, read_ptr(code + tg->off.code_filename), &r->file, r->file_data, PYMEM_FILE_MAX);
	table = read_ptr(code + tg->off.code_linetable);
	if (!table || bpf_probe_read_user(&n, sizeof(n), (void *)(table + tg->off.bytes_size)) ||
	    n < 0 || n > PYMEM_TABLE_CHUNK * PYMEM_TABLE_CHUNKS)
		n = -1;
	r->table_len = n;
	bpf_ringbuf_submit(r, 0);
	return n <= 0 || table_news(tg, t, code, gen, table, n);
}

/*
 * First meeting, or a cache miss: the code's number from codes, or a new
 * one.  A global function: verified once, not in each step of the walk.
 */
__noinline __u32 code_gen_slow(const struct pymem_target *tg, __u64 code)
{
	struct pid_key key = { .key = code };
	struct code_ent e = {}, *found;
	struct news_table *t;
	__u64 *slot;
	__u32 *f;
	int err;

	if (!tg)
		return 0;
	key.pid = tg->pid;
	found = bpf_map_lookup_elem(&codes, &key);
	if (!found) {
		e.gen = __sync_add_and_fetch(&code_gen_last, 1);
		if (!e.gen)	/* 0 means unknown */
			e.gen = __sync_add_and_fetch(&code_gen_last, 1);
		e.unsent = 1;
		err = bpf_map_update_elem(&codes, &key, &e, BPF_NOEXIST);
		if (err && err != -EEXIST) {
			drop(tg->pid, DROP_CODES_FULL);
			return 0;
		}
		if (!err) {
			f = code_filter_slot(tg->pid, code);
			if (f)
				__sync_fetch_and_add(f, 1);
		}
		/* on -EEXIST another thread met it at the same moment */
		found = bpf_map_lookup_elem(&codes, &key);
		if (!found)
			return 0;
	}
	e.gen = found->gen;
	/* a full ring: the next meeting tries again, under the same number */
	if (found->unsent) {
		t = task_state(&tables);
		if (!t || !code_news(tg, code, e.gen, t))
			return e.gen;
		found->unsent = 0;
	}
	if (code_cacheable(code)) {
		slot = code_slot(tg, code);
		if (slot)
			*slot = (code >> 17) << 32 | e.gen;
	}
	return e.gen;
}

/* The incarnation of a code object a frame holds (so it is alive); 0 if unknown. */
static __always_inline __u32 code_gen(const struct pymem_target *tg, __u64 code)
{
	__u64 *slot, v;

	if (!tg->every_free_seen)
		return 0;
	if (code_cacheable(code)) {
		slot = code_slot(tg, code);
		if (slot) {
			v = *slot;
			if (v >> 32 == code >> 17 && (__u32)v)
				return (__u32)v;
		}
	}
	return code_gen_slow(tg, code);
}

/*
 * A freed block: if it was a code object we met, forget it before its
 * address is reused.  Incarnations are only kept once every free of its
 * process is seen, so until then none is in codes.
 */
static __always_inline void code_forget(struct pymem_target *tg, __u64 addr)
{
	struct pid_key key = { .pid = tg->pid, .key = addr };
	__u32 *f;
	__u64 *slot;

	f = code_filter_slot(tg->pid, addr);
	if (!f || !*f || bpf_map_delete_elem(&codes, &key))
		return;
	__sync_fetch_and_add(f, -1);
	if (code_cacheable(addr)) {
		slot = code_slot(tg, addr);
		if (slot && *slot >> 32 == addr >> 17)
			*slot = 0;
	}
}

#endif /* PYMEM_PYCODE_BPF_H */
