"""make vmtest: build/pymem-bpf on Debian's cloud kernels, each booted in qemu.

Kernels (kernels.py) and the guest root (rootfs.sh) are cached under build/vm/; each run
packs only the current binary, guest.py and /init into a second small cpio, appended to the
root's (the kernel unpacks concatenated initramfs archives in turn), so rebuilding the
binary never rebuilds the root.  Kernels boot one after another (the host has 2 cores) under
software emulation, each with a hard timeout.  guest.py's VMTEST: lines on the serial
console are the results; full console logs go to build/vm/logs/SUITE.log.

A kernel is "refused" when pymem-bpf declines it with exit 2 and one stderr line, "failed"
on anything else that is not a pass.  The last line is `vmtest: P passed, R refused, F
failed`; the exit status is 0 iff F is 0.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import kernels
import mirror

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
VM = os.path.join(REPO, "build", "vm")
BINARY = os.path.join(REPO, "build", "pymem-bpf")
ROOT = os.path.join(VM, "root.cpio.gz")
SUITES = ["bullseye", "bookworm", "trixie", "sid"]
MARK = "VMTEST: "
# The first console line of a kernel crash, which says what it was.
CRASH = re.compile(r"\[ *[0-9.]+\] (Oops|BUG|Kernel panic|general protection).*")
# Kernel log lines worth showing in the summary.
NOTABLE = re.compile(r"(?i)\b(e?bpf|uprobes?|warning|oops|call trace|segfault|tainted)\b|BUG:")


def note(text):
    print("vmtest: " + text, flush=True)


def runtime_packages():
    """The Debian packages holding the shared libraries build/pymem-bpf links, and python3.11."""
    out = subprocess.run(["ldd", BINARY], capture_output=True, text=True, check=True).stdout
    packages = {"python3.11"}
    for lib in re.findall(r"=> (/\S+)", out):
        for path in (lib, os.path.realpath(lib)):  # dpkg knows one of them under merged /usr
            p = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
            if p.returncode == 0:
                packages.add(p.stdout.split(":")[0])
                break
        else:
            raise RuntimeError("no Debian package ships %s" % lib)
    return sorted(packages)


def guest_root(uri, keyring):
    """build/vm/root.cpio.gz, rebuilt when missing or when the binary needs other libraries."""
    packages = ",".join(runtime_packages())
    stamp = ROOT + ".packages"
    if os.path.exists(ROOT) and os.path.exists(stamp):
        with open(stamp) as f:
            if f.read() == packages:
                note("guest root: cached")
                return
    note("guest root: debootstrap %s with %s" % (mirror.codename(), packages))
    t0 = time.monotonic()
    rc = subprocess.run([os.path.join(HERE, "rootfs.sh"), ROOT, mirror.codename(), uri,
                         keyring, packages]).returncode
    if rc != 0:
        raise RuntimeError("rootfs.sh failed (exit %d)" % rc)
    with open(stamp, "w") as f:
        f.write(packages)
    note("guest root: built in %.0f s, %.0f MB" % (time.monotonic() - t0,
                                                   os.path.getsize(ROOT) / 1e6))


def run_initrd(work):
    """The root's archive followed by one holding this run's /init, guest.py and binary."""
    stage = os.path.join(work, "stage")
    os.makedirs(os.path.join(stage, "vmtest"))
    os.chmod(stage, 0o755)  # it is unpacked over the guest's /
    shutil.copy(os.path.join(HERE, "init"), os.path.join(stage, "init"))
    shutil.copy(os.path.join(HERE, "guest.py"), os.path.join(stage, "vmtest"))
    shutil.copy(BINARY, os.path.join(stage, "vmtest"))
    initrd = os.path.join(work, "initrd.cpio.gz")
    shutil.copy(ROOT, initrd)
    with open(initrd, "ab") as out:
        subprocess.run("find . -print0 | cpio --null --quiet -o -H newc | gzip -1",
                       shell=True, cwd=stage, stdout=out, check=True)
    return initrd


def boot(vmlinuz, initrd, log, timeout):
    """Run the VM to its power-off; returns (seconds, timed_out)."""
    # One TCG thread for both vCPUs: with a thread each (MTTCG, qemu 7.2), a vCPU could run
    # a stale translation of code another had just patched, and sid's 7.2 kernel took an
    # int3 oops in sched_clock_cpu during boot (1 boot in ~10 on a loaded host).  One
    # thread is also faster on a 2-core host: sid's run took 34 s instead of 51.
    argv = ["qemu-system-x86_64", "-accel", "tcg,thread=single", "-cpu", "max", "-smp", "2",
            "-m", "2048", "-nographic", "-no-reboot", "-kernel", vmlinuz, "-initrd", initrd,
            "-append", "console=ttyS0 panic=-1 rdinit=/init quiet"]
    t0 = time.monotonic()
    with open(log, "wb") as out:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        finally:  # a timeout, or vmtest.py itself interrupted: no VM outlives it
            timed_out = p.poll() is None
            if timed_out:
                p.kill()
                p.wait()
    return time.monotonic() - t0, timed_out


def parse_log(log):
    """guest.py's records, the kernel log lines worth a look, and the last console line."""
    res = {"uname": None, "uptime_s": None, "check": None, "scenarios": [], "done": False,
           "garbled": [], "notable": [], "last": "", "crash": None}
    in_dmesg = False
    with open(log, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    for line in text.splitlines():
        line = line.rstrip("\r")
        if line.strip():
            res["last"] = line.strip()
        crash = CRASH.search(line) if res["crash"] is None else None
        if crash:
            res["crash"] = crash.group(0).strip()
        if line.startswith("VMTEST-DMESG-"):
            in_dmesg = line.endswith("BEGIN")
        elif in_dmesg and NOTABLE.search(line):
            res["notable"].append(line)
        elif MARK in line:
            try:
                rec = json.loads(line.split(MARK, 1)[1])
            except ValueError:
                res["garbled"].append(line)
                continue
            if "scenario" in rec:
                res["scenarios"].append(rec)
            else:
                res.update(rec)
    return res


def verdict(res, timed_out, timeout):
    """(passed|refused|failed, reason) of one kernel."""
    last = res["last"][:160]
    if timed_out:
        return "failed", "no power-off within %d s (killed); last line: %s" % (timeout, last)
    if res["garbled"]:
        return "failed", "unreadable result line: " + res["garbled"][0][:160]
    if not res["done"]:
        return "failed", "the guest stopped before its end; %s: %s" % (
            ("kernel crash", res["crash"][:160]) if res["crash"] else ("last line", last))
    results = [s["result"] for s in res["scenarios"]]
    if "fail" in results:
        return "failed", None
    if "refused" in results:
        return "refused", None
    return "passed", None


def show_scenario(s):
    attach = "%.1f s" % s["attach_s"] if s["attach_s"] is not None else "-"
    line = "   %-15s %-7s run %5.1f s  attach %-7s" % (s["scenario"], s["result"], s["run_s"],
                                                      attach)
    line += " ".join("%s %s" % kv for kv in s["measured"].items())
    if s["dropped"] is not None:  # null: no profile was written
        line += "  dropped: " + (" ".join("%s=%s" % kv for kv in s["dropped"].items()) or "none")
    print(line.rstrip())
    if s["reason"]:
        print("   %-15s reason: %s" % ("", s["reason"]))


def show(suite, release, outcome, reason, res=None, seconds=None, log=None):
    facts = []
    if seconds is not None:
        facts.append("vm %.0f s" % seconds)
    if res and res["uptime_s"] is not None:
        facts.append("init at %.1f s" % res["uptime_s"])
    if log:
        facts.append("log " + os.path.relpath(log, REPO))
    uname = res["uname"] if res and res["uname"] else release  # the guest's `uname -r`
    print("== %-9s %-28s %s%s" % (suite, uname or "-", outcome.upper(),
                                  "  (%s)" % ", ".join(facts) if facts else ""))
    if reason:
        print("   reason: " + reason)
    if not res:
        return
    if res["check"]:
        print("   pymem-bpf check (exit %s):" % res["check"]["rc"])
        for line in res["check"]["stdout"] + res["check"]["stderr"]:
            print("     | " + line)
    for s in res["scenarios"]:
        show_scenario(s)
    if res["notable"]:
        print("   kernel log (%d notable lines):" % len(res["notable"]))
        for line in res["notable"][:15]:
            print("     | " + line)


def test_kernel(suite, uri, keyring, initrd, args):
    """Fetch (or find cached), boot and judge one suite's kernel; prints its summary."""
    t0 = time.monotonic()
    try:
        release, vmlinuz = kernels.fetch(os.path.join(VM, "kernels"), suite, uri, keyring)
    except kernels.FetchError as e:
        show(suite, None, "failed", "kernel fetch: %s" % e)
        return "failed"
    note("%s: kernel %s ready in %.1f s; booting" % (suite, release, time.monotonic() - t0))
    log = os.path.join(VM, "logs", suite + ".log")
    seconds, timed_out = boot(vmlinuz, initrd, log, args.timeout)
    res = parse_log(log)
    if res["crash"] and res["uptime_s"] is None:
        # The kernel died before /init ran anything of ours: the emulator or the kernel
        # itself, not the profiler.  Keep that log and boot once more; a crash that repeats
        # fails the kernel as any other would.
        os.replace(log, log + ".boot1")
        note("%s: the kernel crashed before /init (%s, log %s); booting again"
             % (suite, res["crash"][:120], os.path.relpath(log + ".boot1", REPO)))
        seconds, timed_out = boot(vmlinuz, initrd, log, args.timeout)
        res = parse_log(log)
    outcome, reason = verdict(res, timed_out, args.timeout)
    if outcome == "passed" and not args.keep:
        os.unlink(log)
        log = None
    show(suite, release, outcome, reason, res, seconds, log)
    return outcome


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kernels", default=",".join(SUITES),
                    help="comma-separated suites (default: %(default)s)")
    ap.add_argument("--keep", action="store_true",
                    help="keep every console log (default: those of kernels that did not pass)")
    ap.add_argument("--timeout", type=int, default=600, help="seconds per VM (default: 600)")
    args = ap.parse_args()
    suites = [s for s in args.kernels.split(",") if s]
    counts = {"passed": 0, "refused": 0, "failed": 0}
    try:
        if not os.access(BINARY, os.X_OK):
            raise RuntimeError("%s is missing: run make first" % BINARY)
        os.makedirs(os.path.join(VM, "logs"), exist_ok=True)
        uri, keyring = mirror.archive()
        guest_root(uri, keyring)
        with tempfile.TemporaryDirectory(dir=VM, prefix="run.") as work:
            initrd = run_initrd(work)
            for suite in suites:
                counts[test_kernel(suite, uri, keyring, initrd, args)] += 1
    except (subprocess.CalledProcessError, RuntimeError) as e:
        # The last line still counts every kernel: those not run failed.
        note("stopped: %s" % e)
        counts["failed"] = len(suites) - counts["passed"] - counts["refused"]
    print("vmtest: %d passed, %d refused, %d failed" % (counts["passed"], counts["refused"],
                                                        counts["failed"]))
    return 0 if counts["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
