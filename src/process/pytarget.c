// SPDX-License-Identifier: GPL-2.0
/* Find the interpreter in a process, its version, _PyRuntime and its layout. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "elf_syms.h"
#include "proc_maps.h"
#include "py_debug_offsets.h"
#include "py_versions.h"
#include "pytarget.h"
#include "remote.h"

#define MIN_MINOR 8
#define MAX_MINOR PY_DEBUG_MAX_MINOR

const char *pytarget_base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static bool is_libpython(const char *path, void *arg)
{
	return !strncmp(pytarget_base_name(path), "libpython", 9);
}

static bool is_libc(const char *path, void *arg)
{
	const char *b = pytarget_base_name(path);

	/* glibc, or musl whose loader is its libc */
	return !strncmp(b, "libc.so", 7) || !strncmp(b, "libc-2.", 7) ||
	       !strncmp(b, "ld-musl-", 8);
}

static bool is_path(const char *path, void *arg)
{
	return !strcmp(path, arg);
}

void pytarget_map_path(pid_t pid, const struct proc_map *m, char *out, size_t len)
{
	char mapped[64];
	struct stat st;
	bool fits;

	/* a path longer than PATH_MAX could not be opened anyway */
	fits = snprintf(out, len, "/proc/%d/root%s", pid, m->path) < (int)len;
	if (fits && !m->deleted && !stat(out, &st) && st.st_ino == m->inode)
		return;
	/* map_files needs CAP_SYS_ADMIN (or CAP_CHECKPOINT_RESTORE) */
	snprintf(mapped, sizeof(mapped), "/proc/%d/map_files/%llx-%llx", pid,
		 (unsigned long long)m->start, (unsigned long long)m->end);
	if (!access(mapped, R_OK))
		snprintf(out, len, "%s", mapped);
	else if (!fits)
		out[0] = '\0';
}

/* "libpython3.11.so.1.0" -> 3, 11 */
static int version_from_name(const char *path, int *major, int *minor)
{
	const char *b = pytarget_base_name(path);

	if (sscanf(b, "libpython%d.%d", major, minor) == 2)
		return 0;
	return -ENOENT;
}

/* PY_VERSION from PY_VERSION_HEX: "3.14.10", "3.15.0b4", "3.15.0rc1" */
static void version_string(struct pytarget *t, uint32_t hex)
{
	static const char *const levels[] = { "a", "b", "rc" };
	unsigned int level = (hex >> 4) & 0xf;
	int n;

	n = snprintf(t->version, sizeof(t->version), "%d.%d.%d", t->major, t->minor,
		     (hex >> 8) & 0xff);
	if (level >= 0xa && level <= 0xc && n > 0 && (size_t)n < sizeof(t->version))
		snprintf(t->version + n, sizeof(t->version) - n, "%s%u", levels[level - 0xa],
			 hex & 0xf);
}

static int find_version(struct pytarget *t, struct elf_syms *e)
{
	uint64_t vaddr, size;
	uint32_t hex;
	int m;

	/* 3.11+ export the version as data */
	if (!elf_syms_lookup(e, "Py_Version", &vaddr, &size) &&
	    !elf_syms_read(e, vaddr, &hex, sizeof(hex))) {
		t->major = hex >> 24;
		t->minor = (hex >> 16) & 0xff;
		version_string(t, hex);
		return 0;
	}
	if (t->shared && !version_from_name(t->interp, &t->major, &t->minor))
		return elf_syms_find_python_version(e, t->major, t->minor, t->version,
						    sizeof(t->version));
	for (m = 2; m <= 20; m++) {
		int major = m == 2 ? 2 : 3, minor = m == 2 ? 7 : m;

		if (!elf_syms_find_python_version(e, major, minor, t->version,
						  sizeof(t->version))) {
			t->major = major;
			t->minor = minor;
			return 0;
		}
	}
	return -ENOENT;
}

static int unsupported(const struct pytarget *t, char *err, size_t errlen)
{
	snprintf(err, errlen, "PID %d runs Python %s, which is not supported (3.%d-3.%d are)",
		 t->pid, t->version, MIN_MINOR, MAX_MINOR);
	return -ENOTSUP;
}

/*
 * 3.13+: the layout from the block of offsets the build keeps in
 * _PyRuntime, which must be its own (the version Py_Version gave).
 */
static int load_debug_offsets(struct pytarget *t, char *err, size_t errlen)
{
	unsigned char buf[PY_DEBUG_OFFSETS_SIZE];
	uint64_t hex;
	bool ft;
	int ret;

	ret = remote_read(t->pid, t->runtime, buf, sizeof(buf));
	if (ret) {
		snprintf(err, errlen, "cannot read _PyRuntime of PID %d: %s", t->pid,
			 strerror(-ret));
		return ret;
	}
	ret = py_debug_header(buf, sizeof(buf), &hex, &ft);
	if (!ret && (hex >> 24 != (uint64_t)t->major || ((hex >> 16) & 0xff) != (uint64_t)t->minor))
		ret = -EINVAL;
	if (!ret && ft) {
		snprintf(err, errlen, "PID %d runs a free-threaded Python %s, whose objects come "
			 "from mimalloc, not pymalloc: only default (GIL) builds are supported",
			 t->pid, t->version);
		return -ENOTSUP;
	}
	if (!ret && t->minor > MAX_MINOR) {
		snprintf(err, errlen, "PID %d runs Python %s, newer than this build of pymem-bpf "
			 "supports (3.%d-3.%d)", t->pid, t->version, MIN_MINOR, MAX_MINOR);
		return -ENOTSUP;
	}
	if (!ret && py_debug_prerelease(hex)) {
		snprintf(err, errlen, "PID %d runs a pre-release of Python %s, whose debug offsets "
			 "may differ from the release's: only releases of 3.%d-3.%d are supported",
			 t->pid, t->version, PY_DEBUG_MIN_MINOR, MAX_MINOR);
		return -ENOTSUP;
	}
	if (!ret)
		ret = py_offsets_from_debug(buf, sizeof(buf), &t->off, &hex);
	if (ret) {
		snprintf(err, errlen, "PID %d runs Python %s, whose debug offsets this build "
			 "does not understand (3.%d-3.%d are supported)", t->pid, t->version,
			 MIN_MINOR, MAX_MINOR);
		return -ENOTSUP;
	}
	return 0;
}

static int load_offsets(struct pytarget *t, char *err, size_t errlen)
{
	if (t->major != 3 || t->minor < MIN_MINOR)
		return unsupported(t, err, errlen);
	if (t->minor < PY_DEBUG_MIN_MINOR)
		return py_offsets_from_table(t->major, t->minor, &t->off);
	return load_debug_offsets(t, err, errlen);
}

static void read_pythonmalloc(struct pytarget *t)
{
	char path[64], buf[1 << 16];
	size_t n, i;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/environ", t->pid);
	f = fopen(path, "re");
	if (!f)
		return;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (i = 0; i < n; i += strlen(buf + i) + 1) {
		if (!strncmp(buf + i, "PYTHONMALLOC=", 13)) {
			snprintf(t->pythonmalloc, sizeof(t->pythonmalloc), "%s", buf + i + 13);
			return;
		}
	}
}

bool pytarget_pymalloc_bypassed(const struct pytarget *t)
{
	return !strncmp(t->pythonmalloc, "malloc", 6);
}

static void text_range(const struct proc_maps *maps, const char *path, uint64_t *lo,
		       uint64_t *hi)
{
	size_t i;

	for (i = 0; i < maps->n; i++) {
		const struct proc_map *m = &maps->v[i];

		if (!m->path || strcmp(m->path, path) || m->perms[2] != 'x')
			continue;
		if (!*lo || m->start < *lo)
			*lo = m->start;
		if (m->end > *hi)
			*hi = m->end;
	}
}

static int locate(struct pytarget *t, struct proc_maps *maps, char *err, size_t errlen)
{
	const struct proc_map *m;
	ssize_t n;

	n = proc_readlink(t->pid, "exe", t->exe, sizeof(t->exe));
	if (n < 0) {
		snprintf(err, errlen, "cannot read /proc/%d/exe: %s", t->pid, strerror(-n));
		return n;
	}
	proc_maps_target_path(t->pid, t->exe);

	m = proc_maps_find_path(maps, is_libpython, NULL);
	t->shared = m != NULL;
	if (!m)
		m = proc_maps_find_path(maps, is_path, t->exe);
	if (!m) {
		snprintf(err, errlen, "PID %d (%s) is not a Python process", t->pid, t->exe);
		return -ENOEXEC;
	}
	snprintf(t->interp, sizeof(t->interp), "%s", m->path);
	text_range(maps, m->path, &t->text_lo, &t->text_hi);
	pytarget_map_path(t->pid, m, t->interp_open, sizeof(t->interp_open));

	m = proc_maps_find_path(maps, is_libc, NULL);
	if (m) {
		snprintf(t->libc, sizeof(t->libc), "%s", m->path);
		text_range(maps, m->path, &t->libc_text_lo, &t->libc_text_hi);
		pytarget_map_path(t->pid, m, t->libc_open, sizeof(t->libc_open));
	}
	return 0;
}

int pytarget_open(pid_t pid, struct pytarget *t, char *err, size_t errlen)
{
	struct proc_maps maps = {};
	struct elf_syms *e = NULL;
	uint64_t vaddr, size, bias;
	int ret;

	memset(t, 0, sizeof(*t));
	t->pid = pid;
	if (pid <= 0 || (kill(pid, 0) && errno == ESRCH)) {
		snprintf(err, errlen, "no process with PID %d", pid);
		return -ESRCH;
	}
	ret = proc_maps_read(pid, &maps);
	if (ret) {
		snprintf(err, errlen, "cannot read the memory map of PID %d: %s", pid,
			 strerror(-ret));
		return ret == -ENOENT ? -ESRCH : ret;
	}
	ret = locate(t, &maps, err, errlen);
	if (ret)
		goto out;

	e = elf_syms_open(t->interp_open);
	if (!e) {
		ret = -errno;
		snprintf(err, errlen, "cannot read ELF %s: %s", t->interp_open, strerror(errno));
		goto out;
	}
	if (elf_syms_lookup(e, "PyObject_Malloc", &vaddr, &size)) {
		snprintf(err, errlen, "PID %d (%s) is not a Python process", pid, t->exe);
		ret = -ENOEXEC;
		goto out;
	}
	t->stripped = !elf_syms_has_symtab(e);
	if (find_version(t, e)) {
		snprintf(err, errlen, "cannot tell which Python version PID %d (%s) runs",
			 pid, t->interp);
		ret = -ENOTSUP;
		goto out;
	}
	if (elf_syms_lookup(e, "_PyRuntime", &vaddr, &size)) {
		ret = unsupported(t, err, errlen);
		goto out;
	}
	ret = proc_maps_load_bias(&maps, t->interp, elf_syms_first_load_vaddr(e), &bias);
	if (ret) {
		snprintf(err, errlen, "cannot find where %s is mapped in PID %d", t->interp, pid);
		goto out;
	}
	t->runtime = bias + vaddr;
	if (!elf_syms_lookup(e, "PyCode_Type", &vaddr, &size))
		t->code_type = bias + vaddr;
	if (!elf_syms_lookup(e, "PyUnicode_Type", &vaddr, &size))
		t->str_type = bias + vaddr;
	if (!elf_syms_lookup(e, "PyBytes_Type", &vaddr, &size))
		t->bytes_type = bias + vaddr;
	ret = load_offsets(t, err, errlen);
	if (ret == -ENOTSUP && !err[0])
		snprintf(err, errlen, "Python %s is not supported", t->version);
	if (ret)
		goto out;
	read_pythonmalloc(t);
out:
	elf_syms_close(e);
	proc_maps_free(&maps);
	return ret;
}

/* DT_NEEDED names a libpython, or the executable defines PyObject_Malloc itself. */
bool pytarget_exe_is_python(const char *path)
{
	uint64_t vaddr, size;
	struct elf_syms *e;
	bool found = false;
	Elf_Scn *scn = NULL;
	Elf *elf;
	int fd;

	e = elf_syms_open(path);
	if (e) {
		found = !elf_syms_lookup(e, "PyObject_Malloc", &vaddr, &size);
		elf_syms_close(e);
	}
	if (found)
		return true;

	elf_version(EV_CURRENT);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	while (elf && !found && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;
		GElf_Dyn dyn;
		size_t i;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNAMIC)
			continue;
		d = elf_getdata(scn, NULL);
		for (i = 0; d && i < sh.sh_size / sh.sh_entsize; i++) {
			const char *name;

			if (!gelf_getdyn(d, i, &dyn) || dyn.d_tag != DT_NEEDED)
				continue;
			name = elf_strptr(elf, sh.sh_link, dyn.d_un.d_val);
			if (name && !strncmp(name, "libpython", 9))
				found = true;
		}
	}
	elf_end(elf);
	close(fd);
	return found;
}
