#!/usr/bin/env python3
"""Debian sid's Pythons (3.13, 3.14, 3.15, built by Debian with LTO and PGO) in a root of their own.

    sidroot.py          build build/sid/root unless it is there with the same packages
    sidroot.py --path   print the root's path

The root is a `debootstrap --variant=minbase` of sid from the archive this host's apt already
uses (tests/vm/mirror.py: its URI and keyring; no archive is named here).  It holds the
interpreters the integration tests run as `chroot ROOT /usr/bin/python3.X` and in a podman
container made from it, their -dev packages (the internal headers the offset unit tests
compile against) and 3.14's regression tests.  It is built once, into a temporary directory
renamed into place, and the package list it was built with is kept next to it: a root with
another list is built afresh.  install_targets() copies tests/targets into it (the integration
tests and the benchmark call it), so that targets run in the root name their files by the
path they have there.
"""

import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "vm"))
import mirror  # noqa: E402

SID = os.path.join(REPO, "build", "sid")
ROOT = os.path.join(SID, "root")
STAMP = ROOT + ".packages"
# tests/targets as processes in the root (or a container made from it) see it
TARGETS = os.path.join(REPO, "tests", "targets")
TARGETS_IN_ROOT = "/opt/pymem-tests/targets"
SUITE = "sid"
MINORS = ("3.13", "3.14", "3.15")
PACKAGES = sorted(["python%s" % m for m in MINORS] + ["python%s-dev" % m for m in MINORS]
                  + ["libpython3.14-testsuite"])
# Nothing run in the root reads documentation, locales or apt's caches.
PRUNE = ("usr/share/doc", "usr/share/man", "usr/share/locale", "var/cache/apt/archives",
         "var/lib/apt/lists")


def note(text):
    print("sidroot: " + text, flush=True)


def cached():
    if not os.path.isdir(ROOT) or not os.path.exists(STAMP):
        return False
    with open(STAMP) as f:
        return f.read() == ",".join(PACKAGES)


def unmount_under(path):
    """debootstrap mounts /proc and /sys in the root it builds; if it dies, they stay."""
    prefix = os.path.realpath(path) + "/"
    with open("/proc/self/mounts") as f:
        points = [line.split()[1] for line in f if line.split()[1].startswith(prefix)]
    for point in sorted(points, reverse=True):
        subprocess.run(["umount", "-l", point], check=False)


def remove(path):
    if os.path.lexists(path):
        unmount_under(path)
        # never past a mount that could not be undone: the host's files lie behind it
        subprocess.run(["rm", "-rf", "--one-file-system", path], check=True)


def build():
    uri, keyring = mirror.archive()
    tmp = ROOT + ".tmp"
    log = os.path.join(SID, "debootstrap.log")
    os.makedirs(SID, exist_ok=True)
    remove(tmp)
    remove(ROOT)
    note("debootstrap %s with %s (log: %s)" % (SUITE, ",".join(PACKAGES), log))
    t0 = time.monotonic()
    with open(log, "w") as out:
        rc = subprocess.run(["debootstrap", "--variant=minbase", "--include=" + ",".join(PACKAGES),
                             "--keyring=" + keyring, SUITE, tmp, uri],
                            stdout=out, stderr=subprocess.STDOUT).returncode
    if rc != 0:
        unmount_under(tmp)
        with open(log) as f:
            tail = f.read().splitlines()[-5:]
        raise SystemExit("sidroot: debootstrap failed (exit %d):\n%s" % (rc, "\n".join(tail)))
    unmount_under(tmp)
    for sub in PRUNE:
        shutil.rmtree(os.path.join(tmp, sub), ignore_errors=True)
    os.rename(tmp, ROOT)
    with open(STAMP, "w") as f:
        f.write(",".join(PACKAGES))
    note("built in %.0f s" % (time.monotonic() - t0))


def install_targets():
    """Copies this tree's tests/targets into the root afresh, at TARGETS_IN_ROOT."""
    if not cached():
        raise SystemExit("sidroot: %s is not built: run make sidroot" % ROOT)
    dest = ROOT + TARGETS_IN_ROOT
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(TARGETS, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return TARGETS_IN_ROOT


def main():
    if sys.argv[1:] == ["--path"]:
        print(ROOT)
        return 0
    if sys.argv[1:]:
        raise SystemExit("usage: sidroot.py [--path]")
    if cached():
        return 0
    try:
        build()
    except mirror.MirrorError as e:
        raise SystemExit("sidroot: %s" % e)
    return 0


if __name__ == "__main__":
    sys.exit(main())
