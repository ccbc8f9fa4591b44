// SPDX-License-Identifier: GPL-2.0
/*
 * Turn stack records into frames.  Code objects are cached by (address,
 * incarnation): addresses are reused once a code object dies.  Their names
 * and line tables come from the BPF side, taken when a walk first met them;
 * failing that, from the target's memory while the incarnation still lives.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "elf_syms.h"
#include "proc_maps.h"
#include "py_line.h"
#include "py_str.h"
#include "remote.h"
#include "symbolize.h"

#define CODE_TABLE_MIN	4096	/* slots, a power of two */
#define MAX_STR		4096
#define MAX_TABLE	(1 << 20)
#define MAX_DSOS	64

struct code_info {
	uint64_t addr;
	uint32_t gen;		/* 0: not known, the object at addr is taken as it is */
	int32_t firstlineno;
	bool valid;		/* named: from a whole ring record, or read from memory */
	const char *function;	/* interned: frames keep pointing at them */
	const char *file;
	uint8_t *table;
	size_t table_len;
	size_t table_got;	/* bytes of it the news ring has delivered */
	/* the last line looked up: frames below the leaf repeat from stack to stack */
	uint32_t memo_lasti;
	int memo_line;
	/* the table decoded at the first lookup: module code is met at thousands of lines */
	struct py_lines lines;
	bool indexed;
};

struct dso {
	char *path;		/* as mapped in the target */
	char *name;		/* basename, for frames */
	struct elf_syms *syms;	/* NULL when unreadable */
};

struct symbolizer {
	const struct pytarget *t;
	const struct symbolizer_ops *ops;
	void *arg;
	/*
	 * Every incarnation met, open addressing (addr 0: empty): one the ring
	 * named cannot be named again once it died, so nothing is evicted.
	 */
	struct code_info *codes;
	size_t ncodes, capcodes;
	struct proc_maps maps;
	struct dso dsos[MAX_DSOS];
	int ndsos;
	char **strs;			/* interned strings, open addressing */
	size_t nstrs, capstrs;
	uint64_t unknown;
};

struct symbolizer *symbolizer_new(const struct pytarget *t, const struct symbolizer_ops *ops,
				  void *arg)
{
	struct symbolizer *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->t = t;
	s->ops = ops;
	s->arg = arg;
	s->capcodes = CODE_TABLE_MIN;
	s->codes = calloc(s->capcodes, sizeof(*s->codes));
	if (!s->codes) {
		free(s);
		return NULL;
	}
	return s;
}

static void code_clear(struct code_info *c)
{
	free(c->table);
	py_lines_free(&c->lines);
	memset(c, 0, sizeof(*c));
	c->memo_line = -1;
}

void symbolizer_free(struct symbolizer *s)
{
	size_t i;
	int d;

	if (!s)
		return;
	for (i = 0; i < s->capcodes; i++)
		code_clear(&s->codes[i]);
	free(s->codes);
	for (d = 0; d < s->ndsos; d++) {
		free(s->dsos[d].path);
		free(s->dsos[d].name);
		elf_syms_close(s->dsos[d].syms);
	}
	for (i = 0; i < s->capstrs; i++)
		free(s->strs[i]);
	free(s->strs);
	proc_maps_free(&s->maps);
	free(s);
}

uint64_t symbolizer_unknown_frames(const struct symbolizer *s)
{
	return s->unknown;
}

static int read_u64(pid_t pid, uint64_t addr, uint64_t *v)
{
	return remote_read(pid, addr, v, sizeof(*v));
}

#define OB_TYPE_OFF 8	/* PyObject: ob_refcnt, then ob_type */

/*
 * A dead object's memory can still look right: module code objects die
 * right after import.  Its type pointer is the cheapest sanity check.
 */
static bool has_type(pid_t pid, uint64_t obj, uint64_t type)
{
	uint64_t t;

	return !type || (!read_u64(pid, obj + OB_TYPE_OFF, &t) && t == type);
}

/* A compact str object as a new UTF-8 C string. */
static char *read_str(const struct symbolizer *s, uint64_t addr)
{
	const struct py_offsets *o = &s->t->off;
	struct py_str_head h;
	uint8_t *raw;
	char *out = NULL;
	uint32_t state;
	int64_t len;

	if (!has_type(s->t->pid, addr, s->t->str_type) ||
	    remote_read(s->t->pid, addr + o->unicode_state, &state, sizeof(state)) ||
	    remote_read(s->t->pid, addr + o->unicode_length, &len, sizeof(len)))
		return NULL;
	h.state = state;
	h.length = len;
	if (py_str_check(&h, MAX_STR))
		return NULL;
	raw = malloc(h.length * h.kind + 1);
	if (raw && !remote_read(s->t->pid, addr + (h.ascii ? o->unicode_ascii_data :
						     o->unicode_compact_data), raw, h.length * h.kind))
		out = py_str_utf8(raw, h.kind, h.length);
	free(raw);
	return out;
}

static size_t str_slot(char **tab, size_t cap, const char *str)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const char *c;
	size_t i;

	for (c = str; *c; c++)
		h = (h ^ (unsigned char)*c) * 0x100000001b3ULL;
	for (i = h & (cap - 1); tab[i] && strcmp(tab[i], str); i = (i + 1) & (cap - 1))
		;
	return i;
}

/* One copy of each string for the symbolizer's lifetime: frames point into it. */
static const char *intern(struct symbolizer *s, const char *str)
{
	size_t i, cap;
	char **tab;

	if ((s->nstrs + 1) * 2 > s->capstrs) {
		cap = s->capstrs ? s->capstrs * 2 : 1024;
		tab = calloc(cap, sizeof(*tab));
		if (!tab)
			return "?";
		for (i = 0; i < s->capstrs; i++)
			if (s->strs[i])
				tab[str_slot(tab, cap, s->strs[i])] = s->strs[i];
		free(s->strs);
		s->strs = tab;
		s->capstrs = cap;
	}
	i = str_slot(s->strs, s->capstrs, str);
	if (!s->strs[i]) {
		s->strs[i] = strdup(str);
		if (!s->strs[i])
			return "?";
		s->nstrs++;
	}
	return s->strs[i];
}

static int read_bytes(const struct symbolizer *s, uint64_t addr, uint8_t **buf, size_t *len)
{
	const struct py_offsets *o = &s->t->off;
	int64_t n;

	if (!has_type(s->t->pid, addr, s->t->bytes_type) ||
	    remote_read(s->t->pid, addr + o->bytes_size, &n, sizeof(n)))
		return -EFAULT;
	if (n < 0 || n > MAX_TABLE)
		return -EINVAL;
	*buf = malloc(n ? n : 1);
	if (!*buf)
		return -ENOMEM;
	if (n && remote_read(s->t->pid, addr + o->bytes_data, *buf, n)) {
		free(*buf);
		*buf = NULL;
		return -EFAULT;
	}
	*len = n;
	return 0;
}

/* Name the code object; false if either name is missing. */
static bool code_set(struct symbolizer *s, struct code_info *c, const char *fn,
		     const char *path)
{
	if (!fn || !fn[0] || !path)
		return false;
	c->function = intern(s, fn);
	c->file = intern(s, path);
	return true;
}

/* From the target's memory: right only if the incarnation still lives after the read. */
static void code_read(struct symbolizer *s, struct code_info *c)
{
	const struct py_offsets *o = &s->t->off;
	uint64_t name, file, table;
	char *fn = NULL, *path = NULL;
	pid_t pid = s->t->pid;

	if (has_type(pid, c->addr, s->t->code_type) &&
	    !remote_read(pid, c->addr + o->code_firstlineno, &c->firstlineno,
			 sizeof(c->firstlineno)) &&
	    !read_u64(pid, c->addr + (o->code_qualname != PY_OFF_NONE ? o->code_qualname :
				      o->code_name), &name) &&
	    !read_u64(pid, c->addr + o->code_filename, &file) &&
	    !read_u64(pid, c->addr + o->code_linetable, &table) &&
	    !read_bytes(s, table, &c->table, &c->table_len)) {
		fn = read_str(s, name);
		path = read_str(s, file);
		if (!c->gen || s->ops->code_current(s->arg, c->addr, c->gen))
			c->valid = code_set(s, c, fn, path);
	}
	free(fn);
	free(path);
}

/* The slot of (addr, gen) in a table of cap slots: its own, or the empty one it would take */
static struct code_info *code_probe(struct code_info *tab, size_t cap, uint64_t addr,
				   uint32_t gen)
{
	uint64_t h = (addr ^ ((uint64_t)gen << 47)) * 0x9e3779b97f4a7c15ULL;
	size_t i = h & (cap - 1);

	while (tab[i].addr && (tab[i].addr != addr || tab[i].gen != gen))
		i = (i + 1) & (cap - 1);
	return &tab[i];
}

/* The entry of (addr, gen), made empty-named if new; NULL when out of memory. */
static struct code_info *code_slot(struct symbolizer *s, uint64_t addr, uint32_t gen)
{
	struct code_info *c, *tab;
	size_t i, cap;

	if ((s->ncodes + 1) * 2 > s->capcodes) {
		cap = s->capcodes * 2;
		tab = calloc(cap, sizeof(*tab));
		if (!tab)
			return NULL;
		for (i = 0; i < s->capcodes; i++)
			if (s->codes[i].addr)
				*code_probe(tab, cap, s->codes[i].addr, s->codes[i].gen) = s->codes[i];
		free(s->codes);
		s->codes = tab;
		s->capcodes = cap;
	}
	c = code_probe(s->codes, s->capcodes, addr, gen);
	if (!c->addr) {
		c->addr = addr;
		c->gen = gen;
		s->ncodes++;
	}
	return c;
}

/* A code object not named yet is read from memory (again, while its incarnation lives). */
static struct code_info *code_get(struct symbolizer *s, uint64_t addr, uint32_t gen)
{
	struct code_info *c = code_slot(s, addr, gen);

	if (!c || c->valid)
		return c;
	code_clear(c);
	c->addr = addr;
	c->gen = gen;
	code_read(s, c);
	return c;
}

void symbolizer_code_news(struct symbolizer *s, const struct news_code *r)
{
	struct code_info *c = code_slot(s, r->code, r->gen);
	char *fn, *path;

	if (!c)
		return;
	code_clear(c);
	c->addr = r->code;
	c->gen = r->gen;
	c->firstlineno = r->firstlineno;
	/* too long to take whole: the object is read when a stack needs it */
	if (!r->name.kind || !r->file.kind || r->table_len == UINT32_MAX)
		return;
	c->table = malloc(r->table_len ? r->table_len : 1);
	if (!c->table)
		return;
	c->table_len = r->table_len;
	fn = py_str_utf8(r->name_data, r->name.kind, r->name.len);
	path = py_str_utf8(r->file_data, r->file.kind, r->file.len);
	/* valid at once, or when the whole line table is in */
	c->valid = code_set(s, c, fn, path) && !c->table_len;
	free(fn);
	free(path);
}

void symbolizer_table_news(struct symbolizer *s, const struct news_table *t)
{
	struct code_info *c = code_slot(s, t->code, t->gen);

	if (!c || c->valid || !c->function ||
	    t->off != c->table_got || t->len > c->table_len - c->table_got)
		return;
	memcpy(c->table + c->table_got, t->data, t->len);
	c->table_got += t->len;
	c->valid = c->table_got == c->table_len;
}

static struct dso *dso_get(struct symbolizer *s, const struct proc_map *m)
{
	char open_path[4096];
	struct dso *d;
	int i;

	for (i = 0; i < s->ndsos; i++)
		if (!strcmp(s->dsos[i].path, m->path))
			return &s->dsos[i];
	if (s->ndsos == MAX_DSOS)
		return NULL;
	d = &s->dsos[s->ndsos];
	d->path = strdup(m->path);
	d->name = strdup(pytarget_base_name(m->path));
	if (!d->path || !d->name) {
		free(d->path);
		free(d->name);
		return NULL;
	}
	pytarget_map_path(s->t->pid, m, open_path, sizeof(open_path));
	d->syms = elf_syms_open(open_path);
	s->ndsos++;
	return d;
}

static const struct proc_map *map_for(struct symbolizer *s, uint64_t ip)
{
	const struct proc_map *m = proc_maps_find(&s->maps, ip);

	if (m)
		return m;
	/* Libraries load as the target runs: refresh once and retry. */
	proc_maps_free(&s->maps);
	if (proc_maps_read(s->t->pid, &s->maps))
		return NULL;
	return proc_maps_find(&s->maps, ip);
}

static void native_frame(struct symbolizer *s, uint64_t ip, struct pm_frame *f)
{
	const struct proc_map *m = map_for(s, ip);
	uint64_t bias, off = 0;
	const char *sym = NULL;
	char buf[64];
	struct dso *d;

	f->kind = PM_FRAME_NATIVE;
	f->line = 0;
	if (!m || !m->path) {
		snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)ip);
		f->function = (char *)intern(s, buf);
		f->file = "[unknown]";
		return;
	}
	d = dso_get(s, m);
	if (d && d->syms && !proc_maps_load_bias(&s->maps, m->path,
						 elf_syms_first_load_vaddr(d->syms), &bias))
		sym = elf_syms_symbolize(d->syms, ip - 1 - bias, &off);
	if (!sym) {
		snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)(ip - m->start + m->offset));
		sym = buf;
	}
	f->function = (char *)intern(s, sym);
	f->file = d ? d->name : (char *)intern(s, m->path);
}

static void python_frame(struct symbolizer *s, const struct py_frame *pf, struct pm_frame *f)
{
	struct code_info *c = code_get(s, pf->code, pf->gen);

	f->kind = PM_FRAME_PYTHON;
	if (!c || !c->valid) {
		s->unknown++;
		f->function = "<unknown>";
		f->file = "<unknown>";
		f->line = 0;
		return;
	}
	f->function = (char *)c->function;
	f->file = (char *)c->file;
	if (c->memo_line < 0 || c->memo_lasti != pf->lasti) {
		if (!c->indexed)
			c->indexed = !py_lines_build(&c->lines, s->t->minor, c->table, c->table_len,
						     c->firstlineno);
		/* without memory for the index, decode from the start */
		c->memo_line = c->indexed ? py_lines_find(&c->lines, pf->lasti) :
			py_line_for(s->t->minor, c->table, c->table_len, c->firstlineno, pf->lasti);
		if (c->memo_line < 0)
			c->memo_line = 0;
		c->memo_lasti = pf->lasti;
	}
	f->line = c->memo_line;
}

static void marker(struct pm_frame *f, const char *what)
{
	f->kind = PM_FRAME_NATIVE;
	f->function = (char *)what;
	f->file = "pymem-bpf";
	f->line = 0;
}

int symbolizer_stack(struct symbolizer *s, const struct stack_rec *r, struct pm_frame **out)
{
	uint32_t nf = r->nframes < PYMEM_MAX_FRAMES ? r->nframes : PYMEM_MAX_FRAMES;
	struct pm_frame *f = calloc(nf + 3, sizeof(*f));
	uint32_t i;
	int n = 0;

	if (!f)
		return -ENOMEM;
	if (r->flags & STACK_F_TRUNCATED)
		marker(&f[n++], "[truncated]");
	else if (r->flags & STACK_F_READ_ERROR)
		marker(&f[n++], "[stack read failed]");
	for (i = nf; i > 0; i--)
		python_frame(s, &r->frames[i - 1], &f[n++]);
	if (r->native_ip)
		native_frame(s, r->native_ip, &f[n++]);
	f[n].kind = PM_FRAME_NATIVE;
	f[n].function = (char *)s->ops->site_name(r->site);
	f[n].file = (char *)s->ops->site_dso(s->arg, r->site);
	n++;
	*out = f;
	return n;
}
