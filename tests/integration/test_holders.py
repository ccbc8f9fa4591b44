"""--holders: what keeps the live blocks alive, read from the stopped target, against the places
tests/targets/holders.py put them in (each made by a function that is not its holder).

Ground truth per case: the path the target stored the objects under, their type and count, and
their sizes (bytearray(n) asks for n + 1 bytes, n + 33 as a bytes object from 3.15; a ring
node's size is sys.getsizeof, its GC header included).  Every live byte of an allocating
function's stacks must be held by that one path.
"""
import json
import os
import re
import signal
import time

import pytest

from conftest import (ATTACHED_RE, BUILDS, DEBIAN, DEFAULT_VERSION, T_ATTACH, T_START, T_STOP,
                      TARGETS, Proc, binary, python_version, target_argv, target_tmpdir)
from profiles import leaf_python, within
from test_target_safety import REGRTESTS, detach, run_regrtest, succeeded

HOLDERS = TARGETS / "holders.py"
TOP = 100000  # every stack gets its holders: the cases include small ones


def module(name):
    return {"kind": "module", "name": name}


def step(kind, name):
    return {"kind": kind, "name": name}


def start_target(version, *args):
    target = Proc(target_argv(version, HOLDERS, *args), name="target")
    target.wait_line("stdout", r"^READY (\d+) ", T_START)
    return target


def profile(version, tmp, args=(), target_args=()):
    """Attach with --holders, have the target make and hold its objects, end the session;
    returns (profile, the target's truth, the profiler's stdout).  The target is alive
    and answers after the pause."""
    out = os.path.join(tmp, "holders.json")
    target = start_target(version, *target_args)
    try:
        prof = Proc([binary(), "-p", target.pid, "--holders", "--holders-top", TOP, "-f", "json",
                     "-o", out] + list(args), name="pymem-bpf")
        prof.wait_line("stderr", ATTACHED_RE.pattern, T_ATTACH)
        target.send("go\n")
        truth = json.loads(target.wait_line("stdout", r"^TRUTH (.*)$", T_START).group(1))
        truth["blocks"] = int(target.wait_line("stdout", r"^BLOCKS (\d+)$", T_START).group(1))
        target.wait_line("stdout", r"^DONE$", T_START)
        prof.signal(signal.SIGINT)
        assert prof.wait(T_STOP) == 0, prof.describe()
        # the target runs on after the pause
        target.send("ping\n")
        target.wait_line("stdout", r"^PONG$", T_STOP)
        stdout = prof.text("stdout")
    finally:
        target.kill()
    with open(out) as f:
        return json.load(f), truth, stdout


def stacks_of(prof, function):
    return [s for s in prof["stacks"]
            if leaf_python(s) is not None and leaf_python(s)["function"] == function]


def held(prof, function):
    """The holders of every stack whose leaf Python frame is function and that has live
    bytes, by path and type."""
    stacks = [s for s in stacks_of(prof, function) if s["live_bytes"]]
    assert stacks, "no stack allocates in %s" % function
    out = {}
    for s in stacks:
        assert "holders" in s, "stack of %s has no holders:\n%s" % (function, json.dumps(s)[:3000])
        for h in s["holders"]:
            key = (json.dumps(h["path"], sort_keys=True), h["type"])
            objects, nbytes = out.get(key, (0, 0))
            out[key] = (max(objects, h["objects"]), nbytes + h["bytes"])
    return stacks, out


def check(prof, function, path, type_, objects, min_bytes):
    """Every live byte function's stacks left is held by path, as objects of type_."""
    stacks, got = held(prof, function)
    key = (json.dumps(path, sort_keys=True), type_)
    assert key in got, "%s: want %s (%s), got %s" % (function, path, type_, got)
    live = sum(s["live_bytes"] for s in stacks)
    n, nbytes = got[key]
    assert n == objects, (function, got)
    assert nbytes == live, (function, got, live)
    assert nbytes >= min_bytes, (function, nbytes, min_bytes)


def buffer_size(version, n):
    """What bytearray(n) asks the allocator for: its buffer, a bytes object's from 3.15."""
    return n + 1 + (32 if minor(version) >= 15 else 0)


def check_pymalloc(version, pymalloc, blocks):
    """The arenas read from outside against pymalloc's own count of its blocks in use
    (sys.getallocatedblocks() just before; the redirected allocator turns
    sys._debugmallocstats() off).  That count also has the requests over 512 bytes pymalloc
    passed on to malloc (2% of them here), and the target makes a few blocks printing it."""
    if version == DEBIAN:
        # statics of obmalloc.c, and the build has no symbol table: said, not guessed
        assert pymalloc["available"] is False and "no symbols" in pymalloc["reason"], pymalloc
        return
    assert pymalloc["available"] is True, pymalloc
    used = sum(c["used_blocks"] for c in pymalloc["classes"])
    assert -50 <= blocks - used <= blocks // 20, (used, blocks)
    pools = sum(c["pools"] for c in pymalloc["classes"]) + pymalloc["empty_pools"]
    assert pools * pymalloc["pool_size"] <= pymalloc["arena_bytes"], pymalloc
    for c in pymalloc["classes"]:
        per_pool = (pymalloc["pool_size"] - 48) // c["size"]
        assert c["used_blocks"] + c["free_blocks"] == c["pools"] * per_pool, c


def minor(version):
    return int(python_version(version).split(".")[1])


@pytest.mark.parametrize("version", BUILDS)
def test_holders_ground_truth(version, tmp_path):
    tmp, _ = target_tmpdir(version)
    prof, truth, stdout = profile(version, tmp)
    n, size = truth["n"], truth["size"]
    main = module("__main__")

    # the seeds' make_and_hold: the allocator is allocate_then_return, the holder the list
    check(prof, "allocate_then_return", [main, step("attr", "cache"), step("index", "*")],
          "bytearray", n, n * buffer_size(version, size))
    # an instance attribute and a __slots__ attribute, of objects in module-global lists
    check(prof, "make_attr_payload",
          [main, step("attr", "plain"), step("index", "*"), step("attr", "payload")],
          "bytearray", n, n * buffer_size(version, size + 1))
    check(prof, "make_slot_payload",
          [main, step("attr", "slotted"), step("index", "*"), step("slot", "payload")],
          "bytearray", n, n * buffer_size(version, size + 2))
    # a dict of lists under a class attribute: one path per key
    stacks, got = held(prof, "make_entry")
    for key in ("alpha", "beta"):
        path = [main, step("attr", "Registry"), step("class", "table"), step("key", key),
                step("index", "*")]
        objects, nbytes = got[(json.dumps(path, sort_keys=True), "bytearray")]
        assert objects == n and nbytes >= n * buffer_size(version, size + 3), (key, got)
    assert sum(b for _, b in got.values()) == sum(s["live_bytes"] for s in stacks), got
    # a closure cell, named by its variable
    check(prof, "make_closure_payload",
          [main, step("attr", "handler"), step("cell", "kept")],
          "bytearray", 1, buffer_size(version, 3 * size + 4))
    # a local variable of a thread that sleeps, with its function and thread
    thread = truth["thread"]["native" if minor(version) >= 11 else "ident"]
    check(prof, "make_thread_payload",
          [{"kind": "local", "name": "mine", "function": "sleeper", "thread": thread}],
          "bytearray", 1, buffer_size(version, 2 * size + 5))
    # a reference cycle kept alive by one global: one entry, every node in it
    # (new_node's own stacks may include the interpreter's, as a code object's opcache)
    stacks = [s for s in stacks_of(prof, "new_node")
              if any(h["type"] == "Node" for h in s.get("holders", []))]
    assert len(stacks) == 1 and len(stacks[0]["holders"]) == 1, json.dumps(stacks)[:3000]
    h = stacks[0]["holders"][0]
    assert h["path"] == [main, step("attr", "ring")] and h["type"] == "Node", h
    assert h["objects"] == truth["ring"], h
    assert h["bytes"] == truth["ring"] * truth["node_size"] == stacks[0]["live_bytes"], h

    # a C container (a deque): never guessed through, its items not reached (a buffer not
    # reached has no owner known: "(no Python object)"); the deque is listed, with an address
    stacks, got = held(prof, "make_deque_payload")
    assert all(json.loads(path) == [] for path, _ in got), got
    assert sum(b for _, b in got.values()) == sum(s["live_bytes"] for s in stacks), got
    assert got[("[]", "bytearray")][0] == 1, got
    assert sum(b for _, b in got.values()) >= buffer_size(version, size + 7), got

    heap = prof["heap"]
    assert heap["partial"] is False and heap["paused_ms"] > 0, heap
    deques = [o for o in heap["opaque"] if o["type"] == "collections.deque"]
    assert deques and deques[0]["objects"] >= 1 and deques[0]["address"] > 0, heap["opaque"]
    types = {t["type"]: t for t in heap["types"]}
    assert types["Node"]["objects"] == truth["ring"], types["Node"]
    assert types["Node"]["bytes"] == truth["ring"] * truth["node_size"], types["Node"]
    # five kinds of held bytearrays, six each, and the closure's and the thread's
    assert types["bytearray"]["objects"] >= 5 * n + 2, types["bytearray"]
    assert heap["rss_bytes"] >= heap["pss_bytes"] > 0, heap
    check_pymalloc(version, heap["pymalloc"], truth["blocks"])
    # the exit table names each stack's main holder
    assert "<- module __main__ . cache[*] (bytearray x%d" % n in stdout, stdout


def test_holders_report_round_trip(tmp_path):
    """report reads the holders and the heap back and writes them again as they were."""
    tmp, _ = target_tmpdir(DEFAULT_VERSION)
    prof, _, _ = profile(DEFAULT_VERSION, tmp)
    src = os.path.join(tmp, "holders.json")
    again = str(tmp_path / "again.json")
    rep = Proc([binary(), "report", src, "-f", "json", "-o", again], name="report")
    assert rep.wait(T_STOP) == 0, rep.describe()
    with open(again) as f:
        back = json.load(f)
    assert back["heap"] == prof["heap"]
    assert ([s.get("holders") for s in back["stacks"]] ==
            [s.get("holders") for s in prof["stacks"]])
    table = Proc([binary(), "report", src, "-f", "top"], name="report")
    assert table.wait(T_STOP) == 0, table.describe()
    assert "module __main__ . ring -> Node x" in table.text("stdout"), table.describe()
    # the flame graph's tooltips name each stack's main holder
    html = str(tmp_path / "flame.html")
    rep = Proc([binary(), "report", src, "-f", "html", "-o", html], name="report")
    assert rep.wait(T_STOP) == 0, rep.describe()
    with open(html) as f:
        page = f.read()
    assert '"h":"module __main__ . cache[*] (bytearray x6 = ' in page
    assert "held by " in page


def test_holders_max_pause_partial(tmp_path):
    """--max-pause lets the target go when the time is up: a partial answer, marked so."""
    tmp, _ = target_tmpdir(DEFAULT_VERSION)
    prof, _, stdout = profile(DEFAULT_VERSION, tmp, args=("--max-pause", "0.001"),
                              target_args=("--bulk", "200000"))
    assert prof["heap"]["partial"] is True, prof["heap"]
    assert "(partial: --max-pause ended the walk)" in stdout, stdout


def test_holders_sampled(tmp_path):
    """--sample-interval: a live block is one sample, and stands for as many objects as its
    stack's estimate counts (its bytes estimated per byte sampled), in the holders and in the
    heap by type.  BULK held (int, str) tuples (~70 MB of tuples: some 140 samples, a spread
    of ~9%) read as about BULK objects, seeded."""
    version, bulk = DEBIAN, 1_000_000
    tmp, _ = target_tmpdir(version)
    os.environ["PYMEM_BPF_SAMPLE_SEED"] = "15"
    try:
        prof, _, stdout = profile(version, tmp, args=("--sample-interval", "512KiB"),
                                  target_args=("--bulk", bulk))
    finally:
        del os.environ["PYMEM_BPF_SAMPLE_SEED"]
    assert prof["sample_interval"] == 512 * 1024, prof["sample_interval"]
    types = {t["type"]: t for t in prof["heap"]["types"]}
    assert within(types["tuple"]["objects"], bulk, 0.3), types["tuple"]
    # a comprehension is its own code object before 3.12
    stacks, _ = held(prof, "make_bulk" if minor(version) >= 12 else
                     "make_bulk.<locals>.<listcomp>")
    path = [module("__main__"), step("attr", "bulk"), step("index", "*")]
    # a tuple, and an int and a str in it, each (the ints under 256 are the interpreter's)
    objects = sum(h["objects"] for s in stacks for h in s["holders"] if h["path"][:3] == path)
    assert within(objects, 3 * bulk, 0.2), [s["holders"] for s in stacks]
    # each stack's holders count its live objects as the stack does
    for s in stacks:
        objects = sum(h["objects"] for h in s["holders"])
        assert abs(objects - s["live_objects"]) <= len(s["holders"]), (s["live_objects"],
                                                                      s["holders"])
    assert "sampled: one allocation per 512.0 KiB" in stdout, stdout


def test_holders_bad_options():
    for args in (["--holders-top", "5"], ["--max-pause", "10"]):
        p = Proc([binary(), "-p", "1"] + args, name="pymem-bpf")
        assert p.wait(T_STOP) == 2, p.describe()
        assert "go with --holders" in p.text("stderr"), p.describe()
    p = Proc([binary(), "-p", "1", "--holders", "--max-pause", "-3"], name="pymem-bpf")
    assert p.wait(T_STOP) == 2, p.describe()


def stopped(pid):
    """Whether the target is in a ptrace stop now."""
    try:
        with open("/proc/%d/status" % pid) as f:
            return re.search(r"^State:\s+t", f.read(), re.M) is not None
    except OSError:
        return False


@pytest.mark.parametrize("version", [DEBIAN, "3.13.0"])
def test_holders_sigkill_mid_read(version, tmp_path):
    """pymem-bpf SIGKILLed while the target is stopped for the walk: the kernel lets the
    target go, and it runs on."""
    target = start_target(version, "--bulk", "1000000")
    try:
        prof = Proc([binary(), "-p", target.pid, "--holders", "--max-live", "4194304"],
                    name="pymem-bpf")
        prof.wait_line("stderr", ATTACHED_RE.pattern, T_ATTACH)
        target.send("go\n")
        target.wait_line("stdout", r"^DONE$", T_START)
        prof.signal(signal.SIGINT)
        deadline = time.monotonic() + T_STOP
        while not stopped(target.pid) and prof.p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.001)
        assert stopped(target.pid), "the target was never stopped:\n" + prof.describe()
        prof.signal(signal.SIGKILL)
        prof.wait(T_STOP)
        target.send("ping\n")
        target.wait_line("stdout", r"^PONG$", T_STOP)
        assert not stopped(target.pid)
    finally:
        target.kill()


def test_regrtest_under_holder_reads():
    """CPython's own tests pass while pymem-bpf attaches, reads the holders (stopping every
    thread and walking the graph) and detaches, again and again."""
    version = DEBIAN
    run = run_regrtest(version, REGRTESTS)
    cycles = 0
    try:
        while cycles < 5 and run.p.poll() is None:
            prof = Proc([binary(), "-p", run.pid, "-n", "1", "--holders"], name="pymem-bpf")
            prof.wait_line("stderr", r"attached|pymem-bpf: ", T_ATTACH)
            if run.p.poll() is not None:
                prof.kill()
                break
            time.sleep(1)
            detach(prof)
            assert "holders: target stopped" in prof.text("stdout"), prof.describe()
            cycles += 1
        rc = run.wait(1800)
    finally:
        run.kill()
    out = run.text("stdout")
    assert cycles == 5, "regrtest finished after only %d cycles:\n%s" % (cycles, out[-2000:])
    assert rc == 0 and succeeded(out), out[-3000:]
