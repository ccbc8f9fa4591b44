"""The BPF programs fit the running kernel's verifier with room to spare.

`pymem-bpf check -p PID` loads the programs for that process's Python layout (the layout
decides which paths the verifier walks) and reports, per program, what the verifier said:
the instructions it processed, and the deepest chain of calls and bpf_loop callbacks, its
frames rounded as the verifier rounds them.  The verifier refuses a chain over 512 bytes; the
budget here is 384, so that the next compiler or kernel is not one spilled register from a
refusal.
"""

import re

import pytest

from conftest import BUILDS, IDLE, T_ATTACH, T_START, Proc, binary, target_argv

STACK_BUDGET = 384
ROW = re.compile(r"^(\w+)\s+(-?\d+)\s+([\d.-]+)\s+(-?\d+)\s+(.*)$")


def check(pid):
    prof = Proc([binary(), "check", "-p", pid], name="pymem-bpf check")
    rc = prof.wait(T_ATTACH)
    assert rc == 0, prof.describe()
    rows = {}
    for line in prof.text("stdout").splitlines():
        m = ROW.match(line)
        if m:
            rows[m.group(1)] = (int(m.group(2)), int(m.group(4)), m.group(5))
    return prof, rows


@pytest.mark.parametrize("version", BUILDS)
def test_every_program_within_stack_budget(version):
    target = Proc(target_argv(version, IDLE), name="python" + version)
    target.wait_line("stdout", r"^READY", T_START)
    prof, rows = check(target.pid)
    # every program the object has: the walker's and the batch drain's entry points among them
    for name in ("tramp_alloc", "alloc_exit", "tramp_batch", "drain_batch", "free_enter",
                 "exit_drain"):
        assert name in rows, prof.describe()
    for name, (insns, depth, chain) in rows.items():
        print("%-14s %8d insns  %3d bytes  %s" % (name, insns, depth, chain))
        assert insns > 0, prof.describe()
        assert 0 < depth <= STACK_BUDGET, "%s: %d bytes over %s\n%s" % (
            name, depth, chain, prof.describe())
    # a bpf_loop callback is a frame of the chain that runs it
    assert "batch_step" in rows["tramp_batch"][2], prof.describe()
    assert target.p.poll() is None, "the target died:\n" + target.describe()
