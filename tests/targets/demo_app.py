"""The bundled demo workload: a cache that keeps what it builds, and churn.

The allocator of the cached bytes is load_record(); the holder is the
module-level CACHE.  Churn comes from parse_batch(), whose objects die young.
Protocol: print READY, run on a line from stdin, print DONE, then hold
everything until stdin closes.
"""
import json
import sys

CACHE = {}


def load_record(i):
    return bytearray(20_000) + str(i).encode()


def warm_cache(n):
    for i in range(n):
        CACHE[i] = load_record(i)


def parse_batch(n):
    total = 0
    for i in range(n):
        doc = json.loads('{"id": %d, "tags": ["a", "b", "c"]}' % i)
        total += len(doc["tags"])
    return total


def main():
    warm_cache(500)
    for _ in range(3):
        parse_batch(2_000)
    return [str(i) * 10 for i in range(20_000)]


if __name__ == "__main__":
    print("READY", flush=True)
    sys.stdin.readline()
    KEEP = main()
    print("DONE", flush=True)
    sys.stdin.read()
