"""A target in a container of its own (mount and pid namespaces), profiled from the host by its
host PID: Debian's podman runs an image imported from the sid root, with this tree's targets
mounted at the path the chroot tests use.  Its files are found through its own root (an
overlay the host cannot name), and the profile names them as the container sees them.

On these VMs (hybrid cgroups) podman's default runtime, crun, refuses to start a container:
runc is used, with the cgroupfs manager and explicit limits (setrlimit is refused without).
"""

import os
import subprocess
import tempfile
import uuid

import pytest

from conftest import (SID, SID_ROOT, SID_TARGETS, T_START, T_STOP, TARGETS, Proc, Result,
                      python_exe, python_version, require_ok, run_session, sid_root)
from profiles import (check_ctypes_leak, check_held_workloads, check_stacks, functions, total,
                      within)

IMAGE = "localhost/pymem-sid:test"
PODMAN = ["podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs"]
LIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"]
WORKLOADS = ["make_and_hold", "grow_heap", "small_dicts", "three_threads", "ctypes_leak"]
T_PODMAN = 600		# importing the image, against hangs only
TOLERANCE = 0.02


def podman(*args, timeout=T_PODMAN, **kw):
    try:
        return subprocess.run(PODMAN + list(args), capture_output=True, text=True,
                              timeout=timeout, **kw)
    except FileNotFoundError:
        pytest.fail("podman is not installed: run make deps")


def root_built():
    """When the sid root was last built: the image is made again after it."""
    return "%d" % os.stat(str(SID_ROOT) + ".packages").st_mtime_ns


@pytest.fixture(scope="module")
def image():
    """The image, imported from the sid root once, and again whenever the root is rebuilt."""
    root = sid_root()
    got = podman("image", "inspect", "--format", '{{index .Labels "pymem.root"}}', IMAGE)
    if got.returncode == 0 and got.stdout.strip() == root_built():
        return IMAGE
    tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
    imp = podman("import", "--change", "LABEL pymem.root=" + root_built(), "-", IMAGE,
                 stdin=tar.stdout)
    tar.stdout.close()
    assert tar.wait() == 0 and imp.returncode == 0, imp.stderr
    return IMAGE


def host_pid(name):
    """The container's process as the host numbers it (its own namespace numbers it 1)."""
    got = podman("inspect", "--format", "{{.State.Pid}}", name, timeout=T_START)
    assert got.returncode == 0, got.stderr
    return int(got.stdout)


def namespaces(pid):
    return {ns: os.readlink("/proc/%s/ns/%s" % (pid, ns)) for ns in ("mnt", "pid")}


@pytest.fixture(scope="module", params=SID)
def run(request, image):
    """One container per build runs the workloads while pymem-bpf profiles it from the host."""
    version = request.param
    res = Result()
    tmp = tempfile.mkdtemp(prefix="pymem-it-")
    res.output = os.path.join(tmp, "profile.json")
    name = "pymem-it-" + uuid.uuid4().hex[:12]
    target = Proc(PODMAN + ["run", "--rm", "-i", "--name", name] + LIMITS +
                  ["-v", "%s:%s:ro" % (TARGETS, SID_TARGETS), "-v", "%s:/out" % tmp, image,
                   python_exe(version), SID_TARGETS + "/workloads.py",
                   "--report", "/out/report.json"] + WORKLOADS, name="podman")
    try:
        inside = int(target.wait_line("stdout", r"^READY (\d+) ", T_START).group(1))
        res.target_pid = host_pid(name)
        got = podman("inspect", "--format", "{{.Id}}", name, timeout=T_START)
        assert got.returncode == 0, got.stderr
        res.container_id = got.stdout.strip()
        ns = namespaces(res.target_pid)
        run_session(res, target, res.target_pid, os.path.join(tmp, "report.json"))
    finally:
        target.kill()
        podman("rm", "-f", "-t", "0", name, timeout=T_STOP)
    return version, res, inside, ns


def test_container_is_its_own(run):
    """The premise: other mount and pid namespaces, a pid of its own."""
    version, res, inside, ns = run
    assert ns != namespaces("self"), ns
    assert inside != res.target_pid


def test_session_names_paths_as_the_container_does(run):
    version, res, inside, ns = run
    prof = require_ok(res)
    assert res.target_rc == 0, res.dump()
    m = res.attached
    assert m and int(m.group(1)) == res.target_pid, res.stderr
    assert m.group(2) == python_version(version) and m.group(3) == python_exe(version), m.group(0)
    assert prof["pid"] == res.target_pid
    assert prof["python"]["executable"] == python_exe(version), prof["python"]
    assert prof["python"]["libpython"] is None, prof["python"]
    assert res.report["file"] == SID_TARGETS + "/workloads.py"
    check_stacks(prof)


def test_profile_names_the_container(run):
    """The JSON's container is the one podman started (its full ID), and no pod."""
    version, res, inside, ns = run
    prof = require_ok(res)
    assert prof["container"] == {"id": res.container_id, "runtime": "podman",
                                 "pod_uid": None}, (prof["container"], res.container_id)


def test_container_ground_truth(run):
    """As test_ground_truth.py: what make_and_hold, grow_heap, small_dicts and ctypes_leak
    keep, and each thread's live bytes (the sum of sys.getsizeof of what it keeps)."""
    version, res, inside, ns = run
    prof = require_ok(res)
    check_held_workloads(prof, res.report, TOLERANCE)
    check_ctypes_leak(prof, res.report, TOLERANCE)
    for name, want in res.report["facts"]["thread_live_bytes"].items():
        got = total(prof, lambda s, name=name: name in functions(s), "live_bytes")
        assert within(got, want, TOLERANCE), (name, got, want)
