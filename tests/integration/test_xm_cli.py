"""xm, the administrator's command line, against a real xend and real
domains: what it prints (Xen's xm formats), its exit statuses (0 done,
1 failed, 2 bad command line) and its console relay.  The formatters are
checked column by column, without a xend, by xm/test_xm_format.c."""

import os
import pty
import re
import select
import signal
import subprocess
import time

import pytest

from xendlib import XM, XendHost, guest_config, wait_console, wait_for

pytestmark = pytest.mark.xenia_only("xend runs Xenia's own domains")

LIST_HEADER = ("Name                                        ID   Mem VCPUs"
               "      State   Time(s)")
STARTED = re.compile(r"^Started domain (\S+) \(id=(\d+)\)$", re.M)


@pytest.fixture
def host():
    h = XendHost().start()
    yield h
    h.stop()


def write_cfg(tmp_path, name, **kw):
    p = tmp_path / (name + ".cfg")
    p.write_text(guest_config(name, **kw))
    return p


def create(host, cfg, *extra):
    r = host.xm("create", str(cfg), *extra, check=True)
    m = STARTED.search(r.stdout)
    assert m, r.stdout
    return m.group(1), int(m.group(2))


def list_rows(host, *args):
    r = host.xm("list", *args, check=True)
    lines = r.stdout.splitlines()
    assert lines[0] == LIST_HEADER
    return lines[1:]


# -- without a xend -----------------------------------------------------

def test_no_xend_says_so(tmp_path):
    env = dict(os.environ, XENIA_RUNDIR=str(tmp_path))
    r = subprocess.run([str(XM), "list"], env=env, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 1
    assert r.stderr == ("xm: cannot reach xend at %s/xend.sock: No such "
                        "file or directory (is xend running?)\n" % tmp_path)


def test_usage_and_help(tmp_path):
    env = dict(os.environ, XENIA_RUNDIR=str(tmp_path))

    def xm(*args):
        return subprocess.run([str(XM), *args], env=env, capture_output=True,
                              text=True, timeout=30)

    r = xm("help")
    assert r.returncode == 0
    names = [l.split()[0] for l in r.stdout.splitlines()
             if l.startswith(" ") and l.strip()]
    for cmd in ("create", "list", "console", "shutdown", "top", "vcpu-list",
                "block-attach", "network-detach", "new", "start", "delete",
                "save", "restore"):
        assert cmd in names
    assert "migrate" in names
    assert xm().returncode == 2
    r = xm("frobnicate")
    assert r.returncode == 2 and "unknown command 'frobnicate'" in r.stderr
    r = xm("shutdown", "--help")
    assert r.returncode == 0 and r.stdout.startswith(
        "Usage: xm shutdown [-w] [-a] [-R|-H]")
    for bad in (["destroy"], ["rename", "a"], ["list", "--bogus"],
                ["shutdown", "-R", "-H", "x"], ["top", "-i", "x"],
                ["mem-set", "x", "12q"], ["create"]):
        r = xm(*bad)
        assert r.returncode == 2, bad
        assert r.stderr.startswith("xm %s: " % bad[0]), r.stderr
        assert "Usage: xm %s" % bad[0] in r.stderr


# -- domains --------------------------------------------------------------

def test_create_list_and_destroy(host, tmp_path):
    cfg = tmp_path / "web.cfg"
    cfg.write_text(guest_config("web", memory=16, vcpus=2) + "colour = 3\n")
    r = host.xm("create", str(cfg), check=True)
    assert r.stdout.startswith('Using config file "%s".\n' % cfg)
    name, domid = STARTED.search(r.stdout).groups()
    assert name == "web"
    assert r.stderr == ("xm create: warning: %s:6: unknown key 'colour' "
                        "ignored\n" % cfg)

    rows = list_rows(host)
    assert re.match(r"^Domain-0 {32}     0 [ \d]{5} [ \d]{5} {5}r----- "
                    r"[ \d.]{8}$", rows[0]), rows[0]
    # Xen's xm: "%(name)-40s %(domid)5s %(mem)5d %(vcpus)5d %(state)10s
    # %(cpu_time)8.1f".
    assert rows[1][:58] in ["%-40s %5s %5d %5d" % ("web", domid, 16, n)
                            for n in (1, 2)], rows[1]
    assert re.match(r"^ {5}[-rb]{2}---- [ \d.]{7}\d$", rows[1][58:]), rows[1]
    assert host.xm("domid", "web").stdout == "%s\n" % domid
    assert host.xm("domname", domid).stdout == "web\n"
    one = list_rows(host, "web")
    assert len(one) == 1 and one[0].startswith("web ")

    r = host.xm("list", "-l", "web", check=True)
    assert r.stdout.startswith("(domain\n    (name web)\n    (domid %s)\n"
                               % domid)
    r = host.xm("list", "--json", check=True)
    assert '"name": "Domain-0"' in r.stdout and '"name": "web"' in r.stdout

    host.xm("destroy", "web", check=True)
    assert [l.split()[0] for l in list_rows(host)] == ["Domain-0"]
    r = host.xm("destroy", "web")
    assert r.returncode == 1 and r.stderr.startswith("xm destroy: ")


def test_create_errors_name_the_file_and_line(host, tmp_path):
    cfg = tmp_path / "bad.cfg"
    cfg.write_text('name = "bad"\nkernel = "/k"\nmemory = lots\n')
    r = host.xm("create", str(cfg))
    assert r.returncode == 1
    assert r.stderr.startswith("xm create: %s:3" % cfg), r.stderr
    r = host.xm("create", str(tmp_path / "nope.cfg"))
    assert r.returncode == 1 and "cannot read" in r.stderr
    assert [l.split()[0] for l in list_rows(host)] == ["Domain-0"]


def test_create_with_settings_and_relative_kernel(host, tmp_path):
    # A relative kernel path is the one where xm runs, as with Xen's xm.
    (tmp_path / "k").mkdir()
    os.symlink(str(XM.parent / "guest" / "test-guest.elf"),
               str(tmp_path / "k" / "guest.elf"))
    cfg = tmp_path / "base.cfg"
    cfg.write_text('name = "base"\nkernel = "k/guest.elf"\nmemory = 16\n'
                   'extra = "test=idle"\n')
    r = host.xm("create", str(cfg), "name=other", "memory=24", cwd=tmp_path,
                check=True)
    assert "Started domain other " in r.stdout
    row = [l for l in list_rows(host) if l.startswith("other ")][0]
    assert row.split()[2] == "24"
    r = host.xm("create", str(cfg), "memory")
    assert r.returncode == 2 and "is not KEY=VALUE" in r.stderr


def test_shutdown_wait_and_reboot_wait(host, tmp_path):
    a, _ = create(host, write_cfg(tmp_path, "a"))
    b, bid = create(host, write_cfg(tmp_path, "b"))
    wait_console(host, bid, "idle: up")
    r = host.xm("reboot", "-w", "b", check=True, timeout=90)
    assert r.stdout == "Domain b rebooted\nAll domains rebooted\n"
    newid = int(host.xm("domid", "b").stdout)
    assert newid != bid
    wait_console(host, newid, "idle: up")
    r = host.xm("shutdown", "-a", "-w", check=True, timeout=90)
    assert sorted(r.stdout.splitlines()) == sorted(
        ["Domain a terminated", "Domain b terminated",
         "All domains terminated"])
    assert r.stdout.endswith("All domains terminated\n")
    assert [l.split()[0] for l in list_rows(host)] == ["Domain-0"]
    r = host.xm("shutdown", "Domain-0")
    assert r.returncode == 1 and r.stderr.startswith("xm shutdown: ")


def test_pause_rename_memory_vcpus(host, tmp_path):
    _, domid = create(host, write_cfg(tmp_path, "p", memory=32, vcpus=2))
    wait_console(host, domid, "idle: up")
    host.xm("pause", "p", check=True)
    assert list_rows(host, "p")[0].split()[4] == "--p---"
    r = host.xm("pause", "p")
    assert r.returncode == 1 and r.stderr.startswith("xm pause: ")
    host.xm("unpause", "p", check=True)
    host.xm("rename", "p", "q", check=True)
    assert host.xm("domname", str(domid)).stdout == "q\n"
    host.xm("mem-set", "q", "24", check=True)
    wait_for(lambda: list_rows(host, "q")[0].split()[2] == "24",
             what="memory 24")
    host.xm("vcpu-set", "q", "1", check=True)
    wait_for(lambda: list_rows(host, "q")[0].split()[3] == "1",
             what="one vcpu online")
    r = host.xm("vcpu-list", "q", check=True)
    lines = r.stdout.splitlines()
    assert lines[0] == ("Name                                ID  VCPU   CPU "
                        "State   Time(s) CPU Affinity")
    assert re.match(r"^q {31} +%d     0 +\d+   [r-][b-]-  +[\d.]+ any cpu$"
                    % domid, lines[1]), lines[1]
    assert re.match(r"^q .*     1     -   --p .* any cpu$", lines[2])
    host.xm("sysrq", "q", "s", check=True)
    assert host.xm("sysrq", "q", "sync").returncode == 2


def test_managed_domains(host, tmp_path):
    r = host.xm("new", str(write_cfg(tmp_path, "m")), check=True)
    assert r.stdout == ""
    row = [l for l in list_rows(host) if l.startswith("m ")][0]
    # As Xen's xm: no id and every state flag clear while it is halted.
    assert row == "%-40s %5s %5d %5d %10s %8.1f" % ("m", "", 16, 1, "------",
                                                    0.0), row
    assert host.xm("domid", "m").stdout == "None\n"
    host.xm("start", "m", check=True)
    domid = int(host.xm("domid", "m").stdout)
    wait_console(host, domid, "idle: up")
    r = host.xm("delete", "m")
    assert r.returncode == 1 and r.stderr.startswith("xm delete: ")
    host.xm("shutdown", "-w", "m", check=True, timeout=90)
    assert host.xm("domid", "m").stdout == "None\n"
    host.xm("delete", "m", check=True)
    assert [l.split()[0] for l in list_rows(host)] == ["Domain-0"]


def test_uptime_top_info_dmesg(host, tmp_path):
    _, domid = create(host, write_cfg(tmp_path, "u"))
    wait_console(host, domid, "idle: up")
    r = host.xm("uptime", check=True)
    lines = r.stdout.splitlines()
    assert lines[0] == "Name                                ID Uptime"
    assert re.match(r"^Domain-0 {24}     0 (\d+ days?, )?[ \d]\d:\d\d:\d\d$",
                    lines[1]), lines[1]
    assert re.match(r"^u {31} +%d  0:0\d:\d\d$" % domid, lines[2])
    r = host.xm("uptime", "-s", "u", check=True)
    assert re.match(r"^ \d\d:\d\d:\d\d up  0:0\d, u \(%d\)$" % domid,
                    r.stdout.strip("\n")), r.stdout

    r = host.xm("top", "-b", "-i", "2", "-d", "0.3", check=True)
    lines = r.stdout.splitlines()
    header = ("      NAME  STATE   CPU(sec) CPU(%)     MEM(k) MEM(%)  "
              "MAXMEM(k) MAXMEM(%) VCPUS NETS VBDS")
    assert lines.count(header) == 2 and len(lines) == 6
    assert re.match(r"^ {9}u [-dsbcpr]{6} +\d+ +[\d.]+ +16384 +[\d.]+ +\d+ "
                    r"+[\d.]+ +1 +0 +0$", lines[2]), lines[2]

    r = host.xm("info", check=True)
    assert re.search(r"^nr_cpus {16}: \d+$", r.stdout, re.M)
    assert re.search(r"^xend_version {11}: ", r.stdout, re.M)
    assert host.xm("dmesg").returncode == 0
    assert host.xm("log").returncode == 0


def test_block_and_network_devices(host, tmp_path):
    img = tmp_path / "b.img"
    img.write_bytes(b"\0" * (1 << 20))
    _, domid = create(host, write_cfg(tmp_path, "d"))
    wait_console(host, domid, "idle: up")
    assert host.xm("block-list", "d", check=True).stdout == ""
    # Xen's split form: backend, frontend, mode.
    host.xm("block-attach", "d", "file:%s" % img, "xvdb", "w", check=True)
    r = host.xm("block-list", "d", check=True)
    lines = r.stdout.splitlines()
    assert lines[0] == "Vdev  BE handle state evt-ch ring-ref BE-path"
    assert re.match(r"^51728  0    51728   \d +\S+ +\S+ +/local/domain/0/"
                    r"backend/vbd/%d/51728$" % domid, lines[1]), lines[1]
    r = host.xm("block-attach", "d", "file:%s,xvdb,w" % img)
    assert r.returncode == 1 and r.stderr.startswith("xm block-attach: ")

    host.xm("network-attach", "d", "mac=00:16:3e:00:00:42", check=True)
    r = host.xm("network-list", "d", check=True)
    lines = r.stdout.splitlines()
    assert lines[0] == ("Idx BE     MAC Addr.     handle state evt-ch "
                        "tx-/rx-ring-ref BE-path")
    assert lines[1].startswith("0   0  00:16:3e:00:00:42    0     ")
    assert lines[1].endswith("/local/domain/0/backend/vif/%d/0" % domid)


# -- the console ------------------------------------------------------------

def read_until(fd, want, timeout=30):
    got = b""
    end = time.monotonic() + timeout
    while want not in got:
        left = end - time.monotonic()
        assert left > 0, "timed out waiting for %r; got %r" % (want, got)
        if select.select([fd], [], [], left)[0]:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            got += chunk
    return got


def test_create_c_relays_both_ways_until_the_domain_ends(host, tmp_path):
    cfg = write_cfg(tmp_path, "echo", test="console-echo")
    p = subprocess.Popen([str(XM), "create", "-c", str(cfg)], env=host.env,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        out = read_until(p.stdout.fileno(), b"console-echo: ready")
        p.stdin.write(b"hello xm\n")
        p.stdin.flush()
        out += read_until(p.stdout.fileno(), b"got 'hello xm'")
        # The guest powers off; the pty hangs up; xm ends, stdin still open.
        assert p.wait(30) == 0
    finally:
        if p.poll() is None:
            p.kill()
    assert out.startswith(b'Using config file "%s".\nStarted domain echo'
                          % str(cfg).encode())


def test_console_on_a_terminal_detaches_with_ctrl_bracket(host, tmp_path):
    _, domid = create(host, write_cfg(tmp_path, "t"))
    wait_console(host, domid, "idle: up")
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(str(XM), ["xm", "console", "t"], host.env)
    try:
        time.sleep(0.5)
        os.write(fd, b"\x1d")
        end = time.monotonic() + 10
        while time.monotonic() < end:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.05)
        assert done == pid, "xm console did not detach"
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(fd)
    # Still running: detaching leaves the domain alone.
    assert host.xm("domid", "t").stdout == "%d\n" % domid
