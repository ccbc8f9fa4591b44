"""The image `make image` builds, run the way deploy/daemonset.yaml runs it: host PID
namespace, every capability dropped and the manifest's added back, its seccomp profile, a
read-only root and a 64 KiB memlock limit.  From that container pymem-bpf profiles a Python
process in another container and names that container; without any one of BPF, PERFMON or
SYS_PTRACE it cannot, and without DAC_READ_SEARCH it cannot read an interpreter of another
user's that sits in a directory only its owner may enter.

Podman as test_container.py runs it (runc, cgroupfs, explicit limits); the target's image is
localhost/pymem-sid:test, made from the sid root."""

import json
import os
import signal
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest
import yaml

from conftest import (ATTACHED_RE, SID_TARGETS, T_ATTACH, T_START, T_STOP, T_WORKLOAD, TARGETS,
                      Proc, python_exe)
from profiles import at_line, check_held_workloads
from test_container import LIMITS, PODMAN, host_pid, image as sid_image, podman  # noqa: F401

REPO = Path(__file__).resolve().parents[2]
AGENT_IMAGE = "localhost/pymem-bpf:test"
T_IMAGE = 1800		# make image: debootstrap the first time, against hangs only
TOLERANCE = 0.02
VERSION = "sid-3.13"
OTHER_USER = "1000:1000"


def manifest_security():
    """The DaemonSet container's securityContext."""
    for doc in yaml.safe_load_all((REPO / "deploy" / "daemonset.yaml").read_text()):
        if doc["kind"] == "DaemonSet":
            return doc["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    raise AssertionError("no DaemonSet in deploy/daemonset.yaml")


def run_options(drop=()):
    """podman run options for the manifest's securityContext, less the capabilities in drop."""
    sc = manifest_security()
    caps = [c for c in sc["capabilities"]["add"] if c not in drop]
    opts = ["--pid=host", "--cap-drop=ALL", "--ulimit", "memlock=65536:65536"] + LIMITS
    opts += ["--cap-add=" + c for c in caps]
    if sc["seccompProfile"]["type"] == "Unconfined":
        opts += ["--security-opt", "seccomp=unconfined"]
    if sc["readOnlyRootFilesystem"]:
        opts += ["--read-only", "--read-only-tmpfs=false"]
    return opts


@pytest.fixture(scope="module")
def agent_image():
    got = subprocess.run(["make", "image", "IMAGE=" + AGENT_IMAGE], cwd=str(REPO),
                         capture_output=True, text=True, timeout=T_IMAGE)
    assert got.returncode == 0, got.stdout[-3000:] + got.stderr[-3000:]
    print(got.stdout.splitlines()[-1])
    return AGENT_IMAGE


def test_help_and_check(agent_image):
    got = podman("run", "--rm", *run_options(), agent_image, "--help", timeout=T_START)
    assert got.returncode == 0 and "pymem-bpf" in got.stdout, got.stderr
    got = podman("run", "--rm", *run_options(), agent_image, "check", timeout=T_ATTACH)
    assert got.returncode == 0, got.stdout + got.stderr
    for feature in ("ring buffer", "task storage", "syscall programs"):
        assert any(line.split()[-1] == "yes" for line in got.stdout.splitlines()
                   if line.strip().startswith(feature)), got.stdout


@pytest.mark.parametrize("cap", ["BPF", "PERFMON"])
def test_check_needs(agent_image, cap):
    got = podman("run", "--rm", *run_options(drop=[cap]), agent_image, "check",
                 timeout=T_ATTACH)
    assert got.returncode == 2, got.stdout + got.stderr
    assert "CAP_BPF and CAP_PERFMON" in got.stderr, got.stderr


class Target:
    """workloads.py in a container of its own, as its root or as another user; with
    private_exe, from a copy of the interpreter in a 0700 directory of that user's."""

    def __init__(self, image, workloads, user="0:0", private_exe=False, report="report"):
        self.tmp = tempfile.mkdtemp(prefix="pymem-img-")
        os.chmod(self.tmp, 0o777)
        self.name = "pymem-img-" + uuid.uuid4().hex[:12]
        exe = python_exe(VERSION)
        cmd = [exe]
        if private_exe:
            cmd = ["sh", "-c", 'mkdir -m 0700 /tmp/app && cp %s /tmp/app/ && exec '
                   '/tmp/app/%s "$@"' % (exe, os.path.basename(exe)), "sh"]
        self.proc = Proc(PODMAN + ["run", "--rm", "-i", "--name", self.name, "--user", user]
                         + LIMITS + ["-v", "%s:%s:ro" % (TARGETS, SID_TARGETS),
                                     "-v", "%s:/out" % self.tmp, image] + cmd
                         + [SID_TARGETS + "/workloads.py", "--report", "/out/%s.json" % report]
                         + workloads, name="target")
        self.proc.wait_line("stdout", r"^READY \d+ ", T_START)
        self.pid = host_pid(self.name)
        got = podman("inspect", "--format", "{{.Id}}", self.name, timeout=T_START)
        self.container_id = got.stdout.strip()

    def stop(self):
        self.proc.kill()
        podman("rm", "-f", "-t", "0", self.name, timeout=T_STOP)


def profiler(agent_image, pid, out, drop=()):
    return Proc(PODMAN + ["run", "--rm", "-i"] + run_options(drop) + ["-v", "%s:/out" % out,
                agent_image, "-p", str(pid), "-f", "json", "-o", "/out/profile.json"],
                name="pymem-bpf (container)")


def test_profiles_another_container(agent_image, sid_image):  # noqa: F811
    """Ground truth as test_container.py's: what make_and_hold and grow_heap keep."""
    target = Target(sid_image, ["make_and_hold", "grow_heap", "small_dicts"])
    out = tempfile.mkdtemp(prefix="pymem-img-out-")
    prof = None
    try:
        prof = profiler(agent_image, target.pid, out)
        m = prof.wait_line("stderr", ATTACHED_RE.pattern, T_ATTACH)
        assert int(m.group(1)) == target.pid
        target.proc.send("go\n")
        target.proc.wait_line("stdout", r"^DONE$", T_WORKLOAD)
        prof.signal(signal.SIGINT)		# podman hands it to the container
        assert prof.wait(T_STOP) == 0, prof.describe()
        with open(os.path.join(out, "profile.json")) as f:
            result = json.load(f)
        with open(os.path.join(target.tmp, "report.json")) as f:
            report = json.load(f)
    finally:
        if prof:
            prof.kill()
        target.stop()
    assert result["pid"] == target.pid
    assert result["container"] == {"id": target.container_id, "runtime": "podman",
                                   "pod_uid": None}, result["container"]
    check_held_workloads(result, report, TOLERANCE)
    assert at_line(report, "grow_heap")


@pytest.mark.parametrize("cap,user,private_exe", [("SYS_PTRACE", "0:0", False),
                                                  ("DAC_READ_SEARCH", OTHER_USER, True)])
def test_profiling_needs(agent_image, sid_image, cap, user, private_exe):  # noqa: F811
    """With every capability but one, the profiler refuses with one line, exit 2, and the
    target runs on; with all of them it attaches to the same target.  (A container's root
    holds capabilities the profiler does not: ptrace needs CAP_SYS_PTRACE even for uid 0.)"""
    target = Target(sid_image, ["make_and_hold"], user=user, private_exe=private_exe)
    out = tempfile.mkdtemp(prefix="pymem-img-out-")
    try:
        prof = profiler(agent_image, target.pid, out, drop=[cap])
        rc = prof.wait(T_ATTACH)
        errors = [line for line in prof.lines["stderr"] if line.startswith("pymem-bpf:")]
        assert rc == 2 and len(errors) == 1, prof.describe()
        assert not os.path.exists(os.path.join(out, "profile.json"))
        prof = profiler(agent_image, target.pid, out)
        prof.wait_line("stderr", ATTACHED_RE.pattern, T_ATTACH)
        prof.signal(signal.SIGINT)
        assert prof.wait(T_STOP) == 0, prof.describe()
        target.proc.send("go\n")
        target.proc.wait_line("stdout", r"^DONE$", T_WORKLOAD)
    finally:
        target.stop()
