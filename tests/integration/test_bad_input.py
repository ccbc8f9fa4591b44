"""Bad input: exactly one clear line on stderr, exit code 2, and no output file."""

import os
import re
import shutil
import struct
import subprocess
import tempfile

import pytest

from conftest import (DEBIAN, DEFAULT_VERSION, UNSUPPORTED, IDLE, SID_TARGETS, T_BAD_INPUT, T_START,
                      Proc, binary, python_exe, sid_root, target_tmpdir)


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


def test_sampled_launch_with_pythonmalloc():
    """A launched interpreter applies PYTHONMALLOC after the redirection, over the sampled
    trampolines: refused rather than a profile that saw nothing."""
    out = out_path()
    env = dict(os.environ, PYTHONMALLOC="malloc")
    prof = Proc([binary(), "--sample-interval", "512KiB", "-o", out, "--", python_exe(DEBIAN),
                 "-c", "pass"], env=env, name="pymem-bpf")
    prof.close_stdin()
    assert prof.wait(T_BAD_INPUT) == 2, prof.describe()
    lines = [l for l in prof.text("stderr").splitlines() if l.strip()]
    assert len(lines) == 1 and "PYTHONMALLOC=malloc" in lines[0], prof.describe()
    assert not os.path.exists(out)


def test_output_cannot_be_created():
    """A bad -o is refused before attaching: the session would otherwise run for nothing."""
    target = Proc([python_exe(DEFAULT_VERSION), IDLE], name="idle")
    target.wait_line("stdout", r"^READY", T_START)
    out = "/nonexistent/dir/x.json"
    line = reject([binary(), "-p", target.pid, "-d", "1", "-o", out], out)
    assert line == "pymem-bpf: cannot create %s: No such file or directory" % out, line
    # a directory is no output file either
    tmp = tempfile.mkdtemp(prefix="pymem-it-")
    line = reject([binary(), "-p", target.pid, "-d", "1", "-o", tmp], tmp + "/x")
    assert tmp in line and "directory" in line, line
    assert target.p.poll() is None, "the target died:\n" + target.describe()


def test_output_cannot_be_created_launch():
    """Launch mode: refused before the command is even started."""
    out = "/nonexistent/dir/x.json"
    prof = Proc([binary(), "-o", out, "--", python_exe(DEFAULT_VERSION), IDLE],
                name="pymem-bpf")
    prof.close_stdin()
    assert prof.wait(T_BAD_INPUT) == 2, prof.describe()
    assert prof.text("stderr").splitlines() == ["pymem-bpf: cannot create %s: "
                                                "No such file or directory" % out]
    assert "READY" not in prof.text("stdout"), prof.describe()


@pytest.mark.parametrize("args", [["--sort", "bogus"], ["--where", ""], ["-n", "0"]])
def test_bad_table_options(args):
    out = out_path()
    line = reject([binary(), "-p", "1", "-o", out] + args, out)
    assert line.startswith("pymem-bpf: ") and (args[0] in line or "invalid" in line), line
    # report takes the same options
    line = reject([binary(), "report", out, "-f", "top"] + args, out)
    assert args[0] in line or "invalid" in line, line


def test_report_output_cannot_be_created():
    tmp = tempfile.mkdtemp(prefix="pymem-it-")
    src = os.path.join(tmp, "p.json")
    with open(src, "w") as f:
        f.write('{"pid":1,"python":{"version":"3.11.2","executable":"/x","libpython":null},'
                '"duration_s":1,"target_exited":false,"totals":{"alloc_bytes":0,'
                '"alloc_objects":0,"free_bytes":0,"free_objects":0,"live_bytes":0,'
                '"live_objects":0},"dropped":{},"stacks":[]}\n')
    out = "/nonexistent/dir/x.html"
    line = reject([binary(), "report", src, "-f", "html", "-o", out], out)
    assert line == "pymem-bpf: cannot create %s: No such file or directory" % out, line


@pytest.mark.parametrize("argv, word", [
    (["-p", "1", "--view", "bogus"], "bogus"),
    (["-p", "1", "-f", "bogus"], "bogus"),
    (["-p", "1", "-d", "-3"], "-3"),
    (["-p", "1", "--sample-interval", "-1"], "-1"),
    (["-p", "1", "--sample-interval", "lots"], "lots"),
    (["-p", "1", "--sample-interval", "512KB"], "512KB"),
    (["-p", "1", "--sample-interval", "99999999999999999999"], "99999999999999999999"),
    (["-p", "1", "--sample-interval", "4K", "--no-inject"], "--no-inject"),
    (["-p", "1", "--max-overhead", "0"], "0"),
    (["-p", "1", "--max-overhead", "101"], "101"),
    (["-p", "1", "--max-overhead", "-5"], "-5"),
    (["-p", "1", "--max-overhead", "some"], "some"),
    (["-p", "1", "--max-overhead", "5", "--no-inject"], "--no-inject"),
    (["-p", "x"], "x"),
    (["-p", "1", "--group-by", "bogus"], "bogus"),
    ([], "-p PID"),
    (["report"], "PROFILE.json"),
    (["report", "a.json", "-f", "bogus"], "bogus"),
    (["diff", "a.json"], "BASE.json"),
    (["check", "-p", "x"], "x"),
    (["check", "extra"], "extra"),
])
def test_bad_options_one_line(argv, word):
    """Every command's bad option: one line naming it, exit 2 (no "Try --help" line)."""
    out = out_path()
    line = reject([binary()] + argv + ["-o", out] * (argv[:1] not in (["check"], ["diff"])),
                  out)
    assert line.startswith("pymem-bpf"), line
    assert word in line, line


# ---- builds this one cannot read: Debian's 3.14 with its own record saying otherwise ------

SYNTHETIC_BASE = "sid-3.14"


def symbol_offset(path, name):
    """Where in the file the bytes of a .dynsym symbol are: nm gives its address, the PT_LOAD
    holding it the file offset."""
    out = subprocess.run(["nm", "-D", "--defined-only", path], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    vaddr = next(int(f[0], 16) for f in (line.split() for line in out.splitlines())
                 if len(f) == 3 and f[2] == name)
    with open(path, "rb") as f:
        head = f.read(64)
        phoff, = struct.unpack_from("<Q", head, 32)
        phentsize, phnum = struct.unpack_from("<HH", head, 54)
        f.seek(phoff)
        for _ in range(phnum):
            p_type, _, p_offset, p_vaddr, _, p_filesz = struct.unpack_from(
                "<IIQQQQ", f.read(phentsize))
            if p_type == 1 and p_vaddr <= vaddr < p_vaddr + p_filesz:
                return p_offset + vaddr - p_vaddr
    pytest.fail("%s of %s is not in the file" % (name, path))


def synthetic_target(patches):
    """Debian's python3.14, copied into the sid root with (symbol, offset, struct format,
    value) patched in, running idle.py: _Py_DebugOffsets heads _PyRuntime (cookie, version,
    free_threaded), and nothing in the interpreter itself reads it."""
    tmp, target_tmp = target_tmpdir(SYNTHETIC_BASE)
    exe = os.path.join(tmp, "python3.14")
    shutil.copy2(str(sid_root()) + python_exe(SYNTHETIC_BASE), exe)
    for symbol, at, fmt, value in patches:
        where = symbol_offset(exe, symbol) + at
        with open(exe, "r+b") as f:
            f.seek(where)
            f.write(struct.pack(fmt, value))
    target = Proc(["chroot", str(sid_root()), target_tmp + "/python3.14",
                   SID_TARGETS + "/idle.py"], name="synthetic python")
    target.wait_line("stdout", r"^READY", T_START)
    return target


def test_free_threaded_refused():
    """A free-threaded build (3.13t, 3.14t: mimalloc, not pymalloc) says so in its record."""
    target = synthetic_target([("_PyRuntime", 16, "<Q", 1)])
    out = out_path()
    line = reject([binary(), "-p", target.pid, "-o", out], out)
    assert "free-threaded" in line and "3.14.10" in line, line
    assert target.p.poll() is None, "the target died:\n" + target.describe()


def test_newer_version_refused():
    """3.16: Py_Version and the record's version both say so; its layout cannot be known."""
    target = synthetic_target([("_PyRuntime", 8, "<Q", 0x031000f0),
                               ("Py_Version", 0, "<I", 0x031000f0)])
    out = out_path()
    line = reject([binary(), "-p", target.pid, "-o", out], out)
    assert "3.16.0" in line and "newer" in line and "3.8-3.15" in line, line
    assert target.p.poll() is None, "the target died:\n" + target.describe()


def test_prerelease_refused():
    """A beta of 3.14.0: its record may still differ from the release's (3.15's betas inserted
    words), so it is not read."""
    target = synthetic_target([("_PyRuntime", 8, "<Q", 0x030e00b4),
                               ("Py_Version", 0, "<I", 0x030e00b4)])
    out = out_path()
    line = reject([binary(), "-p", target.pid, "-o", out], out)
    assert "pre-release" in line and "3.14.0b4" in line, line
    assert target.p.poll() is None, "the target died:\n" + target.describe()
