#!/usr/bin/env python3
"""Builds pymem-bpf's container image with Debian's podman and no outside registry.

    image.py [--binary build/pymem-bpf] [--tag localhost/pymem-bpf:latest]

The base is a `debootstrap --variant=minbase` of this host's release (the binary was built
against its libraries) from the archive this host's apt already uses (tests/vm/mirror.py),
with the Debian packages that hold the binary's shared libraries (read from ldd, so the
image follows the binary), imported with `podman import` and tagged by that package list:
it is made again only when the list changes.  deploy/Containerfile then adds the binary.
Prints the image's size and the time taken.
"""

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "vm"))
import mirror  # noqa: E402

WORK = os.path.join(REPO, "build", "image")
# Nothing in the image reads documentation, locales or apt's caches.
PRUNE = ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale",
         "var/cache/apt/archives", "var/lib/apt/lists")


def note(text):
    print("image: " + text, flush=True)


def owner(path):
    """The Debian package that holds a library, under the usrmerge alias too."""
    real = os.path.realpath(path)
    for p in (real, real[4:] if real.startswith("/usr/") else "/usr" + real):
        got = subprocess.run(["dpkg", "-S", p], capture_output=True, text=True)
        if got.returncode == 0:
            return got.stdout.split(":")[0]
    raise SystemExit("image: no Debian package holds %s" % path)


def runtime_packages(binary):
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    libs = [line.split("=>")[1].split()[0] for line in out.splitlines()
            if "=>" in line and "/" in line.split("=>")[1]]
    return sorted({owner(lib) for lib in libs})


def podman(*args, **kw):
    return subprocess.run(["podman"] + list(args), **kw)


def build_base(packages, tag):
    uri, keyring = mirror.archive()
    suite = mirror.codename()
    root = os.path.join(WORK, "root")
    log = os.path.join(WORK, "debootstrap.log")
    os.makedirs(WORK, exist_ok=True)
    if os.path.lexists(root):
        subprocess.run(["rm", "-rf", "--one-file-system", root], check=True)
    note("debootstrap %s minbase with %s (log: %s)" % (suite, ",".join(packages), log))
    with open(log, "w") as out:
        rc = subprocess.run(["debootstrap", "--variant=minbase", "--include=" + ",".join(packages),
                             "--keyring=" + keyring, suite, root, uri],
                            stdout=out, stderr=subprocess.STDOUT).returncode
    if rc != 0:
        with open(log) as f:
            raise SystemExit("image: debootstrap failed:\n" + "".join(f.readlines()[-5:]))
    for sub in PRUNE:
        shutil.rmtree(os.path.join(root, sub), ignore_errors=True)
    tar = subprocess.Popen(["tar", "-C", root, "--numeric-owner", "-c", "."],
                           stdout=subprocess.PIPE)
    imp = podman("import", "--change", "LABEL pymem.packages=" + ",".join(packages), "-", tag,
                 stdin=tar.stdout, capture_output=True, text=True)
    tar.stdout.close()
    if tar.wait() != 0 or imp.returncode != 0:
        raise SystemExit("image: podman import failed: " + imp.stderr.strip())
    subprocess.run(["rm", "-rf", "--one-file-system", root], check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binary", default=os.path.join(REPO, "build", "pymem-bpf"))
    ap.add_argument("--tag", default="localhost/pymem-bpf:latest")
    args = ap.parse_args()
    t0 = time.monotonic()
    packages = runtime_packages(args.binary)
    digest = hashlib.sha256((mirror.codename() + ":" + ",".join(packages)).encode()).hexdigest()
    base = "localhost/pymem-bpf-base:" + digest[:16]
    if podman("image", "exists", base).returncode != 0:
        try:
            build_base(packages, base)
        except mirror.MirrorError as e:
            raise SystemExit("image: %s" % e)
    else:
        note("base %s is there" % base)
    with tempfile.TemporaryDirectory(prefix="pymem-image-") as ctx:
        # the build context holds the binary only
        shutil.copy2(args.binary, os.path.join(ctx, "pymem-bpf"))
        got = podman("build", "--pull=never", "--build-arg", "BASE=" + base,
                     "-f", os.path.join(HERE, "Containerfile"), "-t", args.tag, ctx)
        if got.returncode != 0:
            raise SystemExit("image: podman build failed")
    size = podman("image", "inspect", "--format", "{{.Size}}", args.tag,
                  capture_output=True, text=True, check=True).stdout.strip()
    note("%s: %.1f MB, built in %.0f s" % (args.tag, int(size) / 1e6, time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
