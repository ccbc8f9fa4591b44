"""The line protocol of the small targets (mapper, forker, short_code, long_module).

Prints "READY", waits for a line on stdin, runs the work, prints the line it returns, then
waits for stdin to close, so that whatever the work keeps is still live when the profiler
stops.  serve_timed() is the benchmarks' (request_handler): "READY <pid>", and the work's
seconds, timed in-process, as "ELAPSED <seconds> CPU <seconds>" (wall clock, and the
process's CPU time), once per line until stdin closes.
"""

import os
import sys
import time


def serve(work, ready="READY", again=None):
    """again, if any, runs for each further line before stdin closes, its line printed too."""
    sys.stdout.write(ready + "\n")
    sys.stdout.flush()
    sys.stdin.readline()
    sys.stdout.write(work() + "\n")
    sys.stdout.flush()
    for _ in sys.stdin:
        if again:
            sys.stdout.write(again() + "\n")
            sys.stdout.flush()


def serve_timed(work, setup=None):
    """setup, if any, runs first, untimed (after "go": a profiler attached by then sees it).
    Each further line runs work again (the benchmarks' runs of one process under each mode)."""
    def timed():
        t0, c0 = time.perf_counter(), time.process_time()
        work()
        return "ELAPSED %.6f CPU %.6f" % (time.perf_counter() - t0, time.process_time() - c0)

    def first():
        if setup:
            setup()
        return timed()
    serve(first, "READY %d" % os.getpid(), timed)
