"""The PV console backend of xenia-vmm (vmm/consback.c) with the test guest.

stdio mode shows the ring on stdout; a corrupt ring is discarded and the
console goes on; a flood reaches the log whole, at the backend's rate; a
pty carries input to the guest and its echo back.
"""

import os
import re
import select
import subprocess
import time

import pytest

from test_vmm import GUEST, VMM, TIMEOUT, _need_guest, _need_vmm, run_vmm, \
    show, verdicts


def all_pass(p, n):
    lines = verdicts(p.stdout)
    return len(lines) == n and not [l for l in lines if "FAIL" in l]


def test_console_ring_on_stdout():
    _need_guest()
    p = run_vmm(GUEST, "test=console")
    assert p.returncode == 0, show(p)
    assert all_pass(p, 4), show(p)
    out = p.stdout.splitlines()
    assert "console: hello through the PV ring" in out, show(p)
    assert "console: the ring goes on after it" in out, show(p)
    # The corrupt producer index was seen, logged, and survived.
    assert re.search(r"console: domain 1: output indexes corrupt", p.stderr), \
        show(p)


def test_console_flood_reaches_the_log_whole(tmp_path):
    _need_guest()
    log = tmp_path / "console.log"
    p = run_vmm(GUEST, "test=console-flood",
                extra=["--console", "none", "--console-log", str(log)])
    assert p.returncode == 0, show(p)
    assert all_pass(p, 2), show(p)
    data = log.read_bytes()
    # 256 KiB of numbered 64-byte lines, in order, nothing lost or doubled.
    lines = data.split(b"\n")[:-1]
    assert len(data) == 256 * 1024, len(data)
    assert len(lines) == 4096
    for i, l in enumerate(lines):
        assert l.startswith(b"flood %08d " % i), (i, l[:20])
    # none: nothing of it on stdout.
    assert "flood 0" not in p.stdout


def test_console_pty_input_and_echo():
    _need_guest()
    p = subprocess.Popen([str(VMM), "--kernel", str(GUEST), "--memory", "32",
                          "--console", "pty", "--cmdline", "test=console-echo"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        tty = None
        deadline = time.monotonic() + TIMEOUT
        err = b""
        while tty is None and time.monotonic() < deadline:
            line = p.stderr.readline()
            if not line:
                break
            err += line
            m = re.search(rb"console: domain \d+ on (/dev/pts/\d+)", line)
            if m:
                tty = m.group(1).decode()
        assert tty, err
        fd = os.open(tty, os.O_RDWR | os.O_NOCTTY)
        try:
            got = b""
            # The guest says it is ready, then waits for a line.
            while b"console-echo: ready" not in got:
                r, _, _ = select.select([fd], [], [], TIMEOUT)
                assert r, got
                got += os.read(fd, 4096)
            os.write(fd, b"ping\n")
            while b"console-echo: got 'ping'" not in got:
                r, _, _ = select.select([fd], [], [], TIMEOUT)
                assert r, got
                got += os.read(fd, 4096)
        finally:
            os.close(fd)
        out, rest = p.communicate(timeout=TIMEOUT)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, (out, err + rest)
    assert b"PASS: console-echo: a line of input (4 bytes)" in out, out


@pytest.mark.parametrize("args,why", [
    (["--console", "serial"], "--console"),
    (["--console-log", "/nonexistent-dir/console.log"], "console"),
])
def test_console_bad_options(args, why):
    _need_guest()
    p = run_vmm(GUEST, "test=boot", extra=args)
    assert p.returncode in (1, 2), show(p)
    assert why in p.stderr, show(p)
    assert "xenia test guest: boot" not in p.stdout, show(p)
