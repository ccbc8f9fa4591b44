"""Temporary allocations and the peak, on ground truth (every build).

churn_1k() allocates 100 MiB in 1 KiB blocks and frees each at once; peak_then_small()
builds a 50 MB list, drops it, then keeps 10 MB.  The kernel records each freed block's
lifetime and the per-stack live bytes at the session's high-water mark.
"""

import pytest

from conftest import BUILDS, profile_pid, require_ok
from profiles import at_line, excerpt, total, within


@pytest.fixture(scope="module", params=BUILDS)
def run(request):
    version = request.param
    return version, profile_pid(version, ["churn_1k", "peak_then_small"])


def freed_within(prof, pred, key):
    return sum(s["freed_within"][key] for s in prof["stacks"] if pred(s))


def test_churn_freed_within_1ms(run):
    """Each bytearray(1024) (its object and buffer: what the target's tracemalloc measured for
    one) dies at once."""
    version, res = run
    prof = require_ok(res)
    pred = at_line(res.report, "churn_1k")
    blocks = res.report["facts"]["churn_1k"]["blocks"]
    expected = blocks * res.report["bytearray_1k_bytes"]
    alloc = total(prof, pred, "alloc_bytes")
    assert within(alloc, expected, 0.02), excerpt(prof, pred, key="alloc_bytes")
    assert freed_within(prof, pred, "1ms") > 0.99 * alloc, excerpt(prof, pred, key="alloc_bytes")
    # the histogram holds the same bytes, all in buckets below 2^10 us
    hist = [sum(s["lifetime_bytes"][b] for s in prof["stacks"] if pred(s)) for b in range(32)]
    assert sum(hist) == total(prof, pred, "free_bytes")
    assert sum(hist[:11]) > 0.99 * alloc


def test_peak_at_first_stack(run):
    """The high-water mark holds the 50 MB list; at its end only 10 MB are live."""
    version, res = run
    prof = require_ok(res)
    big = res.report["facts"]["peak"]["big"]
    small = res.report["facts"]["peak"]["small"]
    first = at_line(res.report, "peak_first")
    second = at_line(res.report, "peak_second")
    assert within(total(prof, first, "peak_bytes"), big, 0.02), excerpt(prof, first, key="peak_bytes")
    assert total(prof, second, "peak_bytes") == 0, excerpt(prof, second, key="peak_bytes")
    assert total(prof, first, "live_bytes") < 0.01 * big, excerpt(prof, first)
    assert within(total(prof, second, "live_bytes"), small, 0.02), excerpt(prof, second)
    # the session's own high-water mark covers the 50 MB and whatever else was live then
    assert prof["peak"]["live_bytes"] >= big
    assert total(prof, lambda s: True, "peak_bytes") == prof["peak"]["live_bytes"]
