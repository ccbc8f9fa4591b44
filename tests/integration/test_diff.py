"""pymem-bpf diff: the growth between two profiles, by line and by stack.

Two runs of tests/targets/leaky_loop.py, each profiled from before its first iteration until
after its last: BASE runs N iterations, NEW runs N + M.  Each iteration keeps one bytes object
of a known size (the @leak line) and frees a large bytearray (the @churn line), so NEW - BASE
is exact ground truth: on @leak, M more objects of that size are live; on @churn, nothing is
live in either run, but M more of its blocks were allocated.

Both sessions run one after the other, on separate processes: nothing depends on timing, and
the sessions never overlap.  The tolerances leave room for interpreter noise only (an
allocation the interpreter makes on its own that the line happens to be executing).
"""

import json
import os
import re
import signal
import subprocess

import pytest

from conftest import (ATTACHED_RE, T_ATTACH, T_BAD_INPUT, T_START, T_STOP, T_WORKLOAD, TARGETS,
                      Proc, binary, target_argv, target_tmpdir)
from profiles import within

LEAKY = TARGETS / "leaky_loop.py"
N = 2000
M = 3000
ROW_RE = re.compile(r"^\s*([+-]\d+)\s+([+-]\d+)\s+(\d+)\s+(\d+)\s+(\S.*)$")
FOLDED_RE = re.compile(r"^(\S.*) (\d+)$")
PY_FRAME_RE = re.compile(r"^.+ \(.+:\d+\)$")


def profile_iterations(version, iterations, tmp, name):
    """Profile a fresh leaky_loop.py through `iterations` iterations; JSON path and report."""
    report_dir, target_dir = target_tmpdir(version)
    report_path = os.path.join(report_dir, name + ".report.json")
    out = os.path.join(tmp, name + ".json")
    target = Proc(target_argv(version, LEAKY, "--report", "%s/%s.report.json" % (target_dir, name)),
                  name="target")
    prof = None
    try:
        target.wait_line("stdout", r"^READY (\d+) ", T_START)
        prof = Proc([binary(), "-p", target.pid, "-f", "json", "-o", out], name="pymem-bpf")
        prof.wait_line("stderr", ATTACHED_RE.pattern, T_ATTACH)
        target.send("run %d\n" % iterations)
        target.wait_line("stdout", r"^RAN %d$" % iterations, T_WORKLOAD)
        # The target now waits on stdin: it holds every leaked object, allocates nothing.
        prof.signal(signal.SIGINT)
        rc = prof.wait(T_STOP)
        assert rc == 0, prof.describe()
        target.close_stdin()
        target.wait(T_STOP)
    finally:
        if prof:
            prof.kill()
        target.kill()
    with open(report_path) as f:
        report = json.load(f)
    with open(out) as f:
        assert json.load(f)["stacks"], "empty profile " + out
    return out, report


def run_diff(*args):
    p = subprocess.run([binary(), "diff"] + [str(a) for a in args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=T_BAD_INPUT)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def table(text, title):
    """Rows of one table of the diff report: (size_diff, count_diff, new_size, new_count, where)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if ("changes by " + title) in line)
    rows = []
    for line in lines[start + 2:]:
        m = ROW_RE.match(line)
        if not m:
            break
        rows.append((int(m.group(1)), int(m.group(2)), int(m.group(3)), int(m.group(4)),
                     m.group(5)))
    return rows


def dropped_text(profile_path):
    """The lost events of a JSON profile as a folded file's comment line spells them."""
    with open(profile_path) as f:
        dropped = json.load(f)["dropped"]
    return " ".join("%s=%d" % (k, v) for k, v in dropped.items() if v) or "none"


def where(report, marker):
    return "(%s:%d)" % (report["file"], report["lines"][marker])


@pytest.fixture(scope="module", params=["3.11.7", "3.12.1", "sid-3.14", "sid-3.15"])
def runs(request, tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("diff-" + request.param))
    base, report = profile_iterations(request.param, N, tmp, "base")
    new, _ = profile_iterations(request.param, N + M, tmp, "new")
    return base, new, report, tmp


def test_leak_line_on_top(runs):
    base, new, report, _ = runs
    rc, out, err = run_diff(base, new)
    assert rc == 0, err
    leak = where(report, "leak")
    want_size = M * report["leak_block"]

    by_line = table(out, "line")
    assert by_line, out
    size_diff, count_diff, new_size, new_count, place = by_line[0]
    assert place.startswith("iterate ") and place.endswith(leak), out
    assert within(size_diff, want_size, 0.02), (size_diff, want_size, out)
    assert within(count_diff, M, 0.01), (count_diff, M, out)
    assert within(new_size, (N + M) * report["leak_block"], 0.02), out
    assert within(new_count, N + M, 0.01), out

    # By stack: the same line, under the same callers in both runs, so the same numbers.
    by_stack = table(out, "stack")
    python_frames = [f for f in by_stack[0][4].split(";") if PY_FRAME_RE.match(f)]
    assert python_frames and python_frames[-1].endswith(leak), out
    assert within(by_stack[0][0], want_size, 0.02), out
    assert within(by_stack[0][1], M, 0.01), out

    # The churn line frees all it makes: no live growth worth a row near the top.
    churn = where(report, "churn")
    for row in by_line:
        if row[4].endswith(churn):
            assert abs(row[0]) < 0.01 * want_size, out

    assert re.search(r"^dropped \(base\):", out, re.M), out
    assert re.search(r"^dropped \(new\):", out, re.M), out
    totals = re.search(r"^  diff\s+([+-]\d+)\s+([+-]\d+)$", out, re.M)
    assert totals, out
    assert int(totals.group(1)) >= size_diff * 0.98, out


def test_alloc_view(runs):
    """--view alloc-bytes: the churn line allocated M iterations' worth more."""
    base, new, report, _ = runs
    rc, out, err = run_diff(base, new, "--view", "alloc-bytes", "--group-by", "line")
    assert rc == 0, err
    top = table(out, "line")[0]
    want = M * sum(report["churn_blocks"])
    assert top[4].endswith(where(report, "churn")), out
    assert within(top[0], want, 0.02), (top[0], want, out)
    assert within(top[1], M * len(report["churn_blocks"]), 0.01), out


def test_growth_profile(runs):
    """-f folded: NEW - BASE clamped at 0 per stack; the leak stack carries the table's number."""
    base, new, report, tmp = runs
    path = os.path.join(tmp, "growth.folded")
    rc, out, err = run_diff(base, new, "-f", "folded", "-o", path)
    assert rc == 0, err
    size_diff = table(out, "stack")[0][0]
    growth = {}
    with open(path) as f:
        # the lost events come first, carried over from NEW
        assert f.readline() == "# dropped: %s\n" % dropped_text(new), path
        for line in f:
            m = FOLDED_RE.match(line.rstrip("\n"))
            assert m, line
            growth[m.group(1)] = int(m.group(2))
    assert growth and all(v > 0 for v in growth.values()), growth
    leak = where(report, "leak")
    leak_stacks = [v for k, v in growth.items() if leak in k]
    assert leak_stacks == [size_diff], (leak_stacks, size_diff)

    # The same diff, seen through an include filter on the leak line only.
    rc, out, err = run_diff(base, new, "--include", "*%s:%d" % (
        os.path.basename(report["file"]), report["lines"]["leak"]))
    assert rc == 0, err
    rows = table(out, "line")
    assert len(rows) == 1 and rows[0][4].endswith(leak), out
    assert rows[0][0] == size_diff, out


def test_bad_input(runs, tmp_path):
    base = runs[0]
    junk = tmp_path / "junk.json"
    junk.write_text("not json")
    assert run_diff(base)[0] == 2
    assert run_diff(base, tmp_path / "missing.json")[0] == 2
    assert run_diff(base, junk)[0] == 2
    assert run_diff(base, base, "-f", "json")[0] == 2
    rc, out, err = run_diff(base, base)
    assert rc == 0, err
    assert "(no change)" in out, out


def test_report_folded(runs):
    """`report` converts a saved profile offline: its folded live bytes on the leak line are
    the JSON's, and those are N blocks of the known size."""
    base, _, report, tmp = runs
    path = os.path.join(tmp, "base.folded")
    p = subprocess.run([binary(), "report", base, "-f", "folded", "-o", path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=T_BAD_INPUT)
    assert p.returncode == 0, p.stderr.decode()
    leak = where(report, "leak")

    def leak_leaf(frames):
        python = [f for f in frames if PY_FRAME_RE.match(f)]
        return bool(python) and python[-1].endswith(leak)
    with open(path) as f:
        lines = f.read().splitlines()[1:]	# after the "# dropped:" line
    folded = sum(int(m.group(2)) for m in map(FOLDED_RE.match, lines)
                 if leak_leaf(m.group(1).split(";")))
    with open(base) as f:
        stacks = json.load(f)["stacks"]
    want = sum(s["live_bytes"] for s in stacks
               if leak_leaf(["%s (%s:%d)" % (fr["function"], fr["file"], fr["line"])
                             for fr in s["frames"] if fr["kind"] == "python"]))
    assert folded == want, (folded, want)
    assert within(want, N * report["leak_block"], 0.02), (want, N * report["leak_block"])
