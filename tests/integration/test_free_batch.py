"""Frees of the GIL domains reach the BPF side in batches (src/inject/trampoline.h): the last few a
target made before going quiet are still in the batch when the profiler stops, and must be
accounted all the same, so that what is live is exactly what the target holds."""
import pytest

from conftest import DEBIAN, SID, TARGETS, markers, target_argv, target_file
from profiles import at_file_line, total
from test_target_safety import profile_served

TARGET = str(TARGETS / "quiet_free.py")
KEYS = ("alloc_bytes", "alloc_objects", "free_objects", "live_bytes")


def on_line(version, profile, line):
    """The counters of the stacks whose leaf Python frame is quiet_free.py:line."""
    pred = at_file_line(target_file(version, TARGET), line)
    return {k: total(profile, pred, k) for k in KEYS}


@pytest.mark.parametrize("version", [DEBIAN, "3.8.18", "3.12.1", "3.13.0"] + SID)
def test_last_frees_before_idle_are_seen(version, tmp_path):
    profile, _ = profile_served(target_argv(version, TARGET), str(tmp_path / "profile.json"))
    lines = markers(TARGET)
    held, freed = on_line(version, profile, lines["held"]), on_line(version, profile,
                                                                   lines["freed"])
    # the two lines make the same objects: 4 bytearrays (object and 201-byte buffer) and a list
    # (whose growth frees a little on its own)
    assert held["live_bytes"] >= 4 * 201, held
    assert freed["alloc_bytes"] == held["alloc_bytes"], (held, freed)
    assert freed["alloc_objects"] == held["alloc_objects"], (held, freed)
    # every one of the second set was freed, however few frees that was
    assert freed["free_objects"] == freed["alloc_objects"], freed
    assert freed["live_bytes"] == 0, freed
    assert profile["dropped"].get("batch_overrun", 0) == 0, profile["dropped"]
