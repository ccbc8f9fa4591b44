"""A churn loop run at a Python stack depth of about 30: the benchmark's workload.

Protocol: prints "READY <pid>", and for each line on stdin runs the loop and prints
"ELAPSED <seconds> CPU <seconds>" (the loop alone, timed in-process: wall clock, and the
process's CPU time, which other processes' load inflates much less), until stdin closes.

    python churn.py [ITERATIONS] [DEPTH]
"""

import os
import sys
import time


def churn(iterations):
    keep = []
    for i in range(iterations):
        d = {"i": i, "s": str(i)}
        row = [i, d, "x" * (i % 50 + 2)]
        keep.append(row)
        if i % 10 == 0:
            keep.append(bytearray(600))
        if len(keep) > 2000:
            del keep[:]
    return len(keep)


def descend(levels, iterations):
    if levels > 0:
        return descend(levels - 1, iterations)
    return churn(iterations)


def main():
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
    depth = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    sys.stdout.write("READY %d\n" % os.getpid())
    sys.stdout.flush()
    # each line runs the loop (the benchmarks' runs of one process under each mode)
    for _ in sys.stdin:
        t0, c0 = time.perf_counter(), time.process_time()
        # <module> and main() are two frames; descend() makes up the rest.
        descend(max(depth - 4, 0), iterations)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        sys.stdout.write("ELAPSED %.6f CPU %.6f\n" % (elapsed, cpu))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
