"""The Debian archive this host's apt already uses: its URI and the keyring that signs it.

The VM test fetches kernels and the guest root from the same archive as the host, so no
mirror is named in the repository (a mirror that works here may not exist elsewhere).
Reads deb822 files (sources.list.d/*.sources) and one-line ones (sources.list,
sources.list.d/*.list), as apt does; the entry that serves the host's own release
(VERSION_CODENAME, not -security or -updates) is the archive.
"""

import glob
import os
import re

APT = "/etc/apt"
# What apt trusts for an entry without Signed-By (trusted.gpg.d holds the same keys).
DEFAULT_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
ONE_LINE = re.compile(r"^\s*deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)")


class MirrorError(RuntimeError):
    pass


def codename():
    with open("/etc/os-release") as f:
        for line in f:
            key, _, value = line.strip().partition("=")
            if key == "VERSION_CODENAME":
                return value.strip('"')
    raise MirrorError("no VERSION_CODENAME in /etc/os-release")


def deb822_entries(path):
    """Each stanza as (types, uris, suites, signed_by); continuation lines are skipped, so an
    inline key in Signed-By reads as an empty value, which archive() rejects."""
    with open(path) as f:
        text = f.read()
    for stanza in text.split("\n\n"):
        fields = {}
        for line in stanza.splitlines():
            if line.startswith("#") or line[:1].isspace() or ":" not in line:
                continue
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        if fields.get("enabled", "yes").lower() == "no":
            continue
        yield (fields.get("types", "").split(), fields.get("uris", "").split(),
               fields.get("suites", "").split(), fields.get("signed-by"))


def one_line_entries(path):
    """`deb [opt=value ...] URI SUITE COMPONENTS...` lines."""
    with open(path) as f:
        for line in f:
            m = ONE_LINE.match(line)
            if m:
                opts = dict(o.split("=", 1) for o in (m.group(1) or "").split() if "=" in o)
                yield ["deb"], [m.group(2)], [m.group(3)], opts.get("signed-by")


def entries():
    one_line = [APT + "/sources.list"] + sorted(glob.glob(APT + "/sources.list.d/*.list"))
    for path in one_line:
        if os.path.exists(path):
            yield from one_line_entries(path)
    for path in sorted(glob.glob(APT + "/sources.list.d/*.sources")):
        yield from deb822_entries(path)


def archive():
    """(uri, keyring) of the entry serving the host's release."""
    release = codename()
    for types, uris, suites, signed_by in entries():
        if "deb" in types and release in suites and uris:
            keyring = DEFAULT_KEYRING if signed_by is None else signed_by
            if not os.path.isfile(keyring):
                raise MirrorError("the %s entry's Signed-By is not a key file: %r"
                                  % (release, keyring))
            return uris[0].rstrip("/"), keyring
    raise MirrorError("no apt source in %s serves %s" % (APT, release))
