"""An import-heavy start makes more distinct stacks than a small kernel map holds (16 stdlib
imports: ~65,000).  Every one must reach the profile: no full map, no stack lost on a full
ring, no code object unnamed, and an allocation after the imports is still exact."""
import json

import pytest

from conftest import DEBIAN, SID, T_STOP, TARGETS, Proc, binary, markers, target_argv, target_file
from profiles import at_file_line
from long_module import BASE, FILE, LINES
from test_target_safety import profile_served

IMPORTER = str(TARGETS / "importer.py")
HELD = 3_000_000
LOSSES = ("stack_map_full", "stats_map_full", "stack_lost", "unsymbolized_frames",
          "code_map_full")


@pytest.mark.parametrize("version", [DEBIAN, "3.11.7", "3.13.0"] + SID)
def test_import_storm_launch(version, tmp_path):
    out = str(tmp_path / "profile.json")
    prof = Proc([binary(), "-o", out, "--"] + target_argv(version, IMPORTER), name="pymem-bpf")
    try:
        assert prof.wait(T_STOP) == 0, prof.describe()
    finally:
        prof.kill()
    with open(out) as f:
        profile = json.load(f)
    assert {k: v for k, v in profile["dropped"].items() if k in LOSSES and v} == {}
    on_line = at_file_line(target_file(version, IMPORTER), markers(IMPORTER)["held"])
    # the buffer's stack (the bytearray object itself is another, of a few dozen bytes)
    held = [s["live_bytes"] for s in profile["stacks"] if on_line(s) and s["live_bytes"] >= HELD]
    extra = int(prof.wait_line("stdout", r"^EXTRA (\d+)$", T_STOP).group(1))
    assert held == [HELD + extra]


LONG = str(TARGETS / "long_module.py")


@pytest.mark.parametrize("version", [DEBIAN, "3.8.18", "3.10.13", "3.12.1"] + SID)
def test_long_module_lines(version, tmp_path):
    """Line numbers from each line-table format, for one code object met at thousands of
    positions: line i of the module keeps exactly one buffer of BASE + i + EXTRA bytes."""
    profile, m = profile_served(target_argv(version, LONG), str(tmp_path / "profile.json"),
                                done=r"^DONE (\d+)$")
    extra = int(m.group(1))
    buffers = {}		# line -> the buffer-sized live blocks its stacks hold
    for s in profile["stacks"]:
        py = [f for f in s["frames"] if f["kind"] == "python"]	# none: C with no frame
        # the globals dict grows on some lines too, by far more than a buffer
        size = s["live_bytes"]
        if py and py[-1]["file"] == FILE and BASE < size <= BASE + LINES + extra:
            buffers.setdefault(py[-1]["line"], []).append(size)
    assert buffers == {i: [BASE + i + extra] for i in range(1, LINES + 1)}
    assert profile["dropped"].get("unsymbolized_frames", 0) == 0
