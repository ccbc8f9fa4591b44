"""Array churn at a Python stack depth of about 30: the sampled-mode benchmark's third workload.

Each iteration makes and drops a few numpy arrays of 64 KiB, whose data numpy allocates with
libc's malloc (through its extension's GOT: sampled mode's libc set), and sums them.  numpy is
Debian's python3-numpy (python3.11).  Protocol as churn.py's.

    python array_churn.py [ITERATIONS] [DEPTH]
"""

import sys

from protocol import serve_timed

N = 64 * 1024 // 8


def churn(numpy, iterations):
    total = 0.0
    for i in range(iterations):
        a = numpy.full(N, float(i))
        b = a * 2.0
        total += float((a + b).sum())
    return total


def descend(levels, numpy, iterations):
    if levels > 0:
        return descend(levels - 1, numpy, iterations)
    return churn(numpy, iterations)


def main():
    import numpy
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    depth = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    # <module>, main(), serve's and the timed call are four frames; descend() makes up the rest
    serve_timed(lambda: descend(max(depth - 6, 0), numpy, iterations))


if __name__ == "__main__":
    main()
