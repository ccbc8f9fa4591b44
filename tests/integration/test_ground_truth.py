"""Ground truth: workloads whose sizes and lines are known, profiled with -p on every build.

One session per Python version runs every workload in tests/targets/workloads.py except the
tracemalloc one; each test checks one workload's stacks.  Sizes are the sizes the program asks
for (as tracemalloc counts them); each expectation is derived next to its assertion.
"""

import os

import pytest

from conftest import (BUILDS, DEBIAN, PYENV, in_root, profile_pid, python_exe, python_version,
                      require_ok)
from profiles import (at_line, check_contract, check_ctypes_leak, excerpt, functions, leaf_python,
                      total, under_holder, within)

WORKLOADS = ["make_and_hold", "grow_heap", "heavy_churn", "small_dicts", "three_threads",
             "ctypes_leak"]
TOLERANCE = 0.02


@pytest.fixture(scope="module", params=BUILDS)
def run(request):
    version = request.param
    return version, profile_pid(version, WORKLOADS)


def test_session_ends_cleanly(run):
    version, res = run
    require_ok(res)
    # The target survived the detach and its allocator still worked (check_after).
    assert res.target_rc == 0, res.dump()


def test_attached_message(run):
    version, res = run
    require_ok(res)
    m = res.attached
    assert m, "no 'attached' line:\n" + res.stderr
    assert int(m.group(1)) == res.target_pid
    assert m.group(2) == python_version(version)
    if version == DEBIAN or in_root(version):
        # as the target sees it, inside its root for a chrooted one
        assert m.group(3) == python_exe(version), m.group(0)
    else:
        assert m.group(3).startswith(str(PYENV / version) + "/"), m.group(0)


def test_allocator_vs_holder(run):
    """make_and_hold() keeps 6 bytearray(5_000_000) that allocate_then_return() made.

    Each is a 56-byte object plus a 5,000,001-byte buffer, ~30,000,000 bytes in all: they must
    be charged to the allocating frame (allocate_then_return, called under make_and_hold), not
    to the holder that keeps them.
    """
    version, res = run
    prof = require_ok(res)
    live = total(prof, under_holder, "live_bytes")
    assert within(live, 30_000_000, TOLERANCE), excerpt(prof, under_holder)
    on_line = at_line(res.report, "alloc_then_return")
    assert within(total(prof, on_line, "live_bytes"), 30_000_000, TOLERANCE), \
        excerpt(prof, on_line)

    def holder_leaf(stack):
        leaf = leaf_python(stack)
        return leaf is not None and leaf["function"] == "make_and_hold"
    # The holder's own allocations are its list: a few hundred bytes.
    assert total(prof, holder_leaf, "live_bytes") < 0.01 * 30_000_000, \
        excerpt(prof, holder_leaf)


def test_grow_heap(run):
    """grow_heap() keeps 8 bytearray(4_000_000): 8 x (56 + 4,000,001) ~ 32,000,000 bytes."""
    version, res = run
    prof = require_ok(res)
    pred = at_line(res.report, "grow_heap")
    assert within(total(prof, pred, "live_bytes"), 32_000_000, TOLERANCE), excerpt(prof, pred)
    assert total(prof, pred, "live_objects") >= 16, excerpt(prof, pred)


def test_heavy_churn(run):
    """heavy_churn(): 300,000 x bytearray(1024), each dropped on the next iteration.

    Each bytearray(1024) asks for two blocks, its object and its buffer (1,025 bytes with the
    trailing NUL; from 3.15 a bytes object holding them), 1,081 bytes up to 3.14 as the target's
    tracemalloc measures it: 300,000 x 1,081 = 324,300,000 bytes in 600,000 blocks allocated on
    the loop-body line, and nearly nothing left live.
    """
    version, res = run
    prof = require_ok(res)
    pred = at_line(res.report, "heavy_churn")
    n = 300_000
    expected = n * res.report["bytearray_1k_bytes"]
    assert within(total(prof, pred, "alloc_bytes"), expected, TOLERANCE), \
        excerpt(prof, pred, key="alloc_bytes")
    assert within(total(prof, pred, "alloc_objects"), 2 * n, TOLERANCE), \
        excerpt(prof, pred, key="alloc_objects")
    assert total(prof, pred, "live_bytes") < 1_000_000, excerpt(prof, pred)


def test_raw_domain_walked_once(run):
    """heavy_churn()'s buffers are the raw domain's, each seen at its trampoline's probe point
    alone, with its stack's hash: libc's malloc and free under it are entered past libc's own
    probes (which would walk every stack again), so the walks are few against its 300,000
    raw allocations.  ctypes_leak's direct calls still hit libc's probes."""
    version, res = run
    prof = require_ok(res)
    assert prof["stack_walks"] < 30_000, prof["stack_walks"]


def test_small_dicts(run):
    """small_dicts() keeps 200,000 {"i": i} in a list: at least one live block per dict."""
    version, res = run
    prof = require_ok(res)
    pred = at_line(res.report, "small_dicts")
    assert total(prof, pred, "live_objects") >= 200_000, excerpt(prof, pred, key="live_objects")


def test_three_threads(run):
    """Three threads allocate concurrently in three functions and keep what they made.

    Each worker's live bytes are sum(sys.getsizeof(obj)) + sys.getsizeof(its list), computed
    by the target (bytes and str objects: getsizeof is exactly the requested size).
    """
    version, res = run
    prof = require_ok(res)
    expected = res.report["facts"]["thread_live_bytes"]
    assert len(expected) == 3
    for name, want in expected.items():
        def pred(stack, name=name):
            return name in functions(stack)
        got = total(prof, pred, "live_bytes")
        assert within(got, want, TOLERANCE), "%s: %d, expected %d\n%s" % (
            name, got, want, excerpt(prof, pred))
    for stack in prof["stacks"]:
        mixed = [n for n in functions(stack) if n in expected]
        assert len(mixed) <= 1, "one stack holds several threads' frames:\n%s" % stack


def test_ctypes_leak(run):
    """ctypes_leak() calls libc malloc(1,234,567) 8 times and never frees.

    The blocks are charged to the calling Python line, through a stack whose last frame is
    libc's malloc itself.
    """
    version, res = run
    check_ctypes_leak(require_ok(res), res.report, TOLERANCE)


def test_stacks_whole(run):
    """Every walk reached the bottom of its thread's chain, and nothing below it counted as a
    frame (3.15 ends each chain with a base frame, 3.12+ put C-stack frames between Python
    ones): no stack read failed or was cut short, and each workload stack starts at the
    module's own code or at a thread's bootstrap."""
    version, res = run
    prof = require_ok(res)
    lost = {k: prof["dropped"].get(k, 0) for k in ("stack_read_failed", "stack_truncated")}
    assert lost == {"stack_read_failed": 0, "stack_truncated": 0}, prof["dropped"]
    roots = set()
    for s in prof["stacks"]:
        py = [f for f in s["frames"] if f["kind"] == "python"]
        if any(f["file"] == res.report["file"] for f in py):
            roots.add((py[0]["function"].split(".")[-1], os.path.basename(py[0]["file"])))
    assert roots == {("<module>", "workloads.py"), ("_bootstrap", "threading.py")}, roots


def test_top_table_on_stdout(run):
    """At exit a top table goes to stdout; allocate_then_return's 30 MB is in the top 10."""
    version, res = run
    require_ok(res)
    assert "allocate_then_return" in res.stdout, res.dump()


def test_allocations_before_attach_not_counted(run):
    """STARTUP (a 3 MB bytearray made at import, before READY) predates the session."""
    version, res = run
    prof = require_ok(res)
    pred = at_line(res.report, "startup")
    assert total(prof, pred, "alloc_bytes") == 0, excerpt(prof, pred)


def test_json_contract(run):
    version, res = run
    prof = require_ok(res)
    check_contract(prof, version, res.target_pid, exited=False)
