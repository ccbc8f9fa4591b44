"""numpy (Debian's python3-numpy) after "go", then its arrays, whose data numpy allocates with
libc's malloc itself, on the line protocol (protocol.py): prints LOADED once numpy is imported
and waits for a line; the work holds HOLD arrays of ONE bytes and churns CHURN of ONE."""

import sys

from protocol import serve

HOLD, CHURN, ONE = 60, 2000, 2_000_000
held = []


def work():
    import numpy
    sys.stdout.write("LOADED\n")
    sys.stdout.flush()
    sys.stdin.readline()
    held.extend(hold_arrays(numpy))
    churn_arrays(numpy)
    return "DONE"


def hold_arrays(numpy):
    return [numpy.ones(ONE // 8) for _ in range(HOLD)]


def churn_arrays(numpy):
    for _ in range(CHURN):
        a = numpy.empty(ONE // 8)
        a += 1


serve(work)
