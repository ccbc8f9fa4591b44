"""Threads that allocate without pause, each keeping a checksum of everything it built.

Prints READY; on "go" starts the threads and prints RUNNING; on "stop" lets every thread finish
its round and prints "RESULT seed:rounds:crc ..." for each.  A thread's checksum depends only
on its seed and how many rounds it ran (see expected()), so the test can tell whether the
allocator ever returned wrong memory while the profiler attached, detached or died.
"""
import sys
import threading
import zlib

THREADS = 4


def one_round(seed, r, crc):
    d = {i: [seed, r, i, str(i) * 3] for i in range(200)}
    blob = bytearray(600) + repr(sorted(d.items())[::17]).encode()
    return zlib.crc32(bytes(blob), crc)


def expected(seed, rounds):
    crc = 0
    for r in range(rounds):
        crc = one_round(seed, r, crc)
    return crc


def work(seed, stop, out):
    crc, r = 0, 0
    while not stop.is_set():
        crc = one_round(seed, r, crc)
        r += 1
    out[seed] = (r, crc)


def main():
    print("READY", flush=True)
    sys.stdin.readline()
    stop = threading.Event()
    out = [None] * THREADS
    threads = [threading.Thread(target=work, args=(s, stop, out)) for s in range(THREADS)]
    for t in threads:
        t.start()
    print("RUNNING", flush=True)
    sys.stdin.readline()
    stop.set()
    for t in threads:
        t.join()
    print("RESULT " + " ".join("%d:%d:%d" % (s, r, c) for s, (r, c) in enumerate(out)),
          flush=True)


if __name__ == "__main__":
    main()
