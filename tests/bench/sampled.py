#!/usr/bin/python3
"""Sampled mode's cost, side by side in one run (not pass/fail).

Three workloads, each timed in-process by its CPU time (start-up and attach are not in the
ratios; the BPF programs run in the target's context, so their time is in it; on a machine
shared with other work, wall time would mostly measure the others):
tests/targets/churn.py (allocation-only churn at stack depth --depth),
tests/targets/request_handler.py (JSON decode, ~40 small objects, string templating, JSON
encode; --requests of them) and, with --workloads arrays (it needs numpy: Debian's
python3.11), tests/targets/array_churn.py (numpy arrays of 64 KiB, their data from libc's
malloc through the extension's GOT, at depth --depth; --array-iterations of them).  Modes,
run in --rounds interleaved rounds, medians reported:

  bare        no profiler;
  floor       the sampled trampolines left with no probes, as a SIGKILLed pymem-bpf leaves them;
  sampled     pymem-bpf --sample-interval (512 KiB by default);
  exact       pymem-bpf, every event;
  tracemalloc python -X tracemalloc=1.

With floor and sampled among the modes, each round also runs one process under bare, sampled
and floor in turn (--runs loops each, after a first kept apart): the same process's loops
agree within 2% where processes differ by up to 1.6x on this VM (the speed of its vCPU then),
so this is the sharper comparison of sampled mode with the floor and with bare.  The target
runs on CPU 0, pymem-bpf on CPU 1, unless --no-pin.

    tests/bench/sampled.py [--python EXE] [--sid] [--rounds R] [--interval BYTES] [--runs N]
                           [--held MB] [--modes floor,sampled,...] [--workloads churn,...]
                           [--no-pin]

--held makes the request handler keep MB of small strings, made after the attach and before
the timed loop, as a service's heap: sampled mode then holds a sample per interval of them,
and an unsampled block's free more often finds its bucket in use (and looks through it).
"""

import argparse
import os
import signal
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
from bench import Child, Failed, finish_target, run_loop, sidroot  # noqa: E402

TARGETS = os.path.join(bench.REPO, "tests", "targets")
MODES = ["bare", "floor", "sampled", "exact", "tracemalloc"]


def workloads(args):
    every = {"churn": ["churn.py", args.iterations, args.depth],
             "request handler": ["request_handler.py", args.requests, args.held],
             "arrays": ["array_churn.py", args.array_iterations, args.depth]}
    return {w: every[w] for w in args.workloads.split(",")}


def pinned(args, cpu):
    """taskset's prefix that keeps a process on cpu (none with --no-pin or one CPU)"""
    return ["taskset", "-c", str(cpu)] if args.pin else []


def start(args, argv, extra=()):
    head, where = [args.python], TARGETS
    if args.sid:
        head, where = ["chroot", sidroot.ROOT, args.python], sidroot.TARGETS_IN_ROOT
    return started(Child(pinned(args, 0) + head + list(extra) + [os.path.join(where, argv[0])]
                         + argv[1:]), "stdout", r"^READY (\d+)", "target did not start")


def attach(args, target, extra):
    return started(Child(pinned(args, 1) + [args.binary, "-p", target.pid, "-o", "/dev/null"]
                         + extra), "stderr", r"attached to PID", "pymem-bpf did not attach")


def started(child, stream, pattern, what):
    """child, once its stream says pattern; else it is killed and the run fails."""
    m, _ = child.wait_line(stream, pattern, 300)
    if not m:
        child.kill()
        raise Failed("%s: %s" % (what, child.tail("stderr")))
    return child


def one(args, mode, argv):
    """The loop's CPU seconds under mode."""
    sampled = ["--sample-interval", str(args.interval)]
    target = start(args, argv, ["-X", "tracemalloc=1"] if mode == "tracemalloc" else [])
    prof = None
    try:
        if mode in ("floor", "sampled", "exact"):
            prof = attach(args, target, sampled if mode != "exact" else [])
        if mode == "floor":
            prof.kill()		# SIGKILL: the trampolines stay, their probes go
            prof.p.wait()
            prof = None
        # CPU time: on a loaded machine wall time measures the load
        elapsed = run_loop(target, cpu=True)
        if prof:
            rc, _ = prof.stop(signal.SIGINT)
            if rc != 0:
                raise Failed("pymem-bpf exited with %s: %s" % (rc, prof.tail("stderr")))
        return elapsed
    finally:
        if prof:
            prof.kill()
        finish_target(target)


def in_one_process(args, argv):
    """One target's loop, run --runs times in turn: bare, sampled, then (pymem-bpf SIGKILLed)
    the floor.  A process's speed is its own (here, runs of one process agree within 2% where
    processes differ by up to 1.6x), so each mode is compared within it.  The first run after
    each change (bare's first: warming up) is kept apart: the attach's and the profiler's exit's
    passing cost.  Returns ({mode: [seconds]}, {mode: the first run's seconds})."""
    loops = {}
    first = {}
    target = start(args, argv)
    prof = None
    try:
        for mode in ("bare", "sampled", "floor"):
            if mode == "sampled":
                prof = attach(args, target, ["--sample-interval", str(args.interval)])
            elif mode == "floor":
                prof.kill()
                prof.p.wait()
                prof = None
            first[mode] = run_loop(target, cpu=True)
            loops[mode] = [run_loop(target, cpu=True) for _ in range(args.runs)]
        return loops, first
    finally:
        if prof:
            prof.kill()
        finish_target(target)


def report_one_process(w, rounds):
    """Each mode's median over a process's runs, x its bare median; medians over the processes."""
    ratio = {m: [] for m in ("floor", "sampled", "diff", "attach", "exit")}
    for loops, first in rounds:
        bare, floor, sampled = (statistics.median(loops[m]) for m in ("bare", "floor", "sampled"))
        ratio["floor"].append(floor / bare)
        ratio["sampled"].append(sampled / bare)
        ratio["diff"].append(100 * (sampled - floor) / bare)
        ratio["attach"].append(first["sampled"] / sampled)
        ratio["exit"].append(first["floor"] / floor)
    med = {m: statistics.median(v) for m, v in ratio.items()}
    print("%s, in one process (%d processes; runs after the first under each mode):"
          % (w, len(rounds)))
    for m in ("floor", "sampled"):
        print("  %-12s %.3fx  (%s)" % (m, med[m], " ".join("%.3f" % r for r in ratio[m])))
    print("  sampled - floor: %+.1f points of bare  (%s)"
          % (med["diff"], " ".join("%+.1f" % d for d in ratio["diff"])))
    print("  the first run after the attach: %.2fx sampled's; after pymem-bpf's exit: %.2fx the "
          "floor's" % (med["attach"], med["exit"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--python", default="/usr/bin/python3.11")
    ap.add_argument("--sid", action="store_true", help="run --python in the Debian sid root")
    ap.add_argument("--iterations", type=int, default=200000)
    ap.add_argument("--depth", type=int, default=28)
    ap.add_argument("--requests", type=int, default=4000)
    ap.add_argument("--array-iterations", type=int, default=20000)
    ap.add_argument("--held", type=int, default=0, metavar="MB",
                    help="the request handler first makes and keeps MB of small strings")
    ap.add_argument("--modes", default=",".join(MODES),
                    help="of %s (bare is always run)" % ",".join(MODES))
    ap.add_argument("--workloads", default="churn,request handler")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--interval", default="512KiB")
    ap.add_argument("--binary", default=os.path.join(bench.REPO, "build", "pymem-bpf"))
    ap.add_argument("--runs", type=int, default=3,
                    help="runs of each mode in one process, after its first (0: none)")
    ap.add_argument("--no-pin", dest="pin", action="store_false",
                    help="leave the target (else on CPU 0) and pymem-bpf (CPU 1) unpinned")
    args = ap.parse_args()
    args.pin = args.pin and (os.cpu_count() or 1) > 1
    modes = ["bare"] + [m for m in args.modes.split(",") if m != "bare"]
    if set(modes) - set(MODES) or set(args.workloads.split(",")) - {"churn", "request handler", "arrays"}:
        ap.error("unknown mode or workload")
    if args.sid:
        sidroot.install_targets()
    times = {(w, m): [] for w in workloads(args) for m in modes}
    one_process = args.runs > 0 and {"floor", "sampled"} <= set(modes)
    together = {w: [] for w in workloads(args)}
    try:
        for r in range(args.rounds):
            for w, argv in workloads(args).items():
                for m in modes:
                    times[(w, m)].append(one(args, m, argv))
                if one_process:
                    together[w].append(in_one_process(args, argv))
    except Failed as e:
        sys.exit("sampled.py: %s" % e)
    print("python %s, %d rounds, sample interval %s; medians, x bare (per-round spread)"
          % (args.python, args.rounds, args.interval))
    for w in workloads(args):
        bare = statistics.median(times[(w, "bare")])
        print("%s: bare %.3f s" % (w, bare))
        for m in modes[1:]:
            med = statistics.median(times[(w, m)])
            spread = [t / b for t, b in zip(times[(w, m)], times[(w, "bare")])]
            print("  %-12s %.3f s  %.2fx  (%s)" % (m, med, med / bare,
                                                  " ".join("%.2f" % s for s in spread)))
        if "floor" in modes and "sampled" in modes:
            floor = statistics.median(times[(w, "floor")])
            sampled = statistics.median(times[(w, "sampled")])
            # each round's own difference too: a drift of the host's speed cancels out
            paired = statistics.median((s - f) / b for s, f, b in zip(
                times[(w, "sampled")], times[(w, "floor")], times[(w, "bare")]))
            print("  sampled - floor: %+.1f points of bare (median of rounds' own: %+.1f)"
                  % (100 * (sampled - floor) / bare, 100 * paired))
    for w, rounds in together.items():
        if rounds:
            report_one_process(w, rounds)


if __name__ == "__main__":
    main()
