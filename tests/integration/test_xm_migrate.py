"""xm migrate between two xends, each in its own network namespace (two
"machines" joined by a veth pair, sharing this disk for images).

  - live migration of a domain whose guest dirties memory in user mode and
    counts (test=idle dirty=): xm prints a line per round and the final
    figures; the domain is on B under its name and UUID and gone from A
    without an on_* action; the guest's own check of every page it wrote
    finds nothing lost; its counter goes on from where it was; the largest
    stall it saw is no longer than the downtime xm reported (plus the
    guest's own sampling and the host scheduler's noise);
  - a domain with a disk doing block I/O (blkbench) moved live: every block
    reads back right on B;
  - failures, each leaving the domain running on A with nothing on B: B's
    relocation-hosts-allow does not match A, the disk is missing at B, B's
    vmm killed part-way, B not listening;
  - xm migrate's bad command lines.
"""

import os
import re
import shutil
import signal
import subprocess
import threading
import time

import pytest

from xendlib import GUEST, XendHost, guest_config, wait_console, wait_for

NET = "10.77.%d.%d"
PORT = 8002


def _ip(*args):
    r = subprocess.run(["ip"] + list(args), capture_output=True, text=True,
                       timeout=20)
    assert r.returncode == 0, ("ip " + " ".join(args), r.stderr)


def _certs(tmp, sub, ca_name="xenia-test-ca"):
    """A CA and a certificate for each host's address, signed by it."""
    def ssl(*args):
        r = subprocess.run(["openssl"] + list(args), capture_output=True,
                           text=True, cwd=tmp, timeout=60)
        assert r.returncode == 0, r.stderr
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
          "-nodes"]
    ssl("req", "-x509", *ec, "-days", "2", "-subj", "/CN=" + ca_name,
        "-keyout", "ca.key", "-out", "ca.pem")
    for i, name in ((1, "a"), (2, "b")):
        ssl("req", *ec, "-subj", "/CN=host-" + name, "-keyout",
            name + ".key", "-out", name + ".csr")
        with open(os.path.join(tmp, name + ".ext"), "w") as f:
            f.write("subjectAltName=IP:%s\n" % (NET % (sub, i)))
        ssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey",
            "ca.key", "-CAcreateserial", "-days", "2", "-extfile",
            name + ".ext", "-out", name + ".pem")
    return {n: ["--relocation-tls-cert", os.path.join(tmp, n + ".pem"),
                "--relocation-tls-key", os.path.join(tmp, n + ".key"),
                "--relocation-tls-ca", os.path.join(tmp, "ca.pem")]
            for n in ("a", "b")}


def _two_hosts(tls_args=None):
    """Hosts A and B: a namespace each, a veth pair between them, a xend
    in each with its relocation server on port 8002 (and TLS if asked)."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("network namespaces need root and ip(8)")
    tag = os.getpid() % 10000
    sub = tag % 250
    ns = ["xmA%d" % tag, "xmB%d" % tag]
    made, started = [], []
    try:
        for n in ns:
            _ip("netns", "add", n)
            made.append(n)
            _ip("-n", n, "link", "set", "lo", "up")
        _ip("link", "add", "xva%d" % tag, "netns", ns[0], "type", "veth",
            "peer", "name", "xvb%d" % tag, "netns", ns[1])
        for i, (n, dev) in enumerate(zip(ns, ("xva%d", "xvb%d"))):
            _ip("-n", n, "addr", "add", NET % (sub, i + 1) + "/24", "dev",
                dev % tag)
            _ip("-n", n, "link", "set", dev % tag, "up")
        allow = "^10\\.77\\.%d\\." % sub
        certs = tls_args(sub) if tls_args else {"a": [], "b": []}
        for n, name in zip(ns, ("a", "b")):
            h = XendHost(netns=n, relocation_port=PORT,
                         env={"XENIA_RELOCATION_HOSTS_ALLOW": allow})
            started.append(h.start(*certs[name]))
        a, b = started
        a.addr, b.addr = NET % (sub, 1), NET % (sub, 2)
        a.sub = sub
        yield a, b
    finally:
        for h in started:
            h.stop()
        for n in made:
            subprocess.run(["ip", "netns", "del", n], timeout=20)


@pytest.fixture
def hosts():
    yield from _two_hosts()


@pytest.fixture
def tls_hosts(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl(1) is needed to make test certificates")
    yield from _two_hosts(lambda sub: _certs(str(tmp_path), sub))


def domid_of(host, name):
    return host.domains()[name]["domid"]


def output(host, domid):
    """What the guest printed: console_io (the vmm's log) and its PV
    console."""
    return host.vmm_log(domid) + host.console_log(domid)


def runs_on(host, name):
    d = host.domains()[name]
    assert d["state"] in ("r-----", "-b----"), d
    return d


def dirty_lines(text):
    return [tuple(int(x) for x in m) for m in re.findall(
        r"dirty: count=(\d+) errors=(\d+) maxgap_us=(\d+)", text)]


def test_live_migration_of_a_dirtying_guest(hosts):
    a, b = hosts
    a.create(guest_config("mover", memory=128, vcpus=2,
                          test="idle dirty=32 dirty_rate=20000"))
    src = domid_of(a, "mover")
    uuid = a.domains()["mover"]["uuid"]
    wait_console(a, src, "dirty: count=")
    wait_for(lambda: len(dirty_lines(a.console_log(src))) >= 2, 30,
             what="the workload's second line")
    # A 1 ms target makes the rounds go on while the guest dirties.
    r = a.xm("migrate", "-l", "--downtime=1", "--max-rounds=8", "mover",
             b.addr, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr + a.log() + b.log()
    assert re.search(r"round 1: \d+ pages \([0-9.]+ MiB\) in \d+ ms",
                     r.stdout), r.stdout
    assert re.search(r"round \d+ \(paused\): \d+ pages", r.stdout), r.stdout
    m = re.search(r"Migrated domain mover to [0-9.]+: total ([0-9.]+) s, "
                  r"downtime (\d+) ms, ([0-9.]+) MiB sent in (\d+) rounds",
                  r.stdout)
    assert m, r.stdout
    downtime_ms, rounds = int(m.group(2)), int(m.group(4))
    assert rounds >= 2, r.stdout
    # Gone from A, without an on_* action; running on B as itself.
    wait_for(lambda: "mover" not in a.domains(), 10, what="A forgets it")
    d = runs_on(b, "mover")
    assert d["uuid"] == uuid
    dst = d["domid"]
    wait_for(lambda: len(dirty_lines(b.console_log(dst))) >= 3, 30,
             what="the workload's lines on B")
    before = dirty_lines(a.console_log(src))
    after = dirty_lines(b.console_log(dst))
    text = b.console_log(dst)
    assert "FAIL" not in text, text[-2000:]
    assert all(e == 0 for _, e, _ in before + after), (before, after)
    # The counter goes on from where it stopped.
    assert after[0][0] >= before[-1][0], (before[-1], after[0])
    assert after[-1][0] > after[0][0]
    # The stall the guest saw is the downtime, give or take its sampling
    # and this 2-CPU host's scheduling (generous: an assertion of
    # correctness, not of speed).
    gap_ms = after[-1][2] / 1000
    assert gap_ms <= downtime_ms + 500, (gap_ms, downtime_ms, r.stdout)
    # It obeys B's toolstack.
    b.xm("shutdown", "-w", "mover", check=True, timeout=60)
    assert "mover" not in b.domains()


def test_disk_io_moves_with_the_domain(hosts, tmp_path):
    a, b = hosts
    img = tmp_path / "disk.img"
    with open(img, "wb") as f:
        f.truncate(32 << 20)
    a.create(guest_config("blk", memory=32, test="blkbench",
                          extra_lines="disk = ['file:%s,xvda,w']\n" % img))
    src = domid_of(a, "blk")
    wait_console(a, src, "blkbench: xvda connected")
    time.sleep(0.5)
    r = a.xm("migrate", "--live", "blk", b.addr, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr + a.log() + b.log()
    assert "all I/O done" not in output(a, src), \
        "the bench ended before the migration"
    dst = b.domains()["blk"]["domid"]
    wait_console(b, dst, "PASS: blkbench: all I/O done", timeout=120)
    text = output(a, src) + output(b, dst)
    assert "FAIL" not in text, text[-2000:]
    assert "0 chunks read back wrong" in output(b, dst)


def still_on_a(a, b, name):
    d = runs_on(a, name)
    assert name not in b.domains()
    assert not b.xs("ls", "/xend/domains", check=False)
    return d


def test_hosts_allow_refuses(hosts):
    a, b = hosts
    b.stop()
    b2 = XendHost(netns=b.netns, relocation_port=PORT,
                  env={"XENIA_RELOCATION_HOSTS_ALLOW": "^192\\.0\\.2\\."})
    b2.start()
    try:
        a.create(guest_config("stay"))
        wait_console(a, domid_of(a, "stay"), "idle: up")
        r = a.xm("migrate", "-l", "stay", b.addr)
        assert r.returncode == 1, r.stdout
        assert "relocation-hosts-allow" in r.stderr, r.stderr
        still_on_a(a, b2, "stay")
        assert "not in relocation-hosts-allow" in b2.log()
    finally:
        b2.stop()


def test_disk_missing_at_the_destination(hosts, tmp_path):
    a, b = hosts
    img = tmp_path / "gone.img"
    with open(img, "wb") as f:
        f.truncate(4 << 20)
    a.create(guest_config("nodisk", extra_lines="disk = ['file:%s,xvda,w']\n"
                          % img))
    wait_console(a, domid_of(a, "nodisk"), "idle: up")
    # A's vmm holds the image open; B will find no such file.
    os.unlink(img)
    r = a.xm("migrate", "-l", "nodisk", b.addr, timeout=120)
    assert r.returncode == 1, r.stdout
    assert "gone.img" in r.stderr and "No such file" in r.stderr, r.stderr
    still_on_a(a, b, "nodisk")
    a.xm("shutdown", "-w", "nodisk", check=True, timeout=60)


def busy_domain(host, name):
    """A domain dirtying 128 MiB as fast as it can: a live migration of
    it does not converge, so it goes on until its round limit."""
    host.create(guest_config(name, memory=256, vcpus=2,
                             test="idle dirty=128"))
    domid = domid_of(host, name)
    wait_console(host, domid, "dirty: count=")
    return domid


def test_destination_vmm_killed_part_way(hosts):
    a, b = hosts
    src = busy_domain(a, "hard")

    def kill_incoming():
        def vmm():
            out = subprocess.run(["pgrep", "-f", "xenia-vmm.*--incoming"
                                  ".*%s/" % b.rundir], capture_output=True,
                                 text=True).stdout.split()
            return out[0] if out else None
        pid = wait_for(vmm, 30, step=0.005, what="B's incoming vmm")
        time.sleep(0.3)
        os.kill(int(pid), 9)

    t = threading.Thread(target=kill_incoming)
    t.start()
    # Unthrottled, the dirtying never converges: the rounds go on until
    # the kill.
    r = a.xm("migrate", "-l", "--downtime=0", "--max-rounds=1000", "hard",
             b.addr, timeout=300)
    t.join()
    assert r.returncode == 1, r.stdout
    assert "runs on" in a.log() or "error" in r.stderr.lower(), r.stderr
    still_on_a(a, b, "hard")
    wait_for(lambda: "hard" not in b.domains(), 10, what="B forgets it")
    # The guest goes on, its memory whole.
    n = len(dirty_lines(a.console_log(src)))
    wait_for(lambda: len(dirty_lines(a.console_log(src))) > n + 1, 30,
             what="the workload going on at A")
    assert "FAIL" not in a.console_log(src)


def test_nobody_listening(hosts):
    a, b = hosts
    a.create(guest_config("lonely"))
    wait_console(a, domid_of(a, "lonely"), "idle: up")
    r = a.xm("migrate", "-l", "-p", "8999", "lonely", b.addr)
    assert r.returncode == 1
    assert "cannot reach" in r.stderr and "refused" in r.stderr, r.stderr
    still_on_a(a, b, "lonely")


def test_bad_command_lines(hosts):
    a, _ = hosts
    for args, why in ((["migrate", "x"], "argument"),
                      (["migrate", "x", "h:0"], "bad port"),
                      (["migrate", "x", "h:99999"], "bad port"),
                      (["migrate", "--downtime=-1", "x", "h"], "bad value"),
                      (["migrate", "-p", "abc", "x", "h"], "bad value")):
        r = a.xm(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert why in r.stderr, (args, r.stderr)
    r = a.xm("migrate", "nosuch", "127.0.0.1")
    assert r.returncode == 1 and "no domain" in r.stderr, r.stderr


def test_tls_migration(tls_hosts):
    a, b = tls_hosts
    a.create(guest_config("secret", memory=64))
    wait_console(a, domid_of(a, "secret"), "idle: up")
    # Without TLS the destination will not talk.
    r = a.xm("migrate", "-l", "secret", b.addr)
    assert r.returncode == 1, r.stdout
    assert "did not answer" in r.stderr, r.stderr
    still_on_a(a, b, "secret")
    r = a.xm("migrate", "-l", "-s", "secret", b.addr, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr + a.log() + b.log()
    assert "over TLS" in r.stdout
    wait_for(lambda: "secret" not in a.domains(), 10, what="A forgets it")
    runs_on(b, "secret")
    assert "migrated in from %s (TLS)" % a.addr in b.log()
    b.xm("shutdown", "-w", "secret", check=True, timeout=60)


def test_tls_refuses_a_stranger(tls_hosts, tmp_path):
    a, b = tls_hosts
    # A restarted with a certificate of another CA.
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    args = _certs(str(stranger), a.sub, ca_name="another-ca")["a"]
    a.kill(signal.SIGTERM)
    a.start(*args)
    a.create(guest_config("stay"))
    wait_console(a, domid_of(a, "stay"), "idle: up")
    r = a.xm("migrate", "-l", "-s", "stay", b.addr, timeout=60)
    assert r.returncode == 1, r.stdout
    assert "TLS" in r.stderr, r.stderr
    still_on_a(a, b, "stay")
    assert "refused" in b.log()


def test_tls_needs_a_certificate(hosts):
    a, b = hosts
    a.create(guest_config("plain"))
    r = a.xm("migrate", "-s", "plain", b.addr)
    assert r.returncode == 1
    assert "no TLS certificate" in r.stderr, r.stderr


def test_paused_domain_arrives_paused(hosts):
    a, b = hosts
    a.create(guest_config("napping"))
    wait_console(a, domid_of(a, "napping"), "idle: up")
    a.xm("pause", "napping", check=True)
    r = a.xm("migrate", "napping", b.addr, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert b.domains()["napping"]["state"] == "--p---", b.domains()
    b.xm("unpause", "napping", check=True)
    assert runs_on(b, "napping")
    b.xm("shutdown", "-w", "napping", check=True, timeout=60)


_SPEAK = r'''
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
s.sendall(sys.stdin.buffer.read())
s.shutdown(socket.SHUT_WR)
out = b""
while True:
    try:
        chunk = s.recv(4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
sys.stdout.write(out.decode(errors="replace"))
'''


def speak(a, b, data):
    """What B's relocation server answers A sending data."""
    r = subprocess.run(["ip", "netns", "exec", a.netns, "python3", "-c",
                        _SPEAK, b.addr, str(PORT)], input=data,
                       capture_output=True, timeout=60)
    return r.stdout.decode(errors="replace")


def test_relocation_server_refuses_garbage(hosts):
    a, b = hosts
    hello = b"XENIA-RELOCATE 1\n"
    for data, why in (
            (b"GET / HTTP/1.0\r\n\r\n", "not a migration"),
            (b"\x00" * 100, "not a migration"),
            (hello + b"{not json\n", "not a JSON object"),
            (hello + b"[1, 2]\n", "not a JSON object"),
            (hello + b'{"name": "x"}\n', "lacks its name, UUID or config"),
            (hello + b'{"name": "x", "uuid": "u", "config": "memory = ="}\n',
             "config"),
            (hello + b'{"name": "../x", "uuid": "7d1b0c8e-2f0a-4c3e-9a55-'
             b'0123456789ab", "config": "name=\\"x\\"\\nkernel=\\"/k\\"\\n'
             b'memory=16\\n"}\n', "not valid"),
            (hello + b"x" * (300 << 10) + b"\n", "not a JSON object")):
        out = speak(a, b, data)
        assert out.startswith("XENIA-ERROR "), (data[:40], out)
        assert why in out, (data[:40], out)
    assert [n for n in b.domains() if n != "Domain-0"] == []
    assert not b.xs("ls", "/xend/domains", check=False)
    # A stream that is no stream, after a hello that is fine: the vmm
    # refuses it and nothing stays.
    good = (b'{"name": "ghost", "uuid": "7d1b0c8e-2f0a-4c3e-9a55-'
            b'0123456789ab", "config": "name=\\"ghost\\"\\nkernel=\\"%s\\"'
            b'\\nmemory=16\\n"}\n' % str(GUEST).encode())
    out = speak(a, b, hello + good + b"XENIA-MIGRATE\0\0\0" + b"\xff" * 64)
    assert out.startswith("XENIA-RELOCATE-OK\n"), out
    assert "XENIA-ERROR" in out, out
    wait_for(lambda: "ghost" not in b.domains(), 20, what="B forgets it")
    assert not b.xs("ls", "/xend/domains", check=False)


def test_destroy_at_the_destination_cancels(hosts):
    a, b = hosts
    busy_domain(a, "cancel")
    out = {}

    def migrate():
        out["r"] = a.xm("migrate", "-l", "--downtime=0", "--max-rounds=1000",
                        "cancel", b.addr, timeout=300)

    t = threading.Thread(target=migrate)
    t.start()
    wait_for(lambda: "cancel" in b.domains(), 30, step=0.01,
             what="the domain coming in at B")
    r = b.xm("destroy", "cancel", timeout=60)
    t.join(120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "cancelling the migration" in b.log()
    assert out["r"].returncode == 1, out["r"].stdout
    still_on_a(a, b, "cancel")
