"""The test guest's XenStore client (guest/xenbus.c) against a real xenstored.

xenia-vmm --xenstore registers the domain with the daemon started by the
`daemon` fixture (XENIA_RUNDIR points at its rundir) and the guest runs
test=xenstore over its ring.  From the host side, Xen's xenstore-watch
(dom0, on the daemon's socket) sees the guest's writes land under
/local/domain/<id>/data.  The vmm removes the home directory when the
domain ends, so the host looks during the run, through the watch, rather
than after it.  Without --xenstore the scenario skips cleanly.
"""

import os
import select
import subprocess
import time

import pytest

from test_vmm import GUEST, TIMEOUT, VMM, _need_guest, run_vmm, show, \
    verdicts

DOMID = 42
NAME = "xs-guest"
# One line per check in guest/tests/xenstore.c.
XENSTORE_CHECKS = 30


def _need_xenstore_vmm():
    _need_guest()
    h = subprocess.run([str(VMM), "--help"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT)
    if "--xenstore" not in h.stdout:
        pytest.skip("xenia-vmm has no --xenstore yet (the vmm side of "
                    "issue 4)")


class Lines:
    """Lines of a process's stdout, each waited for up to a deadline.

    Reads the pipe with os.read: select() does not see what a buffered
    file object has already read ahead.
    """

    def __init__(self, proc):
        self.fd = proc.stdout.fileno()
        self.buf = b""

    def next(self, deadline):
        """One line, or None at EOF or the deadline."""
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.fd], [], [], left)
            if not r:
                return None
            chunk = os.read(self.fd, 65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode(errors="replace")


def _stop(proc):
    if proc.poll() is None:
        proc.terminate()
    try:
        out, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return out, err


@pytest.mark.xenia_only("a guest domain needs hv.sock")
def test_xenstore_scenario(daemon, monkeypatch):
    """Every check passes; dom0 sees the guest's writes in its home."""
    _need_xenstore_vmm()
    monkeypatch.setenv("XENIA_RUNDIR", str(daemon.rundir))
    data = "/local/domain/%d/data" % DOMID
    watch = subprocess.Popen(["xenstore-watch", data], env=daemon.env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines_of_watch = Lines(watch)
    try:
        # The watch fires once when it is set: it is in place from then on.
        first = lines_of_watch.next(time.monotonic() + TIMEOUT)
        assert first == data, (first, _stop(watch))

        p = run_vmm(GUEST, "test=xenstore", memory=32,
                    extra=["--xenstore", "--domid", str(DOMID), "--name",
                           NAME])
        assert p.returncode == 0, show(p)
        lines = verdicts(p.stdout)
        assert not [l for l in lines if "FAIL" in l], show(p)
        assert len(lines) == XENSTORE_CHECKS, show(p)
        assert "SKIP" not in p.stdout, show(p)
        assert ("PASS: xenstore: GET_DOMAIN_PATH says our home is "
                "/local/domain/%d" % DOMID) in p.stdout, show(p)
        assert "name readable rc=%d '%s'" % (len(NAME), NAME) in p.stdout, \
            show(p)

        # Events reach the watcher asynchronously: read until each path
        # the guest wrote has shown up (the deadline only guards a hang).
        want = {data + "/" + s for s in
                ("greeting", "rel", "big", "w", "tx-a", "tx-b",
                 "burst/0", "burst/199")}
        seen = set()
        deadline = time.monotonic() + TIMEOUT
        while not want <= seen:
            line = lines_of_watch.next(deadline)
            if line is None:
                break
            seen.add(line)
        assert want <= seen, ("missing", sorted(want - seen), show(p))
        # The transaction that got EAGAIN applied nothing.  One
        # connection's events come in order, and a commit of it would
        # have come before the burst.
        assert data + "/tx-c" not in seen
    finally:
        _stop(watch)


@pytest.mark.xenia_only("a guest domain needs hv.sock")
def test_xenstore_default_run_includes_it(daemon, monkeypatch):
    """The default run (every in_default scenario) passes with a store."""
    _need_xenstore_vmm()
    monkeypatch.setenv("XENIA_RUNDIR", str(daemon.rundir))
    p = run_vmm(GUEST, "", memory=32, extra=["--xenstore"])
    assert p.returncode == 0, show(p)
    lines = verdicts(p.stdout)
    assert not [l for l in lines if "FAIL" in l], show(p)
    assert len([l for l in lines if "PASS: xenstore:" in l]) == \
        XENSTORE_CHECKS, show(p)


def test_xenstore_skips_without_a_store():
    """No --xenstore: HVM_PARAM_STORE_PFN is 0, one SKIP line, exit 0."""
    _need_guest()
    p = run_vmm(GUEST, "test=xenstore", memory=32)
    assert p.returncode == 0, show(p)
    assert "SKIP: xenstore: no store ring" in p.stdout.splitlines(), show(p)
    assert verdicts(p.stdout) == [], show(p)


@pytest.mark.xenia_only("a guest domain needs hv.sock")
@pytest.mark.parametrize("kind,want", [
    ("", "xenstored marked the ring broken (error 2)"),
    ("garbage=len", "xenstored marked the ring broken (error 3)"),
    ("garbage=flood", "the flooded ring is not broken (error 0)"),
])
def test_garbage_in_one_ring_harms_only_that_domain(daemon, monkeypatch,
                                                    kind, want):
    """A guest that breaks its ring loses it; a neighbour does not notice.

    Domain 7 writes a request index a ring ahead, or a header claiming
    100000 bytes, or floods writes whose replies it never reads
    (test=xenstore-garbage [garbage=len|flood]) while domain 8 runs every
    XenStore check; xenstored marks 7's ring broken (XENSTORE_ERROR_RINGIDX,
    _PROTO), or stalls it, and keeps serving 8 and dom0.
    """
    _need_xenstore_vmm()
    monkeypatch.setenv("XENIA_RUNDIR", str(daemon.rundir))
    env = dict(os.environ)
    bad = subprocess.Popen(
        [str(VMM), "--kernel", str(GUEST), "--memory", "32", "--xenstore",
         "--domid", "7", "--cmdline", ("test=xenstore-garbage " + kind)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    good = run_vmm(GUEST, "test=xenstore", memory=32,
                   extra=["--xenstore", "--domid", "8"])
    out, err = bad.communicate(timeout=TIMEOUT)
    assert bad.returncode == 0, (out, err)
    assert "PASS: xenstore-garbage: " + want in out, (out, err)
    assert "FAIL" not in out, (out, err)
    assert good.returncode == 0, show(good)
    lines = verdicts(good.stdout)
    assert len(lines) == XENSTORE_CHECKS and \
        not [l for l in lines if "FAIL" in l], show(good)
    # dom0 is served too.
    assert daemon.proc.poll() is None, "xenstored died"
    subprocess.run(["xenstore-write", "/tool/alive", "yes"], env=daemon.env,
                   check=True, timeout=TIMEOUT)
    p = subprocess.run(["xenstore-read", "/tool/alive"], env=daemon.env,
                       stdout=subprocess.PIPE, text=True, timeout=TIMEOUT)
    assert p.stdout.strip() == "yes"
