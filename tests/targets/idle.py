"""A process that only waits: the target for the bad-input tests.

Kept compatible with Python 2.7 and 3.6+, because the profiler must refuse the versions it does
not support.  Prints "READY <pid>" and then blocks until stdin is closed.
"""
import os
import sys

sys.stdout.write("READY %d\n" % os.getpid())
sys.stdout.flush()
sys.stdin.read()
