"""Anonymous mmap/munmap, seen through libc's mmap: held mappings are live at their line,
unmapped ones were allocated but are not live, and file mappings are not heap at all."""
import pytest

from conftest import DEBIAN, TARGETS, at_file_line, markers, python_exe, total, within
from test_target_safety import profile_served

MAPPER = str(TARGETS / "mapper.py")
COUNT, SIZE, CLOSED = 4, 3_000_000, 2


def at(profile, marker, key):
    on_line = at_file_line(MAPPER, markers(MAPPER)[marker])
    return total(profile, lambda s: on_line(s) and s["frames"][-1]["function"] == "mmap", key)


@pytest.mark.parametrize("version", [DEBIAN, "3.8.18", "3.13.0"])
def test_anonymous_mmap(version, tmp_path):
    profile, _ = profile_served([python_exe(version), MAPPER], str(tmp_path / "profile.json"))
    assert within(at(profile, "held", "live_bytes"), COUNT * SIZE, 0.02)
    assert at(profile, "held", "live_objects") == COUNT
    assert at(profile, "closed", "alloc_bytes") == CLOSED * SIZE
    assert at(profile, "closed", "live_bytes") == 0
    assert at(profile, "file", "alloc_bytes") == 0
