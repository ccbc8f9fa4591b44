"""The target is never harmed: attach, detach and a SIGKILLed profiler leave it correct.

Allocator redirection writes into the target (a memfd mapping, table pointers); these tests
check the target's own results while that happens, on the LTO build where it matters most.
"""
import importlib.util
import json
import re
import signal

import pytest

from conftest import (ATTACHED_RE, DEBIAN, SID, T_ATTACH, T_START, T_STOP, TARGETS, Proc, binary,
                      markers, python_version, target_argv, target_file)
from profiles import at_file_line, total

CHURN = str(TARGETS / "threaded_churn.py")
FORKER = str(TARGETS / "forker.py")
FORKS = 20
REGRTESTS = ["test_dict", "test_list", "test_set", "test_unicode", "test_bytes",
             "test_threading", "test_gc", "test_weakref", "test_json", "test_collections",
             "test_itertools", "test_deque", "test_array", "test_re", "test_functools"]
# sampled mode redirects the GOT of the extensions these load, with their own malloc:
# libmpdec, libexpat, zlib, libffi, libcrypto
LIB_REGRTESTS = ["test_decimal", "test_xml_etree_c", "test_zlib", "test_ctypes", "test_hashlib"]
CYCLES = 10
# regrtest's verdicts: "Tests result: SUCCESS", framed in "== ... ==" too (only so on 3.14)
TESTS_RESULT = re.compile(r"Tests result: (\w+)")


def succeeded(out):
    verdicts = TESTS_RESULT.findall(out)
    return bool(verdicts) and set(verdicts) == {"SUCCESS"}


def churn_module():
    spec = importlib.util.spec_from_file_location("threaded_churn", CHURN)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def attach(pid, *args):
    prof = Proc([binary(), "-p", pid, "-n", "1"] + list(args), name="pymem-bpf")
    m = prof.wait_line("stderr", ATTACHED_RE.pattern, T_ATTACH)
    assert int(m.group(1)) == pid
    return prof


def detach(prof):
    prof.signal(signal.SIGINT)
    rc = prof.wait(T_STOP)
    assert rc == 0, prof.describe()
    # nothing was left behind unrestored
    assert "cannot restore" not in prof.text("stderr"), prof.describe()


def profile_served(argv, out, done=r"^DONE$"):
    """Profile a tests/targets/protocol.py target from "go" to its done line, then let it
    exit; returns (the profile, the done line's match)."""
    target = Proc(argv, name="target")
    try:
        target.wait_line("stdout", r"^READY$", T_START)
        prof = attach(target.pid, "-o", out)
        target.send("go\n")
        m = target.wait_line("stdout", done, T_STOP)
        detach(prof)
        target.close_stdin()
        assert target.wait(T_STOP) == 0, target.describe()
    finally:
        target.kill()
    with open(out) as f:
        return json.load(f), m


def trampoline_code(pid):
    """Each trampoline mapping's code as the target runs it, with the bytes its file holds."""
    pages = []
    with open(f"/proc/{pid}/maps") as maps:
        for line in maps:
            if "pymem-bpf-trampolines" not in line:
                continue
            span = line.split()[0]
            with open(f"/proc/{pid}/map_files/{span}", "rb") as f:
                image = f.read()
            with open(f"/proc/{pid}/mem", "rb") as mem:
                mem.seek(int(span.split("-")[0], 16))
                pages.append((mem.read(len(image)), image))
    return pages


@pytest.mark.parametrize("version", [DEBIAN, "3.11.7", "3.13.0"] + SID)
def test_threads_mid_allocation_survive(version):
    """Four threads allocate nonstop while pymem-bpf attaches and detaches three times and
    is then SIGKILLed; every thread's checksum still matches its rounds."""
    target = Proc(target_argv(version, CHURN), name="target")
    try:
        target.wait_line("stdout", r"^READY$", T_START)
        target.send("go\n")
        target.wait_line("stdout", r"^RUNNING$", T_START)
        for _ in range(3):
            detach(attach(target.pid))
        prof = attach(target.pid)
        # the kernel wrote the probe points into the attached session's mapping only
        assert sum(seen != image for seen, image in trampoline_code(target.pid)) == 1
        prof.signal(signal.SIGKILL)
        prof.wait(T_STOP)
        # after a SIGKILL the trampolines stay and forward: the target keeps working; the
        # probe points are bare NOPs again, so the trampolines skip their stack hashing
        assert len(trampoline_code(target.pid)) == 4
        for seen, image in trampoline_code(target.pid):
            assert seen == image
        target.send("stop\n")
        m = target.wait_line("stdout", r"^RESULT (.*)$", T_STOP)
        target.close_stdin()
        assert target.wait(T_STOP) == 0, target.describe()
    finally:
        target.kill()
    mod = churn_module()
    for item in m.group(1).split():
        seed, rounds, crc = (int(x) for x in item.split(":"))
        assert rounds > 0
        assert crc == mod.expected(seed, rounds), (seed, rounds)


@pytest.mark.parametrize("version", [DEBIAN, "3.12.1"] + SID)
def test_children_forked_while_attached(version, tmp_path):
    """Children forked mid-session inherit the redirected tables and the probed trampolines
    (but not the kernel's page behind an optimized probe): each must still allocate, get
    its checksum right and exit 0, while every allocation of the parent is counted."""
    profile, m = profile_served(target_argv(version, FORKER, FORKS),
                                str(tmp_path / "profile.json"), done=r"^RESULT (.*)$")
    assert [int(s) for s in m.group(1).split()] == [0] * FORKS, m.group(1)
    dicts = total(profile, at_file_line(target_file(version, FORKER), markers(FORKER)["rows"]),
                  "alloc_objects")
    # each row is a dict and a str, made in the parent once per fork
    assert dicts >= 2 * FORKS * 20000, dicts


def major_minor(version):
    return tuple(int(x) for x in python_version(version).split(".")[:2])


def run_regrtest(version, tests):
    # test_unicode is test_str from 3.13 on
    names = [("test_str" if n == "test_unicode" and major_minor(version) >= (3, 13) else n)
             for n in tests]
    return Proc(target_argv(version, None, "-m", "test", *names), name="regrtest")


@pytest.mark.parametrize("version,mode", [(DEBIAN, "exact"), ("sid-3.14", "exact"),
                                          (DEBIAN, "sampled")])
def test_regrtest_under_attach_detach(version, mode):
    """CPython's own tests (Debian's libpython3.X-testsuite) pass without pymem-bpf, and pass
    again under ten attach/detach cycles.  Sampled, each attach also redirects the GOT of
    every extension loaded, and of those loaded while attached, and each detach puts it back."""
    tests = REGRTESTS + (LIB_REGRTESTS if mode == "sampled" else [])
    args = ["--sample-interval", "64KiB"] if mode == "sampled" else []
    base = run_regrtest(version, tests)
    base_rc = base.wait(1800)
    base_out = base.text("stdout")
    assert succeeded(base_out), base.describe()

    run = run_regrtest(version, tests)
    try:
        cycles = 0
        while cycles < CYCLES and run.p.poll() is None:
            prof = Proc([binary(), "-p", run.pid, "-n", "1"] + args, name="pymem-bpf")
            prof.wait_line("stderr", r"attached|pymem-bpf: ", T_ATTACH)
            if run.p.poll() is not None:
                prof.kill()
                break
            detach(prof)
            cycles += 1
        rc = run.wait(1800)
    finally:
        run.kill()
    out = run.text("stdout")
    assert cycles == CYCLES, "regrtest finished after only %d cycles:\n%s" % (cycles, out[-2000:])
    assert rc == base_rc, run.describe()
    assert succeeded(out), out[-3000:]


def counted_work(target):
    """One round of tests/targets/block_counts.py's work, then (allocated blocks, the code
    type's tp_dealloc)."""
    start = len(target.lines["stdout"])
    target.send("work\ncount\n")
    m = target.wait_line("stdout", r"^COUNT (\d+) DEALLOC ([0-9a-f]+)$", T_STOP, start)
    return int(m.group(1)), int(m.group(2), 16)


@pytest.mark.parametrize("version", [DEBIAN, "3.12.1"] + SID)
def test_sampled_keeps_pymalloc_counts(version):
    """Sampled mode leaves pymalloc's free in its tables, and asks pymalloc for a sampled
    small block as a 513-byte one, which pymalloc takes from the raw domain (where the block's
    free is seen) and counts as its own.  So sys.getallocatedblocks() after the same work is
    the same before attach, attached (1 KiB: thousands of samples a round, each of which would
    be missing from the count had the block bypassed pymalloc) and after detach.  Code objects
    die through a hook in PyCode_Type's tp_dealloc while attached: restored on detach, left
    hooked and working after a SIGKILL."""
    target = Proc(target_argv(version, str(TARGETS / "block_counts.py")), name="target")
    try:
        target.wait_line("stdout", r"^READY$", T_START)
        counted_work(target)
        base, dealloc = counted_work(target)
        for stop in ("detach", "kill"):
            prof = attach(target.pid, "--sample-interval", "1KiB")
            for _ in range(3):
                blocks, hooked = counted_work(target)
                assert abs(blocks - base) < 100, (blocks, base)
                assert hooked != dealloc
            if stop == "detach":
                detach(prof)
                blocks, restored = counted_work(target)
                assert abs(blocks - base) < 100, (blocks, base)
                assert restored == dealloc
            else:
                prof.signal(signal.SIGKILL)
                prof.wait(T_STOP)
                blocks, left = counted_work(target)
                assert abs(blocks - base) < 100, (blocks, base)
                assert left == hooked
        target.close_stdin()
        assert target.wait(T_STOP) == 0, target.describe()
    finally:
        target.kill()
