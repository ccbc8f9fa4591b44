"""Loads the C library tests/targets/clib.c (argv[1]) with ctypes and has it allocate with
libc's malloc family itself, on the line protocol (protocol.py).  With --late the library is
loaded after "go": the profiler is attached already, and the target prints LOADED and waits
for another line before the work.  The work: HOLD blocks of SIZE held by malloc, as many by
calloc, by realloc (grown to 4 * SIZE) and by reallocarray (4 x SIZE), HOLD blocks of
ALIGNED bytes held by each of posix_memalign, aligned_alloc, memalign and valloc, and CHURN
blocks of SIZE malloc'd and freed."""

import ctypes
import sys

from protocol import serve

HOLD, SIZE, CHURN = 3000, 10_000, 200_000
ALIGNED = 10_240	# a multiple of the alignment, as aligned_alloc asks
T = ctypes.c_size_t
lib = None


def load():
    global lib
    lib = ctypes.CDLL(sys.argv[1])
    for name in ("clib_hold", "clib_hold_grown", "clib_hold_array"):
        getattr(lib, name).argtypes = [T, T]
    lib.clib_hold_calloc.argtypes = [T, T, T]
    lib.clib_hold_aligned.argtypes = [T, T, ctypes.c_int]
    lib.clib_churn.argtypes = [T, T]


def hold_malloc():
    lib.clib_hold(HOLD, SIZE)


def hold_calloc():
    lib.clib_hold_calloc(HOLD, 10, SIZE // 10)


def hold_grown():
    lib.clib_hold_grown(HOLD, SIZE)


def hold_reallocarray():
    lib.clib_hold_array(HOLD, SIZE)


def hold_posix_memalign():
    lib.clib_hold_aligned(HOLD, ALIGNED, 0)


def hold_aligned_alloc():
    lib.clib_hold_aligned(HOLD, ALIGNED, 1)


def hold_memalign():
    lib.clib_hold_aligned(HOLD, ALIGNED, 2)


def hold_valloc():
    lib.clib_hold_aligned(HOLD, ALIGNED, 3)


def churn():
    lib.clib_churn(CHURN, SIZE)


def work():
    if lib is None:
        load()
        sys.stdout.write("LOADED\n")
        sys.stdout.flush()
        sys.stdin.readline()
    hold_malloc()
    hold_calloc()
    hold_grown()
    hold_reallocarray()
    hold_posix_memalign()
    hold_aligned_alloc()
    hold_memalign()
    hold_valloc()
    churn()
    return "DONE"


if "--late" not in sys.argv:
    load()
serve(work)
