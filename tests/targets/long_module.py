"""A module LINES lines long whose line i keeps a bytearray of BASE + i bytes: one code object
met at thousands of positions, each of which must be named with its own line.

Protocol: tests/targets/protocol.py; the work prints "DONE <bytes a buffer asks for beyond its
length>" (oracle.py).
"""

from oracle import buffer_extra
from protocol import serve

LINES, BASE = 5000, 1000
FILE = "<long module>"


def work():
    src = "\n".join("b%d = bytearray(%d)" % (i, BASE + i) for i in range(1, LINES + 1))
    held = {}
    exec(compile(src, FILE, "exec"), held)
    work.held = held
    return "DONE %d" % EXTRA


if __name__ == "__main__":
    EXTRA = buffer_extra()
    serve(work)
