"""`pymem-bpf top` as a user runs it: in a terminal (tmux, driven with send-keys and read
with capture-pane), and without one (tables every interval instead).

The target runs churn_and_keep: about 200 MB in short-lived blocks in parse_batch next to
5 MB that keep_some keeps (see test_churn_view.py).  Ranked by live bytes the keeper comes
first; after the key for the alloc view, the churning function does.
"""

import json
import os
import re
import shlex
import subprocess
import time

import pytest

from conftest import (ATTACHED_RE, DEBIAN, T_ATTACH, T_START, T_STOP, T_WORKLOAD, WORKLOADS, Proc,
                      binary, python_exe)
from profiles import parse_bytes, parse_tables, within

T_SCREEN = 60		# against hangs only: a screen the test waits for
SIZE_TOLERANCE = 0.02


class Tmux:
    """A tmux server of our own (its own socket), one detached 200x45 session."""

    def __init__(self, command):
        self.sock = "pymem-it-%d" % os.getpid()
        self.run("new-session", "-d", "-s", "top", "-x", "200", "-y", "45", command)

    def run(self, *args):
        return subprocess.run(["tmux", "-L", self.sock] + list(args), capture_output=True,
                              text=True, timeout=30, check=True).stdout

    def keys(self, *keys):
        self.run("send-keys", "-t", "top", *keys)

    def screen(self):
        return self.run("capture-pane", "-p", "-t", "top")

    def wait(self, pred, what):
        """The first screen pred accepts (pred returns something true)."""
        deadline = time.monotonic() + T_SCREEN
        while time.monotonic() < deadline:
            screen = self.screen()
            got = pred(screen)
            if got:
                return got
            time.sleep(0.3)
        pytest.fail("no screen with %s; the last:\n%s" % (what, screen))

    def close(self):
        subprocess.run(["tmux", "-L", self.sock, "kill-server"], capture_output=True,
                       timeout=30)


def table_of(screen):
    tables = parse_tables(screen)
    return tables[0] if tables and tables[0]["rows"] else None


def first_row_is(rank, place):
    def pred(screen):
        t = table_of(screen)
        if t and t["rank"] == rank and t["rows"][0]["WHERE"].startswith(place):
            return t
        return None
    return pred


@pytest.fixture
def target(tmp_path):
    report = tmp_path / "report.json"
    t = Proc([python_exe(DEBIAN), WORKLOADS, "--report", report, "churn_and_keep"],
             name="target")
    t.wait_line("stdout", r"^READY (\d+) ", T_START)
    return t, report


def test_top_in_tmux(target, tmp_path):
    proc, report = target
    out, rc = tmp_path / "top.json", tmp_path / "rc"
    cmd = "%s top -p %d -o %s; echo $? > %s; sleep 600" % (shlex.quote(binary()), proc.pid,
                                                shlex.quote(str(out)), shlex.quote(str(rc)))
    tmux = Tmux(cmd)
    try:
        tmux.wait(lambda s: "pymem-bpf top: PID %d" % proc.pid in s and parse_tables(s),
                  "top's header and a table")
        proc.send("go\n")
        proc.wait_line("stdout", r"^DONE$", T_WORKLOAD)
        with open(report) as f:
            rep = json.load(f)
        facts = rep["facts"]["churn"]
        churn = "parse_batch (%s:%d)" % (rep["file"], rep["lines"]["churn_batch"])
        keep = "keep_some (%s:%d) -> " % (rep["file"], rep["lines"]["keep_some"])

        # the default view: live bytes, the keeper first, all of it once DONE is drawn
        t = tmux.wait(lambda s: first_row_is("LIVE", keep)(s) if within(
            parse_bytes(table_of(s)["rows"][0]["LIVE"]), facts["kept_bytes"],
            SIZE_TOLERANCE) else None, "the kept strings first")
        assert t["marked"] == ["LIVE"], t

        tmux.keys("a")
        t = tmux.wait(first_row_is("ALLOC", churn), "the churn first by ALLOC")
        buffers = len(facts["batches"]) * facts["blocks"] * (facts["size"] + 1)
        assert within(parse_bytes(t["rows"][0]["ALLOC"]), buffers, SIZE_TOLERANCE), t
        tmux.keys("f")
        tmux.wait(first_row_is("FREED<1MS", churn), "the churn first by FREED<1MS")
        tmux.keys("r")
        tmux.wait(lambda s: (table_of(s) or {}).get("rank") == "ALLOC/S", "ranked by ALLOC/S")

        # paused: no snapshot is taken, so the time on screen stays as it is
        tmux.keys("l")
        tmux.keys("Space")
        t = tmux.wait(lambda s: "PAUSED" in s and first_row_is("LIVE", keep)(s),
                      "PAUSED, by LIVE")
        time.sleep(2.5)
        assert table_of(tmux.screen())["t"] == t["t"], tmux.screen()
        tmux.keys("Space")
        tmux.wait(lambda s: "PAUSED" not in s and (table_of(s) or {}).get("t", 0) > t["t"],
                  "a new snapshot after the pause")

        tmux.keys("q")
        deadline = time.monotonic() + T_STOP
        while not (rc.exists() and rc.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.3)
        assert rc.read_text().strip() == "0", tmux.screen()
        # back on the main screen: the exit table and the churn line
        screen = tmux.screen()
        assert "churn: " in screen and "parse_batch" in screen, screen
    finally:
        tmux.close()
    with open(out) as f:
        doc = json.load(f)
    assert doc["series_info"]["step_s"] == 1.0, doc["series_info"]
    assert proc.p.poll() is None, "the target died:\n" + proc.describe()


def test_top_without_terminal(target):
    """Piped, top prints a table every interval, as -i does."""
    proc, report = target
    prof = Proc([binary(), "top", "-p", proc.pid, "-d", "3", "--view", "alloc-bytes"],
                name="pymem-bpf")
    prof.wait_line("stderr", ATTACHED_RE.pattern, T_ATTACH)
    proc.send("go\n")
    rc = prof.wait(T_STOP)
    assert rc == 0, prof.describe()
    tables = parse_tables(prof.text("stdout"))
    every = [t for t in tables if t["interval"] is not None]
    assert len(every) >= 2, prof.describe()
    assert all(t["rank"] == "ALLOC/S" and t["interval"] > 0 for t in every), every
    assert "\033[" not in prof.text("stdout"), "escape sequences without a terminal"
    assert tables[-1]["interval"] is None and tables[-1]["rank"] == "ALLOC", tables[-1]


LAUNCHED_APP = '''
import time

kept = []


def keep():
    kept.append(bytearray(5_000_000))


def churn():
    for _ in range(2000):
        bytearray(4096)


keep()
end = time.time() + 120
while time.time() < end:
    churn()
    time.sleep(0.01)
'''


def test_top_launch_in_tmux(tmp_path):
    """`top -- CMD`: the command starts under top; by live the 5 MB it keeps comes first, after
    the key for the alloc view the function that churns; q leaves the command running."""
    app = tmp_path / "app.py"
    app.write_text(LAUNCHED_APP)
    out, rc = tmp_path / "top.json", tmp_path / "rc"
    cmd = "%s top -o %s -- %s %s; echo $? > %s; sleep 600" % (
        shlex.quote(binary()), shlex.quote(str(out)), python_exe(DEBIAN), shlex.quote(str(app)),
        shlex.quote(str(rc)))
    tmux = Tmux(cmd)
    pid = None
    try:
        m = tmux.wait(lambda s: re.search(r"pymem-bpf top: PID (\d+)", s), "top's header")
        pid = int(m.group(1))
        t = tmux.wait(first_row_is("LIVE", "keep (%s:" % app), "the kept block first")
        assert within(parse_bytes(t["rows"][0]["LIVE"]), 5_000_000, SIZE_TOLERANCE), t
        tmux.keys("a")
        tmux.wait(first_row_is("ALLOC", "churn (%s:" % app), "the churn first by ALLOC")
        tmux.keys("q")
        deadline = time.monotonic() + T_STOP
        while not (rc.exists() and rc.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.3)
        assert rc.read_text().strip() == "0", tmux.screen()
        # the command was let go, not killed: it runs on, unprofiled
        os.kill(pid, 0)
    finally:
        if pid:
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        tmux.close()
    with open(out) as f:
        doc = json.load(f)
    assert doc["pid"] == pid
