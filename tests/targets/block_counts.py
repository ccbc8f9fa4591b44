"""pymalloc's own counts under sampled mode (test_target_safety.py).

Prints "READY", then for each line on stdin: "work" churns small objects (100,000 tuples and
strings, then 50 functions made by exec, each called and dropped) and prints "DONE"; "count"
prints "COUNT <sys.getallocatedblocks()> DEALLOC <PyCode_Type.tp_dealloc, hex>" after a
collection.  Exits at EOF.
"""

import ctypes
import gc
import sys

TP_DEALLOC = 48		# PyTypeObject.tp_dealloc, in every version


def work():
    kept = [(i, str(i)) for i in range(100_000)]
    del kept
    for i in range(50):
        scope = {}
        exec("def made_%d(n):\n    return [n] * 4\n" % i, scope)
        scope["made_%d" % i](i)


def count():
    gc.collect()
    code_type = type(work.__code__)
    dealloc = ctypes.c_void_p.from_address(id(code_type) + TP_DEALLOC).value
    return "COUNT %d DEALLOC %x" % (sys.getallocatedblocks(), dealloc)


def main():
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    for line in sys.stdin:
        if line.strip() == "work":
            work()
            sys.stdout.write("DONE\n")
        else:
            sys.stdout.write(count() + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
