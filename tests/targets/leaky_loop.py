"""A loop that leaks a known amount per iteration, for the `pymem-bpf diff` tests.

Runs on CPython 3.8-3.15.  Protocol on stdin/stdout:

    -> READY <pid> <python version>     once started (and the report written)
    <- run <K>                           runs K more iterations
    -> RAN <total iterations so far>
    <- EOF                               ends the process with os._exit(0), so nothing the
                                         loop leaked is freed by interpreter shutdown

Each iteration, on the marked lines:
    @leak    one bytes object of LEAK_SIZE payload, kept forever in LEAKED
    @churn   a CHURN_SIZE bytearray, freed when the iteration returns

--report FILE writes a JSON report before READY: this file's path, the marked lines, and the
sizes the allocator is asked for on them.
"""

import json
import os
import sys

from marks import markers

LEAK_SIZE = 1000
CHURN_SIZE = 50_000
LEAKED = []


def iterate():
    scratch = bytearray(CHURN_SIZE)  # @churn
    kept = bytes(LEAK_SIZE)  # @leak
    LEAKED.append(kept)  # @append
    return len(scratch)


def run(k):
    for _ in range(k):
        iterate()


def say(text):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def main():
    argv = sys.argv[1:]
    if argv[:1] == ["--report"] and len(argv) == 2:
        with open(argv[1], "w") as f:
            json.dump({
                "file": __file__,
                "lines": markers(__file__),
                # One object per leak: a bytes of LEAK_SIZE is a single block this large.
                "leak_block": sys.getsizeof(bytes(LEAK_SIZE)),
                # The bytearray object, then its buffer (CHURN_SIZE + the trailing NUL).
                "churn_blocks": [bytearray.__basicsize__, CHURN_SIZE + 1],
            }, f)
    elif argv:
        sys.exit("usage: leaky_loop.py [--report FILE]")
    total = 0
    say("READY %d %s" % (os.getpid(), sys.version.split()[0]))
    for line in sys.stdin:
        words = line.split()
        if len(words) != 2 or words[0] != "run":
            sys.exit("leaky_loop.py: expected 'run K', got %r" % line)
        run(int(words[1]))
        total += int(words[1])
        say("RAN %d" % total)
    os._exit(0)


if __name__ == "__main__":
    main()
