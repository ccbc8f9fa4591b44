"""What a person sees: the speedscope file in the real speedscope app, and the HTML flame graph,
both in Debian's Chromium driven by playwright-core (tests/integration/browser_check.js).

One real session profiles the workloads to JSON; `report` converts it to speedscope and HTML.
The JSON profile is the ground truth: the speedscope samples must add up to it per view, and
every frame the flame graph draws must be as wide as its share of the view's total.

Needs node, npm, and Debian's chromium (make deps); speedscope and playwright-core are
installed from npm into build/npm when missing.
"""

import functools
import http.server
import json
import os
import shutil
import struct
import subprocess
import tempfile
import threading
import urllib.parse
import zlib
from pathlib import Path

import pytest

from conftest import DEFAULT_VERSION, REPO, binary, profile_pid, require_ok

WORKLOADS = ["make_and_hold", "grow_heap", "heavy_churn", "small_dicts", "ctypes_leak"]
WORKLOAD_FUNCTIONS = ["allocate_then_return", "make_and_hold", "grow_heap", "small_dicts"]
CHROMIUM = "/usr/bin/chromium"
NPM_DIR = REPO / "build" / "npm"
NPM_PACKAGES = ["speedscope@1.25.0", "playwright-core@1.65.1"]
SPEEDSCOPE = NPM_DIR / "node_modules" / "speedscope" / "dist" / "release"
PLAYWRIGHT = NPM_DIR / "node_modules" / "playwright-core" / "package.json"
CHECK_JS = Path(__file__).resolve().parent / "browser_check.js"
SHOTS = REPO / "build" / "browser"
VIEWS = [("live bytes", "live_bytes", "bytes"), ("live objects", "live_objects", "none"),
         ("alloc bytes", "alloc_bytes", "bytes"), ("alloc objects", "alloc_objects", "none")]
PEAK_VIEW = ("peak bytes", "peak_bytes", "bytes")
T_NPM = 600		# npm install, against hangs only
T_BROWSER = 300		# one browser_check.js run
T_REPORT = 120		# pymem-bpf report


# ---- ground truth from the JSON profile ---------------------------------------------------

def html_label(frame):
    """A frame as the HTML writer labels it."""
    fn = frame["function"] or "[unknown]"
    if frame["kind"] == "python":
        return "%s (%s:%d)" % (fn, frame["file"], frame["line"])
    return "%s [%s]" % (fn, frame["file"]) if frame["file"] else fn


def speedscope_frame(frame):
    """A frame as the speedscope writer names it: (name, file, line)."""
    fn = frame["function"] or "[unknown]"
    if frame["kind"] == "python":
        return (fn, frame["file"] or None, frame["line"] or None)
    if frame["file"]:
        return ("%s [%s]" % (fn, frame["file"]), frame["file"], None)
    return (fn, None, None)


def speedscope_views(profile):
    """The profiles a speedscope file holds: peak bytes only when the session tracked it."""
    peak = any(s.get("peak_bytes") for s in profile["stacks"])
    return VIEWS + [PEAK_VIEW] if peak else VIEWS


def prefix_values(profile, key):
    """Sum of a counter over the stacks under each label path, the empty path included."""
    out = {(): 0}
    for s in profile["stacks"]:
        labels = tuple(html_label(f) for f in s["frames"])
        for i in range(len(labels) + 1):
            out[labels[:i]] = out.get(labels[:i], 0) + s[key]
    return out


# ---- PNG decoding, enough for Chromium's screenshots ---------------------------------------

def _paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _unfilter(kind, row, prev, bpp):
    if kind == 0:
        return row
    if kind == 2:
        return bytearray((x + y) & 0xff for x, y in zip(row, prev))
    out = bytearray(row)
    for i in range(len(out)):
        a = out[i - bpp] if i >= bpp else 0
        if kind == 1:
            out[i] = (out[i] + a) & 0xff
        elif kind == 3:
            out[i] = (out[i] + ((a + prev[i]) >> 1)) & 0xff
        elif kind == 4:
            c = prev[i - bpp] if i >= bpp else 0
            out[i] = (out[i] + _paeth(a, prev[i], c)) & 0xff
        else:
            raise ValueError("bad PNG filter %d" % kind)
    return out


def png_colours(path):
    """(width, height, {colour: pixel count}) of an 8-bit RGB or RGBA PNG."""
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "%s is not a PNG" % path
    pos, idat, width = 8, [], None
    while pos < len(data):
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if ctype == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and not interlace, (depth, colour, interlace)
            bpp = 3 if colour == 2 else 4
        elif ctype == b"IDAT":
            idat.append(body)
        pos += 12 + length
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    assert len(raw) == height * (stride + 1), "truncated image data in %s" % path
    counts, prev = {}, bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        row = _unfilter(raw[start], bytearray(raw[start + 1:start + 1 + stride]), prev, bpp)
        for x in range(0, stride, bpp):
            px = bytes(row[x:x + 3])
            counts[px] = counts.get(px, 0) + 1
        prev = row
    return width, height, counts


def assert_picture(path, min_colours=16):
    """A real rendering: non-empty, many colours, no single colour filling the image."""
    assert os.path.getsize(path) > 0, path
    width, height, counts = png_colours(path)
    total = width * height
    assert total > 0, path
    top = max(counts.values())
    assert len(counts) >= min_colours, "%s has only %d colours" % (path, len(counts))
    assert top < 0.97 * total, "%s is %.1f%% one colour" % (path, 100.0 * top / total)
    return counts


# ---- tools ---------------------------------------------------------------------------------

def run(argv, timeout, **kw):
    try:
        return subprocess.run([str(a) for a in argv], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout, **kw)
    except subprocess.TimeoutExpired:
        pytest.fail("%s did not finish within %ds" % (" ".join(map(str, argv)), timeout))
    except FileNotFoundError as e:
        pytest.fail("%s (run make deps)" % e)


@pytest.fixture(scope="module")
def browser_tools():
    """Chromium from Debian; speedscope and playwright-core from npm, installed if missing."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail("%s is missing: run make deps (Debian package chromium)" % CHROMIUM)
    for tool in ("node", "npm"):
        if not shutil.which(tool):
            pytest.fail("%s is not installed" % tool)
    if not (SPEEDSCOPE / "index.html").exists() or not PLAYWRIGHT.exists():
        NPM_DIR.mkdir(parents=True, exist_ok=True)
        r = run(["npm", "install", "--prefix", NPM_DIR, "--no-audit", "--no-fund"]
                + NPM_PACKAGES, T_NPM)
        assert r.returncode == 0, "npm install failed:\n%s" % r.stderr.decode(errors="replace")
    assert (SPEEDSCOPE / "index.html").exists() and PLAYWRIGHT.exists()
    SHOTS.mkdir(parents=True, exist_ok=True)


def browse(mode, url, shot):
    env = dict(os.environ, PYMEM_NPM_DIR=str(NPM_DIR), PYMEM_SEARCH="grow_heap")
    r = run(["node", CHECK_JS, mode, url, SHOTS / shot], T_BROWSER, env=env)
    err = r.stderr.decode(errors="replace")
    assert r.returncode == 0, "browser_check.js failed:\n%s" % err
    out = json.loads(r.stdout.decode())
    assert "error" not in out, "%s\n%s" % (out["error"], err)
    return out


def page_problems(out):
    """Console errors, uncaught exceptions and failed requests the page had."""
    errors = [m["text"] for m in out["console"] if m["type"] == "error"]
    return errors + out["pageerrors"] + ["request failed: " + u for u in out["failed"]]


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """One profiled run, and its conversions by `pymem-bpf report`."""
    res = profile_pid(DEFAULT_VERSION, WORKLOADS)
    profile = require_ok(res)
    out = tmp_path_factory.mktemp("browser")
    conv = {}
    for fmt, name in (("speedscope", "profile.speedscope.json"), ("html", "flame.html")):
        path = out / name
        r = run([binary(), "report", res.output, "-f", fmt, "-o", path], T_REPORT)
        assert r.returncode == 0, r.stderr.decode(errors="replace")
        conv[fmt] = path
    return {"profile": profile, "pid": res.target_pid, "files": conv}


@pytest.fixture(scope="module")
def server(session, browser_tools):
    """speedscope's release build and our file, served on 127.0.0.1 at an ephemeral port."""
    root = tempfile.mkdtemp(prefix="pymem-speedscope-")
    shutil.copytree(SPEEDSCOPE, os.path.join(root, "app"))
    shutil.copy(session["files"]["speedscope"], os.path.join(root, "profile.json"))

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=root))
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield "http://127.0.0.1:%d" % httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()
    shutil.rmtree(root, ignore_errors=True)


# ---- speedscope ----------------------------------------------------------------------------

def test_speedscope_file_matches_profile(session):
    """Every view holds exactly the profile's non-zero stacks, weighted by their values."""
    with open(session["files"]["speedscope"]) as f:
        doc = json.load(f)
    profile = session["profile"]
    assert doc["$schema"] == "https://www.speedscope.app/file-format-schema.json"
    assert doc["exporter"] == "pymem-bpf"
    assert doc["activeProfileIndex"] == 0
    assert doc["name"].startswith("pymem-bpf PID %d" % session["pid"]), doc["name"]
    dropped = {k: v for k, v in profile["dropped"].items() if v}
    for k, v in dropped.items():
        assert "%s=%d" % (k, v) in doc["name"], (doc["name"], dropped)
    assert ("dropped:" in doc["name"]) == bool(dropped), doc["name"]

    frames = [(f["name"], f.get("file"), f.get("line")) for f in doc["shared"]["frames"]]
    assert len(set(frames)) == len(frames), "duplicate shared frames"
    views = speedscope_views(profile)
    assert [p["name"] for p in doc["profiles"]] == [v[0] for v in views]
    for (name, key, unit), prof in zip(views, doc["profiles"]):
        assert prof["type"] == "sampled" and prof["unit"] == unit, prof["unit"]
        assert len(prof["samples"]) == len(prof["weights"])
        assert all(w > 0 for w in prof["weights"]), name
        got = {}
        for sample, w in zip(prof["samples"], prof["weights"]):
            stack = tuple(frames[i] for i in sample)
            got[stack] = got.get(stack, 0) + w
        want = {}
        for s in profile["stacks"]:
            if s[key]:
                stack = tuple(speedscope_frame(f) for f in s["frames"])
                want[stack] = want.get(stack, 0) + s[key]
        assert got == want, name
        assert prof["startValue"] == 0
        assert prof["endValue"] == sum(prof["weights"]) == sum(want.values()), name
        if key in profile["totals"]:
            assert prof["endValue"] == profile["totals"][key], name


def test_speedscope_app_shows_profile(session, server):
    """The real speedscope app imports the file, draws it, and lists our functions."""
    url = "%s/app/index.html#profileURL=%s" % (
        server, urllib.parse.quote(server + "/profile.json", safe=""))
    out = browse("speedscope", url, "speedscope")
    assert not page_problems(out), page_problems(out)
    # speedscope titles the page with the file's name, drop counters included.
    with open(session["files"]["speedscope"]) as f:
        name = json.load(f)["name"]
    assert out["title"].startswith(name), (out["title"], name)
    nviews = len(speedscope_views(session["profile"]))
    assert "live bytes (1/%d)" % nviews in out["toolbar"], out["toolbar"]
    assert out["canvases"] > 0
    for fn in WORKLOAD_FUNCTIONS:
        assert fn in out["sandwich"], "%s not in the sandwich view:\n%s" % (
            fn, out["sandwich"][:3000])
    assert "[libpython3.11.so.1.0]" in out["sandwich"], out["sandwich"][:3000]
    assert_picture(SHOTS / "speedscope-time-order.png")
    assert_picture(SHOTS / "speedscope-sandwich.png")


# ---- the HTML flame graph ------------------------------------------------------------------

def view_key(label):
    """The JSON counter a view button shows; None for one the JSON profile lacks."""
    words = label.split()
    kind = "alloc" if words[0].startswith("alloc") else words[0]
    unit = words[-1]
    key = "%s_%s" % (kind, unit)
    return key if key in ("live_bytes", "live_objects", "alloc_bytes", "alloc_objects") else None


def check_widths(profile, frames, key):
    """Every frame is as wide as its share of the view; every visible one is drawn."""
    values = prefix_values(profile, key)
    roots = [f for f in frames if not f["path"]]
    assert len(roots) == 1, roots
    full = roots[0]["w"]
    assert full > 500, roots[0]
    drawn = {}
    for f in frames:
        path = tuple(f["path"])
        assert path in values, "drawn frame not in the profile: %r" % (path,)
        want = full * values[path] / values[()]
        assert abs(f["w"] - want) <= 1.5, "%s: %r is %.1f px wide, want %.1f" % (
            key, path, f["w"], want)
        # Slivers go unlabelled; the tooltip still names them.
        assert f["text"] == (path[-1] if path else "all") or (f["w"] < 8 and not f["text"])
        drawn[path] = f["w"]
    missing = [p for p, v in values.items() if full * v / values[()] >= 3 and p not in drawn]
    assert not missing, "%s: frames not drawn: %r" % (key, missing[:5])
    return drawn


@pytest.fixture(scope="module")
def flame(session, browser_tools):
    """The HTML flame graph opened from file://, every view clicked, hovered, zoomed, searched."""
    return browse("flame", session["files"]["html"].resolve().as_uri(), "flame")


def test_flame_graph(session, flame):
    profile, out = session["profile"], flame
    assert not page_problems(out), page_problems(out)
    assert "pid %d" % session["pid"] in out["title"], out["title"]
    assert "pid %d" % session["pid"] in out["header"], out["header"]

    # Without --view the page opens on allocated bytes when most of them died within 1 ms
    # (heavy_churn's 300,000 blocks of 1 KiB here), else on live bytes, and says why.
    totals = profile["totals"]
    churn = totals["freed_within"]["1ms"] > totals["alloc_bytes"] / 2
    opened = "alloc_bytes" if churn else "live_bytes"
    assert view_key(out["initial"]["label"]) == opened, out["initial"]["label"]
    assert ("Opened on allocated bytes: " if churn else "Opened on live bytes: ") in \
        out["header"], out["header"]
    check_widths(profile, out["initial"]["frames"], opened)
    assert_picture(SHOTS / "flame-initial.png")

    checked = {}
    for v in out["views"]:
        assert v["on"] == "on", v["label"]
        key = view_key(v["label"])
        if key:
            checked[key] = check_widths(profile, v["frames"], key)
    assert set(checked) == {"live_bytes", "live_objects", "alloc_bytes", "alloc_objects"}

    # heavy_churn frees all it allocates: wide in alloc bytes, (almost) absent when live.
    def churn(drawn):
        return sum(w for p, w in drawn.items() if p and p[-1].startswith("heavy_churn ("))
    assert churn(checked["alloc_bytes"]) > 100, churn(checked["alloc_bytes"])
    assert churn(checked["live_bytes"]) < 5, churn(checked["live_bytes"])
    assert_picture(SHOTS / "flame-view2.png")


def test_flame_graph_interaction(flame):
    """Hover shows the frame in a tooltip, a click zooms it to full width, search matches."""
    out = flame
    assert not page_problems(out), page_problems(out)
    assert out["hover"]["shown"], out["hover"]
    assert out["hover"]["tip"].startswith(out["hover"]["frame"]), out["hover"]

    frames = out["zoom"]["frames"]
    full = max(f["w"] for f in frames)
    zoomed = [f for f in frames if f["text"] == out["hover"]["frame"] and not f["up"]]
    assert zoomed and abs(zoomed[0]["w"] - full) <= 1, (zoomed, full)
    assert all(f["up"] for f in frames if f["y"] < zoomed[0]["y"])

    assert out["search"].startswith("matched "), out["search"]
    assert "live bytes" in out["search"], out["search"]
    assert_picture(SHOTS / "flame-search.png")
