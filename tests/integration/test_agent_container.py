"""Issue 16's end-to-end case: `pymem-bpf agent` in a podman container, run as
deploy/daemonset.yaml runs it (host PID namespace, only the manifest's capabilities, its
seccomp profile, a read-only root), finds a Python process in another container, profiles
it to ground truth and labels it with that container's ID; SIGTERM restores it.

The agent's container shares the host's network namespace only so that the test reaches
it on loopback.  --match keeps the agent to this test's target on a shared machine."""

import gzip
import json
import re
import signal
import socket
import subprocess
import time
import urllib.request
import uuid

import pytest

from conftest import T_ATTACH, T_STOP, T_WORKLOAD, Proc, binary
from profiles import within
from test_container import PODMAN
from test_container import image as sid_image  # noqa: F401
from test_image import Target, agent_image, run_options  # noqa: F401

TOLERANCE = 0.05
HELD = 6 * 5_000_000 + 8 * 4_000_000	# make_and_hold and grow_heap (test_ground_truth.py)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=30) as r:
        return r.status, r.read()


def series(text, name):
    """{labels: value} of one metric in Prometheus text format."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^%s\{(.*)\} (\S+)$" % name, line)
        if m:
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(1)))
            out[tuple(sorted(labels.items()))] = float(m.group(2))
    return out


@pytest.fixture(scope="module")
def has_agent():
    if subprocess.run([binary(), "agent", "--help"], capture_output=True).returncode != 0:
        pytest.skip("this build has no `pymem-bpf agent` (issue 16's agent branch)")


def test_agent_in_a_container_labels_another_containers_process(has_agent, agent_image,
                                                                 sid_image):  # noqa: F811
    token = "agentctr" + uuid.uuid4().hex[:10]
    target = Target(sid_image, ["make_and_hold", "grow_heap"], report=token)
    port = free_port()
    agent = Proc(PODMAN + ["run", "--rm", "-i", "--network=host"] + run_options()
                 + [agent_image, "agent", "--listen", "127.0.0.1:%d" % port, "--match", token],
                 name="pymem-bpf agent (container)")
    try:
        agent.wait_line("stderr", r"agent listening on http://127\.0\.0\.1:%d$" % port,
                        T_ATTACH)
        deadline = time.monotonic() + T_ATTACH
        mine = []
        while time.monotonic() < deadline and not mine:
            mine = [t for t in json.loads(get(port, "/targets")[1])
                    if t["pid"] == target.pid and t["status"] == "attached"]
            time.sleep(0.2)
        assert mine, (json.loads(get(port, "/targets")[1]), agent.describe())
        assert mine[0]["container_id"] == target.container_id, mine
        target.proc.send("go\n")
        target.proc.wait_line("stdout", r"^DONE$", T_WORKLOAD)

        live = series(get(port, "/metrics")[1].decode(), "pymem_live_bytes")
        ours = {dict(k)["container_id"]: v for k, v in live.items()
                if dict(k).get("pid") == str(target.pid)}
        assert list(ours) == [target.container_id], live
        assert within(ours[target.container_id], HELD, TOLERANCE), (ours, HELD)

        # the container's processes merged: a Go heap profile (gzip'd protobuf)
        status, body = get(port, "/debug/pprof/heap?container=%s" % target.container_id)
        assert status == 200 and len(gzip.decompress(body)) > 0

        agent.signal(signal.SIGTERM)	# podman hands it to the agent, which restores
        assert agent.wait(T_STOP) == 0, agent.describe()
        target.proc.send("check\n")
        target.proc.wait_line("stdout", r"^CHECKED$", T_WORKLOAD)
    finally:
        agent.kill()
        target.stop()
