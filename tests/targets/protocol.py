"""The line protocol of the small targets (mapper, forker, short_code, long_module).

Prints "READY", waits for a line on stdin, runs the work, prints the line it returns, then
waits for stdin to close, so that whatever the work keeps is still live when the profiler
stops.  serve_timed() is the benchmarks' (request_handler): "READY <pid>", and the work's
seconds, timed in-process, as "ELAPSED <seconds> CPU <seconds>" (wall clock, and the
process's CPU time).
"""

import os
import sys
import time


def serve(work, ready="READY"):
    sys.stdout.write(ready + "\n")
    sys.stdout.flush()
    sys.stdin.readline()
    sys.stdout.write(work() + "\n")
    sys.stdout.flush()
    sys.stdin.read()


def serve_timed(work, setup=None):
    """setup, if any, runs first, untimed (after "go": a profiler attached by then sees it)."""
    def timed():
        if setup:
            setup()
        t0, c0 = time.perf_counter(), time.process_time()
        work()
        return "ELAPSED %.6f CPU %.6f" % (time.perf_counter() - t0, time.process_time() - c0)
    serve(timed, "READY %d" % os.getpid())
