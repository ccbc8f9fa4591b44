"""`pymem-bpf agent`: one loaded object for every Python process, served over HTTP.

Each target (tests/targets/agent_target.py) allocates a known number of 10000-byte
bytearrays in a function named for it and keeps them: its live bytes are that product, and
the allocating function is that name.  The agent is told to --match this run's token only,
so it never touches another process on the machine.
"""

import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from agent_client import free_port, get
from conftest import DEFAULT_VERSION, T_ATTACH, T_START, T_STOP, TARGETS, Proc, binary, python_argv
from profiles import within

SIZE = 10000
EXACT = ("--sample-interval", "0")
AGENT_TARGET = TARGETS / "agent_target.py"


def status_of(port, path):
    try:
        return get(port, path)[0], b""
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class Agent:
    def __init__(self, token, extra=()):
        self.token = token
        self.port = free_port()
        self.proc = Proc([binary(), "agent", "--listen", f"127.0.0.1:{self.port}",
                          "--match", token, *extra], name="pymem-bpf agent")
        self.proc.wait_line("stderr", r"agent listening on http://127\.0\.0\.1:%d$" % self.port,
                            T_ATTACH)

    def targets(self):
        return json.loads(get(self.port, "/targets")[2])

    def wait_attached(self, pids, timeout=T_ATTACH):
        end = time.time() + timeout
        while time.time() < end:
            got = {t["pid"]: t["status"] for t in self.targets()}
            if all(got.get(p) == "attached" for p in pids):
                return
            time.sleep(0.2)
        raise AssertionError("not attached: %s\n%s" % (got, self.proc.describe()))

    def metrics(self):
        """{(name, pid): value} of the per-process series"""
        out = {}
        for line in get(self.port, "/metrics")[2].decode().splitlines():
            m = re.match(r'^(pymem_\w+)\{pid="(\d+)",.*\} (\d+)$', line)
            if m and "reason=" not in line:
                out[(m.group(1), int(m.group(2)))] = int(m.group(3))
        return out


def map_pids(agent_pid, names=("stats", "stacks", "alias", "codes", "spill")):
    """The pids keying the entries of the agent's shared maps (its own map fds, by id)."""
    pids = set()
    for fd in os.listdir(f"/proc/{agent_pid}/fdinfo"):
        try:
            with open(f"/proc/{agent_pid}/fdinfo/{fd}") as f:
                m = re.search(r"^map_id:\s+(\d+)$", f.read(), re.M)
        except OSError:
            continue
        if not m:
            continue
        show = json.loads(subprocess.run(["bpftool", "map", "show", "id", m.group(1), "-j"],
                                         capture_output=True, text=True).stdout)
        if show.get("name") not in names:
            continue
        dump = json.loads(subprocess.run(["bpftool", "map", "dump", "id", m.group(1), "-j"],
                                         capture_output=True, text=True).stdout)
        pids.update(e["formatted"]["key"]["pid"] for e in dump)
    return pids


def start_target(token, name, count, size=SIZE):
    t = Proc(python_argv(DEFAULT_VERSION) + [str(AGENT_TARGET), name, str(count), str(size),
                                             token], name=name)
    t.wait_line("stdout", r"^READY$", T_START)
    return t


def run_targets(targets):
    for t in targets:
        t.send("go\n")
    for t in targets:
        t.wait_line("stdout", r"^DONE$", T_STOP)


def token():
    return "agtok%d_%d" % (os.getpid(), time.monotonic_ns() % 10**9)


def test_twenty_processes_each_its_own_bytes_and_exits_mid_session():
    tok = token()
    targets = [start_target(tok, "alloc_in_proc_%d" % i, 100 + 37 * i) for i in range(20)]
    # exact: a byte lost or counted under another process shows
    agent = Agent(tok, EXACT)
    try:
        pids = [t.pid for t in targets]
        agent.wait_attached(pids)
        run_targets(targets)
        m = agent.metrics()
        for i, t in enumerate(targets):
            want = (100 + 37 * i) * SIZE
            assert within(m[("pymem_live_bytes", t.pid)], want, 0.05), (i, m, want)
            assert m[("pymem_alloc_objects_total", t.pid)] >= 100 + 37 * i
            assert m[("pymem_stack_walks_total", t.pid)] > 0, m
        # half of them exit mid-session: dropped from the list, the rest unchanged
        for t in targets[::2]:
            t.close_stdin()
            assert t.wait(T_STOP) == 0, t.describe()
        end = time.time() + 10
        while time.time() < end and any(p in {x["pid"] for x in agent.targets()}
                                        for p in pids[::2]):
            time.sleep(0.2)
        listed = {x["pid"] for x in agent.targets()}
        assert not listed & set(pids[::2]), listed
        # their entries in the kernel maps are freed; the survivors' are there
        in_maps = map_pids(agent.proc.pid)
        assert not in_maps & set(pids[::2]), in_maps
        assert set(pids[1::2]) <= in_maps, in_maps
        m = agent.metrics()
        for i, t in enumerate(targets):
            if i % 2 == 0:
                assert ("pymem_live_bytes", t.pid) not in m
            else:
                assert within(m[("pymem_live_bytes", t.pid)], (100 + 37 * i) * SIZE, 0.05), i
        # the survivors' profiles name their own function only
        for i, t in list(enumerate(targets))[1:6:2]:
            top = go_pprof_top(agent.port, t.pid)
            named = re.findall(r"\balloc_in_proc_(\d+)\b", top)
            assert set(named) == {str(i)}, top
    finally:
        agent.proc.signal(signal.SIGTERM)
        assert agent.proc.wait(T_STOP) == 0, agent.proc.describe()
        for t in targets:
            t.kill()


def go_pprof_top(port, pid, path="heap"):
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, HOME=tmp, PPROF_TMPDIR=tmp, GOCACHE=tmp + "/gocache")
        out = subprocess.run(["go", "tool", "pprof", "-top",
                              f"http://127.0.0.1:{port}/debug/pprof/{path}?pid={pid}"],
                             capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_go_pprof_names_the_allocating_function_heap_and_allocs():
    tok = token()
    agent = Agent(tok)
    # started after the agent: found by its scan
    t = start_target(tok, "agent_heap_maker", 1500)
    try:
        agent.wait_attached([t.pid])
        run_targets([t])
        top = go_pprof_top(agent.port, t.pid)
        assert "Type: inuse_space" in top, top
        assert "agent_heap_maker" in top, top
        top = go_pprof_top(agent.port, t.pid, "allocs")
        assert "Type: alloc_space" in top, top
        assert "agent_heap_maker" in top, top
        # bad queries: 400 with one line; an unknown pid: 404; not GET: 405
        for q in ("/debug/pprof/heap", "/debug/pprof/heap?pid=x", "/debug/pprof/heap?pid=1&pod=z",
                  "/metrics?pid=1"):
            code, body = status_of(agent.port, q)
            assert code == 400 and body.count(b"\n") == 1, (q, code, body)
        code, body = status_of(agent.port, "/debug/pprof/heap?pid=999999999")
        assert code == 400 and body.count(b"\n") == 1, (code, body)
        code, body = status_of(agent.port, "/debug/pprof/heap?pid=1")
        assert code == 404 and body.count(b"\n") == 1, (code, body)
        req = urllib.request.Request(f"http://127.0.0.1:{agent.port}/metrics", data=b"x",
                                     method="POST")
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=30)
        assert e.value.code == 405
    finally:
        agent.proc.signal(signal.SIGTERM)
        assert agent.proc.wait(T_STOP) == 0, agent.proc.describe()
        t.kill()


def raw_alloc_space(port, path):
    """Total alloc_space of a profile, as `go tool pprof -raw` lists its samples."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "p.pb.gz")
        with open(out, "wb") as f:
            f.write(get(port, path)[2])
        env = dict(os.environ, HOME=tmp, PPROF_TMPDIR=tmp, GOCACHE=tmp + "/gocache")
        raw = subprocess.run(["go", "tool", "pprof", "-raw", out], capture_output=True,
                             text=True, env=env, timeout=120)
    assert raw.returncode == 0, raw.stderr
    lines = raw.stdout.split("Samples:\n", 1)[1].split("Locations", 1)[0].splitlines()[1:]
    return sum(int(line.split()[1]) for line in lines if line.strip())


def test_allocs_seconds_is_the_delta_over_those_seconds():
    tok = token()
    count = 800
    t = start_target(tok, "delta_window_alloc", count)
    agent = Agent(tok, EXACT)
    try:
        agent.wait_attached([t.pid])
        run_targets([t])  # before the window: in the cumulative profile only
        got = {}
        fetch = threading.Thread(target=lambda: got.update(
            delta=raw_alloc_space(agent.port, f"/debug/pprof/allocs?pid={t.pid}&seconds=4")))
        fetch.start()
        time.sleep(1)
        run_targets([t])  # within it
        fetch.join(60)
        total = raw_alloc_space(agent.port, f"/debug/pprof/allocs?pid={t.pid}")
        assert within(total, 2 * count * SIZE, 0.10), total
        assert within(got["delta"], count * SIZE, 0.10), (got, total)
    finally:
        agent.proc.signal(signal.SIGTERM)
        assert agent.proc.wait(T_STOP) == 0, agent.proc.describe()
        t.kill()


def test_prometheus_scrapes_live_bytes_within_ten_percent():
    tok = token()
    # the agent's default, sampled at 512 KiB: blocks of 2 MiB are each seen with probability
    # 1 - e^-4, so 100 of them are estimated within about 1.4% (one standard deviation)
    count, size = 100, 2 << 20
    t = start_target(tok, "prom_scraped_alloc", count, size)
    agent = Agent(tok)
    prom = None
    try:
        agent.wait_attached([t.pid])
        run_targets([t])
        with tempfile.TemporaryDirectory() as tmp:
            pport = free_port()
            cfg = os.path.join(tmp, "prometheus.yml")
            with open(cfg, "w") as f:
                f.write("global:\n  scrape_interval: 1s\nscrape_configs:\n"
                        "  - job_name: pymem\n    static_configs:\n"
                        f"      - targets: ['127.0.0.1:{agent.port}']\n")
            prom = Proc(["prometheus", f"--config.file={cfg}", f"--storage.tsdb.path={tmp}/db",
                         f"--web.listen-address=127.0.0.1:{pport}"], name="prometheus")
            q = urllib.parse.quote(f'pymem_live_bytes{{pid="{t.pid}"}}')
            value, end = None, time.time() + 60
            while time.time() < end:
                try:
                    res = json.loads(get(pport, f"/api/v1/query?query={q}")[2])
                    if res["data"]["result"]:
                        value = float(res["data"]["result"][0]["value"][1])
                        break
                except (urllib.error.URLError, ConnectionError):
                    pass
                time.sleep(0.5)
            assert value is not None, prom.describe()
            assert within(value, count * size, 0.10), (value, count * size)
        assert agent.metrics()[("pymem_sample_interval_bytes", t.pid)] == 512 << 10
    finally:
        if prom:
            prom.kill()
        agent.proc.signal(signal.SIGTERM)
        assert agent.proc.wait(T_STOP) == 0, agent.proc.describe()
        t.kill()


def redirect_free(pid):
    """A fresh `pymem-bpf -p PID` redirects the tables: nothing left them hooked."""
    prof = Proc([binary(), "-p", str(pid), "-d", "1"], name="pymem-bpf -p")
    assert prof.wait(T_STOP) == 0, prof.describe()
    assert "redirection failed" not in prof.text("stderr"), prof.describe()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_agent_exit_leaves_targets_running(sig):
    tok = token()
    targets = [start_target(tok, "survivor_%d" % i, 300) for i in range(3)]
    agent = Agent(tok)
    try:
        agent.wait_attached([t.pid for t in targets])
        run_targets(targets)
        agent.proc.signal(sig)
        rc = agent.proc.wait(T_STOP)
        assert rc == (0 if sig == signal.SIGTERM else -signal.SIGKILL), agent.proc.describe()
        # every target allocates and frees on, and exits cleanly
        run_targets(targets)
        if sig == signal.SIGTERM:
            for t in targets:
                redirect_free(t.pid)
        for t in targets:
            t.close_stdin()
            assert t.wait(T_STOP) == 0, t.describe()
    finally:
        for t in targets:
            t.kill()


def test_tables_hooked_falls_back_to_symbol_probes():
    """Another pymem-bpf holds the target's allocator tables: the agent probes its symbols."""
    tok = token()
    count = 1000
    t = start_target(tok, "fallback_alloc", count)
    other = Proc([binary(), "-p", str(t.pid)], name="pymem-bpf -p")
    agent = None
    try:
        other.wait_line("stderr", r"^pymem-bpf: attached to PID", T_ATTACH)
        agent = Agent(tok)
        end = time.time() + T_ATTACH
        while time.time() < end:
            status = {x["pid"]: x["status"] for x in agent.targets()}.get(t.pid, "")
            if status:
                break
            time.sleep(0.2)
        assert status.startswith("symbol probes: "), (status, agent.proc.describe())
        run_targets([t])
        m = agent.metrics()
        assert within(m[("pymem_live_bytes", t.pid)], count * SIZE, 0.10), m
    finally:
        if agent:
            agent.proc.signal(signal.SIGTERM)
            assert agent.proc.wait(T_STOP) == 0, agent.proc.describe()
        other.signal(signal.SIGINT)
        assert other.wait(T_STOP) == 0, other.describe()
        t.kill()


def test_max_overhead_grows_every_targets_interval():
    """--max-overhead 1 from 16 KiB: a churning target's probes take more than 1% of its CPU at
    that interval, so the agent grows it, and says so in pymem_sample_interval_bytes."""
    tok = token()
    t = Proc(python_argv(DEFAULT_VERSION) + [str(TARGETS / "churn.py"), "3000000", "20", tok],
             name="churn")
    t.wait_line("stdout", r"^READY", T_START)
    agent = Agent(tok, ("--sample-interval", "16KiB", "--max-overhead", "1"))
    try:
        agent.wait_attached([t.pid])
        assert agent.metrics()[("pymem_sample_interval_bytes", t.pid)] == 16 << 10
        t.send("go\n")
        seen, end = 16 << 10, time.time() + 60
        while time.time() < end and seen <= 16 << 10:
            time.sleep(1)
            seen = agent.metrics().get(("pymem_sample_interval_bytes", t.pid), seen)
        assert seen > 16 << 10, agent.proc.describe()
    finally:
        agent.proc.signal(signal.SIGTERM)
        assert agent.proc.wait(T_STOP) == 0, agent.proc.describe()
        t.kill()


@pytest.mark.parametrize("args, says", [
    (["--match", "("], "bad --match regex"),
    (["--listen", "nowhere"], "bad --listen"),
    (["--listen", "127.0.0.1:0"], "bad --listen"),
    (["--listen", "1.2.3:80"], "bad --listen"),
    (["--sample-interval", "-5"], "invalid number of bytes"),
    (["--max-overhead", "0"], "invalid percentage"),
    (["--max-overhead", "101"], "invalid percentage"),
    (["--sample-interval", "0", "--max-overhead", "5"], "--max-overhead adapts sampled mode"),
    (["--kubelet", "http://127.0.0.1:1"], "--kubelet: GET http://127.0.0.1:1/pods"),
])
def test_bad_input_one_line_exit_2(args, says):
    p = Proc([binary(), "agent"] + args, name="pymem-bpf agent")
    assert p.wait(T_STOP) == 2, p.describe()
    err = p.text("stderr").strip().splitlines()
    assert len(err) == 1 and says in err[0], p.describe()


def test_port_in_use_one_line_exit_2():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        p = Proc([binary(), "agent", "--listen", f"127.0.0.1:{port}"], name="pymem-bpf agent")
        assert p.wait(T_STOP) == 2, p.describe()
    err = p.text("stderr").strip().splitlines()
    assert len(err) == 1 and "Address already in use" in err[0], p.describe()
