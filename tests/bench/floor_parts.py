#!/usr/bin/python3
"""Where sampled mode's floor goes, measured inside one process (not pass/fail).

The floor is the sampled trampolines with no probes behind them, as a SIGKILLed pymem-bpf
leaves them.  tests/targets/table_swap.py runs the request handler's loop in interleaved
rounds under allocator tables swapped between rounds: bare, every mem/obj function through a
bare jmp (what any redirection of the tables costs at the least: a PGO build inlines pymalloc
behind a check of the table at ~190 sites, and a redirected table fails that check), the
floor, and the floor of one function at a time.  Rounds in one process differ far less than
processes do (tests/bench/sampled.py's rounds are processes), so a point of cost shows.

    tests/bench/floor_parts.py [--python EXE] [--sid] [--requests N] [--rounds R]
                               [--interval BYTES] [--binary PATH]

Prints each table's median CPU time against bare, and the median of the rounds' own ratios.
"""

import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
from bench import Child, Failed, sidroot  # noqa: E402

TARGETS = os.path.join(bench.REPO, "tests", "targets")


def run(args):
    head, where = [args.python], TARGETS
    if args.sid:
        sidroot.install_targets()
        head, where = ["chroot", sidroot.ROOT, args.python], sidroot.TARGETS_IN_ROOT
    target = Child(head + [os.path.join(where, "table_swap.py"), args.requests, args.rounds])
    prof = None
    try:
        m, _ = target.wait_line("stdout", r"^READY (\d+)", 120)
        if not m:
            raise Failed("target did not start: " + target.tail("stderr"))
        prof = Child([args.binary, "-p", target.pid, "-o", "/dev/null",
                      "--sample-interval", args.interval])
        m, _ = prof.wait_line("stderr", r"attached to PID", 300)
        if not m:
            raise Failed("pymem-bpf did not attach: " + prof.tail("stderr"))
        prof.kill()		# SIGKILL: the trampolines stay, their probes go
        prof = None
        target.send("go\n")
        times = {}
        # the last table's line ends the output
        m, _ = target.wait_line("stdout", r"^TIMES floor:free ")
        if not m:
            raise Failed("target did not finish: " + target.tail("stderr"))
        for line in target.lines["stdout"]:
            if line.startswith("TIMES "):
                name, *vals = line.split()[1:]
                times[name] = [float(v) for v in vals]
        return times
    finally:
        if prof:
            prof.kill()
        target.kill()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--python", default="/usr/bin/python3.11")
    ap.add_argument("--sid", action="store_true", help="run --python in the Debian sid root")
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=31)
    ap.add_argument("--interval", default="512KiB")
    ap.add_argument("--binary", default=os.path.join(bench.REPO, "build", "pymem-bpf"))
    args = ap.parse_args()
    try:
        times = run(args)
    except Failed as e:
        sys.exit("floor_parts.py: %s" % e)
    bare = times["bare"]
    print("python %s, %d rounds of %d requests in one process; CPU time, x bare"
          % (args.python, args.rounds, args.requests))
    print("  %-14s %.4f s" % ("bare", statistics.median(bare)))
    for name, ts in times.items():
        if name == "bare":
            continue
        own = statistics.median(t / b for t, b in zip(ts, bare))
        print("  %-14s %.4f s  %.3fx  (median of the rounds' own: %.3fx)"
              % (name, statistics.median(ts), statistics.median(ts) / statistics.median(bare),
                 own))


if __name__ == "__main__":
    main()
