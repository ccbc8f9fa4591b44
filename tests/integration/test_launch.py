"""Launch mode (pymem-bpf -o FILE -- python workloads.py ...) on every build.

The target inherits the profiler's stdio, so the test drives it through the profiler's stdin
and stdout.  It ends with os._exit(0), so what it holds is still live when it exits.
"""

import os

import pytest

from conftest import BUILDS, profile_launch, python_exe, python_version, require_ok
from profiles import (at_line, check_contract, check_ctypes_leak, check_held_workloads, excerpt,
                      total, within)

WORKLOADS = ["make_and_hold", "grow_heap", "small_dicts", "ctypes_leak"]
TOLERANCE = 0.02


@pytest.fixture(scope="module", params=BUILDS)
def run(request):
    version = request.param
    return version, profile_launch(version, WORKLOADS)


def test_launch_session(run):
    version, res = run
    prof = require_ok(res)
    assert prof["pid"] == res.target_pid
    assert prof["python"]["version"] == python_version(version)
    assert os.path.realpath(prof["python"]["executable"]) == \
        os.path.realpath(python_exe(version))
    assert prof["target_exited"] is True
    m = res.attached
    assert m and int(m.group(1)) == res.target_pid and m.group(2) == python_version(version), \
        res.stderr


def test_launch_profiles_from_start(run):
    """STARTUP = bytearray(3_000_000) runs at import, before READY: 56 + 3,000,001 bytes."""
    version, res = run
    prof = require_ok(res)
    pred = at_line(res.report, "startup")
    assert within(total(prof, pred, "live_bytes"), 3_000_000, TOLERANCE), excerpt(prof, pred)


def test_launch_ground_truth(run):
    """Same expectations as the -p tests: see test_ground_truth.py for the arithmetic."""
    version, res = run
    prof = require_ok(res)
    check_held_workloads(prof, res.report, TOLERANCE)
    check_ctypes_leak(prof, res.report, TOLERANCE)


def test_launch_json_contract(run):
    version, res = run
    prof = require_ok(res)
    check_contract(prof, version, res.target_pid, exited=True)
