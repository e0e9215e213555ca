"""Save and restore of a running domain (docs/migration-stream.md).

A domain is saved through its control socket ({"cmd": "save"}, as xend
will ask) and brought back with `xenia-vmm --restore FILE` under another
domain id:

  - test=idle, with 1 and 2 vCPUs: the restored guest goes on (it
    balloons, takes vCPUs down, obeys control/shutdown written after the
    restore), its data/ nodes written before the save are there, under
    the new id and with its permissions;
  - the default run (every ABI scenario) and test=timer, saved part-way
    through: the two halves together pass every check, as one run does;
  - a checkpoint (the domain runs on, and the file restores too), a
    ballooned domain, a zstd-compressed save, a domain with a disk saved
    while the guest's block I/O is in flight (test=blkbench: every block
    read back matches), a vif on a tap whose restored guest answers the
    host's pings (test=net's net-answer, root and ip(8) needed);
  - bad files: corrupt (bytes flipped at several offsets), truncated (at
    every record boundary and inside records), foreign (other magic,
    version, RAM size, shape): refused with one error line, exit status
    1, status file `error`, and nothing in XenStore under the new id;
  - bad saves: a path that cannot be written gets an error reply and the
    domain runs on, with no partial file left.
"""

import json
import os
import re
import socket
import struct
import subprocess
import sys
import time

import pytest

from test_vmm import GUEST, TIMEOUT, VMM
from test_vmm_control import need_vmm_option, read_ready
from test_vmm_net import netns  # noqa: F401 (a fixture)
from test_vmm_xenbus import Store

HEADER = 32
REC = 16
CONFIG, PAGES, PAUSED, VMM_STATE, DEVICE, XENSTORE, END = range(1, 8)


def _need_save():
    need_vmm_option("--restore")


class Vmm:
    """A xenia-vmm with --control, --ready-fd and --status-file; its
    stdout and stderr in files."""

    def __init__(self, daemon, tmp_path, domid, args, control=True,
                 prefix=(), fds=()):
        self.daemon = daemon
        self.domid = domid
        self.store = Store(daemon)
        self.home = "/local/domain/%d" % domid
        self.sock = daemon.rundir / ("vmm-%d.sock" % domid)
        self.status = tmp_path / ("vmm-%d.status" % domid)
        self.out = tmp_path / ("vmm-%d.out" % domid)
        self.err = tmp_path / ("vmm-%d.err" % domid)
        for p in (self.status, self.sock):
            if os.path.exists(p):
                os.unlink(p)
        rfd, wfd = os.pipe()
        cmd = list(prefix) + [str(VMM), "--domid", str(domid), "--status-file",
               str(self.status), "--ready-fd", str(wfd)] + list(args)
        if control:
            cmd += ["--control", str(self.sock)]
        env = dict(daemon.env, XENIA_RUNDIR=str(daemon.rundir))
        with open(self.out, "wb") as o, open(self.err, "wb") as e:
            self.p = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL,
                                      stdout=o, stderr=e,
                                      pass_fds=(wfd,) + tuple(fds))
        os.close(wfd)
        self.ready_fd = rfd
        self.conn = None
        self.buf = b""

    def wait_ready(self):
        fd, self.ready_fd = self.ready_fd, None
        return read_ready(fd)

    def req(self, obj, timeout=TIMEOUT, fd=None):
        """One request and its reply; fd goes with it (SCM_RIGHTS)."""
        if self.conn is None:
            self.conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.conn.connect(str(self.sock))
        self.conn.settimeout(timeout)
        line = json.dumps(obj).encode() + b"\n"
        if fd is None:
            self.conn.sendall(line)
        else:
            socket.send_fds(self.conn, [line], [fd])
        while b"\n" not in self.buf:
            chunk = self.conn.recv(65536)
            if not chunk:
                raise EOFError("the vmm closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def save(self, path, **kw):
        return self.req(dict({"cmd": "save", "path": str(path)}, **kw))

    def stdout(self):
        return self.out.read_text(errors="replace")

    def stderr(self):
        return self.err.read_text(errors="replace")

    def log(self):
        return "exit %s\nstdout:\n%s\nstderr:\n%s" % (
            self.p.poll(), self.stdout()[-3000:], self.stderr()[-3000:])

    def wait_stdout(self, text, timeout=TIMEOUT, count=1):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.stdout().count(text) >= count:
                return True
            if self.p.poll() is not None:
                return self.stdout().count(text) >= count
            time.sleep(0.05)
        return False

    def wait(self, timeout=TIMEOUT):
        return self.p.wait(timeout)

    def status_text(self):
        try:
            return self.status.read_text().strip()
        except FileNotFoundError:
            return None

    def write(self, sub, value):
        self.store.write(self.home + "/" + sub, value)

    def read(self, sub):
        return self.store.read(self.home + "/" + sub)

    def cleanup(self):
        if self.conn is not None:
            self.conn.close()
        if self.ready_fd is not None:
            os.close(self.ready_fd)
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


@pytest.fixture
def vmms(daemon, tmp_path):
    made = []

    def _make(domid, args, **kw):
        _need_save()
        v = Vmm(daemon, tmp_path, domid, args, **kw)
        made.append(v)
        return v

    yield _make
    for v in made:
        v.cleanup()


def idle_args(memory=32, vcpus=1, extra=()):
    return ["--kernel", str(GUEST), "--memory", str(memory), "--vcpus",
            str(vcpus), "--xenstore", "--cmdline", "test=idle"] + list(extra)


def restore_args(path, extra=()):
    return ["--restore", str(path), "--xenstore"] + list(extra)


def up(v):
    assert v.wait_ready() == b"ready\n", v.log()
    assert v.wait_stdout("idle: up, waiting"), v.log()


def saved(v, path, **kw):
    """Saves v (not a checkpoint): it ends with status 4, `saved`."""
    rep = v.save(path, **kw)
    assert rep.get("ok") is True, rep
    assert rep["bytes"] == os.path.getsize(path)
    assert rep["pages"] > 0 and rep["ms"] >= 0
    assert v.wait() == 4, v.log()
    assert v.status_text() == "saved"
    assert v.store.read(v.home) is None, "the saved domain's home stays"
    return rep


def gone(store, domid):
    """Nothing of the domain in XenStore."""
    return (store.read("/local/domain/%d" % domid) is None and
            store.read("/local/domain/0/backend/vbd/%d" % domid) is None)


def records(data):
    """(offset, type, length) of each record of a stream."""
    out, off = [], HEADER
    while off + REC <= len(data):
        t, _, n = struct.unpack_from("<IIQ", data, off)
        out.append((off, t, n))
        off += REC + n
    return out


def idle_saved_file(vmms, tmp_path, domid=41, memory=32):
    v = vmms(domid, idle_args(memory=memory))
    up(v)
    v.write("data/hello", "world")
    path = tmp_path / "idle.save"
    saved(v, path)
    return path


def refused(vmms, store, path, domid, why, extra=()):
    """A restore of path is refused with one error line naming why."""
    v = vmms(domid, restore_args(path, extra))
    assert v.wait_ready() == b"", v.log()
    assert v.wait() == 1, v.log()
    assert v.status_text() == "error"
    errors = [l for l in v.stderr().splitlines() if ": error: " in l]
    assert len(errors) == 1, v.log()
    assert why in errors[0], v.log()
    assert gone(store, domid), "XenStore has nodes of a refused restore"
    return errors[0]


# --- running on after a restore --------------------------------------------

@pytest.mark.xenia_only("a guest domain needs hv.sock")
@pytest.mark.parametrize("vcpus", [1, 2])
def test_idle_domain_goes_on_under_a_new_id(vmms, daemon, tmp_path, vcpus):
    a = vmms(31, idle_args(vcpus=vcpus))
    up(a)
    a.write("data/hello", "world")
    a.store.write(a.home + "/data/deep/er", "x")
    path = tmp_path / "a.save"
    saved(a, path, config={"name": "idle", "config": "memory = 32\n"})

    b = vmms(32, restore_args(path))
    assert b.wait_ready() == b"ready\n", b.log()
    assert b.read("data/hello") == "world"
    assert b.read("data/deep/er") == "x"
    assert b.read("domid") == "32"
    assert b.read("name") == "idle"
    perms = subprocess.run(["xenstore-ls", "-p", b.home + "/data"],
                           env=daemon.env, stdout=subprocess.PIPE,
                           text=True, timeout=TIMEOUT).stdout
    assert "(n32)" in perms and "31" not in perms, perms
    info = b.req({"cmd": "info"})
    assert info["domid"] == 32 and len(info["vcpus"]) == vcpus, info
    assert info["state"] == "running"
    if vcpus == 2:
        b.write("cpu/1/availability", "offline")
        assert b.wait_stdout("idle: vcpu 1 offline"), b.log()
        b.write("cpu/1/availability", "online")
        assert b.wait_stdout("idle: vcpu 1 online"), b.log()
    b.write("memory/target", "24576")
    assert b.wait_stdout("idle: balloon at 24576 KiB"), b.log()
    b.write("control/shutdown", "poweroff")
    assert b.wait() == 0, b.log()
    assert "control/shutdown says poweroff" in b.stdout()
    assert b.status_text() == "poweroff"
    assert gone(b.store, 32)


@pytest.mark.xenia_only("a guest domain needs hv.sock")
def test_checkpoint_runs_on_and_restores(vmms, tmp_path):
    a = vmms(33, idle_args())
    up(a)
    a.write("data/mark", "1")
    path = tmp_path / "ck.save"
    rep = a.save(path, checkpoint=True)
    assert rep.get("ok") is True, rep
    assert not os.path.exists(str(path) + ".partial")
    assert a.req({"cmd": "info"})["state"] == "running"
    a.write("memory/target", "28672")
    assert a.wait_stdout("idle: balloon at 28672 KiB"), a.log()

    # A copy of the checkpoint: another id and uuid, beside the original.
    b = vmms(34, restore_args(path, ["--uuid",
                                     "0b5e0b5e-0000-4000-8000-000000000034",
                                     "--name", "copy"]))
    assert b.wait_ready() == b"ready\n", b.log()
    assert b.read("data/mark") == "1"
    assert b.read("memory/target") == "32768"
    b.write("control/shutdown", "reboot")
    assert b.wait() == 65, b.log()
    a.write("control/shutdown", "poweroff")
    assert a.wait() == 0, a.log()


@pytest.mark.xenia_only("a guest domain needs hv.sock")
def test_paused_domain_stays_paused_after_a_checkpoint(vmms, tmp_path):
    a = vmms(35, idle_args())
    up(a)
    assert a.req({"cmd": "pause"}) == {"ok": True}
    rep = a.save(tmp_path / "p.save", checkpoint=True)
    assert rep.get("ok") is True, rep
    assert a.req({"cmd": "info"})["state"] == "paused"
    assert a.req({"cmd": "unpause"}) == {"ok": True}
    a.write("control/shutdown", "poweroff")
    assert a.wait() == 0, a.log()


@pytest.mark.xenia_only("a guest domain needs hv.sock")
def test_ballooned_domain_round_trips(vmms, tmp_path):
    a = vmms(36, idle_args(memory=64))
    up(a)
    a.write("memory/target", "32768")
    assert a.wait_stdout("idle: balloon at 32768 KiB"), a.log()
    assert a.req({"cmd": "info"})["memory_kib"] == 32768
    path = tmp_path / "bal.save"
    rep = saved(a, path)
    # The pages given back are not in the file.
    assert rep["pages"] <= 64 * 256 - 32 * 256 + 16, rep

    b = vmms(37, restore_args(path))
    assert b.wait_ready() == b"ready\n", b.log()
    info = b.req({"cmd": "info"})
    assert info["memory_kib"] == 32768, info
    assert b.read("memory/target") == "32768"
    b.write("memory/target", "65536")
    assert b.wait_stdout("idle: balloon at 65536 KiB"), b.log()
    assert b.req({"cmd": "info"})["memory_kib"] == 65536
    b.write("control/shutdown", "poweroff")
    assert b.wait() == 0, b.log()


@pytest.mark.xenia_only("a guest domain needs hv.sock")
def test_compressed_save_restores(vmms, tmp_path):
    a = vmms(38, idle_args())
    up(a)
    a.write("data/z", "zstd")
    path = tmp_path / "z.save"
    saved(a, path, compress=True)
    kinds = [t for _, t, _ in records(path.read_bytes())]
    assert kinds[0] == CONFIG and kinds[-1] == END and PAGES in kinds
    b = vmms(39, restore_args(path))
    assert b.wait_ready() == b"ready\n", b.log()
    assert b.read("data/z") == "zstd"
    b.write("control/shutdown", "poweroff")
    assert b.wait() == 0, b.log()


def _full_run_passes(tmp_path, cmdline):
    r = subprocess.run([str(VMM), "--kernel", str(GUEST), "--memory", "32",
                        "--vcpus", "2", "--cmdline", cmdline],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, errors="replace", timeout=TIMEOUT)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout.count("PASS:")


@pytest.mark.parametrize("cmdline", ["", "test=timer"])
def test_save_part_way_through_a_run(vmms, daemon, tmp_path, cmdline):
    """Saved at several points of the run (no XenStore), restored: the
    checks of both halves together are those of one whole run."""
    _need_save()
    whole = _full_run_passes(tmp_path, cmdline)
    moved = 0
    for i, delay in enumerate((0.05, 0.15, 0.3)):
        a = vmms(50 + 2 * i, ["--kernel", str(GUEST), "--memory", "32",
                              "--vcpus", "2", "--cmdline", cmdline])
        assert a.wait_ready() == b"ready\n", a.log()
        time.sleep(delay)
        path = tmp_path / ("run%d.save" % i)
        try:
            rep = a.save(path)
        except (EOFError, OSError):
            rep = {"ok": False}
        if not rep.get("ok"):
            # The run ended first: nothing to move.
            assert a.wait() == 0, a.log()
            continue
        assert a.wait() == 4, a.log()
        b = vmms(51 + 2 * i, ["--restore", str(path)])
        assert b.wait(TIMEOUT) == 0, b.log()
        assert "FAIL" not in a.stdout() + b.stdout(), a.log() + b.log()
        assert a.stdout().count("PASS:") + b.stdout().count("PASS:") == \
            whole, a.log() + b.log()
        moved += 1
    assert moved >= 1, "every run ended before its save"


@pytest.mark.xenia_only("a guest domain needs hv.sock")
def test_disk_domain_saved_with_io_in_flight(vmms, tmp_path):
    img = tmp_path / "disk.img"
    with open(img, "wb") as f:
        f.truncate(32 << 20)
    a = vmms(43, ["--kernel", str(GUEST), "--memory", "32", "--xenstore",
                  "--disk", "file:%s,xvda,w" % img, "--cmdline",
                  "test=blkbench"])
    assert a.wait_ready() == b"ready\n", a.log()
    assert a.wait_stdout("blkbench: xvda connected"), a.log()
    time.sleep(0.5)
    path = tmp_path / "blk.save"
    saved(a, path)
    assert a.stdout().count("PASS: blkbench: all I/O done") == 0, \
        "the bench ended before the save"
    b = vmms(44, restore_args(path))
    assert b.wait_ready() == b"ready\n", b.log()
    assert b.store.read("/local/domain/0/backend/vbd/44/51712/state") == "4"
    assert b.read("device/vbd/51712/backend") == \
        "/local/domain/0/backend/vbd/44/51712"
    assert b.wait(120) == 0, b.log()
    assert "PASS: blkbench: all I/O done rc=0, 0 chunks read back wrong" \
        in b.stdout(), b.log()
    assert "FAIL" not in b.stdout()
    assert gone(b.store, 44)


@pytest.mark.xenia_only("a guest domain needs hv.sock")
def test_vif_domain_answers_pings_after_a_restore(vmms, daemon, tmp_path,
                                                   netns, monkeypatch):
    """A guest answering pings on a tap (test=net's net-answer) is saved
    and restored in the same namespace: its vif carries on Connected on
    the saved rings, on a tap vif<new id>.0 on the bridge, and the
    restored guest answers the host's pings.

    (The guest's own disconnect at the end of the scenario does not see
    its backend close: it kept the backend's path, which names the old
    domain id, and is not told it moved; see docs/migration-stream.md.)
    """
    from test_vmm_net import PING, TAP_NET, net_cmdline
    ns, br = netns
    monkeypatch.setenv("XENIA_RUNDIR", str(daemon.rundir))
    netns_vmm = ["ip", "netns", "exec", ns]
    spec = "mac=00:16:3e:00:00:46,bridge=" + br
    a = vmms(46, ["--kernel", str(GUEST), "--memory", "32", "--xenstore",
                  "--vif", spec, "--cmdline",
                  net_cmdline("net", TAP_NET, "net-answer=8")],
             prefix=netns_vmm)
    assert a.wait_ready() == b"ready\n", a.log()
    assert a.wait_stdout("net: answering ARP and ping"), a.log()
    path = tmp_path / "net.save"
    saved(a, path)
    b = vmms(47, restore_args(path), prefix=netns_vmm)
    assert b.wait_ready() == b"ready\n", b.log()
    assert b.store.read("/local/domain/0/backend/vif/47/0/state") == "4"
    ping = subprocess.run(netns_vmm + [sys.executable, "-c", PING,
                                       TAP_NET[0], "3"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=TIMEOUT)
    assert ping.stdout.split() == ["3", "3"], (ping.stdout, b.log())
    assert b.wait_stdout("net: answered"), b.log()
    m = re.search(r"answered \d+ ARP request\(s\) and (\d+) echo",
                  b.stdout())
    assert m and int(m.group(1)) >= 3, b.log()
    assert "PASS: net: " in b.stdout() and "none malformed" in b.stdout()
    b.wait()


# --- saves that fail -------------------------------------------------------

@pytest.mark.xenia_only("a guest domain needs hv.sock")
def test_failed_save_leaves_the_domain_running(vmms, tmp_path):
    a = vmms(45, idle_args())
    up(a)
    rep = a.save(tmp_path / "no" / "such" / "dir.save")
    assert rep["ok"] is False and "No such file" in rep["error"], rep
    assert not os.path.exists(tmp_path / "no")
    rep = a.req({"cmd": "save", "path": "relative.save"})
    assert rep["ok"] is False and "absolute" in rep["error"], rep
    rep = a.req({"cmd": "save", "path": "/x", "config": 3})
    assert rep["ok"] is False, rep
    assert a.req({"cmd": "info"})["state"] == "running"
    a.write("memory/target", "28672")
    assert a.wait_stdout("idle: balloon at 28672 KiB"), a.log()
    a.write("control/shutdown", "poweroff")
    assert a.wait() == 0, a.log()
    assert list(tmp_path.glob("*.partial")) == []


# --- files that are refused ------------------------------------------------

@pytest.mark.xenia_only("a guest domain needs hv.sock")
def test_corrupt_files_are_refused(vmms, daemon, tmp_path):
    path = idle_saved_file(vmms, tmp_path)
    data = path.read_bytes()
    recs = records(data)
    store = Store(daemon)
    # The last bytes of the biggest PAGES record are page data.
    big = max((r for r in recs if r[1] == PAGES), key=lambda r: r[2])
    offsets = {0: "bad magic", 17: "version", 21: "flags",
               recs[0][0] + 2: "unknown type",
               recs[0][0] + 5: "flags",
               recs[0][0] + REC + 3: "CONFIG",
               recs[1][0] + REC + 2: "PAGES",
               big[0] + REC + big[2] - 100: "checksum",
               recs[-2][0] + REC + 5: "",
               len(data) - 12: "END"}
    for i, (off, why) in enumerate(sorted(offsets.items())):
        bad = bytearray(data)
        bad[off] ^= 0x5a
        p = tmp_path / ("bad%d.save" % i)
        p.write_bytes(bytes(bad))
        refused(vmms, store, p, 60 + i, why)


@pytest.mark.xenia_only("a guest domain needs hv.sock")
def test_truncated_files_are_refused(vmms, daemon, tmp_path):
    path = idle_saved_file(vmms, tmp_path)
    data = path.read_bytes()
    cuts = {0, 7, HEADER}
    for off, _, n in records(data):
        cuts |= {off, off + 5, off + REC, off + REC + n // 2}
    cuts.discard(len(data))
    store = Store(daemon)
    for i, cut in enumerate(sorted(cuts)):
        p = tmp_path / ("cut%d.save" % i)
        p.write_bytes(data[:cut])
        line = refused(vmms, store, p, 100 + i, "")
        assert "truncated" in line or "less than a header" in line, line


@pytest.mark.xenia_only("a guest domain needs hv.sock")
def test_foreign_files_are_refused(vmms, daemon, tmp_path):
    path = idle_saved_file(vmms, tmp_path)
    data = path.read_bytes()
    store = Store(daemon)
    cases = [
        (b"XEN-MIGRATE\0\0\0\0\0" + data[16:], "bad magic", ()),
        (data[:16] + struct.pack("<I", 2) + data[20:], "version 2", ()),
        (data[:24] + struct.pack("<Q", 64 << 20) + data[32:],
         "memory_kib does not match", ()),
        (b"memory = 32\nname = 'x'\n" * 4, "bad magic", ()),
        (b"", "less than a header", ()),
        (data, "not --memory 64", ("--memory", "64")),
        (data, "not --vcpus 2", ("--vcpus", "2")),
        (data, "no --kernel", ("--kernel", str(GUEST))),
    ]
    for i, (content, why, extra) in enumerate(cases):
        p = tmp_path / ("foreign%d.save" % i)
        p.write_bytes(content)
        v = vmms(140 + i, restore_args(p, extra))
        assert v.wait_ready() == b"", v.log()
        status = v.wait()
        assert status in (1, 2), v.log()
        assert why in v.stderr(), v.log()
        assert gone(store, 140 + i)
    # A disk the saved domain does not have.
    img = tmp_path / "other.img"
    img.write_bytes(b"\0" * 4096)
    refused(vmms, store, path, 150, "disk",
            ("--disk", "file:%s,xvdb,w" % img))
