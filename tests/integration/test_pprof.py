"""-f pprof: `go tool pprof` reads the converted profile and prints exactly the JSON's stacks,
functions and values.

One real session is profiled to JSON and converted with `pymem-bpf report -f pprof`, so both
sides describe the same allocations and every comparison is exact.  pprof runs offline, with
its home, cache and temporary files in a directory of the test's own.
"""

import os
import re
import shutil
import subprocess

import pytest

from conftest import DEFAULT_VERSION, binary, profile_pid, require_ok
from profiles import leaf_python, within

WORKLOADS = ["make_and_hold", "grow_heap", "small_dicts"]
# pprof sample index -> JSON counter, in the order the writer emits them.
SAMPLE_TYPES = [("alloc_objects", "count", "alloc_objects"),
                ("alloc_space", "bytes", "alloc_bytes"),
                ("inuse_objects", "count", "live_objects"),
                ("inuse_space", "bytes", "live_bytes")]
COUNTERS = [key for _, _, key in SAMPLE_TYPES]
T_PPROF = 300
HELD_BYTES = 6 * 5_000_000	# make_and_hold keeps six 5 MB bytearrays from allocate_then_return

SAMPLE_RE = re.compile(r"^\s*(\d+(?:\s+\d+)*): ((?:\d+ ?)*)$")
LOCATION_RE = re.compile(r"^\s*(\d+): 0x[0-9a-f]+ M=(\d+) (.+):(\d+) s=\d+(?:\((.*)\))?$")
TOP_ROW_RE = re.compile(r"^\s*(\S+)\s+\S+%\s+\S+%\s+(\S+)\s+\S+%\s+(.+)$")
TOP_TOTAL_RE = re.compile(r"^Showing nodes accounting for (\S+), \S+ of (\S+) total$")


def name_of(frame):
    return frame["function"] or "[unknown]"


@pytest.fixture(scope="module")
def go_env(tmp_path_factory):
    if not shutil.which("go"):
        pytest.fail("go is not installed: `make deps` installs Debian's golang-go")
    home = tmp_path_factory.mktemp("gohome")
    env = dict(os.environ)
    env.update(HOME=str(home), GOPATH=str(home / "go"), GOCACHE=str(home / "cache"),
               GOFLAGS="-mod=mod", GOPROXY="off", GOTOOLCHAIN="local", GOTELEMETRY="off",
               PPROF_TMPDIR=str(home / "pprof"), PPROF_BINARY_PATH=str(home / "nobinaries"))
    return env


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """(JSON profile, path of the pprof file converted from it)."""
    res = profile_pid(DEFAULT_VERSION, WORKLOADS)
    prof = require_ok(res)
    out = tmp_path_factory.mktemp("pprof") / "profile.pb.gz"
    conv = subprocess.run([binary(), "report", res.output, "-f", "pprof", "-o", str(out)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=T_PPROF)
    assert conv.returncode == 0, conv.stderr.decode(errors="replace")
    with open(str(out), "rb") as f:
        assert f.read(2) == b"\x1f\x8b", "not gzip"
    return prof, str(out)


def pprof(go_env, path, *args):
    cmd = ["go", "tool", "pprof"] + list(args) + [path]
    run = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=go_env,
                         cwd=go_env["HOME"], timeout=T_PPROF)
    out, err = run.stdout.decode(errors="replace"), run.stderr.decode(errors="replace")
    assert run.returncode == 0, "%s failed:\n%s\n%s" % (" ".join(cmd), out, err)
    return out


def split_name_file(text, known):
    """-raw prints "NAME FILE" and either may hold spaces ("<frozen codecs>"): the one split
    that names a known (function, file) pair."""
    splits = [(text[:i], text[i + 1:]) for i, c in enumerate(text) if c == " "]
    found = [nf for nf in splits if nf in known]
    assert len(found) == 1, "%r names %d known functions" % (text, len(found))
    return found[0]


def parse_raw(text, known):
    """-raw output: (header lines, sample type line, samples, locations, mapping lines)."""
    header, samples, locations, mappings = [], [], {}, []
    section, types = "header", None
    for line in text.splitlines():
        if line in ("Samples:", "Locations", "Mappings"):
            section = line.rstrip(":").lower()
            continue
        if section == "header":
            header.append(line)
        elif section == "samples":
            if types is None:
                types = line
                continue
            m = SAMPLE_RE.match(line)
            assert m, "bad sample line %r" % line
            samples.append(([int(v) for v in m.group(1).split()],
                            [int(i) for i in m.group(2).split()]))
        elif section == "locations":
            m = LOCATION_RE.match(line)
            assert m, "bad location line %r (inlined frames are never written)" % line
            name, path = split_name_file(m.group(3), known)
            locations[int(m.group(1))] = {"mapping": int(m.group(2)), "function": name,
                                          "file": path, "line": int(m.group(4)),
                                          "system": m.group(5)}
        else:
            mappings.append(line)
    return header, types, samples, locations, mappings


def json_samples(prof):
    """leaf-first (function, file, line) tuple -> summed values, in sample type order."""
    out = {}
    for s in prof["stacks"]:
        values = [s[k] for k in COUNTERS]
        if not any(values):
            continue
        key = tuple((name_of(f), f["file"], f["line"]) for f in reversed(s["frames"]))
        old = out.get(key, [0] * len(COUNTERS))
        out[key] = [a + b for a, b in zip(old, values)]
    return out


def test_raw_matches_json(converted, go_env):
    prof, path = converted
    known = {(name_of(f), f["file"]) for s in prof["stacks"] for f in s["frames"]}
    header, types, samples, locations, mappings = parse_raw(pprof(go_env, path, "-raw"), known)

    assert types == " ".join("%s/%s%s" % (t, u, "[dflt]" if t == "inuse_space" else "")
                             for t, u, _ in SAMPLE_TYPES), types

    # Every location is a symbolized (function, file, line) under the one mapping.
    assert len(mappings) == 1 and mappings[0].startswith("1: "), mappings
    assert mappings[0].endswith("[FN][FL][LN]"), mappings
    assert all(loc["mapping"] == 1 for loc in locations.values())
    keys = [(loc["function"], loc["file"], loc["line"]) for loc in locations.values()]
    assert len(keys) == len(set(keys)), "duplicate locations"

    got = {}
    for values, ids in samples:
        key = tuple((locations[i]["function"], locations[i]["file"], locations[i]["line"])
                    for i in ids)
        old = got.get(key, [0] * len(COUNTERS))
        got[key] = [a + b for a, b in zip(old, values)]
    want = json_samples(prof)
    assert got == want, "pprof and JSON differ:\nonly in pprof: %r\nonly in JSON: %r" % (
        {k: v for k, v in got.items() if want.get(k) != v},
        {k: v for k, v in want.items() if got.get(k) != v})

    # Lost events are reported: each nonzero drop reason is a comment.
    comments = [h[len("Comment: "):] for h in header if h.startswith("Comment: ")]
    dropped = {k: v for k, v in prof["dropped"].items() if v}
    assert sorted(c for c in comments if c.startswith("dropped ")) == \
        sorted("dropped %s=%d" % kv for kv in dropped.items()), (comments, prof["dropped"])


def json_top(prof, key):
    """function name -> [flat, cum] as pprof's -top aggregates them (by name only)."""
    out = {}
    for s in prof["stacks"]:
        v = s[key]
        if not v:
            continue
        names = [name_of(f) for f in s["frames"]]
        for n in set(names):
            out.setdefault(n, [0, 0])[1] += v
        out[names[-1]][0] += v
    return out


def parse_value(text):
    m = re.match(r"^(\d+)B?$", text)
    assert m, "value %r is not exact; pass -unit=B" % text
    return int(m.group(1))


def parse_top(text):
    """(Type line, total, {function: [flat, cum]})."""
    typ, total, rows, table = None, None, {}, False
    for line in text.splitlines():
        if line.startswith("Type: "):
            typ = line[len("Type: "):]
        m = TOP_TOTAL_RE.match(line)
        if m:
            assert m.group(1) == m.group(2), "pprof left nodes out: %r" % line
            total = parse_value(m.group(2))
        if line.split() == ["flat", "flat%", "sum%", "cum", "cum%"]:
            table = True
            continue
        if table:
            m = TOP_ROW_RE.match(line)
            assert m, "bad -top row %r" % line
            assert m.group(3) not in rows, "function %r listed twice" % m.group(3)
            rows[m.group(3)] = [parse_value(m.group(1)), parse_value(m.group(2))]
    return typ, total, rows


TOP_ALL = ["-nodecount=1000000", "-nodefraction=0", "-edgefraction=0", "-unit=B"]


@pytest.mark.parametrize("index", [t for t, _, _ in SAMPLE_TYPES])
def test_top_matches_json(index, converted, go_env):
    prof, path = converted
    key = dict((t, k) for t, _, k in SAMPLE_TYPES)[index]
    typ, total, rows = parse_top(pprof(go_env, path, "-sample_index=" + index, "-top", *TOP_ALL))
    assert typ == index
    assert total == prof["totals"][key], (total, prof["totals"])
    assert rows == json_top(prof, key)


def test_default_is_inuse_space(converted, go_env):
    prof, path = converted
    default = pprof(go_env, path, "-top", *TOP_ALL)
    assert default == pprof(go_env, path, "-sample_index=inuse_space", "-top", *TOP_ALL)
    typ, total, rows = parse_top(default)
    assert typ == "inuse_space"
    assert total == prof["totals"]["live_bytes"]

    # The held bytes, as pprof shows them, are the JSON's stacks under allocate_then_return
    # and the workload's own ground truth.
    held = sum(s["live_bytes"] for s in prof["stacks"]
               if (leaf_python(s) or {}).get("function") == "allocate_then_return")
    assert held and rows["allocate_then_return"][1] == held, (rows.get("allocate_then_return"),
                                                              held)
    assert within(held, HELD_BYTES, 0.02), held
    assert rows["allocate_then_return"][0] == 0, "a Python frame is never the allocator"
