"""Debian's cloud kernels for the VM test, fetched with apt into build/vm/kernels/SUITE/.

Each suite gets a private apt state (its own sources file, lists and cache), so the host's
apt configuration and package lists are left alone, and suites never mix: the metapackage
linux-image-cloud-amd64 names the suite's current kernel.  From sid on, that kernel is split:
linux-image-VER is empty and the vmlinuz is in linux-binary-VER (under usr/lib/modules/VER/),
its config in linux-base-VER; both are among linux-image-VER's Depends, so whatever of
those exists is fetched.  A suite whose vmlinuz is cached is not fetched again.

    python3 kernels.py DIR SUITE...     fetches ahead of a run; prints "SUITE RELEASE VMLINUZ"
"""

import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

import mirror

FLAVOUR = "cloud-amd64"


class FetchError(Exception):
    pass


def run(what, argv, cwd=None):
    p = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    if p.returncode != 0:
        tail = (p.stderr.strip() or p.stdout.strip()).splitlines()[-3:]
        raise FetchError("%s failed (exit %d): %s" % (what, p.returncode, " | ".join(tail)))
    return p


class PrivateApt:
    """apt-get/apt-cache on one suite of the host's archive, all of apt's state in `state`."""

    def __init__(self, state, suite, uri, keyring):
        self.lists = os.path.join(state, "lists")
        self.cache = os.path.join(state, "cache")
        self.sources = os.path.join(state, "sources.sources")
        for d in (self.lists + "/partial", self.cache + "/archives/partial"):
            os.makedirs(d, exist_ok=True)
        with open(self.sources, "w") as f:
            f.write("Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: %s\n"
                    % (uri, suite, keyring))
        self.opts = ["-o", "Dir::Etc::SourceList=" + self.sources,
                     "-o", "Dir::Etc::SourceParts=/dev/null",
                     "-o", "Dir::State::Lists=" + self.lists,
                     "-o", "Dir::Cache=" + self.cache,
                     # apt's _apt sandbox user may not write into a root-owned build tree;
                     # apt would warn and fall back to root anyway.
                     "-o", "APT::Sandbox::User=root"]

    def update(self):
        p = run("apt-get update", ["apt-get"] + self.opts + ["-q", "update"])
        # apt-get update can exit 0 on a source it could not fetch or verify; it only warns.
        bad = [l for l in (p.stdout + p.stderr).splitlines()
               if l.startswith(("W:", "E:", "Err:"))]
        if bad:
            raise FetchError("apt-get update: " + " | ".join(bad[:3]))

    def depends(self, package):
        text = run("apt-cache show " + package,
                   ["apt-cache"] + self.opts + ["show", "--no-all-versions", package]).stdout
        m = re.search(r"^Depends: (.*)$", text, re.M)
        return [d.split()[0] for d in m.group(1).split(",")] if m else []

    def download(self, packages, dest):
        run("apt-get download", ["apt-get"] + self.opts + ["-q", "download"] + packages,
            cwd=dest)


def fetch(top, suite, uri, keyring):
    """The suite's kernel as (release, vmlinuz path), fetched unless cached."""
    # apt reads relative Dir:: paths against its own directories, not the cwd.
    out = os.path.join(os.path.abspath(top), suite)
    vmlinuz = os.path.join(out, "vmlinuz")
    release_file = os.path.join(out, "release")
    if os.path.exists(vmlinuz) and os.path.exists(release_file):
        with open(release_file) as f:
            return f.read().strip(), vmlinuz
    apt = PrivateApt(os.path.join(out, "apt"), suite, uri, keyring)
    apt.update()
    image = [d for d in apt.depends("linux-image-" + FLAVOUR)
             if re.fullmatch(r"linux-image-.+-" + FLAVOUR, d)]
    if not image:
        raise FetchError("%s: linux-image-%s names no kernel package" % (suite, FLAVOUR))
    release = image[0][len("linux-image-"):]
    parts = [d for d in apt.depends(image[0])
             if d in ("linux-binary-" + release, "linux-base-" + release)]
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        apt.download(image + parts, tmp)
        root = os.path.join(tmp, "root")
        for deb in glob.glob(os.path.join(tmp, "*.deb")):
            run("dpkg-deb -x", ["dpkg-deb", "-x", deb, root])
        found = {}
        for name, candidates in (("vmlinuz", ["boot/vmlinuz-" + release,
                                              "usr/lib/modules/%s/vmlinuz" % release]),
                                 ("config", ["boot/config-" + release,
                                             "usr/lib/modules/%s/config" % release])):
            path = next((os.path.join(root, c) for c in candidates
                         if os.path.exists(os.path.join(root, c))), None)
            if path is None:
                raise FetchError("%s: no %s in %s" % (suite, name, " ".join(image + parts)))
            found[name] = path
        # Kept to look up what the kernel has built in (no modules reach the guest).
        shutil.copy(found["config"], os.path.join(out, "config"))
        # vmlinuz last, with the release: together they mark the suite as cached.
        shutil.copy(found["vmlinuz"], vmlinuz + ".tmp")
        with open(release_file, "w") as f:
            f.write(release + "\n")
        os.rename(vmlinuz + ".tmp", vmlinuz)
    return release, vmlinuz


def main(argv):
    if len(argv) < 2:
        sys.exit("usage: kernels.py DIR SUITE...")
    try:
        uri, keyring = mirror.archive()
    except mirror.MirrorError as e:
        sys.exit("kernels.py: %s" % e)
    for suite in argv[1:]:
        try:
            release, vmlinuz = fetch(argv[0], suite, uri, keyring)
        except FetchError as e:
            sys.exit("kernels.py: %s: %s" % (suite, e))
        print(suite, release, vmlinuz)


if __name__ == "__main__":
    main(sys.argv[1:])
