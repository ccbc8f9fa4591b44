"""Anonymous mappings are heap; a file mapping is not; an unmapped one is not live.

Protocol: prints "READY", waits for a line, holds COUNT anonymous mappings of
SIZE bytes, unmaps CLOSED more and holds one file mapping, prints "DONE", then
waits for stdin to close.

    python mapper.py
"""

import mmap
import tempfile

from protocol import serve

COUNT, SIZE, CLOSED = 4, 3_000_000, 2

held = []


def maps():
    for _ in range(COUNT):
        held.append(mmap.mmap(-1, SIZE))  # @held
    for _ in range(CLOSED):
        m = mmap.mmap(-1, SIZE)  # @closed
        m.close()
    with tempfile.TemporaryFile() as f:
        f.truncate(SIZE)
        held.append(mmap.mmap(f.fileno(), SIZE))  # @file
    return "DONE"


if __name__ == "__main__":
    serve(maps)
