// SPDX-License-Identifier: GPL-2.0
/*
 * The roots of the walk: every module in sys.modules (the interpreter's
 * own dict of them), then every thread's frames' local variables, fast
 * locals and cells, read from the frames the interpreter keeps.
 */
#include <errno.h>
#include <stdlib.h>
#include "walk.h"

#define MAX_THREADS	4096
#define MAX_FRAMES	4096
#define MAX_LOCALS	65536
#define OB_SIZE		16
/* 3.12+: frames owned by the interpreter or by C hold no Python locals */
#define OWNED_BY_CSTACK	3

static int add_local(struct walk *w, uint32_t node, uint32_t function, uint64_t thread)
{
	struct local_root *v;

	if (w->nlocals == w->caplocals) {
		w->caplocals = w->caplocals ? w->caplocals * 2 : 64;
		v = realloc(w->locals, w->caplocals * sizeof(*v));
		if (!v)
			return -ENOMEM;
		w->locals = v;
	}
	w->locals[w->nlocals++] = (struct local_root){ node, function, thread };
	return 0;
}

static uint64_t tuple_len(struct walk *w, uint64_t tuple)
{
	return tuple ? rcache_word(w->rc, tuple + OB_SIZE) : 0;
}

/* Name i of the frame's fast locals, cells and free variables (3.8-3.10: three tuples). */
static uint32_t local_name(struct walk *w, uint64_t code, uint64_t i)
{
	const struct obj_layout *l = w->l;
	uint64_t tuples[3], k, n;
	int32_t nlocals = 0;

	if (l->code_localsplusnames != OBJ_NONE) {
		tuples[0] = rcache_word(w->rc, code + l->code_localsplusnames);
		return i < tuple_len(w, tuples[0]) ?
		       walk_str(w, rcache_word(w->rc, tuples[0] + l->tuple_item + 8 * i)) : NO_STR;
	}
	rcache_read(w->rc, code + l->code_nlocals, &nlocals, sizeof(nlocals));
	tuples[0] = rcache_word(w->rc, code + l->code_varnames);
	tuples[1] = rcache_word(w->rc, code + l->code_cellvars);
	tuples[2] = rcache_word(w->rc, code + l->code_freevars);
	for (k = 0; k < 3; k++) {
		n = k ? tuple_len(w, tuples[k]) : (uint64_t)(nlocals > 0 ? nlocals : 0);
		if (i < n)
			return walk_str(w, rcache_word(w->rc, tuples[k] + l->tuple_item + 8 * i));
		i -= n;
	}
	return NO_STR;
}

static uint64_t nlocals_of(struct walk *w, uint64_t code)
{
	const struct obj_layout *l = w->l;
	int32_t n = 0;

	if (l->code_nlocalsplus != OBJ_NONE) {
		rcache_read(w->rc, code + l->code_nlocalsplus, &n, sizeof(n));
		return n > 0 && n < MAX_LOCALS ? n : 0;
	}
	rcache_read(w->rc, code + l->code_nlocals, &n, sizeof(n));
	if (n < 0 || n >= MAX_LOCALS)
		return 0;
	return n + tuple_len(w, rcache_word(w->rc, code + l->code_cellvars)) +
	       tuple_len(w, rcache_word(w->rc, code + l->code_freevars));
}

static int frame_locals(struct walk *w, uint64_t frame, uint64_t code, uint64_t thread)
{
	const struct py_offsets *o = &w->t->off;
	uint64_t n = nlocals_of(w, code), *v, i, ref;
	uint32_t fn, node;
	int err = 0;

	if (!n)
		return 0;
	v = malloc(n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (rcache_read(w->rc, frame + w->l->frame_localsplus, v, n * sizeof(*v)))
		goto out;
	fn = walk_str(w, rcache_word(w->rc, code + (o->code_qualname != PY_OFF_NONE ?
						     o->code_qualname : o->code_name)));
	for (i = 0; i < n && !err; i++) {
		ref = v[i];
		/* 3.14+: tagged stack references; low bits 3 is an int, not an object */
		if (w->l->minor >= 14) {
			if ((ref & 3) == 3)
				continue;
			ref &= ~3ULL;
		}
		node = walk_visit(w, ref, NO_NODE, EDGE_LOCAL, local_name(w, code, i));
		if (node != NO_NODE)
			err = add_local(w, node, fn, thread);
	}
out:
	free(v);
	return err;
}

/* The thread's innermost frame: tstate->frame, cframe->current_frame or current_frame. */
static uint64_t top_frame(struct walk *w, uint64_t tstate)
{
	const struct py_offsets *o = &w->t->off;
	uint64_t f = rcache_word(w->rc, tstate + o->tstate_frame);

	if (o->cframe_current_frame != PY_OFF_NONE)
		f = f ? rcache_word(w->rc, f + o->cframe_current_frame) : 0;
	return f;
}

static int thread_locals(struct walk *w, uint64_t tstate)
{
	const struct py_offsets *o = &w->t->off;
	const struct obj_layout *l = w->l;
	uint64_t frame, code, thread, base = 0;
	int depth, err = 0;
	uint8_t owner;

	if (l->tstate_native_thread_id != OBJ_NONE)
		thread = rcache_word(w->rc, tstate + l->tstate_native_thread_id);
	else
		thread = rcache_word(w->rc, tstate + o->tstate_thread_id);
	if (o->tstate_base_frame != PY_OFF_NONE)
		base = tstate + o->tstate_base_frame;
	frame = top_frame(w, tstate);
	for (depth = 0; frame && frame != base && depth < MAX_FRAMES && !err; depth++) {
		owner = 0;
		if (o->frame_owner != PY_OFF_NONE)
			rcache_read(w->rc, frame + o->frame_owner, &owner, 1);
		code = rcache_word(w->rc, frame + o->frame_code);
		if (l->minor >= 14)
			code &= ~3ULL;
		if (owner < OWNED_BY_CSTACK && code && rcache_word(w->rc, code + 8) == w->code_type)
			err = frame_locals(w, frame, code, thread);
		frame = rcache_word(w->rc, frame + o->frame_back);
	}
	return err;
}

int roots_add(struct walk *w)
{
	const struct py_offsets *o = &w->t->off;
	uint64_t interp = rcache_word(w->rc, w->t->runtime + o->runtime_interp_main);
	uint64_t modules = interp ? rcache_word(w->rc, interp + w->l->interp_modules) : 0;
	uint64_t tstate, spec;
	int n, err = 0;

	if (!modules)
		return -EFAULT;
	/*
	 * Every module's __spec__ is an importlib ModuleSpec, a class made by a
	 * class statement: its tp_dealloc tells such classes from C types.
	 */
	spec = decode_dict_get(w, rcache_word(w->rc, decode_dict_get(w, modules, "sys") + MD_DICT),
			       "__spec__");
	w->subtype_dealloc = spec ? rcache_word(w->rc, rcache_word(w->rc, spec + 8) + TP_DEALLOC) : 0;
	if (!w->subtype_dealloc)
		return -ENOENT;
	decode_dict_entries(w, modules, NO_NODE, EDGE_MODULE);
	tstate = rcache_word(w->rc, interp + o->interp_threads_head);
	for (n = 0; tstate && n < MAX_THREADS && !err; n++) {
		err = thread_locals(w, tstate);
		tstate = rcache_word(w->rc, tstate + o->tstate_next);
	}
	return err ? err : w->err;
}
