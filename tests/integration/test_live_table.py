"""The live-block table under pressure: more blocks live at once than it has slots.

With --max-live 4096 the table has 512 buckets of 8 slots, shared by every page of the heap;
spill_table() keeps 6,000 bytes(100) at once, then frees every other one.  The blocks that do
not fit their bucket go to the spill map, and must come back out of it when freed: the counts
stay exact and nothing is dropped.
"""

import pytest

from conftest import DEBIAN, SID, profile_pid, require_ok
from profiles import at_line, excerpt, total, within

SLOTS = 4096


@pytest.fixture(scope="module", params=["3.8.18", "3.13.0", DEBIAN] + SID)
def run(request):
    version = request.param
    return version, profile_pid(version, ["spill_table"], args=["--max-live", str(SLOTS)])


def test_more_live_than_slots(run):
    version, res = run
    prof = require_ok(res)
    facts = res.report["facts"]["spill_table"]
    pred = at_line(res.report, "spill_table")
    # the premise: these blocks cannot all have been in the table's slots at the peak
    assert facts["n"] > SLOTS
    assert prof["dropped"].get("live_map_full", 0) == 0, prof["dropped"]
    assert within(total(prof, pred, "peak_bytes"), facts["peak"], 0.02), \
        excerpt(prof, pred, key="peak_bytes")
    assert within(total(prof, pred, "alloc_objects"), facts["n"], 0.02), \
        excerpt(prof, pred, key="alloc_objects")


def test_spilled_blocks_freed(run):
    version, res = run
    prof = require_ok(res)
    facts = res.report["facts"]["spill_table"]
    pred = at_line(res.report, "spill_table")
    assert within(total(prof, pred, "live_bytes"), facts["live"], 0.02), excerpt(prof, pred)
    assert within(total(prof, pred, "live_objects"), facts["n"] // 2, 0.02), \
        excerpt(prof, pred, key="live_objects")
    assert within(total(prof, pred, "free_objects"), facts["n"] // 2, 0.02), \
        excerpt(prof, pred, key="free_objects")
    assert prof["dropped"].get("unknown_free", 0) < 0.01 * facts["n"], prof["dropped"]
