"""The test guest's network frontend (guest/netfront.c, guest/net.c)
against xenia-vmm's network backend (xenia-vmm --xenstore --vif), with a
real xenstored.

- tap: a bridge with 10.0.3.1/24 inside a network namespace made here;
  xenia-vmm runs inside that namespace (it creates its tap vif<id>.0
  there and puts it on the bridge) and reaches xenstored through the
  rundir's Unix socket, which works across namespaces.  The guest
  (10.0.3.15) ARPs for and pings 10.0.3.1, reconnects, pings again, then
  answers for a while (net-answer=N) and we ping it from the namespace
  with a raw ICMP socket (the host may have no ping(8)).
- slirp: --vif without a bridge; libslirp's gateway 10.0.2.2 answers ARP
  and reflects ICMP echo to its own addresses (the host alias and the DNS
  address 10.0.2.3) itself, without any host privilege, so the guest
  (10.0.2.15) pings the gateway.
- net-hostile (over slirp): malformed tx requests are answered with
  errors or cost only that connection, a corrupt ring fails the vif
  alone, and the VMM serves on until the guest powers off.

Everything skips (with the reason) while xenia-vmm has no --vif; the tap
test also needs root, ip(8) and /dev/net/tun.
"""

import os
import re
import shutil
import subprocess
import sys
import time

import pytest

from test_vmm import GUEST, TIMEOUT, VMM, _need_guest, run_vmm, show, \
    verdicts
from test_vmm_xenstore import Lines, _stop

DOMID = 44
MAC = "00:16:3e:00:00:2c"
TAP_NET = ("10.0.3.15", "10.0.3.1")
SLIRP_NET = ("10.0.2.15", "10.0.2.2")
ANSWER_S = 20
HOST_PINGS = 3

# A raw-socket ping run inside the namespace: "<sent> <answered>".
PING = r"""
import os, socket, struct, sys, time
dst, count = sys.argv[1], int(sys.argv[2])
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
ident, ok = os.getpid() & 0xffff, 0
for seq in range(1, count + 1):
    data = bytes((seq * 7 + i) & 0xff for i in range(56))
    hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    pkt = struct.pack("!BBHHH", 8, 0, csum(hdr + data), ident, seq) + data
    for attempt in range(3):
        s.sendto(pkt, (dst, 0))
        end, got = time.monotonic() + 3, False
        while not got and time.monotonic() < end:
            s.settimeout(max(0.01, end - time.monotonic()))
            try:
                r, a = s.recvfrom(2048)
            except socket.timeout:
                break
            ip = (r[0] & 15) * 4
            t, _, _, i, q = struct.unpack("!BBHHH", r[ip:ip + 8])
            got = (a[0] == dst and t == 0 and i == ident and q == seq
                   and r[ip + 8:] == data)
        if got:
            ok += 1
            break
print(count, ok)
"""


def _need_vif_vmm():
    _need_guest()
    h = subprocess.run([str(VMM), "--help"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT)
    if "--vif" not in h.stdout:
        pytest.skip("xenia-vmm has no --vif yet (the network backend of "
                    "issue 4)")


def _need_netns():
    if os.geteuid() != 0:
        pytest.skip("a network namespace and a tap need root")
    if shutil.which("ip") is None:
        pytest.skip("ip(8) (iproute2) is missing")
    if not os.path.exists("/dev/net/tun"):
        pytest.skip("/dev/net/tun is missing")


def _ip(*args):
    r = subprocess.run(["ip"] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, ("ip " + " ".join(args), r.stdout)


@pytest.fixture
def netns():
    """A namespace with a bridge holding the host side's address."""
    _need_netns()
    tag = os.getpid() % 100000
    ns, br = "xtnf%d" % tag, "xtbr%d" % tag
    _ip("netns", "add", ns)
    try:
        _ip("-n", ns, "link", "set", "lo", "up")
        _ip("-n", ns, "link", "add", br, "type", "bridge")
        _ip("-n", ns, "addr", "add", TAP_NET[1] + "/24", "dev", br)
        _ip("-n", ns, "link", "set", br, "up")
        yield ns, br
    finally:
        subprocess.run(["ip", "netns", "del", ns], timeout=TIMEOUT)


def vif_args(bridge=None):
    spec = "mac=" + MAC
    if bridge:
        spec += ",bridge=" + bridge
    return ["--xenstore", "--domid", str(DOMID), "--vif", spec]


def net_cmdline(scenario, net, extra=""):
    ip, peer = net
    return ("test=%s ip=%s gw=%s peer=%s %s" %
            (scenario, ip, peer, peer, extra)).strip()


def assert_all_pass(out, err, code):
    why = "exit %s\nstdout:\n%s\nstderr:\n%s" % (code, out, err)
    assert code == 0, why
    lines = verdicts(out)
    assert lines, why
    assert not [l for l in lines if "FAIL" in l], why
    assert "SKIP" not in out, why
    return why


NET_PASSES = (
    r"PASS: net: vif 0 connected \(both ends Connected\)",
    r"PASS: net: a unicast MAC",
    r"PASS: net: ARP: %s is at ",
    r"PASS: net: ping %s id \d+ seq 1, 56 bytes: the reply matches",
    r"PASS: net: ping %s id \d+ seq 5, 1400 bytes: the reply matches",
    r"PASS: net: vif 0 disconnected: both ends Closed",
    r"PASS: net: vif 0 connected again",
    r"PASS: net: ping %s id \d+ seq 1, 1400 bytes: the reply matches",
)


def check_net_output(out, why, peer):
    for want in NET_PASSES:
        if "%s" in want:
            want = want % re.escape(peer)
        assert re.search(want, out), (want, why)
    assert len(re.findall(r"PASS: net: ping .*: the reply matches",
                          out)) >= 6, why
    # The backend offers feature-sg: one frame went out in two slots.
    if "no multi-slot frame" not in out:
        assert re.search(r"PASS: net: ping .*\(two tx slots\)", out), why


@pytest.mark.xenia_only("a guest domain needs hv.sock")
def test_net_tap(daemon, netns, monkeypatch):
    """Over a tap on a bridge: ARP and pings both ways, a reconnect."""
    _need_vif_vmm()
    monkeypatch.setenv("XENIA_RUNDIR", str(daemon.rundir))
    ns, br = netns
    cmd = ["ip", "netns", "exec", ns, str(VMM), "--kernel", str(GUEST),
           "--memory", "32", "--vcpus", "1", "--cmdline",
           net_cmdline("net", TAP_NET, "net-answer=%d" % ANSWER_S)] + \
        vif_args(br)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    seen, ping = [], None
    try:
        lines = Lines(proc)
        deadline = time.monotonic() + 2 * TIMEOUT
        while True:
            line = lines.next(deadline)
            assert line is not None, ("never answered", seen, _stop(proc))
            seen.append(line)
            if line.startswith("net: answering ARP and ping"):
                break
        ping = subprocess.run(["ip", "netns", "exec", ns, sys.executable,
                               "-c", PING, TAP_NET[0], str(HOST_PINGS)],
                              stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True,
                              timeout=TIMEOUT)
        out, err = proc.communicate(timeout=ANSWER_S + TIMEOUT)
    finally:
        if proc.poll() is None:
            _stop(proc)
    out = "\n".join(seen) + "\n" + out.decode(errors="replace")
    err = err.decode(errors="replace")
    why = assert_all_pass(out, err, proc.returncode)
    check_net_output(out, why, TAP_NET[1])
    assert ping.stdout.split() == [str(HOST_PINGS), str(HOST_PINGS)], \
        (ping.stdout, why)
    m = re.search(r"net: answered (\d+) ARP request\(s\) and (\d+) echo",
                  out)
    assert m and int(m.group(2)) >= HOST_PINGS, why


@pytest.mark.xenia_only("a guest domain needs hv.sock")
def test_net_slirp(daemon, monkeypatch):
    """User-mode networking: ARP for and ping slirp's gateway."""
    _need_vif_vmm()
    monkeypatch.setenv("XENIA_RUNDIR", str(daemon.rundir))
    p = run_vmm(GUEST, net_cmdline("net", SLIRP_NET), memory=32,
                extra=vif_args())
    why = assert_all_pass(p.stdout, p.stderr, p.returncode)
    check_net_output(p.stdout, why, SLIRP_NET[1])


@pytest.mark.xenia_only("a guest domain needs hv.sock")
def test_net_hostile(daemon, monkeypatch):
    """Malformed tx requests get errors or cost that connection only; a
    corrupt ring fails the vif alone; pings work in between."""
    _need_vif_vmm()
    monkeypatch.setenv("XENIA_RUNDIR", str(daemon.rundir))
    p = run_vmm(GUEST, net_cmdline("net-hostile", SLIRP_NET), memory=32,
                extra=vif_args())
    why = assert_all_pass(p.stdout, p.stderr, p.returncode)
    out = p.stdout
    assert len(re.findall(r"PASS: net-hostile: .*: \d+ response\(s\), "
                          r"status -[12], ids echoed", out)) >= 10, why
    for want in (
            r"PASS: net-hostile: a page granted to domain 7",
            r"PASS: net-hostile: a page granted, then revoked",
            r"PASS: net-hostile: a 10-byte frame",
            r"PASS: net-hostile: after the bad single-slot requests a "
            r"ping of 10\.0\.2\.2 works",
            r"PASS: net-hostile: a chain of 24 slots",
            r"PASS: net-hostile: a chain that never ends",
            r"PASS: net-hostile: ids 0xffff, 0xffff again and 0",
            r"PASS: net-hostile: after the bad chains a ping",
            r"PASS: net-hostile: a corrupt tx req_prod: the backend gives "
            r"up the vif",
            r"PASS: net-hostile: after the corrupt ring a ping",
            r"PASS: net-hostile: every grant of the test can be ended"):
        assert re.search(want, out), (want, why)
    assert "domain: shutdown (poweroff)" in p.stderr, why


@pytest.mark.parametrize("scenario", ["net", "net-hostile"])
def test_net_skips_without_a_store(scenario):
    """No --xenstore: no store ring, one SKIP line, exit 0."""
    _need_guest()
    p = run_vmm(GUEST, "test=" + scenario, memory=32)
    assert p.returncode == 0, show(p)
    assert "SKIP: %s: no store ring" % scenario in p.stdout.splitlines(), \
        show(p)
    assert verdicts(p.stdout) == [], show(p)


@pytest.mark.xenia_only("a guest domain needs hv.sock")
@pytest.mark.parametrize("scenario", ["net", "net-hostile"])
def test_net_skips_without_a_vif(daemon, monkeypatch, scenario):
    """A store but no --vif: no vif 0, a SKIP line, exit 0."""
    _need_guest()
    monkeypatch.setenv("XENIA_RUNDIR", str(daemon.rundir))
    p = run_vmm(GUEST, "test=" + scenario, memory=32,
                extra=["--xenstore", "--domid", str(DOMID)])
    assert p.returncode == 0, show(p)
    assert "SKIP: %s: no vif 0 (0 vifs)" % scenario in \
        p.stdout.splitlines(), show(p)
    assert not [l for l in verdicts(p.stdout) if "FAIL" in l], show(p)
