"""A process that exits takes its trampolines' batch along: the events it made after the last
flush (up to PYMEM_BATCH_FLUSH - 1) must be accounted at libc's _exit, where exit() and
os._exit both end, while its memory can still be read.  exit_batch.py holds 10 bytearray(100)
as the last thing before os._exit(0); without the drain at _exit a run reported as few as one
of them (the first, whose new stack hits a probe of its own) and counted nothing as dropped."""
import json

import pytest

from conftest import (ATTACHED_RE, BUILDS, T_ATTACH, T_START, T_STOP, TARGETS, Proc, binary,
                      markers, python_argv, target_argv, target_file)
from profiles import at_file_line, excerpt, total

TARGET = str(TARGETS / "exit_batch.py")
COUNT = 10


def per_block(version):
    """What one held bytearray asks the allocator for (object and buffer), as tracemalloc
    counts it under the same build, unprofiled."""
    p = Proc(python_argv(version) + [target_file(version, TARGET), "--oracle"], name="oracle")
    m = p.wait_line("stdout", r"^PER (\d+)$", T_START)
    assert p.wait(T_STOP) == 0, p.describe()
    return int(m.group(1))


def read_profile(prof, out):
    """The profile pymem-bpf wrote once its target exited on its own."""
    assert prof.wait(T_STOP) == 0, prof.describe()
    with open(out) as f:
        return json.load(f)


def check_held(version, profile, expected_drops=()):
    """Every held block live at the marked line, with the oracle's bytes; nothing dropped
    but expected_drops."""
    pred = at_file_line(target_file(version, TARGET), markers(TARGET)["held"])
    assert profile["target_exited"] is True
    assert total(profile, pred, "live_objects") == 2 * COUNT, excerpt(profile, pred)
    assert total(profile, pred, "live_bytes") == COUNT * per_block(version), \
        excerpt(profile, pred)
    dropped = {k: v for k, v in profile["dropped"].items() if v and k not in expected_drops}
    assert not dropped, dropped


@pytest.mark.parametrize("version", BUILDS)
def test_launched_exit_keeps_batched_events(version, tmp_path):
    out = str(tmp_path / "profile.json")
    prof = Proc([binary(), "-f", "json", "-o", out, "--"] + target_argv(version, TARGET),
                name="pymem-bpf")
    try:
        profile = read_profile(prof, out)
    finally:
        prof.kill()
    check_held(version, profile)


@pytest.mark.parametrize("version", BUILDS)
def test_attached_exit_keeps_batched_events(version, tmp_path):
    """pymem-bpf -p on a target that then exits on its own; blocks it made before the attach
    and frees after it count as unknown_free."""
    out = str(tmp_path / "profile.json")
    target = Proc(target_argv(version, TARGET, "--wait"), name="target")
    prof = None
    try:
        target.wait_line("stdout", r"^READY$", T_START)
        prof = Proc([binary(), "-p", target.pid, "-f", "json", "-o", out], name="pymem-bpf")
        prof.wait_line("stderr", ATTACHED_RE.pattern, T_ATTACH)
        target.send("go\n")
        assert target.wait(T_STOP) == 0, target.describe()
        profile = read_profile(prof, out)
    finally:
        if prof:
            prof.kill()
        target.kill()
    check_held(version, profile, expected_drops=("unknown_free",))
