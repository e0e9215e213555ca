"""Migration between two xenia-vmm processes (docs/migration-stream.md).

The source gets {"cmd": "migrate"} on its control socket with one end of
a connection (SCM_RIGHTS), as xend hands it over; the destination is a
`xenia-vmm --incoming FD` on the other end.  Both register with the same
xenstored here, under different domain ids, as two hosts' worth of
daemons would each with their own:

  - an idle domain, live and not: it goes on under the new id (it obeys
    control/shutdown written after), the source ends as `saved`, and the
    reply has the figures (bytes, rounds, downtime);
  - a domain whose guest dirties memory in user mode on vCPU 1 (dirty=):
    several rounds, and the guest's own check of every page it wrote
    finds nothing lost or stale on the destination; its counter goes on
    from where it was;
  - a domain with a disk and block I/O in flight (blkbench): every block
    reads back right on the destination;
  - failures: the destination refusing the stream (a disk missing there,
    a bad stream), the destination killed part-way, the connection cut,
    no answer to END: the domain runs on at the source, nothing of it
    stays at the destination;
  - bad requests: no connection passed, a save under way.
"""

import os
import re
import socket
import threading
import time

import pytest

from test_vmm import GUEST, TIMEOUT
from test_vmm_control import need_vmm_option
from test_vmm_save import gone, idle_args, up, vmms  # noqa: F401

DOMID_SRC = 51
DOMID_DST = 52


def _need_migrate():
    need_vmm_option("--incoming")


def incoming(vmms, domid=DOMID_DST, extra=()):
    """A destination vmm on one end of a socketpair; (vmm, other end)."""
    _need_migrate()
    a, b = socket.socketpair()
    v = vmms(domid, ["--incoming", str(b.fileno()), "--xenstore"] +
             list(extra), fds=(b.fileno(),))
    b.close()
    return v, a


def migrate(src, conn, **kw):
    """Asks src to migrate over conn (closed here: the vmm has its own)."""
    try:
        return src.req(dict({"cmd": "migrate"}, **kw), timeout=120,
                       fd=conn.fileno())
    finally:
        conn.close()


def migrated(src, dst, rep):
    """The source handed the domain over and ended; dst runs it."""
    assert rep.get("ok") is True, (rep, src.log(), dst.log())
    assert src.wait() == 4, src.log()
    assert src.status_text() == "saved"
    assert dst.wait_ready() == b"ready\n", dst.log()
    assert rep["bytes"] > 0 and rep["pages"] > 0
    assert rep["downtime_ms"] <= rep["ms"]


def obeys_shutdown(v):
    v.write("control/shutdown", "poweroff")
    assert v.wait() == 0, v.log()


@pytest.mark.parametrize("live", [True, False])
def test_idle_domain_moves(vmms, live):
    src = vmms(DOMID_SRC, idle_args(vcpus=2))
    up(src)
    src.write("data/mark", "before")
    dst, conn = incoming(vmms)
    rep = migrate(src, conn, live=live)
    migrated(src, dst, rep)
    if live:
        assert rep["rounds"] >= 1
    assert dst.read("data/mark") == "before"
    assert gone(src.store, DOMID_SRC)
    # The guest obeys its new home.
    obeys_shutdown(dst)


def _dirty_lines(text):
    """(count, errors, maxgap_us) of each line, a line printed twice (the
    console_io and PV console copies on one stdout) counted once."""
    out = []
    for m in re.findall(r"dirty: count=(\d+) errors=(\d+) maxgap_us=(\d+)",
                        text):
        t = tuple(int(x) for x in m)
        if not out or out[-1] != t:
            out.append(t)
    return out


def test_dirtying_guest_loses_nothing(vmms):
    src = vmms(DOMID_SRC, ["--kernel", str(GUEST), "--memory", "64",
                           "--vcpus", "2", "--xenstore", "--cmdline",
                           "test=idle dirty=16 dirty_rate=20000"])
    up(src)
    assert src.wait_stdout("dirty: count=", count=2), src.log()
    dst, conn = incoming(vmms)
    # A 1 ms target: the rounds go on while the guest dirties.
    rep = migrate(src, conn, live=True, downtime_ms=1, max_rounds=8)
    migrated(src, dst, rep)
    assert rep["rounds"] >= 2, rep
    assert len(rep["log"]) == rep["rounds"] + 1, rep
    assert rep["log"][1]["pages"] > 0, rep
    assert dst.wait_stdout("dirty: count=", count=4), dst.log()
    before, after = _dirty_lines(src.stdout()), _dirty_lines(dst.stdout())
    assert before and after, (src.log(), dst.log())
    assert "FAIL" not in dst.stdout(), dst.log()
    assert all(e == 0 for _, e, _ in before + after), dst.log()
    # The counter goes on from where it was, not from the start.
    assert after[0][0] >= before[-1][0], (before[-1], after[0])
    assert after[-1][0] > after[0][0]
    obeys_shutdown(dst)


@pytest.mark.xenia_only("a guest domain needs hv.sock")
def test_disk_io_in_flight_moves(vmms, tmp_path):
    img = tmp_path / "disk.img"
    with open(img, "wb") as f:
        f.truncate(32 << 20)
    spec = "file:%s,xvda,w" % img
    src = vmms(DOMID_SRC, ["--kernel", str(GUEST), "--memory", "32",
                           "--xenstore", "--disk", spec, "--cmdline",
                           "test=blkbench"])
    assert src.wait_ready() == b"ready\n", src.log()
    assert src.wait_stdout("blkbench: xvda connected"), src.log()
    time.sleep(0.5)
    dst, conn = incoming(vmms)
    rep = migrate(src, conn, live=True)
    migrated(src, dst, rep)
    assert "PASS: blkbench: all I/O done" not in src.stdout(), \
        "the bench ended before the migration"
    assert dst.wait(120) == 0, dst.log()
    assert "FAIL" not in src.stdout() + dst.stdout(), dst.log()
    assert "PASS: blkbench: all I/O done rc=0, 0 chunks read back wrong" \
        in dst.stdout(), dst.log()


def runs_on(src):
    """After a failed migration the source's domain is still served."""
    info = src.req({"cmd": "info"})
    assert info.get("state") == "running", info
    assert src.p.poll() is None
    src.write("data/after", "yes")
    assert src.read("data/after") == "yes"


def test_missing_disk_at_destination_is_refused(vmms, tmp_path):
    img = tmp_path / "disk.img"
    with open(img, "wb") as f:
        f.truncate(4 << 20)
    src = vmms(DOMID_SRC, idle_args(extra=["--disk",
                                           "file:%s,xvda,w" % img]))
    up(src)
    other = tmp_path / "nowhere.img"
    dst, conn = incoming(vmms, extra=["--disk", "file:%s,xvda,w" % other])
    rep = migrate(src, conn, live=True)
    assert "error" in rep, rep
    assert "nowhere.img" in rep["error"], rep
    assert dst.wait() == 1, dst.log()
    assert gone(src.store, DOMID_DST)
    runs_on(src)
    obeys_shutdown(src)


def test_destination_killed_part_way(vmms):
    src = vmms(DOMID_SRC, ["--kernel", str(GUEST), "--memory", "128",
                           "--vcpus", "2", "--xenstore", "--cmdline",
                           "test=idle dirty=64"])
    up(src)
    dst, conn = incoming(vmms)
    # Unthrottled dirtying does not converge: the copy goes on for the
    # round limit, long enough to kill the destination in the middle.
    t = threading.Timer(0.5, dst.p.kill)
    t.start()
    rep = migrate(src, conn, live=True, downtime_ms=0, max_rounds=1000)
    t.join()
    assert "error" in rep, rep
    dst.wait()
    assert gone(src.store, DOMID_DST)
    runs_on(src)
    assert src.wait_stdout("dirty: count=", count=3)
    assert "FAIL" not in src.stdout(), src.log()


class FakeDestination:
    """The other end, played by the test: reads the stream, then does
    what the test says instead of a destination's part."""

    def __init__(self, conn, action):
        self.conn = conn
        self.action = action
        self.got = 0
        self.t = threading.Thread(target=self.run)
        self.t.start()

    def run(self):
        c = self.conn
        c.settimeout(60)
        try:
            if self.action == "cut":
                while self.got < (64 << 10):
                    self.got += len(c.recv(65536))
                return
            while True:
                # The source goes quiet after END, waiting for an answer.
                data = c.recv(1 << 20)
                if not data:
                    return
                self.got += len(data)
                if self.action == "refuse" and self.got > 4096:
                    c.sendall(b"XENIA-ERROR no room for it here\n")
                    c.shutdown(socket.SHUT_WR)
                c.settimeout(1)
        except OSError:
            pass  # silent-eof: a second without bytes
        finally:
            c.close()


@pytest.mark.parametrize("action,why", [
    ("cut", "destination"),
    ("refuse", "no room for it here"),
    ("silent-eof", "closed the connection"),
])
def test_failures_leave_the_domain_running(vmms, action, why):
    _need_migrate()
    src = vmms(DOMID_SRC, idle_args())
    up(src)
    a, b = socket.socketpair()
    fake = FakeDestination(a, action)
    rep = migrate(src, b, live=True)
    fake.t.join(30)
    a.close()
    assert "error" in rep, rep
    assert why in rep["error"], rep
    runs_on(src)
    # And it can still be moved afterwards.
    dst, conn = incoming(vmms)
    migrated(src, dst, migrate(src, conn, live=True))
    obeys_shutdown(dst)


def test_bad_migrate_requests(vmms):
    _need_migrate()
    src = vmms(DOMID_SRC, idle_args())
    up(src)
    rep = src.req({"cmd": "migrate", "live": True})
    assert "no connection" in rep.get("error", ""), rep
    a, b = socket.socketpair()
    rep = src.req({"cmd": "migrate", "live": "yes"}, fd=b.fileno())
    assert "error" in rep, rep
    rep = src.req({"cmd": "migrate", "downtime_ms": -1}, fd=b.fileno())
    assert "error" in rep, rep
    a.close()
    b.close()
    runs_on(src)


def test_destination_refuses_garbage(vmms):
    dst, conn = incoming(vmms)
    conn.sendall(b"XENIA-MIGRATE\0\0\0" + b"\xff" * 100)
    conn.settimeout(TIMEOUT)
    line = b""
    while not line.endswith(b"\n"):
        chunk = conn.recv(1)
        if not chunk:
            break
        line += chunk
    conn.close()
    assert line.startswith(b"XENIA-ERROR "), line
    assert dst.wait() == 1, dst.log()
    assert gone(dst.store, DOMID_DST)


def test_disk_in_use_at_destination_keeps_the_domain(vmms, tmp_path):
    """Another process holds the destination's image: the destination
    says so before READY, and the domain runs on at the source with its
    disk locked again."""
    import fcntl
    src_img, dst_img = tmp_path / "src.img", tmp_path / "dst.img"
    for p in (src_img, dst_img):
        with open(p, "wb") as f:
            f.truncate(4 << 20)
    src = vmms(DOMID_SRC, idle_args(extra=["--disk",
                                           "file:%s,xvda,w" % src_img]))
    up(src)
    with open(dst_img, "rb") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)
        dst, conn = incoming(vmms, extra=["--disk",
                                          "file:%s,xvda,w" % dst_img])
        rep = migrate(src, conn, live=True)
        assert "error" in rep and "in use" in rep["error"], rep
        assert dst.wait() == 1, dst.log()
    runs_on(src)
    # The source has its lock back: nobody else may write its image.
    with open(src_img, "rb") as other:
        with pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    obeys_shutdown(src)
