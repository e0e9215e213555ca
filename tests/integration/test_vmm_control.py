"""xenia-vmm as xend drives it (docs/vmm-control.md).

The control socket (--control): info, pause/unpause, maxmem, disk and vif
attach/detach, and hostile input (bad JSON, unknown commands, overlong
lines, random bytes, many clients, a client that never reads) that must
get error replies and leave the connection usable.  The readiness pipe
(--ready-fd), --paused, and the status file for poweroff, SIGTERM
(destroy) and SIGKILL (none).

Domains run the test guest's test=idle, which obeys control/shutdown and
runs no frontends: for a graceful detach the test plays the frontend in
XenStore, as dom0 may.
"""

import json
import os
import random
import select
import signal
import socket
import subprocess
import time

import pytest

from test_vmm import GUEST, TIMEOUT, VMM, _need_guest
from test_vmm_xenbus import Store

XVDB = 51728


def need_vmm_option(option):
    """Skip, saying why, when this xenia-vmm lacks a command-line option."""
    _need_guest()
    h = subprocess.run([str(VMM), "--help"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT)
    if option not in h.stdout:
        pytest.skip("xenia-vmm has no %s yet" % option)


def _need_control():
    need_vmm_option("--control")


def read_ready(fd):
    """What a vmm wrote on its ready pipe before closing it (fd closed)."""
    data = b""
    end = time.monotonic() + TIMEOUT
    while time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            chunk = os.read(fd, 64)
            if not chunk:
                break
            data += chunk
    os.close(fd)
    return data


class Ctl:
    """One control connection: JSON lines each way."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(TIMEOUT)
        self.s.connect(str(path))
        self.buf = b""

    def close(self):
        self.s.close()

    def send_raw(self, data):
        self.s.sendall(data)

    def reply(self):
        while b"\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("the vmm closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def req(self, obj):
        self.send_raw(json.dumps(obj).encode() + b"\n")
        return self.reply()


class Domain:
    """A xenia-vmm running test=idle with --control, --ready-fd and
    --status-file; stdout and stderr go to files."""

    def __init__(self, daemon, tmp_path, domid, extra=(), xenstore=True,
                 cmdline="test=idle", vcpus=1, kernel=None):
        self.domid = domid
        self.store = Store(daemon)
        self.home = "/local/domain/%d" % domid
        # Short: AF_UNIX paths stop at 108 bytes; the rundir is /tmp/xst-*.
        self.sock = daemon.rundir / ("vmm-%d.sock" % domid)
        self.status = tmp_path / ("vmm-%d.status" % domid)
        self.out = tmp_path / ("vmm-%d.out" % domid)
        self.err = tmp_path / ("vmm-%d.err" % domid)
        rfd, wfd = os.pipe()
        args = [str(VMM), "--kernel", str(kernel or GUEST), "--memory", "32",
                "--vcpus", str(vcpus), "--domid", str(domid),
                "--cmdline", cmdline, "--control", str(self.sock),
                "--status-file", str(self.status), "--ready-fd", str(wfd)]
        if xenstore:
            args.append("--xenstore")
        args += list(extra)
        env = dict(daemon.env, XENIA_RUNDIR=str(daemon.rundir))
        with open(self.out, "wb") as o, open(self.err, "wb") as e:
            self.p = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL,
                                      stdout=o, stderr=e, pass_fds=(wfd,))
        os.close(wfd)
        self.ready_fd = rfd
        self.clients = []

    def wait_ready(self):
        """What the vmm wrote on its ready pipe before closing it."""
        fd, self.ready_fd = self.ready_fd, None
        return read_ready(fd)

    def ctl(self):
        c = Ctl(self.sock)
        self.clients.append(c)
        return c

    def stdout(self):
        return self.out.read_text(errors="replace")

    def log(self):
        return "exit %s\nstdout:\n%s\nstderr:\n%s" % (
            self.p.poll(), self.stdout(),
            self.err.read_text(errors="replace"))

    def wait_stdout(self, text, timeout=TIMEOUT):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if text in self.stdout():
                return True
            time.sleep(0.05)
        return False

    def wait(self, timeout=TIMEOUT):
        return self.p.wait(timeout)

    def shutdown(self, how="poweroff"):
        self.store.write(self.home + "/control/shutdown", how)
        return self.wait()

    def status_text(self):
        try:
            return self.status.read_text()
        except FileNotFoundError:
            return None

    def cleanup(self):
        for c in self.clients:
            c.close()
        if self.ready_fd is not None:
            os.close(self.ready_fd)
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


@pytest.fixture
def domains(daemon, tmp_path):
    made = []

    def _make(domid, **kw):
        _need_control()
        d = Domain(daemon, tmp_path, domid, **kw)
        made.append(d)
        return d

    yield _make
    for d in made:
        d.cleanup()


def up(dom):
    """Ready, the guest watching control/shutdown, a client connected."""
    assert dom.wait_ready() == b"ready\n", dom.log()
    return dom.ctl()


def be(kind, domid, devid, key=""):
    p = "/local/domain/0/backend/%s/%d/%d" % (kind, domid, devid)
    return p + "/" + key if key else p


def fe(kind, domid, devid, key=""):
    p = "/local/domain/%d/device/%s/%d" % (domid, kind, devid)
    return p + "/" + key if key else p


def play_frontend_close(store, kind, domid, devid):
    """As a frontend answering its backend's Closing: Closed."""
    assert store.wait(be(kind, domid, devid, "state"), "5") == "5"
    assert store.read(be(kind, domid, devid, "online")) == "0"
    store.write(fe(kind, domid, devid, "state"), "6")


# --- info, pause, unpause ---------------------------------------------------

@pytest.mark.xenia_only("a guest domain needs hv.sock")
def test_info_fields(domains):
    dom = domains(21, vcpus=2)
    c = up(dom)
    r = c.req({"cmd": "info"})
    assert r["ok"] is True, r
    assert r["state"] == "running"
    assert r["domid"] == 21
    assert r["memory_kib"] == 32 * 1024
    assert r["maxmem_kib"] == 32 * 1024
    assert [v["id"] for v in r["vcpus"]] == [0, 1]
    v0, v1 = r["vcpus"]
    assert v0["online"] is True and v0["state"] in ("running", "blocked")
    assert v0["cpu_ns"] > 0 and v0["cpu"] >= 0
    assert os.cpu_count() is None or v0["cpu"] < os.cpu_count()
    # Until the guest brings vCPU 1 up it has no thread and no time.
    if not v1["online"]:
        assert v1 == {"id": 1, "online": False, "state": "offline",
                      "cpu_ns": 0, "cpu": -1}
    # Waiting for control/shutdown, the guest sits in SCHEDOP_block, and
    # the idle guest has brought vCPU 1 up by then.
    assert dom.wait_stdout("idle: up"), dom.log()
    v1 = c.req({"cmd": "info"})["vcpus"][1]
    assert v1["online"] is True and v1["state"] in ("running", "blocked")
    end = time.monotonic() + TIMEOUT
    while c.req({"cmd": "info"})["vcpus"][0]["state"] != "blocked":
        assert time.monotonic() < end, "vCPU 0 never seen blocked"
        time.sleep(0.05)
    assert dom.shutdown() == 0, dom.log()


@pytest.mark.xenia_only("a guest domain needs hv.sock")
def test_pause_unpause(domains):
    dom = domains(22)
    c = up(dom)
    assert dom.wait_stdout("idle: up"), dom.log()
    assert c.req({"cmd": "unpause"}) == {
        "ok": False, "error": "the domain is not paused"}
    assert c.req({"cmd": "pause"}) == {"ok": True}
    r = c.req({"cmd": "info"})
    assert r["state"] == "paused"
    assert r["vcpus"][0]["state"] == "paused"
    assert c.req({"cmd": "pause"}) == {
        "ok": False, "error": "the domain is paused already"}
    # Paused, the guest does not act on control/shutdown...
    dom.store.write(dom.home + "/control/shutdown", "poweroff")
    time.sleep(1)
    assert dom.p.poll() is None, dom.log()
    assert "control/shutdown says" not in dom.stdout()
    # ...and does once it runs again.
    assert c.req({"cmd": "unpause"}) == {"ok": True}
    assert dom.wait() == 0, dom.log()
    assert dom.status_text() == "poweroff\n"
    assert not dom.sock.exists()


@pytest.mark.xenia_only("a guest domain needs hv.sock")
def test_paused_start_and_ready_fd(domains):
    dom = domains(23, extra=["--paused"])
    c = up(dom)
    assert c.req({"cmd": "info"})["state"] == "paused"
    time.sleep(0.5)
    assert "idle: up" not in dom.stdout(), dom.log()
    assert c.req({"cmd": "unpause"}) == {"ok": True}
    assert dom.wait_stdout("idle: up"), dom.log()
    assert c.req({"cmd": "info"})["state"] == "running"
    assert dom.shutdown() == 0, dom.log()


# --- hostile input ----------------------------------------------------------

@pytest.mark.xenia_only("a guest domain needs hv.sock")
def test_bad_requests_get_errors(domains):
    dom = domains(24)
    c = up(dom)

    def error_for(raw):
        c.send_raw(raw + b"\n")
        r = c.reply()
        assert r["ok"] is False and r["error"], (raw[:60], r)
        return r["error"]

    assert error_for(b"{").startswith("bad JSON")
    assert error_for(b"not json").startswith("bad JSON")
    assert error_for(b"{\"cmd\": \"info\"} trailing").startswith("bad JSON")
    assert error_for(b"{'cmd': 'info'}").startswith("bad JSON")
    assert error_for(b"{\"cmd\": \"in\x00fo\"}").startswith("bad JSON")
    assert error_for(b"{\"cmd\": \"\xff\xfe\"}").startswith("bad JSON")
    assert error_for(b"[" * 100 + b"]" * 100).startswith("bad JSON")
    assert error_for(b"[1, 2]") == "a request is a JSON object"
    assert error_for(b"null") == "a request is a JSON object"
    assert error_for(b"{}") == "\"cmd\": a string is needed"
    assert error_for(b"{\"cmd\": 7}") == "\"cmd\": a string is needed"
    assert error_for(b"{\"cmd\": \"info\\u0000x\"}") == \
        "\"cmd\": a string is needed"
    assert error_for(b"{\"cmd\": \"reboot\"}") == "unknown command 'reboot'"
    assert error_for(b"{\"cmd\": \"\\u0001\\u00e9x\"}") == \
        "unknown command '???x'"   # é is two bytes
    assert error_for(b"{\"cmd\": \"maxmem\"}") == \
        "\"kib\": an integer is needed"
    assert error_for(b"{\"cmd\": \"maxmem\", \"kib\": -1}").startswith(
        "\"kib\": from 0 to")
    assert error_for(b"{\"cmd\": \"maxmem\", \"kib\": 1e9}") == \
        "\"kib\": an integer is needed"
    assert error_for(b"{\"cmd\": \"maxmem\", \"kib\": "
                     b"99999999999999999999999}")
    assert error_for(b"{\"cmd\": \"vif-detach\", \"devid\": \"0\"}") == \
        "\"devid\": an integer is needed"
    assert error_for(b"{\"cmd\": \"disk-detach\", \"vdev\": \"xvdb\", "
                     b"\"force\": 1}") == "\"force\": true or false"
    # Over 1 MiB: an error at its newline, and the next line is served.
    big = b"{\"cmd\": \"info\", \"pad\": \"" + b"x" * (1 << 20) + b"\"}"
    assert error_for(big) == "request line over 1 MiB"
    assert c.req({"cmd": "info"})["ok"] is True
    # Just under the limit is a request like any other.
    pad = (1 << 20) - len(b"{\"cmd\": \"info\", \"pad\": \"\"}")
    c.send_raw(b"{\"cmd\": \"info\", \"pad\": \"" + b"y" * pad + b"\"}\n")
    assert c.reply()["ok"] is True
    # Blank lines are not requests; pipelined ones are answered in order.
    c.send_raw(b"\n\r\n  \n{\"cmd\": \"unpause\"}\n{\"cmd\": \"info\"}\n"
               b"{\"cmd\": \"nope\"}\n")
    assert c.reply()["error"] == "the domain is not paused"
    assert c.reply()["state"] == "running"
    assert c.reply()["error"] == "unknown command 'nope'"
    assert dom.shutdown() == 0, dom.log()


@pytest.mark.xenia_only("a guest domain needs hv.sock")
def test_random_bytes(domains):
    """Random lines each get one error reply; the vmm lives on."""
    dom = domains(25)
    c = up(dom)
    rng = random.Random(1234)
    alphabet = b"{}[]\":,\\ ab01-e.tnul\x00\x7f\xc3\xa9\xff"
    for _ in range(300):
        n = rng.randrange(1, 200)
        line = bytes(rng.choice(alphabet) for _ in range(n)).replace(
            b"\n", b" ")
        if not line.strip(b" \t\r"):
            continue
        c.send_raw(line + b"\n")
        r = c.reply()
        assert set(r) >= {"ok"}, (line, r)
    assert c.req({"cmd": "info"})["ok"] is True
    assert dom.shutdown() == 0, dom.log()


@pytest.mark.xenia_only("a guest domain needs hv.sock")
def test_many_clients(domains):
    dom = domains(26)
    first = up(dom)
    clients = [first] + [dom.ctl() for _ in range(15)]
    for c in clients:
        c.send_raw(b"{\"cmd\": \"info\"}\n")
    for c in clients:
        assert c.reply()["domid"] == 26
    # One more than the vmm serves is told so.
    extra = dom.ctl()
    assert extra.reply() == {"ok": False,
                             "error": "too many control clients"}
    # A client that goes mid-line, and one that never reads its replies,
    # cost the others nothing.
    clients[1].send_raw(b"{\"cmd\": \"in")
    clients[1].close()
    greedy = clients[2]
    with pytest.raises(OSError):
        for _ in range(20000):
            greedy.send_raw(b"{\"cmd\": \"info\"}\n" * 16)
    assert first.req({"cmd": "info"})["ok"] is True
    late = dom.ctl()
    assert late.req({"cmd": "info"})["ok"] is True
    assert dom.p.poll() is None
    assert dom.shutdown() == 0, dom.log()


# --- the status file and the ready pipe --------------------------------------

@pytest.mark.xenia_only("a guest domain needs hv.sock")
def test_status_poweroff(domains):
    dom = domains(27)
    up(dom)
    assert dom.wait_stdout("idle: up"), dom.log()
    assert dom.shutdown("poweroff") == 0, dom.log()
    assert dom.status_text() == "poweroff\n"
    assert not os.path.exists(str(dom.status) + ".tmp")
    assert not dom.sock.exists()


@pytest.mark.xenia_only("a guest domain needs hv.sock")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_destroys(domains, tmp_path, sig):
    img = tmp_path / "a.img"
    img.write_bytes(b"\0" * (1 << 20))
    dom = domains(28, extra=["--disk", "file:%s,xvda,w" % img,
                             "--vif", "mac=00:16:3e:00:00:28"])
    c = up(dom)
    assert dom.store.read(be("vbd", 28, 51712, "state")) is not None
    dom.p.send_signal(sig)
    assert dom.wait() == 3, dom.log()
    assert dom.status_text() == "destroy\n"
    assert not dom.sock.exists()
    # Every trace of the domain is gone from XenStore.
    assert dom.store.read(dom.home) is None
    assert dom.store.read("/local/domain/0/backend/vbd/28") is None
    assert dom.store.read("/local/domain/0/backend/vif/28") is None
    with pytest.raises((EOFError, OSError)):
        c.req({"cmd": "info"})


@pytest.mark.xenia_only("a guest domain needs hv.sock")
def test_sigkill_leaves_no_status(domains):
    dom = domains(29)
    up(dom)
    dom.p.kill()
    assert dom.wait() == -signal.SIGKILL
    assert dom.status_text() is None
    assert not os.path.exists(str(dom.status) + ".tmp")


def test_ready_fd_closed_unwritten_on_failure(domains, tmp_path, daemon):
    bad = tmp_path / "not-a-kernel"
    bad.write_bytes(b"\x7fELF" + b"\0" * 60)
    dom = domains(30, kernel=bad, xenstore=False)
    assert dom.wait_ready() == b"", dom.log()
    assert dom.wait() == 1, dom.log()
    assert dom.status_text() == "error\n"
    assert not dom.sock.exists()


def test_maxmem_above_memory_refused(daemon):
    _need_control()
    p = subprocess.run([str(VMM), "--kernel", str(GUEST), "--memory", "32",
                        "--maxmem", "64"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=TIMEOUT)
    assert p.returncode == 2, p.stderr
    assert "ballooning up past --memory is not supported" in p.stderr


# --- memory -----------------------------------------------------------------

@pytest.mark.xenia_only("a guest domain needs hv.sock")
def test_maxmem(domains):
    dom = domains(31, extra=["--maxmem", "32"])
    c = up(dom)
    r = c.req({"cmd": "maxmem", "kib": 1024})
    assert r["ok"] is False and "below the current reservation" in \
        r["error"], r
    r = c.req({"cmd": "maxmem", "kib": 64 * 1024})
    assert r["ok"] is False and "not supported" in r["error"], r
    assert c.req({"cmd": "maxmem", "kib": 32 * 1024}) == {
        "ok": True, "maxmem_kib": 32 * 1024}
    assert c.req({"cmd": "info"})["maxmem_kib"] == 32 * 1024
    assert dom.store.read(dom.home + "/memory/static-max") == "32768"
    assert dom.shutdown() == 0, dom.log()


# --- devices ----------------------------------------------------------------

@pytest.mark.xenia_only("a guest domain needs hv.sock")
def test_disk_attach_detach(domains, tmp_path):
    img = tmp_path / "b.img"
    img.write_bytes(b"\0" * (2 << 20))
    dom = domains(32)
    c = up(dom)
    st = dom.store
    r = c.req({"cmd": "disk-attach", "spec": "file:%s,xvdb,w" % img})
    assert r == {"ok": True, "devid": XVDB, "vdev": "xvdb"}, r
    # As --disk lays it out: backend in InitWait, frontend Initialising.
    assert st.read(be("vbd", 32, XVDB, "state")) == "2"
    assert st.read(be("vbd", 32, XVDB, "params")) == str(img)
    assert st.read(be("vbd", 32, XVDB, "dev")) == "xvdb"
    assert st.read(be("vbd", 32, XVDB, "sectors")) == str((2 << 20) // 512)
    assert st.read(fe("vbd", 32, XVDB, "state")) == "1"
    assert st.read(fe("vbd", 32, XVDB, "backend")) == be("vbd", 32, XVDB)

    r = c.req({"cmd": "disk-attach", "spec": "file:%s,xvdb,w" % img})
    assert r == {"ok": False, "error": "xvdb is attached already"}, r
    r = c.req({"cmd": "disk-attach", "spec": "file:%s,nonsense,w" % img})
    assert r["ok"] is False and r["error"].startswith("disk spec:"), r
    r = c.req({"cmd": "disk-attach",
               "spec": "file:%s/missing.img,xvdc,w" % tmp_path})
    assert r["ok"] is False and "No such file" in r["error"], r
    assert st.read(be("vbd", 32, 51744)) is None
    assert c.req({"cmd": "disk-detach", "vdev": "xvdq"}) == {
        "ok": False, "error": "no such device: xvdq"}
    assert c.req({"cmd": "disk-detach", "vdev": "bogus"}) == {
        "ok": False, "error": "'bogus' is not a virtual device name"}

    # Detach: the reply waits for the frontend to close; the loop serves
    # another client meanwhile, and this one's next request after it.
    c.send_raw(b"{\"cmd\": \"disk-detach\", \"vdev\": \"xvdb\"}\n"
               b"{\"cmd\": \"info\"}\n")
    other = dom.ctl()
    assert other.req({"cmd": "disk-detach", "vdev": "xvdb"}) == {
        "ok": False, "error": "xvdb is being detached already"}
    play_frontend_close(st, "vbd", 32, XVDB)
    assert c.reply() == {"ok": True, "forced": False}
    assert c.reply()["ok"] is True
    assert st.read(be("vbd", 32, XVDB)) is None
    assert st.read(fe("vbd", 32, XVDB)) is None
    assert st.read("/local/domain/0/backend/vbd/32") is None
    assert c.req({"cmd": "disk-detach", "vdev": "xvdb"})["ok"] is False

    # Attached again, then a forced detach: gone at once.
    r = c.req({"cmd": "disk-attach", "spec": "file:%s,xvdb,r" % img})
    assert r["ok"] is True, r
    assert st.read(be("vbd", 32, XVDB, "mode")) == "r"
    assert c.req({"cmd": "disk-detach", "vdev": "xvdb", "force": True}) == {
        "ok": True, "forced": True}
    assert st.read(be("vbd", 32, XVDB)) is None
    assert dom.shutdown() == 0, dom.log()


@pytest.mark.xenia_only("a guest domain needs hv.sock")
def test_detach_of_an_ignored_request_is_forced_after_10s(domains, tmp_path):
    img = tmp_path / "c.img"
    img.write_bytes(b"\0" * (1 << 20))
    dom = domains(33, extra=["--disk", "file:%s,xvdb,w" % img])
    c = up(dom)
    start = time.monotonic()
    c.send_raw(b"{\"cmd\": \"disk-detach\", \"vdev\": \"xvdb\"}\n")
    assert dom.store.wait(be("vbd", 33, XVDB, "state"), "5") == "5"
    # The guest never answers; other clients are served meanwhile.
    assert dom.ctl().req({"cmd": "info"})["ok"] is True
    assert c.reply() == {"ok": True, "forced": True}
    took = time.monotonic() - start
    assert 9 < took < 20, took
    assert dom.store.read(be("vbd", 33, XVDB)) is None
    assert dom.store.read(fe("vbd", 33, XVDB)) is None
    assert dom.shutdown() == 0, dom.log()


@pytest.mark.xenia_only("a guest domain needs hv.sock")
def test_vif_attach_detach(domains):
    dom = domains(34)
    c = up(dom)
    st = dom.store
    r = c.req({"cmd": "vif-attach", "spec": "mac=00:16:3e:00:00:34"})
    assert r == {"ok": True, "devid": 0}, r
    assert st.read(be("vif", 34, 0, "state")) == "2"
    assert st.read(be("vif", 34, 0, "mac")) == "00:16:3e:00:00:34"
    assert st.read(fe("vif", 34, 0, "mac")) == "00:16:3e:00:00:34"
    assert st.read(fe("vif", 34, 0, "state")) == "1"
    assert st.read(be("vif", 34, 0, "bridge")) is None   # libslirp
    r = c.req({"cmd": "vif-attach", "spec": ""})
    assert r == {"ok": True, "devid": 1}, r
    r = c.req({"cmd": "vif-attach", "spec": "mac=01:00:00:00:00:00"})
    assert r["ok"] is False and r["error"].startswith("vif spec:"), r
    r = c.req({"cmd": "vif-attach", "spec": "bridge=xenia-nobr0"})
    assert r["ok"] is False, r
    assert st.read(be("vif", 34, 2)) is None
    assert c.req({"cmd": "vif-detach", "devid": 7}) == {
        "ok": False, "error": "no such device: vif 7"}

    c.send_raw(b"{\"cmd\": \"vif-detach\", \"devid\": 0}\n")
    play_frontend_close(st, "vif", 34, 0)
    assert c.reply() == {"ok": True, "forced": False}
    assert st.read(be("vif", 34, 0)) is None
    assert st.read(fe("vif", 34, 0)) is None
    assert st.read(be("vif", 34, 1, "state")) == "2"
    # Numbered as libxl does: one past the highest in use.
    assert c.req({"cmd": "vif-attach", "spec": ""}) == {"ok": True,
                                                        "devid": 2}
    assert c.req({"cmd": "vif-detach", "devid": 1, "force": True}) == {
        "ok": True, "forced": True}
    assert dom.shutdown() == 0, dom.log()
    assert st.read("/local/domain/0/backend/vif/34") is None


def test_without_xenstore(domains):
    """info and pause work on a domain without XenStore; devices do not."""
    dom = domains(35, xenstore=False)
    c = up(dom)
    assert c.req({"cmd": "info"})["state"] == "running"
    assert c.req({"cmd": "disk-attach", "spec": "file:/x,xvdb,w"}) == {
        "ok": False, "error": "disk-attach needs --xenstore"}
    assert c.req({"cmd": "pause"}) == {"ok": True}
    assert c.req({"cmd": "unpause"}) == {"ok": True}
    dom.p.send_signal(signal.SIGTERM)
    assert dom.wait() == 3, dom.log()
    assert dom.status_text() == "destroy\n"


def test_paused_needs_control(daemon):
    _need_control()
    p = subprocess.run([str(VMM), "--kernel", str(GUEST), "--memory", "32",
                        "--paused"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=TIMEOUT)
    assert p.returncode == 2, p.stderr
    assert "--paused needs --control" in p.stderr
