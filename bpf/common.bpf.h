/* SPDX-License-Identifier: GPL-2.0 */
/* What the parts of the BPF program share: configuration, drop counters, reads. */
#ifndef PYMEM_COMMON_BPF_H
#define PYMEM_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "pymem.h"
#include "py_offsets.h"

/* A field other CPUs change: read it afresh each time */
#define READ_ONCE(x)	(*(const volatile typeof(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile typeof(x) *)&(x) = (v))

#define MAP_ANONYMOUS	0x20
#define EEXIST		17

/*
 * The most a task storage value may hold.  From Linux 7.x a task storage
 * entry created by a BPF program is allocated with kmalloc_nolock(), which
 * serves at most 8 KiB (the largest kmalloc cache), entry header included:
 * a larger value is never created, and every get of it returns NULL.
 */
#define TASK_STORAGE_VALUE_MAX	7680

/*
 * The processes served, by slot (sized and filled by userspace, which maps
 * it to write a slot's batch_addr and every_free_seen and read its drops).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pymem_target);
} targets SEC(".maps");

/* A served process's slot in targets, by pid */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} target_slots SEC(".maps");

/*
 * The slot of process pid, or NULL if it is not served (or no longer).  The
 * key is this frame's copy: before 6.2 the verifier takes no map key from
 * a global function's pointer argument (PTR_TO_MEM), as walk_step's is.
 */
static __always_inline struct pymem_target *target_of(__u32 pid)
{
	struct pymem_target *t;
	__u32 *slot;

	slot = bpf_map_lookup_elem(&target_slots, &pid);
	if (!slot)
		return NULL;
	t = bpf_map_lookup_elem(&targets, slot);
	return t && t->pid == pid ? t : NULL;
}

/* An event of the process in slot t was lost for reason (t NULL: not served). */
static __always_inline void drop_at(struct pymem_target *t, __u32 reason)
{
	if (t && reason < DROP__MAX)
		__sync_fetch_and_add(&t->drops[reason], 1);
}

/* Likewise, for process pid, its slot looked up: where no slot is at hand */
static __always_inline void drop(__u32 pid, __u32 reason)
{
	drop_at(target_of(pid), reason);
}

/* The current thread's value in a task storage map, made on first use; NULL if it cannot be */
static __always_inline void *task_state(void *map)
{
	return bpf_task_storage_get(map, bpf_get_current_task_btf(), NULL,
				    BPF_LOCAL_STORAGE_GET_F_CREATE);
}

static __always_inline __u64 read_ptr(__u64 addr)
{
	__u64 v = 0;

	if (bpf_probe_read_user(&v, sizeof(v), (void *)addr))
		return 0;
	return v;
}

#endif /* PYMEM_COMMON_BPF_H */
