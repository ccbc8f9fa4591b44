"""Bad input: exactly one clear line on stderr, exit code 2, and no output file."""

import os
import re
import shutil
import subprocess
import tempfile

import pytest

from conftest import (UNSUPPORTED, IDLE, T_BAD_INPUT, T_START, Proc, binary, python_exe)


def reject(argv, out, preexec_fn=None):
    """Run the profiler on bad input; returns its single stderr line."""
    prof = Proc(argv, preexec_fn=preexec_fn, name="pymem-bpf")
    prof.close_stdin()
    rc = prof.wait(T_BAD_INPUT)
    lines = [l for l in prof.text("stderr").splitlines() if l.strip()]
    assert rc == 2, prof.describe()
    assert len(lines) == 1, prof.describe()
    assert not os.path.exists(out), "output file left behind: %s" % out
    return lines[0]


def out_path(mode=0o700):
    tmp = tempfile.mkdtemp(prefix="pymem-it-")
    os.chmod(tmp, mode)
    return os.path.join(tmp, "profile.json")


def test_pid_does_not_exist():
    # A child that has been reaped leaves a pid nobody uses (pids are not reused at once).
    p = subprocess.Popen(["true"])
    p.wait()
    out = out_path()
    line = reject([binary(), "-p", p.pid, "-o", out], out)
    assert str(p.pid) in line, line


def test_pid_is_not_python():
    sleeper = Proc(["sleep", "1000"], name="sleep")
    out = out_path()
    line = reject([binary(), "-p", sleeper.pid, "-o", out], out)
    assert str(sleeper.pid) in line or "python" in line.lower(), line


@pytest.mark.parametrize("version", UNSUPPORTED)
def test_unsupported_python_version(version):
    target = Proc([python_exe(version), IDLE], name="python" + version)
    target.wait_line("stdout", r"^READY", T_START)
    out = out_path()
    line = reject([binary(), "-p", target.pid, "-o", out], out)
    short = ".".join(version.split(".")[:2])
    assert short in line, line
    assert target.p.poll() is None, "the target died:\n" + target.describe()


def test_not_root():
    """Without CAP_BPF/CAP_PERFMON (uid nobody, no capabilities) against nobody's own Python."""
    tmp = tempfile.mkdtemp(prefix="pymem-it-")
    os.chmod(tmp, 0o755)
    exe = os.path.join(tmp, "pymem-bpf")
    shutil.copy(binary(), exe)
    os.chmod(exe, 0o755)
    drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
            "--bounding-set=-all", "--no-new-privs"]
    # Debian's python3 is readable by nobody (/root, and so pyenv, is not).
    target = Proc(drop + ["/usr/bin/python3", "-c",
                          "import os, sys; print('READY', os.getpid(), flush=True); "
                          "sys.stdin.read()"], name="nobody-python")
    pid = int(target.wait_line("stdout", r"^READY (\d+)", T_START).group(1))
    out = out_path(0o777)
    line = reject(drop + [exe, "-p", pid, "-o", out], out)
    assert re.search(r"CAP_BPF|CAP_PERFMON|root|privilege|permission|not permitted", line, re.I), \
        line
