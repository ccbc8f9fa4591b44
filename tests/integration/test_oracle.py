"""tracemalloc as the oracle: per-line live bytes and blocks, pymem-bpf against tracemalloc.

The target starts tracemalloc right after "go", runs oracle_mix() (many small pymalloc objects
of each kind on their own line: dicts, lists, strs, small bytearrays; all kept), then dumps
snapshot.statistics("lineno") for its own file.  Both tools count requested sizes of blocks
allocated after that point and still alive, grouped by the innermost Python line, so they
must agree line by line.
"""

import pytest

from conftest import BUILDS, profile_pid, require_ok
from profiles import by_leaf_line, excerpt, leaf_python

TOLERANCE = 0.02
MIN_LINE_BYTES = 64 * 1024	# lines smaller than this are interpreter noise, not workload


@pytest.fixture(scope="module", params=BUILDS)
def run(request):
    version = request.param
    return version, profile_pid(version, ["oracle_mix"], target_args=["--tracemalloc"])


def test_tracemalloc_agrees_per_line(run):
    version, res = run
    prof = require_ok(res)
    rep = res.report
    first, last = rep["functions"]["oracle_mix"]
    tm = {int(line): st for line, st in rep["tracemalloc"].items()
          if first <= int(line) <= last and st["size"] >= MIN_LINE_BYTES}
    marked = {rep["lines"][m] for m in ("oracle_dicts", "oracle_lists", "oracle_strs",
                                        "oracle_bytearrays")}
    assert marked <= set(tm), "tracemalloc missed a workload line: %s" % rep["tracemalloc"]

    live_bytes = by_leaf_line(prof, rep["file"], "live_bytes")
    live_objects = by_leaf_line(prof, rep["file"], "live_objects")
    ours = {line for line, size in live_bytes.items()
            if first <= line <= last and size >= MIN_LINE_BYTES}
    assert ours == set(tm), "lines: pymem-bpf %s, tracemalloc %s" % (sorted(ours), sorted(tm))

    bad = []
    for line, st in sorted(tm.items()):
        got_b, got_n = live_bytes.get(line, 0), live_objects.get(line, 0)
        if abs(got_b - st["size"]) > TOLERANCE * st["size"] or \
           abs(got_n - st["count"]) > TOLERANCE * st["count"]:
            bad.append("line %d: pymem-bpf %d bytes / %d blocks, tracemalloc %d / %d"
                       % (line, got_b, got_n, st["size"], st["count"]))
    if bad:
        def in_mix(stack):
            leaf = leaf_python(stack)
            return leaf is not None and leaf["file"] == rep["file"] and \
                first <= leaf["line"] <= last
        pytest.fail("\n".join(bad) + "\n" + excerpt(prof, in_mix, limit=12))
