#!/usr/bin/env python3
"""What `pymem-bpf agent` costs: its CPU and RSS, and the BPF maps' memory, with 1, 10 and
50 Python processes, idle and busy; and what attaching one more process takes.

Not pass/fail: one run, printed as a table.  CPU is the agent's own (utime + stime from
/proc/PID/stat) over WINDOW seconds, as a share of one core; maps are the kernel's memlock
figures the agent sums (pymem_bpf_maps_bytes).  Busy targets churn small dicts and lists
(allocation and free, every event through the probes) with a short sleep between rounds.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "targets"))
from agent_client import free_port, get  # noqa: E402
BINARY = REPO / "build" / "pymem-bpf"
PYTHON = "/root/.pyenv/versions/3.11.7/bin/python3"
WINDOW = 10.0
TICK = os.sysconf("SC_CLK_TCK")

IDLE = "import sys, time\nprint('READY', flush=True)\ntime.sleep(3600)\n"
BUSY = ("import sys, time\nprint('READY', flush=True)\n"
        "while True:\n    x = [{'i': i, 's': str(i)} for i in range(200)]\n    time.sleep(0.005)\n")


def text(port, path):
    return get(port, path)[2].decode()


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1)) * 1024


def start(code, token):
    p = subprocess.Popen([PYTHON, "-c", code, token], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "READY"
    return p


def wait_attached(port, pids, timeout=120):
    end = time.time() + timeout
    while time.time() < end:
        got = {t["pid"]: t for t in json.loads(text(port, "/targets"))}
        if all(got.get(p, {}).get("status") == "attached" for p in pids):
            return got
        time.sleep(0.2)
    raise SystemExit("targets not attached: %s" % got)


def case(n, busy):
    token = "agbench%d" % os.getpid()
    targets = [start(BUSY if busy else IDLE, token) for _ in range(n)]
    port = free_port()
    agent = subprocess.Popen([str(BINARY), "agent", "--listen", f"127.0.0.1:{port}",
                              "--match", token], stderr=subprocess.PIPE, text=True)
    try:
        while "listening" not in agent.stderr.readline():
            pass
        wait_attached(port, [t.pid for t in targets])
        c0, t0 = cpu_s(agent.pid), time.time()
        time.sleep(WINDOW)
        text(port, "/metrics")
        cpu = (cpu_s(agent.pid) - c0) / (time.time() - t0)
        maps = int(re.search(r"^pymem_bpf_maps_bytes (\d+)$", text(port, "/metrics"),
                             re.M).group(1))
        one = start(IDLE, token)
        got = wait_attached(port, [one.pid])
        targets.append(one)
        return cpu, rss(agent.pid), maps, got[one.pid]["attach_ms"]
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(timeout=300)
        for t in targets:
            t.kill()
            t.wait()


def main():
    print("%-6s %-5s %9s %9s %9s %14s" % ("procs", "load", "agent_cpu", "rss_MB", "maps_MiB",
                                           "attach+1_ms"))
    for n in (1, 10, 50):
        for busy in (False, True):
            cpu, r, maps, ms = case(n, busy)
            print("%-6d %-5s %8.1f%% %9.1f %9.1f %14.1f" % (
                n, "busy" if busy else "idle", cpu * 100, r / 1e6, maps / 2**20, ms),
                flush=True)


if __name__ == "__main__":
    sys.exit(main())
