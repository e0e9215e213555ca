"""The test guest's test=idle obeys the toolstack as a Linux PV guest does.

xenia-vmm --xenstore registers the domain with the daemon of the `daemon`
fixture; the test, as dom0 with Xen's xenstore-write, plays the toolstack:

  memory/target         the guest's balloon gives pages back (the vmm
                        punches them out of the guest's memfd: the host
                        gets the memory back) and takes them back, never
                        below its floor, and the hypervisor's count agrees
  cpu/1/availability    vCPU 1 goes down by itself and comes back
  control/sysrq         the key is cleared and printed; b, o and c reboot,
                        power off and crash the domain

test=balloon (no XenStore needed) is the guest-side check of hostile
balloon requests: bad orders, domains, pointers and frames, the pages the
hypervisor keeps, doubles, and what a page given back can no longer be
used for.  Unit tests (tests/unit/test_balloon.c) cover the rest.
"""

import os
import re
import subprocess
import time

import pytest

from test_vmm import GUEST, TIMEOUT, VMM, _need_guest, run_vmm, show, \
    verdicts
from test_vmm_xenbus import Store
from test_vmm_xenstore import Lines, _need_xenstore_vmm

MIB = 1 << 20
# One line per check in guest/tests/balloon.c.
BALLOON_CHECKS = 18


class Domain:
    """xenia-vmm running test=idle, its console read line by line."""

    def __init__(self, daemon, domid, vcpus=1, memory=64, cmdline=""):
        self.domid = domid
        self.store = Store(daemon)
        env = dict(daemon.env, XENIA_RUNDIR=str(daemon.rundir))
        self.proc = subprocess.Popen(
            [str(VMM), "--kernel", str(GUEST), "--memory", str(memory),
             "--vcpus", str(vcpus), "--xenstore", "--domid", str(domid),
             "--cmdline", ("test=idle " + cmdline).strip()],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines = Lines(self.proc)
        self.out = []

    def path(self, sub):
        return "/local/domain/%d/%s" % (self.domid, sub)

    def write(self, sub, value):
        self.store.write(self.path(sub), value)

    def read(self, sub):
        return self.store.read(self.path(sub))

    def expect(self, pattern, timeout=TIMEOUT):
        """The next console line matching pattern (a regex); its match."""
        deadline = time.monotonic() + timeout
        while True:
            line = self.lines.next(deadline)
            if line is None:
                raise AssertionError("no line matching %r; console:\n%s"
                                     % (pattern, "\n".join(self.out)))
            self.out.append(line)
            m = re.search(pattern, line)
            if m:
                return m

    def memfd_bytes(self):
        """Bytes the host holds for the guest's RAM (the memfd's blocks)."""
        fds = "/proc/%d/fd" % self.proc.pid
        for fd in os.listdir(fds):
            try:
                target = os.readlink(os.path.join(fds, fd))
            except OSError:
                continue
            if target.startswith("/memfd:xenia-guest-ram"):
                return os.stat(os.path.join(fds, fd)).st_blocks * 512
        raise AssertionError("the vmm has no guest-RAM memfd")

    def cpu_seconds(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def finish(self, timeout=TIMEOUT):
        """Waits for the vmm to end; its status, stdout and stderr."""
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        text = "\n".join(self.out) + "\n" + out.decode(errors="replace")
        return self.proc.returncode, text, err.decode(errors="replace")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


@pytest.fixture
def domains(daemon, monkeypatch):
    """Factory: domains(domid, ...) -> Domain; each killed at the end."""
    _need_xenstore_vmm()
    monkeypatch.setenv("XENIA_RUNDIR", str(daemon.rundir))
    made = []

    def _new(domid, **kw):
        d = Domain(daemon, domid, **kw)
        made.append(d)
        return d

    yield _new
    for d in made:
        d.kill()


def test_balloon_hostile_requests():
    """Every guest-side check of test=balloon passes; no XenStore needed."""
    _need_guest()
    p = run_vmm(GUEST, "test=balloon", memory=64)
    assert p.returncode == 0, show(p)
    lines = verdicts(p.stdout)
    assert not [l for l in lines if "FAIL" in l], show(p)
    assert len(lines) == BALLOON_CHECKS, show(p)
    # The vmm logs what it refused, rate-limited, and goes on.
    assert "balloon: decrease_reservation of gfn" in p.stderr, show(p)


@pytest.mark.xenia_only("a guest domain needs hv.sock")
def test_memory_target_down_and_up(domains):
    """32 MiB of a 64 MiB guest that touched them go back to the host;
    a target below the floor stops at the floor; raising the target
    takes the memory back."""
    d = domains(21, cmdline="balloon-touch")
    d.expect(r"^idle: balloon touched \d+ pages")
    floor = int(d.expect(r"^idle: balloon of 65536 KiB, floor (\d+) KiB")
                .group(1))
    d.expect(r"^idle: up, waiting")
    before = d.memfd_bytes()
    assert before >= 56 * MIB, before

    d.write("memory/target", str(32 * 1024))
    d.expect(r"^idle: balloon at 32768 KiB$")
    d.expect(r"^PASS: idle: current_reservation 8192 pages")
    after = d.memfd_bytes()
    assert before - after >= 31 * MIB, (before, after)

    d.write("memory/target", "1024")
    d.expect(r"^idle: balloon target 1024 KiB below floor$")
    d.expect(r"^idle: balloon at %d KiB$" % floor)
    d.expect(r"^PASS: idle: current_reservation %d pages" % (floor // 4))
    assert d.memfd_bytes() <= floor * 1024 + 2 * MIB, d.memfd_bytes()

    d.write("memory/target", str(64 * 1024))
    d.expect(r"^idle: balloon at 65536 KiB$")
    d.expect(r"^PASS: idle: current_reservation 16384 pages")

    d.write("control/shutdown", "poweroff")
    status, out, err = d.finish()
    assert status == 0, (out, err)
    assert "FAIL" not in out, out


@pytest.mark.xenia_only("a guest domain needs hv.sock")
def test_vcpu_set_offline_and_online(domains):
    """vCPU 1 of a 2-vCPU domain goes offline and online again, twice;
    idle, the domain costs (almost) no CPU."""
    d = domains(22, vcpus=2)
    d.expect(r"^idle: vcpu 1 online$")
    d.expect(r"^idle: up, waiting")
    assert d.read("cpu/0/availability") == "online"
    assert d.read("cpu/1/availability") == "online"
    for _ in range(2):
        d.write("cpu/1/availability", "offline")
        d.expect(r"^idle: vcpu 1 offline$")
        d.write("cpu/1/availability", "online")
        d.expect(r"^idle: vcpu 1 online$")

    # Nothing ticks: vCPU 1 blocks, vCPU 0 waits for watch events.
    t0 = d.cpu_seconds()
    time.sleep(5)
    used = d.cpu_seconds() - t0
    assert used <= 0.05, "%.2f s of CPU in 5 s of idling" % used

    d.write("control/shutdown", "poweroff")
    status, out, err = d.finish()
    assert status == 0, (out, err)
    assert "FAIL" not in out, out


@pytest.mark.xenia_only("a guest domain needs hv.sock")
@pytest.mark.parametrize("key,status", [("b", 65), ("o", 0), ("c", 67)])
def test_sysrq(domains, key, status):
    """A harmless key is cleared and printed; b, o, c act."""
    d = domains(23)
    d.expect(r"^idle: up, waiting")
    assert d.read("control/sysrq") == ""
    d.write("control/sysrq", "h")
    d.expect(r"^idle: sysrq h$")
    assert d.store.wait(d.path("control/sysrq"), "") == ""
    d.write("control/sysrq", key)
    d.expect(r"^idle: sysrq %s$" % key)
    got, out, err = d.finish()
    assert got == status, (got, out, err)
