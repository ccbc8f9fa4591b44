"""A module LINES lines long whose line i keeps a bytearray of BASE + i bytes: one code object
met at thousands of positions, each of which must be named with its own line.

Protocol: tests/targets/protocol.py; the work prints "DONE".
"""

import sys

from protocol import serve

LINES = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
BASE = 1000
FILE = "<long module>"


def work():
    src = "\n".join("b%d = bytearray(%d)" % (i, BASE + i) for i in range(1, LINES + 1))
    code = compile(src, FILE, "exec")
    held = {}
    exec(code, held)
    work.held = held
    return "DONE"


if __name__ == "__main__":
    serve(work)
