"""Objects held in known places, for the holders tests: each made by an allocating function
that is not its holder.  Runs on CPython 3.8-3.15.

    -> READY <pid> <python version>   then waits for a line on stdin
    <- go                              makes and holds everything below
    -> BLOCKS <n>                      sys.getallocatedblocks()
    -> DONE                            everything is held
    <- ping                            any number of times: answers PONG (it runs)
    <- EOF                             os._exit(0)

--bulk N also holds N small objects (tuples of an int and a str, in one list), for a walk
that takes long enough to measure.
"""

import collections
import json
import os
import sys
import threading
import time

N = 6
SIZE = 1_000_000


def allocate_then_return(size):
    return bytearray(size)


# 1. the seeds' make_and_hold: bytearrays in a module-global list
cache = []


def make_and_hold():
    for _ in range(N):
        cache.append(allocate_then_return(SIZE))


# 2. an instance attribute, and a __slots__ attribute, of objects in module-global lists
class WithDict:
    pass


class WithSlots:
    __slots__ = ("payload",)


def make_attr_payload(size):
    return bytearray(size)


def make_slot_payload(size):
    return bytearray(size)


plain = []
slotted = []


def fill_objects():
    for _ in range(N):
        o = WithDict()
        o.payload = make_attr_payload(SIZE + 1)
        plain.append(o)
        s = WithSlots()
        s.payload = make_slot_payload(SIZE + 2)
        slotted.append(s)


# 3. a dict of lists under a class attribute
class Registry:
    table = {}


def make_entry(size):
    return bytearray(size)


def fill_registry():
    for key in ("alpha", "beta"):
        Registry.table[key] = [make_entry(SIZE + 3) for _ in range(N)]


# 4. a closure cell
def make_closure_payload(size):
    return bytearray(size)


def make_handler():
    kept = make_closure_payload(SIZE * 3 + 4)

    def handler():
        return len(kept)
    return handler


handler = None

# 5. a local variable of a thread that sleeps
def make_thread_payload(size):
    return bytearray(size)


started = threading.Event()
release = threading.Event()


sleeper_ids = []


def sleeper():
    mine = make_thread_payload(SIZE * 2 + 5)
    sleeper_ids.extend((threading.get_native_id(), threading.get_ident()))
    started.set()
    release.wait()
    return mine


# 7. a container whose layout pymem-bpf does not decode (a C type): its items are not walked
def make_deque_payload(size):
    return bytearray(size)


opaque = None


# 6. a reference cycle kept alive by one global: RING nodes, each made by new_node()
RING = 5000


class Node:
    __slots__ = ("next",)


def new_node():
    return Node()


ring = None


def make_ring():
    first = prev = None
    for _ in range(RING):
        node = new_node()
        if prev is None:
            first = node
        else:
            prev.next = node
        prev = node
    prev.next = first
    return first


def make_bulk(n):
    return [(i, str(i)) for i in range(n)]


bulk = None


def main():
    global handler, ring, bulk, opaque
    n_bulk = int(sys.argv[sys.argv.index("--bulk") + 1]) if "--bulk" in sys.argv else 0
    print("READY %d %s" % (os.getpid(), sys.version.split()[0]), flush=True)
    sys.stdin.readline()
    make_and_hold()
    fill_objects()
    fill_registry()
    handler = make_handler()
    t = threading.Thread(target=sleeper, name="sleeper", daemon=True)
    t.start()
    started.wait()
    ring = make_ring()
    opaque = collections.deque([make_deque_payload(SIZE + 7)])
    bulk = make_bulk(n_bulk)
    print("TRUTH " + json.dumps({
        "n": N, "size": SIZE, "ring": RING, "node_size": sys.getsizeof(ring),
        "thread": {"native": sleeper_ids[0], "ident": sleeper_ids[1]}}), flush=True)
    # pymalloc's own count of the blocks in use in its arenas (and from 3.12 of those it
    # passed on to malloc): what the arenas read from outside should add up to
    print("BLOCKS %d" % sys.getallocatedblocks(), flush=True)
    print("DONE", flush=True)
    for line in sys.stdin:
        if line.strip() == "ping":
            print("PONG", flush=True)
    os._exit(0)


if __name__ == "__main__":
    main()
