"""Anonymous mmap/munmap, seen through libc's mmap: held mappings are live at their line,
unmapped ones were allocated but are not live, and file mappings are not heap at all."""
import os

import pytest

from conftest import DEBIAN, leaf_python, python_exe, within
from test_target_safety import marker_line, profile_served

MAPPER = os.path.join(os.path.dirname(__file__), "..", "targets", "mapper.py")
COUNT, SIZE, CLOSED = 4, 3_000_000, 2


def at(profile, marker, key):
    line = marker_line(MAPPER, marker)
    return sum(s[key] for s in profile["stacks"]
               if (leaf_python(s) or {}).get("line") == line
               and os.path.samefile(leaf_python(s)["file"], MAPPER)
               and s["frames"][-1]["function"] == "mmap")


@pytest.mark.parametrize("version", [DEBIAN, "3.8.18", "3.13.0"])
def test_anonymous_mmap(version, tmp_path):
    profile, _ = profile_served([python_exe(version), MAPPER], str(tmp_path / "profile.json"))
    assert within(at(profile, "# mapper:held", "live_bytes"), COUNT * SIZE, 0.02)
    assert at(profile, "# mapper:held", "live_objects") == COUNT
    assert at(profile, "# mapper:closed", "alloc_bytes") == CLOSED * SIZE
    assert at(profile, "# mapper:closed", "live_bytes") == 0
    assert at(profile, "# mapper:file", "alloc_bytes") == 0
