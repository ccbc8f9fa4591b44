"""Allocation workloads with known sizes, profiled by the pymem-bpf integration tests.

Runs on CPython 3.8-3.15.  Protocol on stdin/stdout, so that the profiler can be attached
before anything interesting happens and stopped while the results are still held:

    -> READY <pid> <python version>     once started; then waits for a line on stdin
    <- go                                runs every workload named on the command line, in order
    -> DONE                              after the workloads (and the report file) are done
    <- check                             optional, any number of times: a short allocation loop,
    -> CHECKED                           to prove the allocator still works after a detach
    <- EOF                               ends the process with os._exit(0), so nothing the
                                         workloads hold is freed by interpreter shutdown

With --exit-after-done the process exits normally right after DONE instead (the profiler sees
the target go away mid-session).

--scale K runs heavy_churn and the three threads' loops K times as many iterations: a sampled
profile's estimates need enough bytes (their spread is about 1/sqrt(bytes / interval)).

--report FILE writes a JSON report: the line numbers of the marked lines below, the facts a test
needs to compute its ground truth, and with --tracemalloc the per-line live sizes tracemalloc saw
in this file (tracemalloc is started right after "go" and its snapshot taken after the workloads).

Each line a test looks at carries a "# @name" marker; allocations on it are the line's own.
"""

import ctypes
import dis
import itertools
import json
import os
import sys
import threading
import time

from marks import markers
from oracle import requested_bytes

HELD = []  # everything a workload keeps alive, until the process ends
LEAKS = []  # addresses returned by libc malloc and never freed
STARTUP = bytearray(3_000_000)  # @startup: made at import, before READY


# bytearray(1024): its object and its buffer (a bytes object from 3.15)
BYTEARRAY_1K = requested_bytes(lambda: bytearray(1024))


def allocate_then_return(size):
    return bytearray(size)  # @alloc_then_return


def make_and_hold(items=6, size=5_000_000):
    held = []
    for _ in range(items):
        held.append(allocate_then_return(size))  # @make_and_hold
    return held


def grow_heap(chunks=8, size=4_000_000):
    heap = []
    for _ in range(chunks):
        heap.append(bytearray(size))  # @grow_heap
    return heap


SCALE = [1]


def heavy_churn(n=300_000):
    for _ in range(n * SCALE[0]):
        buf = bytearray(1024)  # @heavy_churn
    return None


def small_churn(rounds=3, n=100_000):
    """Small objects made and dropped in bulk, far apart: a sampled one's free must be seen
    (in sampled mode pymalloc's own free has no trampoline), else it stays counted live."""
    for _ in range(rounds * SCALE[0]):
        kept = [(i, i) for i in range(n)]  # @small_churn
        del kept
    FACTS["small_churn_tuple_bytes"] = rounds * SCALE[0] * n * sys.getsizeof((0, 0))


def small_dicts(n=200_000):
    held = []
    for i in range(n):
        held.append({"i": i})  # @small_dicts
    return held


# Three threads, three functions, three different sizes.  Each worker holds what it made so
# that its live bytes are exactly sys.getsizeof of its objects plus its list.
def thread_small_bytes(slot, out, barrier, n=30_000):
    held = []
    barrier.wait()
    for _ in itertools.repeat(None, n * SCALE[0]):
        held.append(bytes(100))  # @thread_small_bytes
    out[slot] = held


def thread_medium_bytes(slot, out, barrier, n=2_000):
    held = []
    barrier.wait()
    for _ in itertools.repeat(None, n * SCALE[0]):
        held.append(bytes(2_500))  # @thread_medium_bytes
    out[slot] = held


def thread_strings(slot, out, barrier, n=40_000, width=150):
    held = []
    ch = "t"
    barrier.wait()
    for _ in itertools.repeat(None, n * SCALE[0]):
        held.append(ch * width)  # @thread_strings
    out[slot] = held


THREAD_WORKERS = (thread_small_bytes, thread_medium_bytes, thread_strings)


def three_threads():
    out = [None] * len(THREAD_WORKERS)
    barrier = threading.Barrier(len(THREAD_WORKERS))
    threads = [threading.Thread(target=fn, args=(i, out, barrier))
               for i, fn in enumerate(THREAD_WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expected = {}
    for fn, held in zip(THREAD_WORKERS, out):
        expected[fn.__name__] = sum(sys.getsizeof(x) for x in held) + sys.getsizeof(held)
    FACTS["thread_live_bytes"] = expected
    return out


def ctypes_leak(count=8, size=1_234_567):
    libc = ctypes.CDLL("libc.so.6")
    malloc = libc.malloc
    malloc.restype = ctypes.c_void_p
    malloc.argtypes = [ctypes.c_size_t]
    for _ in range(count):
        LEAKS.append(malloc(size))  # @ctypes_leak
    FACTS["ctypes_leak"] = {"count": count, "size": size}
    return None


# Many small pymalloc objects of each common kind, one kind per line, all held.
def oracle_mix(n=15_000):
    dicts, lists, strs, small = [], [], [], []
    for i in range(n):
        dicts.append({"k": i, "v": i + 1})  # @oracle_dicts
        lists.append([i, i, i])  # @oracle_lists
        strs.append("s%07d" % i)  # @oracle_strs
        small.append(bytearray(40))  # @oracle_bytearrays
    return dicts, lists, strs, small


# 100 MiB in 1 KiB blocks, each freed at once: the churn ("temporary allocations") view.
def churn_1k(total=100 * 1024 * 1024, size=1024):
    for _ in range(total // size):
        buf = bytearray(size)  # @churn_1k
        del buf
    FACTS["churn_1k"] = {"blocks": total // size, "size": size}


# A 50 MB list that dies, then 10 MB that stays: the peak is at the first stack.
def peak_then_small(big=50, small=10, chunk=1_000_000):
    first = [bytearray(chunk) for _ in range(big)]  # @peak_first
    del first
    HELD.append([bytearray(chunk) for _ in range(small)])  # @peak_second
    FACTS["peak"] = {"big": big * chunk, "small": small * chunk}


# More small blocks live at once than a live table of 4,096 slots holds (--max-live 4096), then
# every other one freed: full buckets spill into the spill map, and come back out of it.
def spill_table(n=6_000, size=100):
    held = [None] * n
    for i in range(n):
        held[i] = bytes(size)  # @spill_table
    FACTS["spill_table"] = {"n": n, "peak": sum(sys.getsizeof(b) for b in held)}
    del held[::2]
    FACTS["spill_table"]["live"] = sum(sys.getsizeof(b) for b in held)
    HELD.append(held)


CHURN_DOC = json.dumps("k" * 5_000)  # a JSON document: one 5,000-character string


def parse_batch(blocks, size):
    for _ in range(blocks):
        bytearray(size)  # @churn_batch


def keep_some(n, kept):
    for _ in range(n):
        kept.append(json.loads(CHURN_DOC))  # @keep_some


def churn_and_keep(batches=200, blocks=240, size=4096, keep=5, period=0.025):
    """About 200 MB in short-lived 4 KiB blocks, next to 5 MB of strings kept.

    A batch starts every period seconds at the earliest (about 40 MB/s); its start and end
    (time.time()) are logged, so the bytes allocated in any span of time are known.
    """
    kept, log = [], []
    t0 = time.time()
    for i in range(batches):
        delay = t0 + i * period - time.time()
        if delay > 0:
            time.sleep(delay)
        start = time.time()
        parse_batch(blocks, size)
        keep_some(keep, kept)
        log.append([start, time.time()])
    FACTS["churn"] = {
        "blocks": blocks,
        "size": size,
        "batch_bytes": blocks * (bytearray.__basicsize__ + size + 1),  # each has its NUL
        "batches": log,
        "kept_bytes": sum(sys.getsizeof(s) for s in kept),
    }
    return kept


WORKLOADS = {
    "churn_and_keep": churn_and_keep,
    "spill_table": spill_table,
    "churn_1k": churn_1k,
    "peak_then_small": peak_then_small,
    "make_and_hold": make_and_hold,
    "grow_heap": grow_heap,
    "heavy_churn": heavy_churn,
    "small_churn": small_churn,
    "small_dicts": small_dicts,
    "three_threads": three_threads,
    "ctypes_leak": ctypes_leak,
    "oracle_mix": oracle_mix,
}

FACTS = {}


def function_lines(fn):
    nos = [no for _, no in dis.findlinestarts(fn.__code__) if no is not None]
    return [fn.__code__.co_firstlineno, max(nos)]


def tracemalloc_lines(snapshot):
    me = os.path.abspath(__file__)
    stats = {}
    for st in snapshot.statistics("lineno"):
        frame = st.traceback[0]
        if os.path.abspath(frame.filename) == me:
            stats[str(frame.lineno)] = {"size": st.size, "count": st.count}
    return stats


def light_check():
    junk = [str(i) * 3 for i in range(20_000)]
    junk += [bytearray(700) for _ in range(1_000)]
    return len(junk)


def say(text):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def parse_args(argv):
    opts = {"report": None, "tracemalloc": False, "exit_after_done": False, "workloads": []}
    it = iter(argv)
    for arg in it:
        if arg == "--report":
            opts["report"] = next(it)
        elif arg == "--tracemalloc":
            opts["tracemalloc"] = True
        elif arg == "--exit-after-done":
            opts["exit_after_done"] = True
        elif arg == "--scale":
            SCALE[0] = int(next(it))
        elif arg in WORKLOADS:
            opts["workloads"].append(arg)
        else:
            sys.exit("workloads.py: unknown argument %r (workloads: %s)"
                     % (arg, ", ".join(WORKLOADS)))
    return opts


def main():
    opts = parse_args(sys.argv[1:])
    say("READY %d %s" % (os.getpid(), sys.version.split()[0]))
    if sys.stdin.readline().strip() != "go":
        os._exit(3)
    if opts["tracemalloc"]:
        import tracemalloc
        tracemalloc.start()
    for name in opts["workloads"]:
        HELD.append(WORKLOADS[name]())
    report = None
    if opts["report"]:
        report = {
            "pid": os.getpid(),
            "version": sys.version.split()[0],
            "file": __file__,
            "lines": markers(__file__),
            "functions": {n: function_lines(fn) for n, fn in WORKLOADS.items()},
            "bytearray_1k_bytes": BYTEARRAY_1K,
            "facts": FACTS,
        }
        if opts["tracemalloc"]:
            report["tracemalloc"] = tracemalloc_lines(tracemalloc.take_snapshot())
            tracemalloc.stop()
        with open(opts["report"], "w") as f:
            json.dump(report, f)
    say("DONE")
    if opts["exit_after_done"]:
        return 0
    for line in sys.stdin:
        if line.strip() == "check":
            light_check()
            say("CHECKED")
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
