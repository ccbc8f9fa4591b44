"""Code objects that die as soon as they have run, as module code does after import.

Protocol: prints "READY", waits for a line, then runs COUNT snippets, each
compiled under its own file name gen_<i>.py and dropped after exec; snippet i
keeps a bytearray of SIZE + STEP * i bytes alive (line 2 of its file).  Prints
"DONE <bytes a buffer asks for beyond its length>" (oracle.py) and waits for stdin
to close.  The dead code objects' addresses are
reused by the next ones, so a profiler that names code by address alone
credits one snippet's bytes to another.

    python short_code.py
"""

from oracle import buffer_extra
from protocol import serve

COUNT, SIZE, STEP = 200, 4000, 8
held = []


def snippets():
    for i in range(COUNT):
        src = "n = %d\nheld.append(bytearray(n))\n" % (SIZE + STEP * i)
        exec(compile(src, "gen_%d.py" % i, "exec"), {"held": held})
    return "DONE %d" % EXTRA


if __name__ == "__main__":
    EXTRA = buffer_extra()
    serve(snippets)
