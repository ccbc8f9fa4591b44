"""-f folded: a "# dropped: ..." line (the lost events; flame graph tools skip it), then every
line is "frame;frame;... VALUE", root first, and it renders the same profile the JSON output
holds.

Folded and JSON come from two sessions of the same deterministic workloads (one session writes
one format).  The workload's own stacks are deterministic to the byte and block, so they must
match exactly; whole-profile totals must agree within the interpreter's background noise.
"""

import re

import pytest

from conftest import DEFAULT_VERSION, VIEW_KEYS, profile_pid, require_ok
from profiles import within

WORKLOADS = ["make_and_hold", "grow_heap", "small_dicts"]
LINE_RE = re.compile(r"^(\S.*) (\d+)$")
DROPPED_RE = re.compile(r"^# dropped: (none|\w+=\d+( \w+=\d+)*)$")
PY_FRAME_RE = re.compile(r"^(.+) \((.+):(\d+)\)$")
NATIVE_FRAME_RE = re.compile(r"^(.+) \[(.+)\]$")
TOLERANCE = 0.02


def render(frame):
    if frame["kind"] == "python":
        return "%s (%s:%d)" % (frame["function"], frame["file"], frame["line"])
    return "%s [%s]" % (frame["function"], frame["file"])


def parse_folded(text):
    stacks = {}
    lines = text.splitlines()
    assert lines and DROPPED_RE.match(lines[0]), "no lost-event line first: %r" % lines[:1]
    for line in lines[1:]:
        m = LINE_RE.match(line)
        assert m, "not 'stack VALUE': %r" % line
        frames = m.group(1).split(";")
        kinds = []
        for f in frames:
            if PY_FRAME_RE.match(f):
                kinds.append("python")
            else:
                assert NATIVE_FRAME_RE.match(f), "bad frame %r in %r" % (f, line)
                kinds.append("native")
        assert kinds == sorted(kinds, key=lambda k: k == "native"), \
            "Python frames must come first (root first): %r" % line
        assert kinds[-1] == "native", "the allocator is the last frame: %r" % line
        stacks[m.group(1)] = stacks.get(m.group(1), 0) + int(m.group(2))
    return stacks


@pytest.fixture(scope="module")
def json_run():
    res = profile_pid(DEFAULT_VERSION, WORKLOADS)
    return require_ok(res)


@pytest.mark.parametrize("view", sorted(VIEW_KEYS))
def test_folded_view(view, json_run):
    key = VIEW_KEYS[view]
    res = profile_pid(DEFAULT_VERSION, WORKLOADS, fmt="folded", args=["--view", view])
    require_ok(res)
    assert res.folded and res.folded.strip(), res.dump()
    folded = parse_folded(res.folded)
    assert all(v >= 0 for v in folded.values())

    # Whole profile: the two sessions differ only by interpreter noise.
    assert within(sum(folded.values()), json_run["totals"][key], TOLERANCE), \
        (sum(folded.values()), json_run["totals"])

    # Workload stacks: identical frames and values in both sessions.  Not pymalloc's own
    # bookkeeping (arena table from the raw domain, arenas from mmap): that depends on the
    # allocator's history, not on the workload.
    def workload(frames_text):
        allocator = frames_text.rsplit(";", 1)[-1]
        if allocator.startswith(("PyMem_Raw", "mmap ")):
            return False
        return any(name in frames_text for name in
                   ("allocate_then_return (", "grow_heap (", "small_dicts ("))
    want = {}
    for s in json_run["stacks"]:
        text = ";".join(render(f) for f in s["frames"])
        if workload(text) and s[key]:
            want[text] = want.get(text, 0) + s[key]
    got = {k: v for k, v in folded.items() if workload(k) and v}
    assert want, "the JSON session has no workload stacks"
    diff = ["%s: folded %s, json %s" % (k, got.get(k), want.get(k))
            for k in sorted(set(got) | set(want)) if got.get(k) != want.get(k)]
    assert not diff, "workload stacks differ:\n" + "\n".join(diff)

    # And the ground truth itself, read from the folded text alone.
    if key.endswith("bytes"):
        held = sum(v for k, v in folded.items() if "allocate_then_return (" in k)
        assert within(held, 30_000_000, TOLERANCE), held
    else:
        dicts = sum(v for k, v in folded.items() if "small_dicts (" in k)
        assert dicts >= 200_000, dicts
