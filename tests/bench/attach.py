#!/usr/bin/python3
"""Attach latency and what the verifier costs, on this host's kernel (measured, not pass/fail).

Attach latency: from starting `pymem-bpf -p PID` to its "attached" line, for an idle target
(the load of the BPF object, the process model, injection and the probes), median of --rounds.
Then `pymem-bpf check -p PID`: the verifier's instructions and time per program, and the load.
The kernel matrix (`make vmtest`) reports the same figures for each kernel it boots.

    tests/bench/attach.py [--rounds N] [--python EXE ...]
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.path.join(REPO, "build", "pymem-bpf")
IDLE = os.path.join(REPO, "tests", "targets", "idle.py")
TIMEOUT = 120


def idle(python):
    p = subprocess.Popen([python, IDLE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True)
    if not p.stdout.readline().startswith("READY"):
        sys.exit("%s did not start" % python)
    return p


def attach_once(pid):
    """Seconds from exec to the "attached" line; the session then ends at once."""
    t0 = time.monotonic()
    prof = subprocess.Popen([BINARY, "-p", str(pid), "-d", "0.1", "-n", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    took = None
    for line in prof.stderr:
        if line.startswith("pymem-bpf: attached"):
            took = time.monotonic() - t0
    prof.wait(TIMEOUT)
    if took is None or prof.returncode:
        sys.exit("pymem-bpf did not attach to %d (exit %s)" % (pid, prof.returncode))
    return took


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--python", action="append",
                    default=None, help="interpreter(s); default Debian's and pyenv 3.12")
    args = ap.parse_args()
    pythons = args.python or ["/usr/bin/python3.11", "/root/.pyenv/versions/3.12.1/bin/python3"]
    print("kernel %s" % os.uname().release)
    for python in pythons:
        if not os.access(python, os.X_OK):
            print("%s: missing, skipped" % python)
            continue
        target = idle(python)
        try:
            times = [attach_once(target.pid) for _ in range(args.rounds)]
            print("\n%s: attach %.0f ms median of %d (%s)" % (
                python, statistics.median(times) * 1e3, len(times),
                " ".join("%.0f" % (t * 1e3) for t in times)))
            sys.stdout.flush()
            subprocess.run([BINARY, "check", "-p", str(target.pid)], timeout=TIMEOUT, check=True)
        finally:
            target.stdin.close()
            target.wait(TIMEOUT)


if __name__ == "__main__":
    main()
