"""Holds a few small blocks made as the very last thing before os._exit(0): their events are
still in the trampolines' batch when the process exits, no later probe hit accounts them, and
only the drain at libc's _exit sees them before the process's memory is gone.

    exit_batch.py             starts at once (launch mode)
    exit_batch.py --wait      prints READY and waits for a line first (pymem-bpf -p)
    exit_batch.py --oracle    prints "PER <bytes>", what one held bytearray asks the allocator
                              for as tracemalloc counts it, and exits (run it unprofiled)
"""

import os
import sys

COUNT, SIZE = 10, 100
# sized up front: a list growing on the marked line would add its own blocks there
HELD = [None] * COUNT


def churn():
    """Many allocations and frees elsewhere first, so the batch is well under way."""
    junk = [str(i) * 3 for i in range(20000)]
    return len(junk)


def hold():
    for i in range(COUNT):
        HELD[i] = bytearray(SIZE)  # @held


def main():
    if "--oracle" in sys.argv:
        from oracle import requested_bytes
        print("PER %d" % requested_bytes(lambda: bytearray(SIZE)), flush=True)
        return
    if "--wait" in sys.argv:
        sys.stdout.write("READY\n")
        sys.stdout.flush()
        sys.stdin.readline()
    churn()
    hold()
    # allocates nothing: the held blocks' events are the batch's last
    os._exit(0)


if __name__ == "__main__":
    main()
