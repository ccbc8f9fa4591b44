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

#define MAP_ANONYMOUS	0x20
#define EEXIST		17

/*
 * The most a task storage value may hold.  From Linux 7.x a task storage
 * entry created by a BPF program is allocated with kmalloc_nolock(), which
 * serves at most 8 KiB (the largest kmalloc cache), entry header included:
 * a larger value is never created, and every get of it returns NULL.
 */
#define TASK_STORAGE_VALUE_MAX	7680

const volatile __u64 py_runtime = 0;	/* &_PyRuntime in the target, 0 if unknown */
const volatile struct py_offsets pyoff = {};
/* the interpreter's own code: mmaps it makes directly are pymalloc's arenas */
const volatile __u64 interp_text_lo = 0;
const volatile __u64 interp_text_hi = 0;
/* bytes of a frame holding every field the walker reads (at most PYMEM_FRAME_CHUNK) */
const volatile __u32 frame_need = 0;
/*
 * Set by userspace once every free of the target's objects is seen (through
 * trampolines, or symbols on a non-LTO build), so a code object's death is
 * seen before its address is reused (pycode.bpf.h).
 */
volatile bool every_free_seen = false;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DROP__MAX);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

static __always_inline void drop_n(__u32 reason, __u64 n)
{
	__u64 *c = bpf_map_lookup_elem(&drops, &reason);

	if (c)
		*c += n;
}

static __always_inline void drop(__u32 reason)
{
	drop_n(reason, 1);
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
