"""Shared helpers for the pymem-bpf integration tests.

Every process a helper starts is registered and killed (with its process group) when the test
or fixture that started it ends, passed or not.  Every wait has a timeout, so a hung profiler
fails a test instead of hanging the run; the timeouts bound hangs only, no assertion depends
on how long anything takes.
"""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BINARY = REPO / "build" / "pymem-bpf"
TARGETS = REPO / "tests" / "targets"
WORKLOADS = TARGETS / "workloads.py"
IDLE = TARGETS / "idle.py"
PYENV = Path("/root/.pyenv/versions")

sys.path.insert(0, str(TARGETS))
from marks import markers  # noqa: E402,F401  (the targets' "# @name" lines, for the tests)
sys.path.insert(0, str(REPO / "tests" / "sid"))
import sidroot  # noqa: E402

# A suite started in the background of a non-interactive shell ignores SIGINT, and its
# children would too: CPython then installs no KeyboardInterrupt handler, and regrtest's
# interrupt_main tests fail under any profiler.  Children get the default disposition.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

SUPPORTED = ["3.8.18", "3.9.18", "3.10.13", "3.11.7", "3.12.1", "3.13.0"]
# Debian's /usr/bin/python3.11: static, stripped, LTO+PGO (pymalloc inlined at ~190 sites)
DEBIAN = "debian-3.11"
DEBIAN_EXE = "/usr/bin/python3.11"
# Debian sid's own builds (static, stripped, LTO+PGO by GCC 16) in the root tests/sid/sidroot.py
# makes, run as `chroot SID_ROOT /usr/bin/python3.X`: a process whose root is not ours.  The
# targets are copied into the root, so frames name them by SID_TARGETS, as the target sees them.
SID_ROOT = Path(sidroot.ROOT)
SID_TARGETS = sidroot.TARGETS_IN_ROOT
SID = ["sid-3.13", "sid-3.14", "sid-3.15"]
BUILDS = SUPPORTED + [DEBIAN] + SID
UNSUPPORTED = ["2.7.18", "3.6.15", "3.7.16"]
DEFAULT_VERSION = "3.11.7"

# Upper bounds against hangs; generous because the machine may be loaded.
T_START = 60		# a target prints READY
T_ATTACH = 120		# the profiler prints its "attached" line
T_WORKLOAD = 600	# the workloads run under the profiler
T_STOP = 180		# the profiler writes its output and exits after a signal
T_BAD_INPUT = 60	# the profiler rejects bad input

ATTACHED_RE = re.compile(r"^pymem-bpf: attached to PID (\d+) \(python (\S+), (.+)\)\s*$")
COUNTERS = ("alloc_bytes", "alloc_objects", "free_bytes", "free_objects",
            "live_bytes", "live_objects")
VIEW_KEYS = {"live-bytes": "live_bytes", "live-objects": "live_objects",
             "alloc-bytes": "alloc_bytes", "alloc-objects": "alloc_objects"}

_LIVE = []		# every Proc not yet reaped


def in_root(version):
    """Whether the build runs chrooted into SID_ROOT."""
    return version in SID


_SID_READY = []


def sid_root():
    """SID_ROOT, with this tree's tests/targets copied in afresh once per session."""
    if not _SID_READY:
        if not sidroot.cached():
            pytest.fail("the sid root %s is missing: run make sidroot" % SID_ROOT)
        _SID_READY.append(sidroot.install_targets())
    return SID_ROOT


def python_exe(version):
    """The interpreter's path as the target sees it (a pyenv build's real one, not a shim); a
    missing build fails the test."""
    if version == DEBIAN:
        if not os.access(DEBIAN_EXE, os.X_OK):
            pytest.fail("Debian's %s is missing" % DEBIAN_EXE)
        return DEBIAN_EXE
    if in_root(version):
        exe = "/usr/bin/python" + version.split("-")[1]
        if not os.access(str(sid_root()) + exe, os.X_OK):
            pytest.fail("%s is missing in %s: run make sidroot" % (exe, SID_ROOT))
        return exe
    name = "python2.7" if version.startswith("2.") else "python3"
    exe = PYENV / version / "bin" / name
    if not os.access(str(exe), os.X_OK):
        pytest.fail("pyenv build %s is missing: %s" % (version, exe))
    return str(exe)


def python_argv(version):
    """The command that runs the interpreter: chroot execs it, so its pid is the target's."""
    if in_root(version):
        return ["chroot", str(sid_root()), python_exe(version)]
    return [python_exe(version)]


def target_file(version, path):
    """A file of tests/targets as the target sees it."""
    path = Path(path)
    if in_root(version):
        return "%s/%s" % (SID_TARGETS, path.relative_to(TARGETS))
    return str(path)


def target_argv(version, script, *args):
    """Run a tests/targets script (or -m MODULE, when script is None) under the build."""
    head = python_argv(version)
    return head + ([target_file(version, script)] if script else []) + [str(a) for a in args]


def target_tmpdir(version):
    """A fresh directory both we and the target can use: (our path, the target's path)."""
    if not in_root(version):
        tmp = tempfile.mkdtemp(prefix="pymem-it-")
        return tmp, tmp
    tmp = tempfile.mkdtemp(prefix="pymem-it-", dir=str(sid_root() / "tmp"))
    return tmp, "/tmp/" + os.path.basename(tmp)


_VERSIONS = {}


def python_version(version):
    """The X.Y.Z the interpreter reports (a pyenv label is its own version)."""
    if version != DEBIAN and not in_root(version):
        return version
    if version not in _VERSIONS:
        out = subprocess.run(python_argv(version) + ["-c", "import platform; "
                                                     "print(platform.python_version())"],
                             capture_output=True, text=True, check=True, timeout=60)
        _VERSIONS[version] = out.stdout.strip()
    return _VERSIONS[version]


def binary():
    if not os.access(str(BINARY), os.X_OK):
        pytest.fail("%s does not exist; run make first" % BINARY)
    return str(BINARY)


class Proc:
    """A child with piped stdio; threads drain stdout and stderr into lists of lines."""

    def __init__(self, argv, env=None, preexec_fn=None, name=None):
        self.argv = [str(a) for a in argv]
        self.name = name or os.path.basename(self.argv[0])
        self.p = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=env, start_new_session=True,
                                  preexec_fn=preexec_fn)
        self.pid = self.p.pid
        self.lines = {"stdout": [], "stderr": []}
        self.eof = {"stdout": False, "stderr": False}
        self.cond = threading.Condition()
        self.readers = [threading.Thread(target=self._drain, args=(s,), daemon=True)
                        for s in ("stdout", "stderr")]
        for t in self.readers:
            t.start()
        _LIVE.append(self)

    def _drain(self, stream):
        f = getattr(self.p, stream)
        for raw in iter(f.readline, b""):
            with self.cond:
                self.lines[stream].append(raw.decode("utf-8", "replace").rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.eof[stream] = True
            self.cond.notify_all()

    def text(self, stream):
        with self.cond:
            return "\n".join(self.lines[stream])

    def describe(self):
        return ("%s (pid %d, rc %s)\n  argv: %s\n  --- stdout (tail)\n%s\n  --- stderr (tail)\n%s"
                % (self.name, self.pid, self.p.poll(), " ".join(self.argv),
                   "\n".join(self.lines["stdout"][-25:]), "\n".join(self.lines["stderr"][-25:])))

    def wait_line(self, stream, pattern, timeout, start=0):
        """Wait for a line (from index start) matching a regex; returns the match."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines[stream][start:]:
                    m = rx.search(line)
                    if m:
                        return m
                if self.eof[stream]:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(min(left, 1.0))
        self.kill()
        pytest.fail("no line matching %r on %s of %s" % (pattern, stream, self.describe()))

    def send(self, text):
        try:
            self.p.stdin.write(text.encode())
            self.p.stdin.flush()
        except BrokenPipeError:
            pytest.fail("cannot write to stdin of %s" % self.describe())

    def close_stdin(self):
        try:
            self.p.stdin.close()
        except BrokenPipeError:
            pass

    def signal(self, sig):
        if self.p.poll() is None:
            os.kill(self.pid, sig)

    def wait(self, timeout):
        """Wait for exit and for stdout/stderr to be drained; a timeout kills and fails."""
        try:
            rc = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail("%s did not exit within %ds:\n%s" % (self.name, timeout, self.describe()))
        for t in self.readers:
            t.join(timeout=30)
        return rc

    def kill(self):
        """SIGKILL the whole process group (a launched target included) and reap."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.p.kill()
        except ProcessLookupError:
            pass
        try:
            self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        for f in (self.p.stdin, self.p.stdout, self.p.stderr):
            try:
                f.close()
            except (OSError, ValueError):
                pass
        if self in _LIVE:
            _LIVE.remove(self)


def kill_target(pid):
    """Kill a target the profiler launched, if that pid is still our workloads.py."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            if b"/targets/workloads.py" not in f.read():
                return
        os.kill(pid, signal.SIGKILL)
    except (OSError, ProcessLookupError):
        pass


def kill_all():
    for proc in list(_LIVE):
        proc.kill()


@pytest.fixture(autouse=True)
def _reap_processes():
    """Whatever a test started is gone when it ends."""
    yield
    kill_all()


def pytest_sessionfinish(session, exitstatus):
    kill_all()


class Result:
    """What one profiler session produced."""

    def __init__(self):
        self.rc = None
        self.stdout = ""
        self.stderr = ""
        self.output = None	# path of -o FILE
        self.profile = None	# parsed JSON (json format only)
        self.folded = None	# text (folded format only)
        self.report = None	# the target's own report
        self.target_pid = None
        self.target_rc = None
        self.attached = None	# match of ATTACHED_RE

    def dump(self):
        return "profiler rc %s\n--- stderr\n%s\n--- stdout (tail)\n%s" % (
            self.rc, self.stderr, "\n".join(self.stdout.splitlines()[-30:]))


def _finish(res, prof, fmt):
    res.stdout = prof.text("stdout")
    res.stderr = prof.text("stderr")
    for line in res.stderr.splitlines():
        m = ATTACHED_RE.match(line)
        if m:
            res.attached = m
    if res.rc == 0 and os.path.exists(res.output):
        with open(res.output, "rb") as f:
            raw = f.read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            pytest.fail("output is not valid UTF-8 (%s at byte %d):\n...%r...\n%s"
                        % (e.reason, e.start, raw[max(e.start - 1200, 0):e.end + 400],
                           res.dump()))
        if fmt == "json":
            try:
                res.profile = json.loads(text)
            except ValueError as e:
                pytest.fail("output is not JSON (%s):\n%s\n%s" % (e, text[:2000], res.dump()))
        else:
            res.folded = text


def _read_report(res, path):
    if os.path.exists(path):
        with open(path) as f:
            res.report = json.load(f)


def run_session(res, target, pid, report, fmt="json", args=(), stop=signal.SIGINT,
                check_after=True):
    """Attach with -p PID to a workloads.py target waiting after READY, have it run its
    workloads, stop the profiler with a signal; fills res.  The caller ends the target.

    The target keeps everything it allocated until the profiler has exited, then (check_after)
    allocates a little more to show the allocator still works after the detach.
    """
    prof = None
    try:
        prof = Proc([binary(), "-p", pid, "-f", fmt, "-o", res.output] + list(args),
                    name="pymem-bpf")
        prof.wait_line("stderr", ATTACHED_RE.pattern, T_ATTACH)
        target.send("go\n")
        target.wait_line("stdout", r"^DONE$", T_WORKLOAD)
        _read_report(res, report)
        prof.signal(stop)
        res.rc = prof.wait(T_STOP)
        _finish(res, prof, fmt)
        if check_after:
            target.send("check\n")
            target.wait_line("stdout", r"^CHECKED$", T_WORKLOAD)
        target.close_stdin()
        res.target_rc = target.wait(T_STOP)
    finally:
        if prof:
            prof.kill()


def profile_pid(version, workloads, args=(), fmt="json", env=None, target_args=(),
                stop=signal.SIGINT, check_after=True):
    """run_session() on a workloads.py target of the build."""
    res = Result()
    tmp, target_tmp = target_tmpdir(version)
    res.output = os.path.join(tmp, "profile." + fmt)
    target = Proc(target_argv(version, WORKLOADS, "--report", target_tmp + "/report.json",
                              *target_args, *workloads), env=env, name="target")
    try:
        m = target.wait_line("stdout", r"^READY (\d+) ", T_START)
        res.target_pid = int(m.group(1))
        run_session(res, target, target.pid, os.path.join(tmp, "report.json"), fmt, args, stop,
                    check_after)
    finally:
        target.kill()
    return res


def profile_pid_until_exit(version, workloads, args=(), fmt="json"):
    """Like profile_pid, but the target exits on its own while the profiler is attached."""
    res = Result()
    tmp, target_tmp = target_tmpdir(version)
    res.output = os.path.join(tmp, "profile." + fmt)
    report = os.path.join(tmp, "report.json")
    target = Proc(target_argv(version, WORKLOADS, "--report", target_tmp + "/report.json",
                              "--exit-after-done", *workloads), name="target")
    prof = None
    try:
        m = target.wait_line("stdout", r"^READY (\d+) ", T_START)
        res.target_pid = int(m.group(1))
        prof = Proc([binary(), "-p", target.pid, "-f", fmt, "-o", res.output] + list(args),
                    name="pymem-bpf")
        prof.wait_line("stderr", ATTACHED_RE.pattern, T_ATTACH)
        target.send("go\n")
        target.wait_line("stdout", r"^DONE$", T_WORKLOAD)
        res.target_rc = target.wait(T_STOP)
        _read_report(res, report)
        res.rc = prof.wait(T_STOP)
        _finish(res, prof, fmt)
    finally:
        if prof:
            prof.kill()
        target.kill()
    return res


def profile_launch(version, workloads, args=(), fmt="json", env=None, target_args=()):
    """Launch mode: pymem-bpf [args] -- python workloads.py ...; the target inherits stdio."""
    res = Result()
    tmp, target_tmp = target_tmpdir(version)
    res.output = os.path.join(tmp, "profile." + fmt)
    report = os.path.join(tmp, "report.json")
    prof = Proc([binary(), "-f", fmt, "-o", res.output] + list(args)
                + ["--"] + target_argv(version, WORKLOADS, "--report", target_tmp + "/report.json",
                                       *target_args, *workloads), env=env, name="pymem-bpf")
    try:
        m = prof.wait_line("stdout", r"^READY (\d+) ", T_START + T_ATTACH)
        res.target_pid = int(m.group(1))
        prof.wait_line("stderr", ATTACHED_RE.pattern, T_ATTACH)
        prof.send("go\n")
        prof.wait_line("stdout", r"^DONE$", T_WORKLOAD)
        _read_report(res, report)
        prof.close_stdin()
        res.rc = prof.wait(T_STOP)
        _finish(res, prof, fmt)
    finally:
        prof.kill()
        if res.target_pid:
            kill_target(res.target_pid)
    return res


def require_ok(res):
    """The session ended cleanly and left a parsed profile."""
    assert res.rc == 0, res.dump()
    assert os.path.exists(res.output), "no output file\n" + res.dump()
    if res.output.endswith(".json"):
        assert res.profile is not None, res.dump()
    assert res.report is not None, "target wrote no report\n" + res.dump()
    return res.profile
