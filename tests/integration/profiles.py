"""Reading what pymem-bpf wrote, for the integration tests: a JSON profile's stacks and
totals, the JSON contract every profile keeps, and the top tables of its text outputs."""

import json
import os
import re

from conftest import COUNTERS, DEBIAN, SID_ROOT, in_root, python_exe, python_version


# ---- reading a JSON profile -------------------------------------------------------------

def py_frames(stack):
    return [f for f in stack["frames"] if f["kind"] == "python"]


def leaf_python(stack):
    frames = py_frames(stack)
    return frames[-1] if frames else None


def functions(stack):
    return [f["function"] for f in py_frames(stack)]


def at_line(report, marker):
    """Predicate: the stack's leaf Python frame is the target's marked line."""
    return at_file_line(report["file"], report["lines"][marker])


def at_file_line(path, line):
    """Predicate: the stack's leaf Python frame is path:line (path as the target was run)."""
    def pred(stack):
        leaf = leaf_python(stack)
        return leaf is not None and leaf["file"] == path and leaf["line"] == line
    return pred


def total(profile, pred, key):
    return sum(s[key] for s in profile["stacks"] if pred(s))


def by_leaf_line(profile, path, key):
    """Sum a counter over stacks grouped by leaf Python frame line, for one file."""
    out = {}
    for s in profile["stacks"]:
        leaf = leaf_python(s)
        if leaf is not None and leaf["file"] == path:
            out[leaf["line"]] = out.get(leaf["line"], 0) + s[key]
    return out


def excerpt(profile, pred=None, limit=8, key="live_bytes"):
    """The largest matching stacks, for assertion messages."""
    stacks = [s for s in profile["stacks"] if pred is None or pred(s)]
    stacks.sort(key=lambda s: -s[key])
    head = {k: profile.get(k) for k in ("pid", "python", "totals", "dropped")}
    return json.dumps({"profile": head, "stacks": stacks[:limit]}, indent=1)[:12000]


def within(value, expected, rel):
    return abs(value - expected) <= rel * expected


def under_holder(stack):
    """make_and_hold() above allocate_then_return(), which made the bytes it holds."""
    names = functions(stack)
    return ("make_and_hold" in names and "allocate_then_return" in names
            and names.index("make_and_hold") < names.index("allocate_then_return"))


def check_held_workloads(prof, report, rel=0.02):
    """make_and_hold's 6 x bytearray(5_000_000) live under their allocator, grow_heap's
    8 x bytearray(4_000_000) on its line, small_dicts' 200,000 dicts (test_ground_truth.py has
    the arithmetic)."""
    assert within(total(prof, under_holder, "live_bytes"), 30_000_000, rel), \
        excerpt(prof, under_holder)
    pred = at_line(report, "grow_heap")
    assert within(total(prof, pred, "live_bytes"), 32_000_000, rel), excerpt(prof, pred)
    pred = at_line(report, "small_dicts")
    assert total(prof, pred, "live_objects") >= 200_000, excerpt(prof, pred, key="live_objects")


def check_ctypes_leak(prof, report, rel=0.02):
    """ctypes_leak's blocks, live on its line through a stack whose last frame is libc's
    malloc itself."""
    leak = report["facts"]["ctypes_leak"]
    on_line = at_line(report, "ctypes_leak")

    def via_libc_malloc(stack):
        last = stack["frames"][-1]
        return (on_line(stack) and last["kind"] == "native" and last["function"] == "malloc"
                and os.path.basename(last["file"]).startswith("libc"))
    want = leak["count"] * leak["size"]
    assert within(total(prof, via_libc_malloc, "live_bytes"), want, rel), excerpt(prof, on_line)
    assert total(prof, via_libc_malloc, "live_objects") >= leak["count"], excerpt(prof, on_line)


# ---- the JSON contract ------------------------------------------------------------------

ALLOCATOR_ENTRIES = {
    "PyObject_Malloc", "PyObject_Calloc", "PyObject_Realloc",
    "PyMem_Malloc", "PyMem_Calloc", "PyMem_Realloc",
    "PyMem_RawMalloc", "PyMem_RawCalloc", "PyMem_RawRealloc",
    "malloc", "calloc", "realloc", "posix_memalign", "aligned_alloc", "memalign", "valloc",
    "mmap",
}


def _is_count(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def check_contract(prof, version, target_pid, exited):
    """Assert the documented JSON layout; returns nothing, fails with the offending part."""
    assert set(prof) >= {"pid", "python", "duration_s", "target_exited", "totals", "dropped",
                         "stacks"}, sorted(prof)
    assert prof["pid"] == target_pid
    assert prof["target_exited"] is exited
    py = prof["python"]
    assert set(py) >= {"version", "executable", "libpython"}, py
    assert py["version"] == python_version(version)
    if in_root(version):
        # every path as the target sees it: none of them under our path to its root
        assert py["executable"] == python_exe(version), py
        files = {f["file"] for s in prof["stacks"] for f in s["frames"]}
        assert not [f for f in files if f.startswith(str(SID_ROOT))], sorted(files)
    assert os.path.realpath(py["executable"]) == os.path.realpath(python_exe(version)), py
    if version == DEBIAN or in_root(version):
        # libpython is linked into the executable
        assert py["libpython"] is None, py
        return check_stacks(prof)
    # pyenv builds are shared: the interpreter lives in libpython3.X.so.1.0.
    short = ".".join(version.split(".")[:2])
    assert isinstance(py["libpython"], str), py
    assert os.path.basename(py["libpython"]).startswith("libpython" + short), py
    assert os.path.exists(py["libpython"]), py
    check_stacks(prof)


def check_stacks(prof):
    """The parts of the contract every build shares: counters, drops and stacks."""
    assert isinstance(prof["duration_s"], (int, float)) and prof["duration_s"] > 0
    # issue 4 added churn, peak and rate fields next to the counters
    assert set(prof["totals"]) >= set(COUNTERS), prof["totals"]
    assert all(_is_count(prof["totals"][k]) for k in COUNTERS), prof["totals"]
    assert isinstance(prof["dropped"], dict)
    assert all(isinstance(k, str) and _is_count(v) for k, v in prof["dropped"].items()), \
        prof["dropped"]
    # the allocations whose stack the BPF side walked: every stack's first, at least
    assert _is_count(prof["stack_walks"]) and prof["stack_walks"] > 0, prof["stack_walks"]
    assert isinstance(prof["stacks"], list) and prof["stacks"], "no stacks"
    sums = dict.fromkeys(COUNTERS, 0)
    for s in prof["stacks"]:
        assert set(s) >= {"frames"} | set(COUNTERS), s
        assert all(_is_count(s[k]) for k in COUNTERS), s
        assert s["live_bytes"] <= s["alloc_bytes"] and s["live_objects"] <= s["alloc_objects"], s
        for k in COUNTERS:
            sums[k] += s[k]
        frames = s["frames"]
        assert frames, s
        for f in frames:
            assert set(f) >= {"kind", "function", "file", "line"}, f
            assert f["kind"] in ("python", "native"), f
            assert isinstance(f["function"], str) and f["function"], f
            assert isinstance(f["file"], str), f
            assert _is_count(f["line"]), f
            if f["kind"] == "native":
                assert f["line"] == 0, f
        kinds = [f["kind"] for f in frames]
        # Root first: every Python frame comes before the native frames.
        assert kinds == sorted(kinds, key=lambda k: k == "native"), frames
        last = frames[-1]
        assert last["kind"] == "native" and last["function"] in ALLOCATOR_ENTRIES, \
            (frames, s["alloc_objects"], prof["dropped"])
    assert sums == {k: prof["totals"][k] for k in COUNTERS}, (sums, prof["totals"])


# ---- reading top tables (the exit table, -i tables, report -f top, top's screen) ---------

TITLE_RE = re.compile(r"^(\d+) stacks(?: at ([\d.]+) s)?, ranked by (\S+?);"
                      r"(?: rates and GROWTH over the last ([\d.]+) s)?")
UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}


def parse_bytes(cell):
    """"187.5 MiB", "+1.0 KiB", "-300 B" -> a number of bytes (a float, as printed)."""
    m = re.match(r"^([+-]?)([\d.]+) (B|KiB|MiB|GiB)$", cell.strip())
    assert m, "not a size: %r" % cell
    return (-1 if m.group(1) == "-" else 1) * float(m.group(2)) * UNITS[m.group(3)]


def parse_tables(text):
    """Every top table in text: its title's numbers, and each row's cells by column name.

    A table is a title line, a header (the rank column marked '*'), rows, a "total:" row and a
    "dropped:" line.  Cells are right-aligned and two spaces apart; WHERE starts where its
    header does.
    """
    lines = text.splitlines()
    tables = []
    for i, line in enumerate(lines):
        m = TITLE_RE.match(line)
        if not m or i + 1 >= len(lines) or "WHERE" not in lines[i + 1]:
            continue
        head = lines[i + 1]
        col = head.index("WHERE")
        names = re.split(r"\s{2,}", head[:col].strip())
        table = {"stacks": int(m.group(1)), "t": m.group(2) and float(m.group(2)),
                 "rank": m.group(3), "interval": m.group(4) and float(m.group(4)),
                 "marked": [n.rstrip("*") for n in names if n.endswith("*")],
                 "rows": [], "total": None}
        for row in lines[i + 2:]:
            cells = dict(zip([n.rstrip("*") for n in names],
                             re.split(r"\s{2,}", row[:col].strip())))
            cells["WHERE"] = row[col:]
            if row[col:].startswith("total:"):
                table["total"] = cells
                break
            table["rows"].append(cells)
        tables.append(table)
    return tables
