"""deploy/daemonset.yaml against what deploy/README.md says of it: the capabilities the
README's table marks added are exactly the manifest's, the host paths it marks mounted are
exactly the manifest's hostPath volumes, and the rest of the agent's posture (hostPID, not
privileged, read-only root, limits, scrape annotations, the agent's own arguments)."""

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
MANIFEST = REPO / "deploy" / "daemonset.yaml"
README = REPO / "deploy" / "README.md"


def readme_table(heading):
    """The rows of the first table under a '### heading' as lists of cells."""
    text = README.read_text()
    m = re.search(r"^### %s\n(.*?)(?=^### |\Z)" % re.escape(heading), text, re.M | re.S)
    assert m, "no section %r in %s" % (heading, README)
    rows = [line.strip().strip("|").split("|") for line in m.group(1).splitlines()
            if line.startswith("|")]
    assert len(rows) > 2, "no table under %r" % heading
    return [[c.strip() for c in row] for row in rows[2:]]  # past the header and |---|


@pytest.fixture(scope="module")
def docs():
    return list(yaml.safe_load_all(MANIFEST.read_text()))


@pytest.fixture(scope="module")
def pod(docs):
    ds = [d for d in docs if d["kind"] == "DaemonSet"]
    assert len(ds) == 1
    return ds[0]["spec"]["template"]


@pytest.fixture(scope="module")
def agent(pod):
    (c,) = pod["spec"]["containers"]
    return c


def test_capabilities_are_the_readmes(agent):
    rows = readme_table("Capabilities")
    added = {r[0] for r in rows if r[1] == "added"}
    not_added = {r[0] for r in rows if r[1] == "not added"}
    assert len(added) + len(not_added) == len(rows), rows
    caps = agent["securityContext"]["capabilities"]
    assert caps["drop"] == ["ALL"]
    assert set(caps["add"]) == added and len(caps["add"]) == len(added), (caps, added)
    assert not set(caps["add"]) & not_added
    # the bounds: these three, and only the three optional ones where needed
    assert {"BPF", "PERFMON", "SYS_PTRACE"} <= added
    assert added <= {"BPF", "PERFMON", "SYS_PTRACE", "SYS_RESOURCE", "DAC_READ_SEARCH",
                     "CHECKPOINT_RESTORE"}


def test_mounts_are_the_readmes(pod, agent):
    rows = readme_table("Mounts")
    mounted = {r[0] for r in rows if r[1] == "yes"}
    assert all(r[1] in ("yes", "no") for r in rows), rows
    volumes = {v["name"]: v for v in pod["spec"].get("volumes", [])}
    host_paths = {v["hostPath"]["path"] for v in volumes.values() if "hostPath" in v}
    assert host_paths == mounted, (host_paths, mounted)
    for m in agent.get("volumeMounts", []):
        assert m["name"] in volumes, m


def test_posture(pod, agent):
    spec = pod["spec"]
    assert spec["hostPID"] is True
    assert not spec.get("hostNetwork") and not spec.get("hostIPC")
    sc = agent["securityContext"]
    assert "privileged" not in sc
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    # the runtimes' default seccomp profiles refuse bpf() without CAP_SYS_ADMIN (README)
    assert sc["seccompProfile"]["type"] == "Unconfined"
    res = agent["resources"]
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(res[kind]), res
    # RSS <= 100 MB and BPF maps <= 64 MiB share the limit
    assert mebibytes(res["limits"]["memory"]) >= 100 * 1e6 / 2**20 + 64
    assert mebibytes(res["requests"]["memory"]) <= mebibytes(res["limits"]["memory"])


def mebibytes(q):
    m = re.fullmatch(r"(\d+)(Mi|Gi)", q)
    assert m, q
    return int(m.group(1)) * (1024 if m.group(2) == "Gi" else 1)


def test_agent_arguments(agent):
    args = agent["args"]
    assert args[0] == "agent"
    listen = args[args.index("--listen") + 1]
    port = int(listen.rsplit(":", 1)[1])
    assert listen == "0.0.0.0:%d" % port
    assert [p["containerPort"] for p in agent["ports"]] == [port]
    kubelet = args[args.index("--kubelet") + 1]
    assert kubelet == "https://$(NODE_IP):10250"
    env = {e["name"]: e for e in agent["env"]}
    assert env["NODE_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.hostIP"


def test_scrape_annotations(pod, agent):
    ann = pod["metadata"]["annotations"]
    port = agent["ports"][0]["containerPort"]
    assert ann["prometheus.io/scrape"] == "true"
    assert ann["prometheus.io/port"] == str(port)
    assert ann["prometheus.io/path"] == "/metrics"


def test_rbac_lets_the_kubelet_answer(docs, pod):
    """The kubelet authorises GET /pods as get on nodes/proxy, for the pod's service account."""
    role = next(d for d in docs if d["kind"] == "ClusterRole")
    assert {"apiGroups": [""], "resources": ["nodes/proxy"], "verbs": ["get"]} in role["rules"]
    binding = next(d for d in docs if d["kind"] == "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    sa = pod["spec"]["serviceAccountName"]
    ds = next(d for d in docs if d["kind"] == "DaemonSet")
    assert {"kind": "ServiceAccount", "name": sa,
            "namespace": ds["metadata"]["namespace"]} in binding["subjects"]
