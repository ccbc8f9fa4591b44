"""An import-heavy start makes more distinct stacks than a small kernel map holds (16 stdlib
imports: ~65,000).  Every one must reach the profile: no full map, no stack lost on a full
ring, no code object unnamed, and an allocation after the imports is still exact."""
import json

import pytest

from conftest import DEBIAN, T_STOP, TARGETS, Proc, at_file_line, binary, markers, python_exe

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
