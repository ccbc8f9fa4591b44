"""The VM test's scenarios, run by the guest's /init under Debian's python3.11.

Each result is one console line, `VMTEST: {json}`, read by vmtest.py on the host:

    {"uname": RELEASE, "uptime_s": F}      (F: seconds from the kernel's start to guest.py)
    {"check": {"rc": N, "stdout": [...], "stderr": [...]}}   (absent: pymem-bpf has no `check`)
    {"scenario": NAME, "result": "pass"|"fail"|"refused", "reason": TEXT|null,
     "run_s": F, "attach_s": F|null, "measured": {...}, "dropped": {...}|null}
    {"done": true}

The profiler's own output for a run that did not pass goes to the console as plain lines,
for the log.  The targets end with os._exit(0) so that interpreter teardown frees nothing
and what they hold is still live at the profile's end (as tests/targets/*.py do).  Bytes are
counted on the stacks whose leaf Python frame is the target's "# @alloc" line, as the
integration tests' at_line() does: the loop's own ints are allocated in the same function.
"""

import json
import os
import subprocess
import sys
import threading
import time

PYMEM = "/vmtest/pymem-bpf"
PYTHON = "/usr/bin/python3.11"
RUN_TIMEOUT = 180	# one profiler run; the host kills the whole VM later than this
TOLERANCE = 0.02
ATTACHED = "pymem-bpf: attached to PID "
LOG_LINES = 200		# of a failed run's stderr, for the console log

# Each bytearray(n) is its object (bytearray.__basicsize__) plus a buffer of n + 1 bytes (the
# trailing NUL), as tests/integration/test_churn_peak.py counts it.
HELD_ITEMS, HELD_SIZE = 6, 5_000_000
CHURN_ITEMS, CHURN_SIZE = 100_000, 1024

HELD = f"""
import os
HELD = []
def make_and_hold():
    for _ in range({HELD_ITEMS}):
        HELD.append(bytearray({HELD_SIZE}))  # @alloc
make_and_hold()
os._exit(0)
"""

CHURN = f"""
import os
def churn():
    for _ in range({CHURN_ITEMS}):
        buf = bytearray({CHURN_SIZE})  # @alloc
        del buf
churn()
os._exit(0)
"""


def emit(record):
    sys.stdout.write("VMTEST: " + json.dumps(record) + "\n")
    sys.stdout.flush()


def log(title, lines):
    """Plain lines for the console log only."""
    print("---- %s" % title)
    for line in lines[:LOG_LINES]:
        print("  | " + line)
    if len(lines) > LOG_LINES:
        print("  | ... %d more lines" % (len(lines) - LOG_LINES))
    sys.stdout.flush()


class Run:
    """One profiler run; stderr lines are stamped with the time since the launch."""

    def __init__(self, argv):
        self.t0 = time.monotonic()
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  stdin=subprocess.DEVNULL, text=True, errors="replace")
        self.stderr = []	# (seconds, line)
        self.stdout = []
        self.readers = [threading.Thread(target=self._drain, args=(self.p.stderr, True)),
                        threading.Thread(target=self._drain, args=(self.p.stdout, False))]
        for t in self.readers:
            t.start()
        try:
            self.rc = self.p.wait(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            self.rc = None
        for t in self.readers:
            t.join()
        self.seconds = round(time.monotonic() - self.t0, 1)

    def _drain(self, stream, stamped):
        for line in stream:
            line = line.rstrip("\n")
            if stamped:
                self.stderr.append((time.monotonic() - self.t0, line))
            else:
                self.stdout.append(line)

    def lines(self):
        return [line for _, line in self.stderr if line.strip()]

    def attach_s(self):
        return next((round(t, 2) for t, line in self.stderr if line.startswith(ATTACHED)), None)


def verifier_message(lines):
    """The verifier's verdict: the last line of a PROG LOAD LOG before its statistics."""
    verdict = None
    inside = False
    for line in lines:
        if "-- BEGIN PROG LOAD LOG --" in line:
            inside = True
        elif "-- END PROG LOAD LOG --" in line:
            if verdict:
                return verdict
            inside = False
        elif inside and not line.startswith(("processed ", "verification time", "stack depth")):
            verdict = line.strip()
    return verdict


def failure(run):
    """(result, reason) of a run that did not exit 0 cleanly; None if it did."""
    lines = run.lines()
    if run.rc is None:
        return "fail", "no exit within %d s" % RUN_TIMEOUT
    if run.rc == 2 and len(lines) == 1:
        return "refused", lines[0]
    dump = any("PROG LOAD LOG" in line for line in lines)
    if run.rc == 0 and not dump:
        return None
    first = next((l for l in lines if l.startswith("libbpf:")), lines[0] if lines else "")
    reason = "exit %s: %s" % (run.rc, first or "(no stderr)")
    verdict = verifier_message(lines)
    if verdict:
        reason += " [verifier: %s]" % verdict
    return "fail", reason


def at_alloc_line(profile, source, function):
    """The stacks whose leaf Python frame is function at source's "# @alloc" line."""
    line = next(i for i, text in enumerate(source.splitlines(), 1) if "# @alloc" in text)

    def leaf(stack):
        frames = [f for f in stack["frames"] if f["kind"] == "python"]
        return frames[-1] if frames else None
    return [s for s in profile["stacks"]
            if leaf(s) and (leaf(s)["function"], leaf(s)["line"]) == (function, line)]


def total(stacks, key):
    return sum(s[key] for s in stacks)


def within(value, expected):
    return abs(value - expected) <= TOLERANCE * expected


def check_held(profile):
    live = total(at_alloc_line(profile, HELD, "make_and_hold"), "live_bytes")
    expected = HELD_ITEMS * (bytearray.__basicsize__ + HELD_SIZE + 1)
    measured = {"live_bytes": live, "expected": expected}
    if not within(live, expected):
        return measured, "live_bytes under make_and_hold %d, expected %d +-2%%" % (live, expected)
    return measured, None


def check_churn(profile):
    stacks = at_alloc_line(profile, CHURN, "churn")
    alloc, live = total(stacks, "alloc_bytes"), total(stacks, "live_bytes")
    expected = CHURN_ITEMS * (bytearray.__basicsize__ + CHURN_SIZE + 1)
    measured = {"alloc_bytes": alloc, "expected": expected, "live_bytes": live}
    if not within(alloc, expected):
        return measured, "alloc_bytes under churn %d, expected %d +-2%%" % (alloc, expected)
    if live >= 1_000_000:
        return measured, "live_bytes under churn %d, expected < 1 MB" % live
    return measured, None


SCENARIOS = [
    ("held", HELD, [], check_held),
    ("churn", CHURN, [], check_churn),
    ("held-no-inject", HELD, ["--no-inject"], check_held),
    # sampled trampolines and weights on each kernel: 5 MB blocks are each sampled at 512 KiB
    # with probability 1 - e^-9.5, so the estimate is within 2% whatever the draws
    ("held-sampled", HELD, ["--sample-interval", "512KiB"], check_held),
]


def scenario(name, source, args, check):
    target = "/tmp/%s.py" % name
    out = "/tmp/%s.json" % name
    with open(target, "w") as f:
        f.write(source)
    run = Run([PYMEM, "-f", "json", "-o", out] + args + ["--", PYTHON, target])
    record = {"scenario": name, "result": "pass", "reason": None, "run_s": run.seconds,
              "attach_s": run.attach_s(), "measured": {}, "dropped": None}
    bad = failure(run)
    if bad is None:
        try:
            with open(out) as f:
                profile = json.load(f)
            record["dropped"] = {k: v for k, v in profile["dropped"].items() if v}
            record["measured"], reason = check(profile)
            if reason:
                bad = "fail", reason
        except (OSError, ValueError, KeyError, TypeError) as e:
            bad = "fail", "unreadable profile: %r" % e
    if bad:
        record["result"], record["reason"] = bad
        log("%s: pymem-bpf exit %s, stderr" % (name, run.rc), run.lines())
        if run.stdout:
            log("%s: stdout" % name, run.stdout)
    emit(record)


def check_subcommand():
    """`pymem-bpf check` (BPF load statistics), relayed verbatim; skipped on a binary without
    it, which takes `check` for a command to launch."""
    run = Run([PYMEM, "check"])
    lines = run.lines()
    if run.rc == 2 and lines and lines[0].startswith("pymem-bpf: cannot run check:"):
        return
    emit({"check": {"rc": run.rc, "stdout": run.stdout, "stderr": lines}})


def main():
    with open("/proc/uptime") as f:
        emit({"uname": os.uname().release, "uptime_s": float(f.read().split()[0])})
    check_subcommand()
    for name, source, args, check in SCENARIOS:
        scenario(name, source, args, check)
    emit({"done": True})


if __name__ == "__main__":
    main()
