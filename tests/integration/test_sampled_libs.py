"""Sampled mode sees a C library's own malloc, calloc, realloc and free, its posix_memalign,
aligned_alloc, memalign and valloc, and its reallocarray: the GOT entries it calls them through
are pointed at the trampolines while pymem-bpf is attached, and put back after. The library
(tests/targets/clib.c) is built here, once with a PLT (lazy binding: R_X86_64_JUMP_SLOT
entries) and once with -fno-plt -z now (R_X86_64_GLOB_DAT entries), and loaded by ctypes before
the attach, or after it (--late: redirected when it appears).

Ground truth is what clib_user.py asks of it.  At a 64 KiB interval the held 30 MB are about
460 samples (an estimate's spread is about 1/sqrt(samples): 5%), the churn's 2 GB about
30,000; the generator is seeded."""

import contextlib
import json
import math
import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import (ATTACHED_RE, DEBIAN, T_ATTACH, T_START, T_STOP, TARGETS, Proc, binary,
                      target_argv, target_tmpdir)
from profiles import excerpt, functions, total, within
from test_target_safety import attach, detach

BUILDS = ["3.12.1", DEBIAN, "sid-3.14"]
HOLD, SIZE, CHURN, ALIGNED = 3000, 10_000, 200_000, 10_240
CORE = ("malloc", "calloc", "realloc", "free")
ALIGNED_BY = ("posix_memalign", "aligned_alloc", "memalign", "valloc")
LIBC_ONLY = ALIGNED_BY + ("reallocarray",)
FLAGS = {"plt": [], "noplt": ["-fno-plt", "-Wl,-z,now"]}


def build_lib(version, flavour):
    """libclib.so in a directory the target sees: (our path, the target's path)."""
    ours, theirs = target_tmpdir(version)
    subprocess.run(["gcc", "-O1", "-shared", "-fPIC", "-o", os.path.join(ours, "libclib.so"),
                    str(TARGETS / "clib.c")] + FLAGS[flavour], check=True)
    return ours, os.path.join(ours, "libclib.so"), os.path.join(theirs, "libclib.so")


def got_offsets(lib, names=CORE + LIBC_ONLY):
    """{function: offset of its GOT entry in the file's address space} (readelf -r), for each
    of names."""
    out = subprocess.run(["readelf", "-rW", lib], capture_output=True, text=True,
                         check=True).stdout
    got = {}
    for line in out.splitlines():
        m = re.match(r"^([0-9a-f]+)\s+\S+\s+R_X86_64_(JUMP_SLOT|GLOB_DAT)\s+\S+\s+(\w+)@", line)
        if m and m.group(3) in names:
            got[m.group(3)] = int(m.group(1), 16)
    assert set(got) == set(names), out
    return got


def mappings(pid):
    with open("/proc/%d/maps" % pid) as f:
        return [line.split() for line in f]


def got_values(pid, offsets, lib="/libclib.so"):
    """What the target's entries hold now (those of the library whose path ends in lib), and
    whether each points at the trampolines."""
    maps = mappings(pid)
    base = next(int(m[0].split("-")[0], 16) for m in maps
                if len(m) > 5 and m[5].endswith(lib) and int(m[2], 16) == 0)
    tramps = [tuple(int(x, 16) for x in m[0].split("-")) for m in maps
              if len(m) > 5 and "pymem-bpf-trampolines" in m[5]]
    vals = {}
    with open("/proc/%d/mem" % pid, "rb") as mem:
        for name, off in offsets.items():
            mem.seek(base + off)
            vals[name] = int.from_bytes(mem.read(8), "little")
    ours = {name: any(lo <= v < hi for lo, hi in tramps) for name, v in vals.items()}
    return vals, ours


def wait_redirected(pid, offsets, lib="/libclib.so"):
    deadline = time.monotonic() + T_START
    while time.monotonic() < deadline:
        vals, ours = got_values(pid, offsets, lib)
        if all(ours.values()):
            return vals
        time.sleep(0.05)
    pytest.fail("the library's GOT entries were never redirected: %r"
                % (got_values(pid, offsets, lib),))


def under(name):
    """The stacks where clib_user.py's function name called into the library."""
    return lambda stack: name in functions(stack)


@contextlib.contextmanager
def seeded_lib(version, flavour, seed=7):
    """The library built for the target (our path, the target's), and the generator seeded."""
    ours, lib, lib_seen = build_lib(version, flavour)
    os.environ["PYMEM_BPF_SAMPLE_SEED"] = str(seed)
    try:
        yield lib, lib_seen
    finally:
        del os.environ["PYMEM_BPF_SAMPLE_SEED"]
        shutil.rmtree(ours, ignore_errors=True)


def run_lib(version, flavour, late, tmp_path, interval="64KiB", seed=7):
    """clib_user.py's profile, sampled at interval with the generator seeded."""
    out = str(tmp_path / "clib.json")
    with seeded_lib(version, flavour, seed) as (lib, lib_seen):
        offsets = got_offsets(lib)
        args = [lib_seen] + (["--late"] if late else [])
        target = Proc(target_argv(version, TARGETS / "clib_user.py", *args), name="target")
        try:
            before, during, after, ours = served(target, offsets, late, out, interval)
        finally:
            target.kill()
    # every entry put back as it was (a lazy one unbound again), none left on a trampoline
    assert not any(ours.values()), (before, during, after)
    if before is not None:
        assert after == before, (before, after)
    with open(out) as f:
        return json.load(f)


def served(target, offsets, late, out, interval):
    """Attach to the target, have it work once its library is redirected, detach: its GOT
    entries before, during and after, and which of them still point at a trampoline."""
    target.wait_line("stdout", r"^READY$", T_START)
    before = None if late else got_values(target.pid, offsets)[0]
    prof = attach(target.pid, "--sample-interval", interval, "-f", "json", "-o", out)
    target.send("go\n")
    if late:
        target.wait_line("stdout", r"^LOADED$", T_START)
    during = wait_redirected(target.pid, offsets)
    if late:
        target.send("go on\n")
    target.wait_line("stdout", r"^DONE$", T_STOP)
    detach(prof)
    after, ours = got_values(target.pid, offsets)
    target.close_stdin()
    assert target.wait(T_STOP) == 0, target.describe()
    return before, during, after, ours


def native_frames(stack):
    """(function, file name) of a stack's native frames, outermost first."""
    return [(f["function"], os.path.basename(f["file"])) for f in stack["frames"]
            if f["kind"] == "native"]


def check_profile(prof):
    assert prof["sample_interval"] == 64 * 1024
    held = HOLD * SIZE
    for name, live in (("hold_malloc", held), ("hold_calloc", held), ("hold_grown", 4 * held),
                       ("hold_reallocarray", 4 * held)):
        got = total(prof, under(name), "live_bytes")
        assert within(got, live, 0.15), "%s: %d, expected %d\n%s" % (
            name, got, live, excerpt(prof, under(name)))
    # reallocarray goes as a realloc: its first block is not left counted live
    assert all(native_frames(s)[-1][0] in ("malloc", "realloc") for s in prof["stacks"]
               if under("hold_reallocarray")(s)), excerpt(prof, under("hold_reallocarray"))
    # the aligned allocators, each named as the stack's leaf
    for fn in ALIGNED_BY:
        mine = under("hold_" + fn)
        got = total(prof, mine, "live_bytes")
        assert within(got, HOLD * ALIGNED, 0.15), "%s: %d, expected %d\n%s" % (
            fn, got, HOLD * ALIGNED, excerpt(prof, mine))
        assert all(native_frames(s)[-1][0] == fn for s in prof["stacks"] if mine(s)), \
            excerpt(prof, mine)
    # malloc(SIZE) then realloc to 2, 3 and 4 x SIZE: 10 x SIZE allocated a block
    got = total(prof, under("hold_grown"), "alloc_bytes")
    assert within(got, 10 * held, 0.15), excerpt(prof, under("hold_grown"), key="alloc_bytes")
    got = total(prof, under("churn"), "alloc_bytes")
    assert within(got, CHURN * SIZE, 0.05), excerpt(prof, under("churn"), key="alloc_bytes")
    assert total(prof, under("churn"), "live_bytes") < 1_000_000, excerpt(prof, under("churn"))
    # the churn's sampled calls (about 28,000, one stack) are named by the trampoline's hash of
    # their stack once a walk learnt it: the BPF side walks a few stacks, not every sample
    sampled_churn = CHURN * -math.expm1(-SIZE / (64 * 1024))
    assert prof["stack_walks"] < sampled_churn / 20, (prof["stack_walks"], sampled_churn)
    # named down to the library's function and libc's entry point
    top = max((s for s in prof["stacks"] if under("hold_malloc")(s)), key=lambda s: s["live_bytes"])
    native = native_frames(top)
    assert native[:1] == [("clib_hold", "libclib.so")] and native[-1][0] == "malloc", top
    assert not any(prof["dropped"].values()), {k: v for k, v in prof["dropped"].items() if v}
    libs = prof["libc_followed"]
    assert libs["libraries"] >= 1 and libs["got_entries"] >= len(CORE + LIBC_ONLY), libs
    assert libs["bound_elsewhere"] == 0, libs


@pytest.mark.parametrize("version", BUILDS)
def test_library_loaded_before(version, tmp_path):
    check_profile(run_lib(version, "plt", False, tmp_path))


@pytest.mark.parametrize("flavour", ["plt", "noplt"])
def test_library_loaded_after(flavour, tmp_path):
    check_profile(run_lib("3.12.1", flavour, True, tmp_path))


def test_noplt_loaded_before(tmp_path):
    check_profile(run_lib(DEBIAN, "noplt", False, tmp_path))


def test_launched(tmp_path):
    """Launched, the library is loaded after the attach, before READY: followed."""
    out = str(tmp_path / "clib.json")
    with seeded_lib("3.12.1", "plt") as (lib, lib_seen):
        prof = Proc([binary(), "--sample-interval", "64KiB", "-f", "json", "-o", out, "--"]
                    + target_argv("3.12.1", TARGETS / "clib_user.py", lib_seen),
                    name="pymem-bpf")
        try:
            pid = int(prof.wait_line("stderr", ATTACHED_RE.pattern, T_ATTACH).group(1))
            prof.wait_line("stdout", r"^READY$", T_START)
            wait_redirected(pid, got_offsets(lib))
            prof.send("go\n")
            prof.wait_line("stdout", r"^DONE$", T_STOP)
            prof.close_stdin()
            assert prof.wait(T_STOP) == 0, prof.describe()
        finally:
            prof.kill()
    with open(out) as f:
        check_profile(json.load(f))


def test_numpy_arrays(tmp_path):
    """numpy's array data is its own malloc: 60 arrays of 2 MB held within 10% (each is sampled
    with probability 1 - e^-3.8 at 512 KiB), 4 GB of churned arrays allocated within 5%.
    numpy is imported while attached, so its extension is redirected on its dlopen."""
    import glob
    ext = glob.glob("/usr/lib/python3/dist-packages/numpy/core/_multiarray_umath.*.so")
    assert ext, "python3-numpy is missing: run make deps"
    offsets = got_offsets(ext[0], CORE)
    out = str(tmp_path / "numpy.json")
    os.environ["PYMEM_BPF_SAMPLE_SEED"] = "7"
    target = Proc(target_argv(DEBIAN, TARGETS / "numpy_user.py"), name="target")
    try:
        target.wait_line("stdout", r"^READY$", T_START)
        prof = attach(target.pid, "--sample-interval", "512KiB", "-f", "json", "-o", out)
        target.send("go\n")
        target.wait_line("stdout", r"^LOADED$", T_START)
        wait_redirected(target.pid, offsets, os.path.basename(ext[0]))
        target.send("go on\n")
        target.wait_line("stdout", r"^DONE$", T_STOP)
        detach(prof)
        target.close_stdin()
        assert target.wait(T_STOP) == 0, target.describe()
    finally:
        del os.environ["PYMEM_BPF_SAMPLE_SEED"]
        target.kill()
    with open(out) as f:
        prof = json.load(f)
    held = total(prof, under("hold_arrays"), "live_bytes")
    assert within(held, 60 * 2_000_000, 0.10), excerpt(prof, under("hold_arrays"))
    churned = total(prof, under("churn_arrays"), "alloc_bytes")
    assert within(churned, 2000 * 2_000_000, 0.05), \
        excerpt(prof, under("churn_arrays"), key="alloc_bytes")
    assert total(prof, under("churn_arrays"), "live_bytes") < 3 * 2_000_000
    # numpy's libraries (libopenblas, libgfortran...) were loaded by the same dlopen: each was
    # looked at again once relocated, not left as bound to another allocator
    assert prof["libc_followed"]["bound_elsewhere"] == 0, prof["libc_followed"]
