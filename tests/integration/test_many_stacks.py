"""An import-heavy start makes more distinct stacks than a small kernel map holds (16 stdlib
imports: ~65,000).  Every one must reach the profile: no full map, no stack lost on a full
ring, no code object unnamed, and an allocation after the imports is still exact."""
import json

import pytest

from conftest import DEBIAN, T_STOP, TARGETS, Proc, at_file_line, binary, markers, python_exe
from long_module import BASE, FILE, LINES
from test_target_safety import profile_served

IMPORTER = str(TARGETS / "importer.py")
HELD = 3_000_000
LOSSES = ("stack_map_full", "stats_map_full", "stack_lost", "unsymbolized_frames",
          "code_map_full")


@pytest.mark.parametrize("version", [DEBIAN, "3.11.7", "3.13.0"])
def test_import_storm_launch(version, tmp_path):
    out = str(tmp_path / "profile.json")
    prof = Proc([binary(), "-o", out, "--", python_exe(version), IMPORTER], name="pymem-bpf")
    try:
        assert prof.wait(T_STOP) == 0, prof.describe()
    finally:
        prof.kill()
    with open(out) as f:
        profile = json.load(f)
    assert {k: v for k, v in profile["dropped"].items() if k in LOSSES and v} == {}
    on_line = at_file_line(IMPORTER, markers(IMPORTER)["held"])
    # the buffer's stack (the bytearray object itself is another, of a few dozen bytes)
    held = [s["live_bytes"] for s in profile["stacks"] if on_line(s) and s["live_bytes"] >= HELD]
    assert held == [HELD + 1]		# bytearray(n) holds n + 1 bytes


LONG = str(TARGETS / "long_module.py")


@pytest.mark.parametrize("version", [DEBIAN, "3.8.18", "3.10.13", "3.12.1"])
def test_long_module_lines(version, tmp_path):
    """Line numbers from each line-table format, for one code object met at thousands of
    positions: line i of the module keeps exactly one buffer of BASE + i + 1 bytes."""
    profile, _ = profile_served([python_exe(version), LONG], str(tmp_path / "profile.json"))
    buffers = {}		# line -> the buffer-sized live blocks its stacks hold
    for s in profile["stacks"]:
        py = [f for f in s["frames"] if f["kind"] == "python"]	# none: C with no frame
        # the globals dict grows on some lines too, by far more than a buffer
        size = s["live_bytes"]
        if py and py[-1]["file"] == FILE and BASE < size <= BASE + LINES + 1:
            buffers.setdefault(py[-1]["line"], []).append(size)
    assert buffers == {i: [BASE + i + 1] for i in range(1, LINES + 1)}
    assert profile["dropped"].get("unsymbolized_frames", 0) == 0
