#!/usr/bin/python3
"""Sampled mode's accuracy against ground truth at several intervals (not pass/fail).

Runs tests/targets/workloads.py's make_and_hold, heavy_churn and three_threads under
`pymem-bpf -p PID --sample-interval I`, through the integration tests' harness, at scale 1 and
10 with a few seeds each, and prints each estimate's error: the 30 MB held under its allocator,
the churn's allocated bytes, and each thread's live bytes on its own function.  Then a C
library's own malloc (tests/targets/clib_user.py, as test_sampled_libs.py runs it): its held
blocks (malloc, calloc, realloc chains; posix_memalign, aligned_alloc, memalign, valloc), the
chains' allocated bytes and its churn's.

    tests/bench/sampled_accuracy.py [--version 3.12.1] [--intervals 128KiB,512KiB,2MiB]
                                    [--seeds 11,12,13] [--seeds10 21,22] [--random N]

--random N: N more runs at scale 10 without a seed (every thread its own sequence).
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
os.chdir(REPO)
import conftest as c  # noqa: E402
import profiles as r  # noqa: E402
import test_sampled_libs as libs  # noqa: E402

SEED_ENV = "PYMEM_BPF_SAMPLE_SEED"


def pct(got, want):
    return 100.0 * (got - want) / want


def one(version, interval, scale, seed):
    if seed is None:
        os.environ.pop(SEED_ENV, None)
    else:
        os.environ[SEED_ENV] = str(seed)
    res = c.profile_pid(version, ["make_and_hold", "heavy_churn", "three_threads"],
                        args=("--sample-interval", interval), target_args=("--scale", scale))
    prof = c.require_ok(res)
    holder = pct(r.total(prof, r.under_holder, "live_bytes"), 30_000_000)
    churn = pct(r.total(prof, r.at_line(res.report, "heavy_churn"), "alloc_bytes"),
                300_000 * scale * res.report["bytearray_1k_bytes"])
    threads = [pct(r.total(prof, lambda s, n=name: n in r.functions(s), "live_bytes"), want)
               for name, want in res.report["facts"]["thread_live_bytes"].items()]
    print("%-7s x%-2d seed %-6s holder %+6.1f%%  churn %+6.1f%%  threads %s" % (
        interval, scale, seed if seed is not None else "-", holder, churn,
        " ".join("%+6.1f%%" % t for t in threads)), flush=True)


def one_lib(version, interval, seed):
    with tempfile.TemporaryDirectory() as tmp:
        prof = libs.run_lib(version, "plt", False, Path(tmp), interval, seed)
    held = libs.HOLD * libs.SIZE
    errs = [pct(r.total(prof, libs.under(name), "live_bytes"), live) for name, live in
            (("hold_malloc", held), ("hold_calloc", held), ("hold_grown", 4 * held))]
    errs.append(pct(r.total(prof, libs.under("hold_grown"), "alloc_bytes"), 10 * held))
    errs.append(pct(r.total(prof, libs.under("churn"), "alloc_bytes"), libs.CHURN * libs.SIZE))
    aligned = [pct(r.total(prof, libs.under("hold_" + fn), "live_bytes"),
                   libs.HOLD * libs.ALIGNED) for fn in libs.ALIGNED_BY]
    print("%-7s clib  seed %-6s live malloc/calloc/realloc %s  realloc alloc %+6.1f%%  "
          "churn %+6.1f%%  live aligned %s" % (
              interval, seed, " ".join("%+6.1f%%" % e for e in errs[:3]), errs[3], errs[4],
              " ".join("%+6.1f%%" % e for e in aligned)), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--version", default="3.12.1")
    ap.add_argument("--intervals", default="128KiB,512KiB,2MiB")
    ap.add_argument("--seeds", default="11,12,13")
    ap.add_argument("--seeds10", default="21,22")
    ap.add_argument("--random", type=int, default=0)
    args = ap.parse_args()
    for interval in args.intervals.split(","):
        for scale, seeds in ((1, args.seeds), (10, args.seeds10)):
            for seed in filter(None, seeds.split(",")):
                one(args.version, interval, scale, int(seed))
        for _ in range(args.random):
            one(args.version, interval, 10, None)
        for seed in filter(None, args.seeds.split(",")):
            one_lib(args.version, interval, int(seed))


if __name__ == "__main__":
    main()
