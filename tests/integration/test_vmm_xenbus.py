"""The xenbus backend state machine of xenia-vmm (vmm/xenbus_back.c).

A domain runs test=idle with two disks.  The test, as dom0 on the real
xenstored, plays a misbehaving frontend in one device's directory: the
backend of that device answers with an error and Closing, walks Closed and
back to InitWait when the frontend starts over, while the other device
stays untouched.  control/shutdown then powers the domain off, and every
node of it is gone.
"""

import subprocess
import time

import pytest

from test_vmm import GUEST, TIMEOUT, VMM, _need_guest

DOMID = 4
XVDA, XVDB = 51712, 51728


def _need_disks():
    _need_guest()
    h = subprocess.run([str(VMM), "--help"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT)
    if "--disk" not in h.stdout:
        pytest.skip("xenia-vmm has no --disk yet")


class Store:
    """Xen's own xenstore-* tools as dom0 on the daemon under test."""

    def __init__(self, daemon):
        self.env = daemon.env

    def read(self, path):
        p = subprocess.run(["xenstore-read", path], env=self.env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=TIMEOUT)
        return p.stdout.strip() if p.returncode == 0 else None

    def write(self, path, value):
        subprocess.run(["xenstore-write", path, value], env=self.env,
                       check=True, timeout=TIMEOUT)

    def wait(self, path, want, deadline=TIMEOUT):
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            v = self.read(path)
            if v == want:
                return v
            time.sleep(0.05)
        return self.read(path)


def be(devid, key):
    return "/local/domain/0/backend/vbd/%d/%d/%s" % (DOMID, devid, key)


def fe(devid, key):
    return "/local/domain/%d/device/vbd/%d/%s" % (DOMID, devid, key)


@pytest.mark.xenia_only
def test_backend_state_machine_with_a_bad_frontend(daemon, tmp_path):
    _need_disks()
    store = Store(daemon)
    a, b = tmp_path / "a.img", tmp_path / "b.img"
    for img in (a, b):
        with open(img, "wb") as f:
            f.truncate(4 << 20)
    env = dict(daemon.env, XENIA_RUNDIR=str(daemon.rundir))
    p = subprocess.Popen(
        [str(VMM), "--kernel", str(GUEST), "--memory", "32", "--xenstore",
         "--domid", str(DOMID), "--disk", "file:%s,xvda,w" % a,
         "--disk", "file:%s,xvdb,w" % b, "--cmdline", "test=idle"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert store.wait(be(XVDA, "state"), "2") == "2"
        assert store.wait(be(XVDB, "state"), "2") == "2"
        assert store.read(be(XVDA, "sectors")) == str((4 << 20) // 512)

        # A frontend naming a grant it never made and a port it never
        # allocated: this device fails, alone.
        store.write(fe(XVDA, "ring-ref"), "12345")
        store.write(fe(XVDA, "event-channel"), "999")
        store.write(fe(XVDA, "state"), "3")
        assert store.wait(be(XVDA, "state"), "5") == "5"
        assert store.read(be(XVDA, "error")), "no error node"
        assert store.read(be(XVDB, "state")) == "2"

        # It closes, then starts over: Closed, then InitWait again.
        store.write(fe(XVDA, "state"), "6")
        assert store.wait(be(XVDA, "state"), "6") == "6"
        store.write(fe(XVDA, "state"), "1")
        assert store.wait(be(XVDA, "state"), "2") == "2"

        # Garbage where numbers belong fails it again; xvdb is untouched.
        store.write(fe(XVDA, "ring-ref"), "ring")
        store.write(fe(XVDA, "state"), "3")
        assert store.wait(be(XVDA, "state"), "5") == "5"
        assert store.read(be(XVDB, "state")) == "2"
        assert p.poll() is None, "the vmm died"

        store.write("/local/domain/%d/control/shutdown" % DOMID, "poweroff")
        out, err = p.communicate(timeout=TIMEOUT)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, (out, err)
    assert b"idle: control/shutdown says poweroff" in out
    # Destroy leaves no trace.
    assert store.read("/local/domain/0/backend/vbd/%d" % DOMID) is None
    assert store.read("/local/domain/%d" % DOMID) is None


@pytest.mark.xenia_only
def test_domain_survives_a_xenstored_restart(daemon, tmp_path):
    """kill -9 xenstored under a running domain, start it again: the vmm
    registers again, xenstored (which kept the domain in its journal)
    serves its ring again, and the guest still obeys control/shutdown."""
    _need_disks()
    store = Store(daemon)
    env = dict(daemon.env, XENIA_RUNDIR=str(daemon.rundir))
    p = subprocess.Popen(
        [str(VMM), "--kernel", str(GUEST), "--memory", "32", "--xenstore",
         "--domid", str(DOMID), "--cmdline", "test=idle"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        home = "/local/domain/%d" % DOMID
        assert store.wait(home + "/name", "xenia-%d" % DOMID) is not None
        # The guest is watching control/shutdown once it says so.  (A kill
        # between xenstored taking a request off the ring and answering it
        # loses that request: the guest would wait for the answer forever.)
        head = b""
        while b"idle: up" not in head:
            line = p.stdout.readline()
            assert line, head
            head += line
        daemon.kill9()
        daemon.start()
        assert store.wait(home + "/name", "xenia-%d" % DOMID) == \
            "xenia-%d" % DOMID
        # Give the vmm's retry (every 200 ms) a moment to register again;
        # the write below lands either way, and the guest acts on it once
        # its ring is served.
        store.write(home + "/control/shutdown", "poweroff")
        out, err = p.communicate(timeout=TIMEOUT)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, (out, err)
    assert b"registered again with xenstored" in err, err
    assert b"idle: control/shutdown says poweroff" in out, (head, out, err)
