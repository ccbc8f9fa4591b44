#!/usr/bin/python3
"""How long --holders stops the target, per million objects walked (measured, not pass/fail).

For each interpreter, in interleaved rounds: tests/targets/holders.py holding --bulk N small
objects (a list of (int, str) tuples, made during the session, so every one is a live block),
profiled with --holders; the pause and the objects walked come from the JSON's "heap".
Prints each round and the median of ms per million objects per interpreter and size.
Then the live heap by type of the demo workload (tests/targets/demo_app.py).

    tests/bench/holders.py [--rounds N] [--sizes N,N] [--python EXE ...] [--sid 3.13 ...]
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.path.join(REPO, "build", "pymem-bpf")
TARGETS = os.path.join(REPO, "tests", "targets")
sys.path.insert(0, os.path.join(REPO, "tests", "sid"))
import sidroot  # noqa: E402

TIMEOUT = 600
MAX_LIVE = str(1 << 21)	# twice the largest size's blocks: the table's scan is part of the pause


def argv_of(python, script):
    if python.startswith("sid-"):
        return ["chroot", sidroot.ROOT, "/usr/bin/python" + python[4:],
                sidroot.TARGETS_IN_ROOT + "/" + script]
    return [python, os.path.join(TARGETS, script)]


def session(python, script, args, target_args=(), done="DONE"):
    """One --holders session on a target run to its done line; the JSON profile and the
    exit table."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "p.json")
        target = subprocess.Popen(argv_of(python, script) + list(target_args),
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            if not target.stdout.readline().startswith("READY"):
                sys.exit("%s did not start" % python)
            prof = subprocess.Popen([BINARY, "-p", str(target.pid), "--holders", "-f", "json",
                                     "-o", out] + list(args),
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for line in prof.stderr:
                if line.startswith("pymem-bpf: attached"):
                    break
            target.stdin.write("go\n")
            target.stdin.flush()
            for line in target.stdout:
                if line.strip() == done:
                    break
            prof.send_signal(signal.SIGINT)
            table, _ = prof.communicate(timeout=TIMEOUT)
            if prof.returncode:
                sys.exit("pymem-bpf failed on %s (exit %d)" % (python, prof.returncode))
            with open(out) as f:
                return json.load(f), table
        finally:
            target.kill()
            target.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sizes", default="250000,1000000", help="objects held, in tuples of 3")
    ap.add_argument("--python", action="append", default=None)
    ap.add_argument("--sid", action="append", default=None, help="Debian sid's 3.X")
    args = ap.parse_args()
    pythons = args.python or ["/root/.pyenv/versions/3.11.7/bin/python3", "/usr/bin/python3.11",
                              "/root/.pyenv/versions/3.13.0/bin/python3"]
    pythons += ["sid-" + v for v in (args.sid or ["3.13"])]
    if any(p.startswith("sid-") for p in pythons):
        sidroot.install_targets()
    sizes = [int(s) for s in args.sizes.split(",")]
    per = {}
    for r in range(args.rounds):
        for python in pythons:
            for n in sizes:
                prof, _ = session(python, "holders.py", ["--max-live", MAX_LIVE],
                                  ["--bulk", str(n // 3)])
                heap = prof["heap"]
                ms = heap["paused_ms"] * 1e6 / heap["objects_walked"]
                per.setdefault((python, n), []).append(ms)
                print("round %d %s %d: paused %.1f ms for %d objects = %.0f ms per million"
                      % (r + 1, python, n, heap["paused_ms"], heap["objects_walked"], ms),
                      flush=True)
    print("median pause per million objects walked:")
    for (python, n), v in per.items():
        print("  %-45s %8d objects: %6.0f ms (rounds %s)" % (
            python, n, statistics.median(v), ", ".join("%.0f" % x for x in v)))

    _, table = session(pythons[0], "demo_app.py", ["-n", "5"])
    print("demo workload (tests/targets/demo_app.py on %s), the exit table:" % pythons[0])
    print(table)


if __name__ == "__main__":
    main()
