"""Churn investigation as a user runs it (issue 18), on ground truth.

churn_and_keep() allocates about 200 MB in short-lived bytearray(4096) blocks (parse_batch)
next to keep_some(), which keeps 1,000 strings of 5,049 bytes that json.loads makes (about
5 MB, allocated in json's decoder, a standard library frame).  A batch starts every 25 ms at
the earliest, and the target logs when each batch started and ended (time.time()), so the
bytes allocated in any span of time are known whatever the machine's speed.

One session with -i 1 --view alloc-bytes -o json per build; its tables, its churn line, its
JSON (with the series) and what `report` makes of it are checked.
"""

import json
import re
import subprocess

import pytest

from conftest import DEBIAN, binary, profile_pid, require_ok
from profiles import excerpt, parse_bytes, parse_tables, within

BUILDS = [DEBIAN, "3.12.1"]
T_REPORT = 120
RATE_TOLERANCE = 0.10	# the issue's own bound for interval rates
SIZE_TOLERANCE = 0.02


@pytest.fixture(scope="module", params=BUILDS)
def run(request):
    version = request.param
    res = profile_pid(version, ["churn_and_keep"],
                      args=["-i", "1", "--view", "alloc-bytes", "-n", "5"])
    prof = require_ok(res)
    return version, res, prof


def facts(res):
    f = res.report["facts"]["churn"]
    lines = res.report["lines"]
    return f, "%s:%d)" % (res.report["file"], lines["churn_batch"]), \
        "%s:%d)" % (res.report["file"], lines["keep_some"])


def names(row, place):
    """The row's WHERE names the frame at place ("file:line)") first."""
    return re.match(r"^\S+ \(" + re.escape(place), row["WHERE"]) is not None


def known_bytes(batches, per_batch, a, b):
    """Bytes the batches allocated in the wall-clock span (a, b], each spread over its run."""
    total = 0.0
    for start, end in batches:
        if end <= start:
            total += per_batch if a < start <= b else 0
            continue
        overlap = min(end, b) - max(start, a)
        if overlap > 0:
            total += per_batch * overlap / (end - start)
    return total


def churn_intervals(res, prof, tables):
    """The -i tables whose whole interval falls within the churn (wall clock)."""
    f, _, _ = facts(res)
    first, last = f["batches"][0][0], f["batches"][-1][1]
    out = []
    for t in tables:
        if t["interval"] is None:
            continue
        a = prof["start_time"] + t["t"] - t["interval"]
        b = prof["start_time"] + t["t"]
        if first <= a and b <= last:
            out.append((t, a, b))
    return out


def test_exit_table_ranks_churn_first(run):
    version, res, prof = run
    f, churn, _ = facts(res)
    tables = parse_tables(res.stdout)
    final = [t for t in tables if t["interval"] is None]
    assert len(final) == 1, res.dump()
    table = final[0]
    assert table["rank"] == "ALLOC" and table["marked"] == ["ALLOC"], table
    assert names(table["rows"][0], churn), table["rows"]
    # the row is the buffers: 4097 bytes each (the NUL), every batch
    buffers = len(f["batches"]) * f["blocks"] * (f["size"] + 1)
    assert within(parse_bytes(table["rows"][0]["ALLOC"]), buffers, SIZE_TOLERANCE), table
    top = max(prof["stacks"], key=lambda s: s["alloc_bytes"])
    assert within(top["alloc_bytes"], buffers, SIZE_TOLERANCE), excerpt(prof, key="alloc_bytes")


def test_interval_tables_rank_churn_first(run):
    version, res, prof = run
    _, churn, _ = facts(res)
    during = churn_intervals(res, prof, parse_tables(res.stdout))
    # about 5 s of churn at -i 1: several whole intervals, however slow the machine
    assert len(during) >= 2, res.dump()
    for table, a, b in during:
        assert table["rank"] == "ALLOC/S" and table["marked"] == ["ALLOC/S"], table
        assert "GROWTH" in table["rows"][0], table
        assert names(table["rows"][0], churn), table["rows"]


def test_interval_rates_match_known(run):
    """ALLOC/S in each -i table is the interval's own rate, not the session's."""
    version, res, prof = run
    f, churn, _ = facts(res)
    during = churn_intervals(res, prof, parse_tables(res.stdout))
    assert during, res.dump()
    buffer_batch = f["blocks"] * (f["size"] + 1)
    for table, a, b in during:
        want = known_bytes(f["batches"], buffer_batch, a, b) / (b - a)
        got = parse_bytes(table["rows"][0]["ALLOC/S"])
        assert within(got, want, RATE_TOLERANCE), \
            "at %.2f s: %.0f B/s printed, %.0f B/s known\n%s" % (table["t"], got, want, res.dump())


def test_series_rates_match_known(run):
    """The JSON series of the churning line, step by step, against the target's own log."""
    version, res, prof = run
    f, churn, _ = facts(res)
    line = res.report["lines"]["churn_batch"]
    points = {}
    for s in prof["stacks"]:
        py = [fr for fr in s["frames"] if fr["kind"] == "python"]
        if py and py[-1]["file"] == res.report["file"] and py[-1]["line"] == line:
            assert "series" in s, excerpt(prof, key="alloc_bytes")
            for p in s["series"]:
                points.setdefault(p["t"], []).append(p["alloc_bytes"])
    # a time every stack of the line has a point at
    times = sorted(t for t, v in points.items() if len(v) == max(map(len, points.values())))
    first, last = f["batches"][0][0], f["batches"][-1][1]
    checked = 0
    for t0, t1 in zip(times, times[1:]):
        a, b = prof["start_time"] + t0, prof["start_time"] + t1
        if not (first <= a and b <= last):
            continue
        got = (sum(points[t1]) - sum(points[t0])) / (t1 - t0)
        want = known_bytes(f["batches"], f["batch_bytes"], a, b) / (b - a)
        assert within(got, want, RATE_TOLERANCE), (t0, t1, got, want)
        checked += 1
    assert checked >= 2, (times, f["batches"][0], f["batches"][-1], prof["start_time"])


def test_series_bounded(run):
    version, res, prof = run
    info = prof["series_info"]
    assert info == {"step_s": 1.0, "max_points": 256, "max_stacks": 32}, info
    at = {}
    for s in prof["stacks"]:
        pts = s.get("series", [])
        assert len(pts) <= info["max_points"] + 1, len(pts)
        assert [p["t"] for p in pts] == sorted({p["t"] for p in pts}), pts
        if pts:
            # the last point is the stack's own totals at the end
            assert pts[-1]["t"] == prof["duration_s"], pts[-1]
            assert (pts[-1]["alloc_bytes"], pts[-1]["live_bytes"]) == \
                (s["alloc_bytes"], s["live_bytes"]), (pts[-1], s)
        for p in pts[:-1]:
            at[p["t"]] = at.get(p["t"], 0) + 1
    assert at and max(at.values()) <= info["max_stacks"], at


def test_summary_names_churn(run):
    version, res, prof = run
    f, churn, _ = facts(res)
    lines = [l for l in res.stdout.splitlines() if l.startswith("churn: ")]
    assert len(lines) == 1, res.dump()
    m = re.match(r"^churn: (.+?) of (.+?) allocated were freed within 1 ms: "
                 r"(\S+) \((.+?:\d+\)) (.+? [KMG]?i?B)(, |$)", lines[0])
    assert m, lines[0]
    freed, alloc = parse_bytes(m.group(1)), parse_bytes(m.group(2))
    assert within(freed, prof["totals"]["freed_within"]["1ms"], 0.001), (lines[0], prof["totals"])
    assert within(alloc, prof["totals"]["alloc_bytes"], 0.001), (lines[0], prof["totals"])
    # named first: parse_batch, with all of its blocks (buffers and objects)
    assert m.group(3) == "parse_batch" and churn.endswith(m.group(4)), lines[0]
    everything = len(f["batches"]) * f["batch_bytes"]
    assert within(parse_bytes(m.group(5)), everything, SIZE_TOLERANCE), (lines[0], everything)


def report(*args):
    r = subprocess.run([binary(), "report"] + [str(a) for a in args], capture_output=True,
                       timeout=T_REPORT)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return r.stdout.decode()


def test_report_top_follows_view(run):
    version, res, prof = run
    f, churn, keep = facts(res)
    out = report(res.output, "-f", "top", "--view", "alloc-bytes")
    table = parse_tables(out)[0]
    assert table["rank"] == "ALLOC" and table["t"] is None, out
    assert names(table["rows"][0], churn), out
    assert "churn: " in out, out
    # the default view ranks what is held: the kept strings
    table = parse_tables(report(res.output, "-f", "top"))[0]
    assert table["rank"] == "LIVE", table
    assert names(table["rows"][0], keep), table["rows"]
    assert within(parse_bytes(table["rows"][0]["LIVE"]), f["kept_bytes"], SIZE_TOLERANCE), table
    # --sort overrides the view
    table = parse_tables(report(res.output, "-f", "top", "--view", "alloc-bytes",
                                "--sort", "live"))[0]
    assert table["rank"] == "LIVE" and names(table["rows"][0], keep), table


def test_where_names_user_code(run):
    """The kept strings are made in json's decoder: WHERE names keep_some, then the leaf."""
    version, res, prof = run
    _, _, keep = facts(res)
    row = parse_tables(report(res.output, "-f", "top"))[0]["rows"][0]
    assert re.match(r"^keep_some \(" + re.escape(keep) + r" -> (\.\.\. -> )?\S+ "
                    r"\(json/decoder\.py:\d+\)$", row["WHERE"]), row["WHERE"]
    # --where leaf: the leaf alone, its path whole
    row = parse_tables(report(res.output, "-f", "top", "--where", "leaf"))[0]["rows"][0]
    assert re.match(r"^\S+ \(/\S+/python3\.\d+/json/decoder\.py:\d+\)$", row["WHERE"]), row
    # a GLOB: the first caller outside it
    row = parse_tables(report(res.output, "-f", "top", "--where", "*/json/*"))[0]["rows"][0]
    assert row["WHERE"].startswith("keep_some (" + keep + " -> "), row


def test_html_opens_on_churn(run, tmp_path):
    version, res, prof = run
    out = tmp_path / "flame.html"
    report(res.output, "-f", "html", "-o", out)
    doc = out.read_text()
    data = json.loads(doc.split('id="pm-data">\n', 1)[1].split("\n</script>", 1)[0])
    assert data["view"] == 2, data["view"]		# alloc_bytes, as no --view was given
    assert re.search(r'<p id="why">Opened on allocated bytes: .+ freed within 1 ms', doc)
    assert data["series"] and data["step"] == 1.0, data.get("series")
    report(res.output, "-f", "html", "--view", "live-bytes", "-o", out)
    doc = out.read_text()
    data = json.loads(doc.split('id="pm-data">\n', 1)[1].split("\n</script>", 1)[0])
    assert data["view"] == 0 and 'id="why"' not in doc
