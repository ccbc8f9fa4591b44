"""Code objects that die right after they run (module code, exec'd snippets) have their
addresses reused at once; each snippet's live bytes must still be credited to its own file
and line, never to an earlier snippet that lived at the same address."""

import pytest

from conftest import DEBIAN, SID, TARGETS, target_argv
from profiles import leaf_python
from test_target_safety import profile_served

TARGET = str(TARGETS / "short_code.py")
COUNT, SIZE, STEP = 200, 4000, 8


@pytest.mark.parametrize("version", [DEBIAN, "3.8.18", "3.10.13", "3.12.1", "3.13.0"] + SID)
def test_dead_code_objects_keep_their_names(version, tmp_path):
    profile, m = profile_served(target_argv(version, TARGET), str(tmp_path / "profile.json"),
                                done=r"^DONE (\d+)$")
    extra = int(m.group(1))
    # bytes of each snippet's buffer (n + extra for a bytearray(n)), by (file, line) of the leaf
    got = {}
    for s in profile["stacks"]:
        leaf = leaf_python(s)
        if leaf and leaf["file"].startswith("gen_") and s["live_bytes"] >= SIZE:
            key = (leaf["file"], leaf["line"], leaf["function"])
            got[key] = got.get(key, 0) + s["live_bytes"]
    want = {("gen_%d.py" % i, 2, "<module>"): SIZE + STEP * i + extra for i in range(COUNT)}
    assert got == want, sorted(set(got.items()) ^ set(want.items()))[:10]
    assert profile["dropped"].get("unsymbolized_frames", 0) == 0
