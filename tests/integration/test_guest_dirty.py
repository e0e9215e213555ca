"""The dirtying workload of the test guest: test=idle dirty=MIB
[dirty_rate=N] (guest/include/dirty.h).

vCPU 1 runs the workload in user mode; vCPU 0 prints once a second

    dirty: count=<c> errors=<e> maxgap_us=<g> rate=<pages/s>

and goes on obeying the toolstack.  Checked here:

  - the count climbs from line to line with no errors, the guest still
    ignores cpu/1/availability=offline (vCPU 1 stays online) and obeys
    control/shutdown;
  - dirty_rate=5000 holds the rate near 5000 pages/s;
  - with one vCPU the guest fails clearly (a FAIL line, a crash);
  - a save and a restore of a domain running the workload: the restored
    workload goes on from the count it had, with no errors, and the
    pause shows as a wallclock gap.

Same binaries and skips as test_vmm.py; save/restore as in
test_vmm_save.py.
"""

import re
import subprocess
import time

import pytest

from test_vmm import GUEST, TIMEOUT, VMM, _need_guest
from test_vmm_save import restore_args, saved, vmms  # noqa: F401 (fixture)

LINE = re.compile(r"^dirty: count=(\d+) errors=(\d+) maxgap_us=(\d+) "
                  r"rate=(\d+)$", re.M)


def dirty_args(mib=8, vcpus=2, extra=""):
    return ["--kernel", str(GUEST), "--memory", "64", "--vcpus", str(vcpus),
            "--xenstore", "--cmdline",
            ("test=idle dirty=%d %s" % (mib, extra)).strip()]


def counters(text):
    """(count, errors, maxgap_us, rate) of each line, in order.  Every
    line reaches stdout twice (console_io and the PV console): keep
    one."""
    out = []
    for m in LINE.finditer(text):
        t = tuple(int(x) for x in m.groups())
        if not out or out[-1] != t:
            out.append(t)
    return out


def wait_lines(v, n, timeout=TIMEOUT):
    """Waits until v has printed n more counter lines than it had."""
    want = len(counters(v.stdout())) + n
    end = time.monotonic() + timeout
    while time.monotonic() < end and v.p.poll() is None:
        if len(counters(v.stdout())) >= want:
            break
        time.sleep(0.1)
    lines = counters(v.stdout())
    assert len(lines) >= want, v.log()
    return lines


def climbing(lines):
    counts = [c for c, _, _, _ in lines]
    return all(a < b for a, b in zip(counts, counts[1:]))


@pytest.mark.xenia_only("a guest domain needs hv.sock")
def test_count_climbs_without_errors(vmms):
    v = vmms(61, dirty_args())
    assert v.wait_ready() == b"ready\n", v.log()
    assert v.wait_stdout("dirty: running 8 MiB on vCPU 1"), v.log()
    assert v.wait_stdout("idle: up, waiting"), v.log()
    lines = wait_lines(v, 3)
    assert climbing(lines), v.log()
    assert all(e == 0 for _, e, _, _ in lines), v.log()
    # User mode runs natively: far more than the emulator's pace.
    assert lines[-1][3] > 100000, v.log()

    v.write("cpu/1/availability", "offline")
    assert v.wait_stdout("idle: vcpu 1 runs the dirty workload: "
                         "staying online"), v.log()
    assert climbing(wait_lines(v, 2)), v.log()
    v.write("control/shutdown", "poweroff")
    assert v.wait() == 0, v.log()
    assert "FAIL" not in v.stdout(), v.log()


@pytest.mark.xenia_only("a guest domain needs hv.sock")
def test_rate_is_throttled(vmms):
    v = vmms(62, dirty_args(extra="dirty_rate=5000"))
    assert v.wait_ready() == b"ready\n", v.log()
    lines = wait_lines(v, 4)
    assert climbing(lines), v.log()
    # The first line may cover less than a whole second of the workload.
    for _, errors, _, rate in lines[1:]:
        assert errors == 0 and 4000 <= rate <= 6000, v.log()
    v.write("control/shutdown", "poweroff")
    assert v.wait() == 0, v.log()


def test_one_vcpu_fails_clearly():
    _need_guest()
    p = subprocess.run([str(VMM), "--kernel", str(GUEST), "--memory", "64",
                        "--vcpus", "1", "--cmdline", "test=idle dirty=8"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, errors="replace", timeout=TIMEOUT)
    assert p.returncode == 64 + 3, p.stdout + p.stderr  # crash
    assert "FAIL: dirty: needs 2 vCPUs, the domain has 1" in p.stdout, \
        p.stdout + p.stderr
    assert "dirty: running" not in p.stdout


@pytest.mark.xenia_only("a guest domain needs hv.sock")
def test_workload_goes_on_after_save_and_restore(vmms, tmp_path):
    a = vmms(63, dirty_args())
    assert a.wait_ready() == b"ready\n", a.log()
    assert a.wait_stdout("idle: up, waiting"), a.log()
    wait_lines(a, 2)
    path = tmp_path / "dirty.save"
    saved(a, path)
    time.sleep(1)

    b = vmms(64, restore_args(path))
    assert b.wait_ready() == b"ready\n", b.log()
    after = wait_lines(b, 3)
    # On from where it was: the count never goes back.
    assert climbing(counters(a.stdout()) + after), a.log() + b.log()
    assert all(e == 0 for _, e, _, _ in after), b.log()
    # The second between save and restore shows as a wallclock gap.
    assert after[-1][2] >= 1000000, b.log()
    b.write("control/shutdown", "poweroff")
    assert b.wait() == 0, b.log()
    assert "FAIL" not in a.stdout() + b.stdout(), a.log() + b.log()
