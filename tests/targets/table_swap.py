"""The request handler's loop, timed in interleaved rounds inside one process under allocator
tables swapped between rounds: tests/bench/floor_parts.py's target.  One process's rounds
differ far less than separate processes' do, so this resolves a point or two of cost.

Prints "READY <pid>" with the tables it starts with, waits until a profiler has replaced the
object domain's malloc (attached), then for a line on stdin (the profiler was SIGKILLed: its
trampolines are left with no probes, sampled mode's floor).  Then, ROUNDS times, REQUESTS
requests under each of these tables, in turn (rotated, so that none always runs first):

  bare      the tables it started with;
  jmp       the mem and obj domains' four functions each through a bare `jmp *` to the same
            function: what any redirection of those tables costs at the least;
  floor     the tables the profiler left;
  floor:F   the tables it started with, but the floor's function F (malloc, calloc, realloc,
            free) in the mem and obj domains;

and prints one line per table: "TIMES <name> <seconds>..." (CPU time).  Only the mem and obj
domains are swapped for jmp and floor:F; the raw domain is the floor's in floor and bare's
elsewhere.  Single-threaded, so a swap races no allocation.

    python table_swap.py REQUESTS ROUNDS
"""

import ctypes
import mmap
import os
import struct
import sys
import time

import request_handler

FNS = ("malloc", "calloc", "realloc", "free")
DOMAINS = (0, 1, 2)	# PYMEM_DOMAIN_RAW, _MEM, _OBJ


class Allocator(ctypes.Structure):
    _fields_ = [("ctx", ctypes.c_void_p)] + [(f, ctypes.c_void_p) for f in FNS]


api = ctypes.pythonapi
for fn in (api.PyMem_GetAllocator, api.PyMem_SetAllocator):
    fn.argtypes = [ctypes.c_int, ctypes.POINTER(Allocator)]
    fn.restype = None


def tables():
    out = {}
    for d in DOMAINS:
        out[d] = Allocator()
        api.PyMem_GetAllocator(d, ctypes.byref(out[d]))
    return out


def install(t):
    for d in DOMAINS:
        api.PyMem_SetAllocator(d, ctypes.byref(t[d]))


def mixed(base, over, fns):
    """base's tables, with over's functions fns in the mem and obj domains."""
    out = {}
    for d in DOMAINS:
        out[d] = Allocator(*(getattr(base[d], f) for f, _ in Allocator._fields_))
        if d:
            for f in fns:
                setattr(out[d], f, getattr(over[d], f))
    return out


class Jumps:
    """`jmp *0(%rip)` and the target, one per cache line, in a page of their own."""

    def __init__(self):
        self.page = mmap.mmap(-1, mmap.PAGESIZE,
                              prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        self.base = ctypes.addressof(ctypes.c_char.from_buffer(self.page))
        self.off = 0

    def to(self, target):
        code = b"\xff\x25\x00\x00\x00\x00" + struct.pack("<Q", target)
        at = self.off
        self.page[at:at + len(code)] = code
        self.off += 64
        return self.base + at


def timed(requests, bodies):
    c0 = time.process_time()
    for i in range(requests):
        request_handler.handle(bodies[i % len(bodies)])
    return time.process_time() - c0


def main():
    requests, rounds = int(sys.argv[1]), int(sys.argv[2])
    bare = tables()
    bodies = [request_handler.make_body(i) for i in range(50)]
    sys.stdout.write("READY %d\n" % os.getpid())
    sys.stdout.flush()
    while tables()[2].malloc == bare[2].malloc:
        time.sleep(0.05)
    sys.stdin.readline()
    floor = tables()
    jumps = Jumps()
    jmp = mixed(bare, {d: Allocator(None, *(jumps.to(getattr(bare[d], f)) for f in FNS))
                       for d in DOMAINS}, FNS)
    modes = {"bare": bare, "jmp": jmp, "floor": floor}
    for f in FNS:
        modes["floor:" + f] = mixed(bare, floor, (f,))
    names = list(modes)
    times = {n: [] for n in names}
    for r in range(rounds):
        for n in names[r % len(names):] + names[:r % len(names)]:
            install(modes[n])
            times[n].append(timed(requests, bodies))
    # the profiler's tables back, as it left them
    install(floor)
    for n in names:
        sys.stdout.write("TIMES %s %s\n" % (n, " ".join("%.6f" % t for t in times[n])))
    sys.stdout.flush()
    sys.stdin.read()


if __name__ == "__main__":
    main()
