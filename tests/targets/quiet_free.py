"""Frees a few objects as the very last thing before it goes idle, so that no allocation after
them can account for them: their frees are still in the trampolines' batch when the profiler
stops, and only its final drain sees them.

Prints "READY", waits for a line, builds the same objects on two marked lines, frees the first
set, writes "DONE" with os.write (which allocates nothing), then blocks reading stdin into a
buffer it already has (os.read would allocate its result first) until stdin closes.
"""

import os
import sys

COUNT, SIZE = 4, 200


def main():
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    sys.stdin.readline()
    held = [bytearray(SIZE) for _ in range(COUNT)]  # @held
    freed = [bytearray(SIZE) for _ in range(COUNT)]  # @freed
    # an allocation's probe hit accounts every free before it, so the 9 frees of the del (4
    # objects, their 4 buffers, the list's item array) are all still in the batch after buf
    buf = bytearray(4096)
    stdin = sys.stdin.buffer.raw
    del freed
    os.write(1, b"DONE\n")
    while stdin.readinto(buf):
        pass
    return held


if __name__ == "__main__":
    main()
