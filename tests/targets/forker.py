"""Forks children that allocate, while a profiler may hold the allocator tables.

Protocol: prints "READY", waits for a line, then N times computes a checksum over
freshly allocated dicts and strings, forks, and has the child compute it again
and exit 0 if it matches (3 if not); prints "RESULT <status> ..." with each
child's raw wait status (nonzero if it died of a signal), then waits for stdin
to close.

    python forker.py [N]
"""

import os
import sys
import zlib

from protocol import serve

ROWS = 20000


def work(seed):
    rows = [{"k": i, "s": str(i * seed)} for i in range(ROWS)]  # @rows
    return zlib.crc32("".join(r["s"] for r in rows).encode())


def forks(n):
    statuses = []
    for i in range(n):
        want = work(i + 1)
        pid = os.fork()
        if pid == 0:
            os._exit(0 if work(i + 1) == want else 3)
        statuses.append(os.waitpid(pid, 0)[1])
    return "RESULT %s" % " ".join(str(s) for s in statuses)


if __name__ == "__main__":
    serve(lambda: forks(int(sys.argv[1]) if len(sys.argv) > 1 else 20))
