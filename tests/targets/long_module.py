"""A module LINES lines long whose line i keeps a bytearray of BASE + i bytes: one code object
met at thousands of positions, each of which must be named with its own line.

Protocol: tests/targets/protocol.py; the work prints "DONE".
"""

from protocol import serve

LINES, BASE = 5000, 1000
FILE = "<long module>"


def work():
    src = "\n".join("b%d = bytearray(%d)" % (i, BASE + i) for i in range(1, LINES + 1))
    held = {}
    exec(compile(src, FILE, "exec"), held)
    work.held = held
    return "DONE"


if __name__ == "__main__":
    serve(work)
