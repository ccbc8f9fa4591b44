#!/usr/bin/python3
"""Overhead of pymem-bpf against the alternatives, measured in one run (not pass/fail).

The workload is tests/targets/churn.py: dicts, lists, strs and some 600-byte bytearrays made
and dropped at a Python stack depth of about 30.  The loop times itself in-process, so process
start-up and attach are not in the ratios.  It runs:

  (a) bare;
  (b) under `pymem-bpf -p PID` (attach latency and the profiler's peak RSS are reported too);
  (c) under `python -X tracemalloc=25`;
  (d) under `memleak-bpfcc -p PID` (bcc; needs kernel headers, reported if it cannot run).

Timings on a VM drift by tens of percent within minutes, so bare, pymem-bpf, tracemalloc and
the bare probe cost run in --rounds interleaved rounds: ratios use each mode's median, and the
per-round ratios show the spread.  --no-inject and memleak run once.

    tests/bench/bench.py [--python EXE] [--iterations N] [--depth D] [--rounds R] [--binary PATH]
                         [--sid]

--sid runs EXE (say /usr/bin/python3.14) chrooted into the Debian sid root (tests/sid).
"""

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHURN = os.path.join(REPO, "tests", "targets", "churn.py")
sys.path.insert(0, os.path.join(REPO, "tests", "sid"))
import sidroot  # noqa: E402
TIMEOUT = 900		# any single wait; a hung tool ends the run with a message


class Child:
    """A process whose stdout and stderr lines are collected by threads."""

    def __init__(self, argv, **kw):
        self.argv = [str(a) for a in argv]
        self.p = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, start_new_session=True, **kw)
        self.pid = self.p.pid
        self.lines = {"stdout": [], "stderr": []}
        self.stamps = {"stdout": [], "stderr": []}
        self.cond = threading.Condition()
        self.done = {"stdout": False, "stderr": False}
        for s in ("stdout", "stderr"):
            threading.Thread(target=self._drain, args=(s,), daemon=True).start()

    def _drain(self, stream):
        for raw in iter(getattr(self.p, stream).readline, b""):
            with self.cond:
                self.lines[stream].append(raw.decode("utf-8", "replace").rstrip("\n"))
                self.stamps[stream].append(time.monotonic())
                self.cond.notify_all()
        with self.cond:
            self.done[stream] = True
            self.cond.notify_all()

    def wait_line(self, stream, pattern, timeout=TIMEOUT, skip=0):
        """(match, arrival time) of the first matching line after skip others, or (None, None)
        on EOF/timeout."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                seen = 0
                for line, t in zip(self.lines[stream], self.stamps[stream]):
                    m = rx.search(line)
                    if m and seen == skip:
                        return m, t
                    seen += bool(m)
                left = deadline - time.monotonic()
                if self.done[stream] or left <= 0:
                    return None, None
                self.cond.wait(min(left, 1.0))

    def drained(self, timeout=10):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not all(self.done.values()) and time.monotonic() < deadline:
                self.cond.wait(0.2)

    def send(self, text):
        self.p.stdin.write(text.encode())
        self.p.stdin.flush()

    def tail(self, stream, n=5):
        with self.cond:
            return "\n".join(self.lines[stream][-n:])

    def stop(self, sig=signal.SIGINT, timeout=TIMEOUT):
        """Signal, wait, and return (exit code, ru_maxrss in KiB)."""
        if self.p.poll() is not None:
            return self.p.returncode, None
        os.kill(self.pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status, ru = os.wait4(self.pid, os.WNOHANG)
            if pid == self.pid:
                self.p.returncode = os.waitstatus_to_exitcode(status)
                return self.p.returncode, ru.ru_maxrss
            time.sleep(0.05)
        self.kill()
        return None, None

    def kill(self):
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.p.wait(timeout=30)
        except (subprocess.TimeoutExpired, ChildProcessError):
            pass


def vm_hwm_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class HwmSampler(threading.Thread):
    """Keeps the last VmHWM (peak RSS) read from /proc until the process goes away."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = None
        self.running = True

    def run(self):
        while self.running:
            v = vm_hwm_kib(self.pid)
            if v is None:
                return
            self.peak = v
            time.sleep(0.02)


class Failed(Exception):
    pass


def start_target(args, extra_python_args=()):
    head, churn = [args.python], CHURN
    if args.sid:
        head = ["chroot", sidroot.ROOT, args.python]
        churn = sidroot.TARGETS_IN_ROOT + "/churn.py"
    t = Child(head + list(extra_python_args) + [churn, args.iterations, args.depth])
    m, _ = t.wait_line("stdout", r"^READY (\d+)", 120)
    if not m:
        t.kill()
        raise Failed("target did not start: " + t.tail("stderr"))
    return t


ELAPSED = r"^ELAPSED (\S+) CPU (\S+)"


def run_loop(target, cpu=False):
    """The loop's seconds (its next run's): wall clock, or (cpu) the target's CPU time."""
    with target.cond:
        done = sum(bool(re.search(ELAPSED, line)) for line in target.lines["stdout"])
    target.send("go\n")
    m, _ = target.wait_line("stdout", ELAPSED, skip=done)
    if not m:
        raise Failed("target did not finish: " + target.tail("stderr"))
    return float(m.group(2 if cpu else 1))


def finish_target(target):
    try:
        target.p.stdin.close()
        target.p.wait(timeout=60)
    except (BrokenPipeError, subprocess.TimeoutExpired):
        pass
    target.kill()


def bench_bare(args, extra=()):
    target = start_target(args, extra)
    try:
        return {"time": run_loop(target)}
    finally:
        finish_target(target)


def bench_pymem(args, extra=()):
    if not os.access(args.binary, os.X_OK):
        raise Failed("%s not built (run make)" % args.binary)
    target = start_target(args)
    out = "/tmp/pymem-bench-%d.json" % os.getpid()
    prof = None
    try:
        t0 = time.monotonic()
        prof = Child([args.binary, "-p", target.pid, "-o", out] + list(extra))
        sampler = HwmSampler(prof.pid)
        sampler.start()
        m, t_att = prof.wait_line("stderr", r"attached to PID", 300)
        if not m:
            raise Failed("pymem-bpf did not attach: " + prof.tail("stderr"))
        elapsed = run_loop(target)
        rc, maxrss = prof.stop(signal.SIGINT)
        sampler.running = False
        sampler.join(timeout=5)
        if rc != 0:
            raise Failed("pymem-bpf exited with %s: %s" % (rc, prof.tail("stderr")))
        with open(out) as f:
            totals = json.load(f)["totals"]
        return {"time": elapsed, "attach": t_att - t0, "hwm": sampler.peak, "maxrss": maxrss,
                "events": totals["alloc_objects"] + totals["free_objects"],
                "allocs": totals["alloc_objects"]}
    finally:
        if prof:
            prof.kill()
        finish_target(target)
        if os.path.exists(out):
            os.unlink(out)


def bench_memleak(args):
    tool = shutil.which("memleak-bpfcc") or shutil.which("memleak")
    if not tool:
        raise Failed("memleak-bpfcc is not installed")
    target = start_target(args)
    ml = None
    try:
        # The first periodic report (interval 3 s) means every probe is attached.
        ml = Child([tool, "-p", target.pid, "3"])
        m, _ = ml.wait_line("stdout", r"Top \d+ stacks", 300)
        if not m:
            ml.stop(signal.SIGINT, timeout=30)
            ml.drained()
            # bcc prints some diagnoses on stdout, the traceback on stderr.
            lines = [l.strip() for l in ml.lines["stdout"] + ml.lines["stderr"] if l.strip()]
            # bcc's own diagnosis (e.g. missing kernel headers) beats the traceback's end.
            why = ([l for l in lines if "Unable to" in l]
                   or [l for l in lines if re.search(r"not found|No such file", l)]
                   or lines[-1:] or ["exit code %s" % ml.p.returncode])
            why = why[0]
            raise Failed("memleak-bpfcc could not start: %s" % why)
        elapsed = run_loop(target)
        ml.stop(signal.SIGINT, timeout=60)
        return {"time": elapsed}
    finally:
        if ml:
            ml.kill()
        finish_target(target)


def probe_costs(args):
    if not os.access(args.probe_cost, os.X_OK):
        return None
    out = subprocess.run([args.probe_cost], capture_output=True, text=True, timeout=TIMEOUT)
    costs = dict(line.split() for line in out.stdout.splitlines() if len(line.split()) == 2)
    try:
        return {k: float(v) for k, v in costs.items()}
    except ValueError:
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--python", default="/root/.pyenv/versions/3.11.7/bin/python3")
    ap.add_argument("--iterations", type=int, default=200000)
    ap.add_argument("--depth", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--probe-cost", default=os.path.join(REPO, "build", "probe_cost"),
                    help="the probe_cost helper (bare cost of one uprobe hit)")
    ap.add_argument("--binary", default=os.path.join(REPO, "build", "pymem-bpf"))
    ap.add_argument("--sid", action="store_true",
                    help="run --python chrooted into the Debian sid root (make sidroot)")
    args = ap.parse_args()
    if args.sid:
        sidroot.install_targets()
    if os.geteuid() != 0:
        print("note: not root; the BPF tools will fail", file=sys.stderr)

    rounds = [
        ("bare", lambda: bench_bare(args)),
        ("pymem-bpf -p", lambda: bench_pymem(args)),
        ("-X tracemalloc=25", lambda: bench_bare(args, ["-X", "tracemalloc=25"])),
    ]
    once = [
        ("  --no-inject", lambda: bench_pymem(args, ["--no-inject"])),
        ("memleak-bpfcc -p", lambda: bench_memleak(args)),
    ]
    runs = {name: [] for name, _ in rounds + once}
    probes = []
    for r in range(args.rounds):
        for name, fn in rounds + (once if r == 0 else []):
            print("round %d: %s ..." % (r + 1, name.strip()), file=sys.stderr, flush=True)
            try:
                runs[name].append(fn())
            except Failed as e:
                runs[name].append({"error": str(e)})
            except Exception as e:	# a broken tool must not hide the other numbers
                runs[name].append({"error": "%s: %s" % (type(e).__name__, e)})
        probes.append(probe_costs(args))

    def median_run(name):
        ok = sorted((r for r in runs[name] if "time" in r), key=lambda r: r["time"])
        return ok[(len(ok) - 1) // 2] if ok else (runs[name][0] if runs[name] else {})

    results = {name: median_run(name) for name in runs}
    ok_probes = [p for p in probes if p]
    probe = ({k: statistics.median(p[k] for p in ok_probes) for k in ok_probes[0]}
             if ok_probes else None)
    base = results["bare"].get("time")
    print()
    print("pymem-bpf benchmark: %s%s, %d iterations at stack depth %d (%d rounds: medians)"
          % (args.python, " (sid root)" if args.sid else "", args.iterations, args.depth,
             args.rounds))
    print("%-20s %12s %10s   %s" % ("mode", "loop time", "slowdown", "all rounds"))
    for name, _ in rounds + once:
        r = results[name]
        if "time" in r and base:
            every = " ".join("%.3f" % x["time"] for x in runs[name] if "time" in x)
            print("%-20s %11.3fs %9.1fx   %s" % (name, r["time"], r["time"] / base, every))
        else:
            print("%-20s %12s %10s   %s" % (name, "-", "-", r.get("error", "")))
    print()
    if probe:
        print("bare uprobe hit, no BPF (probe_cost): nop5 %d ns, nop1 %d ns, "
              "ordinary instruction %d ns (rounds: nop5 %s)"
              % (probe["nop5"], probe["nop1"], probe["insn"],
                 " ".join("%d" % p["nop5"] for p in ok_probes)))
    for name, _ in rounds + once:
        r = results[name]
        if "events" in r and base and r["events"]:
            per = (r["time"] - base) / r["events"] * 1e9
            ratio = " = %.1fx a bare nop5 hit" % (per / probe["nop5"]) if probe else ""
            print("%-20s %d events, %.0f ns per event%s" % (name.strip(), r["events"], per, ratio))
    tm = results["-X tracemalloc=25"].get("time")
    pm = results["pymem-bpf -p"]
    if tm and base and "time" in pm:
        print("pymem-bpf slowdown / tracemalloc slowdown: %.2f" % ((pm["time"] - base) / (tm - base)))
        if probe and pm.get("events"):
            # floors, BPF work aside: every event hits a probe; only allocations do (the
            # stack must be walked then), frees being batched as pymem-bpf does
            print("  one bare nop5 hit per event alone would be: %.2f; per allocation alone: %.2f"
                  % (pm["events"] * probe["nop5"] * 1e-9 / (tm - base),
                     pm["allocs"] * probe["nop5"] * 1e-9 / (tm - base)))
    # each round against its own bare run, nop5 and tracemalloc: the spread of the ratios
    per_round = []
    for i in range(args.rounds):
        try:
            b, p, t = (runs[n][i]["time"] for n in ("bare", "pymem-bpf -p", "-X tracemalloc=25"))
            ev, nop = runs["pymem-bpf -p"][i]["events"], probes[i]["nop5"]
        except (KeyError, IndexError, TypeError):
            continue
        per_round.append("%.1fx nop5, %.2f tm" % ((p - b) / ev * 1e9 / nop, (p - b) / (t - b)))
    if per_round:
        print("per round: " + "; ".join(per_round))
    p = results["pymem-bpf -p"]
    if "attach" in p:
        print()
        print("pymem-bpf attach latency (start to 'attached' line): %.3f s" % p["attach"])
        hwm = "%.1f MiB" % (p["hwm"] / 1024.0) if p["hwm"] else "not sampled"
        print("pymem-bpf peak RSS: VmHWM %s (ru_maxrss %.1f MiB)"
              % (hwm, (p["maxrss"] or 0) / 1024.0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
