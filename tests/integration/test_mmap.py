"""Anonymous mmap/munmap, seen through libc's mmap: held mappings are live at their line,
unmapped ones were allocated but are not live, and file mappings are not heap at all."""
import pytest

from conftest import DEBIAN, SID, TARGETS, markers, target_argv, target_file
from profiles import at_file_line, total, within
from test_target_safety import profile_served

MAPPER = str(TARGETS / "mapper.py")
COUNT, SIZE, CLOSED = 4, 3_000_000, 2


def at(version, profile, marker, key):
    on_line = at_file_line(target_file(version, MAPPER), markers(MAPPER)[marker])
    return total(profile, lambda s: on_line(s) and s["frames"][-1]["function"] == "mmap", key)


@pytest.mark.parametrize("version", [DEBIAN, "3.8.18", "3.13.0"] + SID)
def test_anonymous_mmap(version, tmp_path):
    profile, _ = profile_served(target_argv(version, MAPPER), str(tmp_path / "profile.json"))
    assert within(at(version, profile, "held", "live_bytes"), COUNT * SIZE, 0.02)
    assert at(version, profile, "held", "live_objects") == COUNT
    assert at(version, profile, "closed", "alloc_bytes") == CLOSED * SIZE
    assert at(version, profile, "closed", "live_bytes") == 0
    assert at(version, profile, "file", "alloc_bytes") == 0
