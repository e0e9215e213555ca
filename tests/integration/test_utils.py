"""Xen's xenstore-utils (libxenstore clients) end to end against the daemon."""

import select
import subprocess
import time

import pytest

from conftest import run_util


def out(r):
    return r.stdout.decode()


def test_write_then_read(xs):
    xs("write", "/u/a", "1", "/u/b", "two words", check=True)
    r = xs("read", "/u/a", "/u/b", check=True)
    assert out(r) == "1\ntwo words\n"
    r = xs("read", "-p", "/u/a", check=True)
    assert out(r) == "/u/a: 1\n"


def test_read_missing_fails(xs):
    r = xs("read", "/no/such/node")
    assert r.returncode != 0
    assert r.stdout == b""


def test_write_creates_parents_with_empty_values(xs):
    xs("write", "/p1/p2/p3/leaf", "v", check=True)
    assert out(xs("read", "/p1", "/p1/p2", "/p1/p2/p3", check=True)) \
        == "\n\n\n"
    assert out(xs("read", "/p1/p2/p3/leaf", check=True)) == "v\n"


def test_relative_path_is_dom0_home(xs):
    # Socket clients are dom0: a relative path lives under /local/domain/0.
    xs("write", "relkey", "relval", check=True)
    assert out(xs("read", "/local/domain/0/relkey", check=True)) \
        == "relval\n"
    assert out(xs("read", "relkey", check=True)) == "relval\n"


def test_ls_formats(xs):
    xs("write", "/t/a", "1", "/t/b/c", "deep", check=True)
    assert out(xs("ls", "/t", check=True)) == \
        'a = "1"\nb = ""\n c = "deep"\n'
    assert out(xs("ls", "-f", "/t", check=True)) == \
        '/t/a = "1"\n/t/b = ""\n/t/b/c = "deep"\n'


def test_ls_missing_fails(xs):
    assert xs("ls", "/no/such").returncode != 0


def test_list(xs):
    xs("write", "/l/x", "", "/l/y", "", "/l/x/z", "", check=True)
    assert out(xs("list", "/l", check=True)) == "x\ny\n"
    assert out(xs("list", "-p", "/l", check=True)) == "/l/x\n/l/y\n"
    assert out(xs("list", "/l/y", check=True)) == ""


def test_exists(xs):
    xs("write", "/e/here", "1", check=True)
    assert xs("exists", "/e/here").returncode == 0
    assert xs("exists", "/e").returncode == 0
    assert xs("exists", "/e/absent").returncode != 0


def test_rm(xs):
    xs("write", "/r/a/b", "1", "/r/c", "2", check=True)
    xs("rm", "/r/a", check=True)
    assert xs("exists", "/r/a/b").returncode != 0
    assert xs("exists", "/r/a").returncode != 0
    assert out(xs("list", "/r", check=True)) == "c\n"


def test_rm_t_removes_empty_parents(xs):
    xs("write", "/rt/only/leaf", "1", "/keep", "k", check=True)
    xs("rm", "-t", "/rt/only/leaf", check=True)
    assert xs("exists", "/rt").returncode != 0
    assert xs("exists", "/keep").returncode == 0


def test_chmod_and_ls_perms(xs):
    xs("write", "/c/a", "1", "/c/b", "2", check=True)
    xs("chmod", "/c/a", "n0", "r5", "w7", check=True)
    lines = out(xs("ls", "-p", "/c", check=True)).splitlines()
    assert lines[0].startswith('a = "1"') and lines[0].endswith("(n0,r5,w7)")
    assert lines[1].startswith('b = "2"') and lines[1].endswith("(n0)")


def test_chmod_recursive(xs):
    xs("write", "/cr/a/b", "1", check=True)
    xs("chmod", "-r", "/cr", "b0", "r3", check=True)
    lines = out(xs("ls", "-p", "/cr", check=True)).splitlines()
    assert len(lines) == 2
    for line in lines:
        assert line.endswith("(b0,r3)"), line


def test_binary_and_escaped_values(xs):
    xs("write", "/bin", "a\x01b", check=True)
    # xenstore-read escapes unprintable bytes; -R prints them raw.
    assert xs("read", "/bin", check=True).stdout == b"a\\001b\n"
    assert xs("read", "-R", "/bin", check=True).stdout == b"a\x01b"


def test_large_value(xs):
    value = "".join(chr(ord("a") + i % 26) for i in range(3000))
    xs("write", "/large", value, check=True)
    assert out(xs("read", "/large", check=True)) == value + "\n"


def _readline(proc, timeout=10.0):
    deadline = time.monotonic() + timeout
    buf = b""
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("xenstore-watch printed %r, then nothing"
                                 % buf)
        r, _, _ = select.select([proc.stdout], [], [], left)
        if r:
            ch = proc.stdout.read(1)
            if not ch:
                raise AssertionError("xenstore-watch exited (%s) after %r"
                                     % (proc.poll(), buf))
            buf += ch
    return buf.decode().rstrip("\n")


def test_watch(daemon, xs):
    proc = subprocess.Popen(["xenstore-watch", "-n", "3", "/wt"],
                            env=daemon.env, stdout=subprocess.PIPE, bufsize=0,
                            stderr=subprocess.PIPE)
    try:
        # The registration fires once straight away: once we see it, the
        # watch is in place.
        assert _readline(proc) == "/wt"
        xs("write", "/wt/a", "1", check=True)
        assert _readline(proc) == "/wt/a"
        xs("write", "/other", "x", check=True)   # not under /wt
        xs("write", "/wtx", "x", check=True)     # prefix, not a child
        xs("rm", "/wt", check=True)
        assert _readline(proc) == "/wt"
        proc.wait(timeout=10)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_watch_many_events(daemon, xs):
    n = 20
    proc = subprocess.Popen(["xenstore-watch", "-n", str(n + 1), "/wm"],
                            env=daemon.env, stdout=subprocess.PIPE, bufsize=0,
                            stderr=subprocess.PIPE)
    try:
        assert _readline(proc) == "/wm"
        c = daemon.connect()
        for i in range(n):
            c.write("/wm/k%d" % i, str(i))
        got = [_readline(proc) for _ in range(n)]
        assert got == ["/wm/k%d" % i for i in range(n)]
        proc.wait(timeout=10)
        assert proc.returncode == 0
        c.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("n", [1, 50])
def test_many_util_invocations(daemon, n):
    # Each tool run is a fresh connection that comes and goes.
    for i in range(n):
        run_util(daemon, "write", "/many/%d" % i, str(i), check=True)
    r = run_util(daemon, "list", "/many", check=True)
    assert r.stdout.decode().split() == [str(i) for i in range(n)]
