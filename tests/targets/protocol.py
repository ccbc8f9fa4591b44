"""The line protocol of the small targets (mapper, forker, short_code, long_module).

Prints "READY", waits for a line on stdin, runs the work, prints the line it returns, then
waits for stdin to close, so that whatever the work keeps is still live when the profiler
stops.
"""

import sys


def serve(work):
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    sys.stdin.readline()
    sys.stdout.write(work() + "\n")
    sys.stdout.flush()
    sys.stdin.read()
