"""How a session ends, and targets that are unusual but valid."""

import json
import os
import re
import signal
import subprocess
import tempfile

import pytest

from conftest import (DEFAULT_VERSION, SID, SUPPORTED, ATTACHED_RE, IDLE, T_ATTACH, T_START, T_STOP,
                      Proc, binary, profile_pid, profile_pid_until_exit, python_exe, require_ok)
from profiles import check_contract, check_held_workloads, excerpt, total, under_holder, within

TOLERANCE = 0.02


def test_target_exits_mid_session():
    """The target exits while attached: the profile so far is written, exit 0."""
    res = profile_pid_until_exit(DEFAULT_VERSION, ["make_and_hold"])
    prof = require_ok(res)
    assert any("exited" in line for line in res.stderr.splitlines()), res.stderr
    assert prof["target_exited"] is True
    check_contract(prof, DEFAULT_VERSION, res.target_pid, exited=True)
    # 6 x bytearray(5_000_000) were made before the exit (freed or not by the shutdown).
    assert within(total(prof, under_holder, "alloc_bytes"), 30_000_000, TOLERANCE), \
        excerpt(prof, under_holder, key="alloc_bytes")


def test_sigterm_ends_cleanly():
    res = profile_pid(DEFAULT_VERSION, ["make_and_hold"], stop=signal.SIGTERM)
    prof = require_ok(res)
    assert prof["target_exited"] is False
    assert within(total(prof, under_holder, "live_bytes"), 30_000_000, TOLERANCE), \
        excerpt(prof, under_holder)
    assert res.target_rc == 0, res.dump()


def test_duration_ends_session():
    """-d 1 against an idle target: the profiler stops on its own and writes the profile."""
    tmp = tempfile.mkdtemp(prefix="pymem-it-")
    out = os.path.join(tmp, "profile.json")
    target = Proc([python_exe(DEFAULT_VERSION), IDLE], name="idle")
    m = target.wait_line("stdout", r"^READY (\d+)", T_START)
    prof = Proc([binary(), "-p", target.pid, "-d", "1", "-o", out], name="pymem-bpf")
    prof.wait_line("stderr", ATTACHED_RE.pattern, T_ATTACH)
    rc = prof.wait(T_STOP)
    assert rc == 0, prof.describe()
    with open(out) as f:
        doc = json.load(f)
    assert doc["pid"] == int(m.group(1))
    assert doc["target_exited"] is False
    assert doc["duration_s"] >= 0.9, doc["duration_s"]
    assert target.p.poll() is None, "the target died:\n" + target.describe()


@pytest.mark.parametrize("version", SUPPORTED + SID)
def test_pythonmalloc_malloc(version):
    """PYTHONMALLOC=malloc: warned about, and the ground truth still holds through libc."""
    env = dict(os.environ, PYTHONMALLOC="malloc")
    res = profile_pid(version, ["make_and_hold", "grow_heap", "small_dicts"], env=env)
    prof = require_ok(res)
    assert any("PYTHONMALLOC" in line for line in res.stderr.splitlines()), res.stderr
    check_held_workloads(prof, res.report, TOLERANCE)
    assert res.target_rc == 0, res.dump()


def test_full_disk_keeps_the_capture():
    """-o on a filesystem that fills up: the write fails at the end, the profile is saved
    under a fallback name (the first of $TMPDIR, /var/tmp, /tmp) and the message says where."""
    mnt = tempfile.mkdtemp(prefix="pymem-full-")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", mnt], check=True,
                   timeout=60)
    saved = None
    try:
        out = os.path.join(mnt, "profile.html")
        res = profile_pid(DEFAULT_VERSION, ["make_and_hold"], args=["-f", "html", "-o", out])
        assert res.rc == 1, res.dump()
        lines = res.stderr.splitlines()
        assert "pymem-bpf: cannot write %s: No space left on device" % out in lines, res.stderr
        m = [re.match(r"^pymem-bpf: the profile is saved as (\S+) instead", l) for l in lines]
        m = [x for x in m if x]
        assert len(m) == 1, res.stderr
        saved = m[0].group(1)
        # nothing torn is left where the output was asked for
        assert os.listdir(mnt) == [], os.listdir(mnt)
        with open(saved) as f:
            prof = json.load(f)
        check_contract(prof, DEFAULT_VERSION, res.target_pid, exited=False)
        assert within(total(prof, under_holder, "live_bytes"), 30_000_000, TOLERANCE), \
            excerpt(prof, under_holder)
    finally:
        subprocess.run(["umount", mnt], timeout=60)
        os.rmdir(mnt)
        if saved:
            os.unlink(saved)
