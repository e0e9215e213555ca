"""Fixtures for the xenstored integration tests.

XS_DAEMON selects the daemon under test:
  xenia  (default)  /work/main/build/xenstored, started here in a fresh
                    temporary rundir for each test;
  c-ref             Xen 4.17's C xenstored through the peers' start-ref.sh
                    (no hypervisor: every socket client is dom0, and there
                    are no guest domains).

Tests marked `xenia_only` (guest domains over hv.sock, -Q quotas,
restarts) are skipped under c-ref with the reason printed.
"""

import os
import shutil
import signal as sig_mod
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import xswire  # noqa: E402

REPO = HERE.parents[1]
XS_DAEMON = os.environ.get("XS_DAEMON", "xenia")
XENIA_BIN = Path(os.environ.get("XENIA_XENSTORED",
                                REPO / "build" / "xenstored"))


def _find_start_ref():
    env = os.environ.get("XS_START_REF")
    if env:
        return Path(env)
    for cand in (REPO.parent / "shared" / "peers" / "xenstore" /
                 "start-ref.sh",
                 Path("/work/shared/peers/xenstore/start-ref.sh")):
        if cand.exists():
            return cand
    return None


START_REF = _find_start_ref()
TEST_XENSTORE = Path("/usr/lib/xen-4.17/bin/test-xenstore")
START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0


def is_xenia():
    return XS_DAEMON == "xenia"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "xenia_only(reason): needs a Xenia-only feature "
        "(guest domains via hv.sock, -Q quotas, restarts); skipped "
        "under XS_DAEMON=c-ref")
    config.addinivalue_line(
        "markers", "cref_bug(reason): checks something Xen 4.17's C "
        "xenstored gets wrong (crash or worse); skipped under c-ref")
    if XS_DAEMON not in ("xenia", "c-ref"):
        raise pytest.UsageError("XS_DAEMON must be 'xenia' or 'c-ref', "
                                "not %r" % XS_DAEMON)


def pytest_report_header(config):
    target = XENIA_BIN if is_xenia() else START_REF
    return "xenstored under test: XS_DAEMON=%s (%s)" % (XS_DAEMON, target)


def pytest_runtest_setup(item):
    mark = item.get_closest_marker("xenia_only")
    if mark is not None and not is_xenia():
        why = mark.args[0] if mark.args else "needs a Xenia-only feature"
        pytest.skip("xenia-only under XS_DAEMON=%s: %s" % (XS_DAEMON, why))
    mark = item.get_closest_marker("cref_bug")
    if mark is not None and not is_xenia():
        pytest.skip("known bug of the C daemon: %s" % mark.args[0])


def _pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


class Daemon:
    """One xenstored instance in its own rundir."""

    def __init__(self, rundir, args=(), data_dir=None):
        self.rundir = Path(rundir)
        self.args = list(args)
        self.kind = XS_DAEMON
        self.proc = None
        self.pid = None
        self.expect_down = False
        self.log_path = self.rundir / "daemon-under-test.log"
        if self.kind == "xenia":
            self.state_dir = self.rundir / "xenstored"
            self.data_dir = Path(data_dir) if data_dir else self.state_dir
            self.sock_path = self.state_dir / "socket"
            self.hv_path = self.state_dir / "hv.sock"
            self.pid_path = self.state_dir / "pid"
        else:
            self.state_dir = self.rundir
            self.data_dir = None
            self.sock_path = self.rundir / "socket"
            self.hv_path = None
            self.pid_path = self.rundir / "daemon.pid"
            self.log_path = self.rundir / "daemon.log"
        self.extra_data_dir = data_dir is not None

    # -- environment for Xen's tools -------------------------------------
    @property
    def env(self):
        env = dict(os.environ)
        env["XENSTORED_PATH"] = str(self.sock_path)
        return env

    # -- life cycle --------------------------------------------------------
    def start(self):
        # Until it is up, a failure is the start's, not a crash in the test.
        self.expect_down = True
        if self.kind == "xenia":
            self._start_xenia()
        else:
            self._start_cref()
        self.expect_down = False
        return self

    def _start_xenia(self):
        if not XENIA_BIN.exists():
            pytest.fail("%s does not exist: build the daemon first (make), "
                        "or run with XS_DAEMON=c-ref" % XENIA_BIN,
                        pytrace=False)
        self.rundir.mkdir(parents=True, exist_ok=True)
        cmd = [str(XENIA_BIN)]
        if self.extra_data_dir:
            cmd += ["--data-dir", str(self.data_dir)]
        cmd += self.args
        env = dict(os.environ)
        env["XENIA_RUNDIR"] = str(self.rundir)
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log)
        finally:
            log.close()
        self.pid = self.proc.pid
        self._wait_ready()

    def _start_cref(self):
        if START_REF is None or not START_REF.exists():
            pytest.fail("start-ref.sh not found (set XS_START_REF)",
                        pytrace=False)
        self.rundir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        if self.args:
            env["XSD_OPTS"] = " ".join(self.args)
        # Like Xenia without guests, only dom0 exists: SET_PERMS naming
        # another owner gets ENOENT and entries for other domids are kept
        # but ignored (the shim's default makes every domid exist).
        env.setdefault("NOHV_SHIM_DOMAINS", "dom0")
        r = subprocess.run([str(START_REF), "c", str(self.rundir)], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60)
        if r.returncode != 0:
            pytest.fail("start-ref.sh failed: %s\n%s" %
                        (r.stdout.decode(errors="replace"), self.log_tail()),
                        pytrace=False)
        self.pid = int(self.pid_path.read_text().split()[0])
        self._wait_ready()

    def _wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if not self.running():
                pytest.fail("xenstored exited during start-up (status %s)\n%s"
                            % (self.returncode(), self.log_tail()),
                            pytrace=False)
            if self.sock_path.exists():
                r = subprocess.run(["xenstore-exists", "/"], env=self.env,
                                   stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, timeout=10)
                if r.returncode == 0:
                    return
            time.sleep(0.05)
        pytest.fail("xenstored not ready after %.0fs\n%s"
                    % (START_TIMEOUT, self.log_tail()), pytrace=False)

    def running(self):
        if self.proc is not None:
            return self.proc.poll() is None
        return self.pid is not None and _pid_alive(self.pid)

    def returncode(self):
        return self.proc.poll() if self.proc is not None else None

    def signal(self, sig):
        if self.proc is not None:
            self.proc.send_signal(sig)
        elif self.pid is not None:
            os.kill(self.pid, sig)

    def wait_exit(self, timeout=STOP_TIMEOUT):
        """Wait for the process to exit; True if it did."""
        if self.proc is not None:
            try:
                self.proc.wait(timeout)
                return True
            except subprocess.TimeoutExpired:
                return False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _pid_alive(self.pid):
                return True
            time.sleep(0.02)
        return False

    def stop(self, sig=sig_mod.SIGTERM, timeout=STOP_TIMEOUT):
        """Stop the daemon; returns its exit status (xenia) or None."""
        self.expect_down = True
        if not self.running():
            return self.returncode()
        self.signal(sig)
        if not self.wait_exit(timeout):
            self.signal(sig_mod.SIGKILL)
            self.wait_exit(timeout)
            raise AssertionError("xenstored ignored signal %d for %.0fs"
                                 % (sig, timeout))
        return self.returncode()

    def kill9(self):
        self.expect_down = True
        self.signal(sig_mod.SIGKILL)
        assert self.wait_exit(), "xenstored survived SIGKILL"

    def restart(self, sig=sig_mod.SIGTERM):
        status = self.stop(sig)
        self.proc = None
        self.pid = None
        self.start()
        return status

    # -- clients -----------------------------------------------------------
    def connect(self, timeout=xswire.DEFAULT_TIMEOUT):
        return xswire.SocketConnection(str(self.sock_path), timeout)

    def healthy(self):
        if not self.running():
            return False
        try:
            with self.connect() as c:
                return c.alive()
        except OSError:
            return False

    def log_tail(self, n=40):
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no daemon log)"
        return "--- daemon log (last %d lines) ---\n%s" % (
            n, "\n".join(lines[-n:]))


class DaemonPool:
    """Starts daemons for one test and makes sure they all go away."""

    def __init__(self):
        self.daemons = []
        self.dirs = []

    def new_rundir(self):
        # Short paths: AF_UNIX socket names are limited to 108 bytes.
        d = tempfile.mkdtemp(prefix="xst-", dir="/tmp")
        self.dirs.append(d)
        return d

    def start(self, args=(), rundir=None, data_dir=None):
        d = Daemon(rundir or self.new_rundir(), args, data_dir)
        self.daemons.append(d)      # stopped at teardown even if start fails
        return d.start()

    def teardown(self, failed):
        problems = []
        for d in self.daemons:
            if d.expect_down:
                if d.running():
                    try:
                        d.stop()
                    except AssertionError as e:
                        problems.append(str(e))
                continue
            if not d.running():
                problems.append("xenstored (pid %s) died during the test, "
                                "status %s\n%s" % (d.pid, d.returncode(),
                                                   d.log_tail()))
                continue
            if not d.healthy():
                problems.append("xenstored (pid %s) no longer answers\n%s"
                                % (d.pid, d.log_tail()))
            try:
                d.stop()
            except AssertionError as e:
                problems.append(str(e))
        for d in self.daemons:
            print(d.log_tail(25))
        if not failed and not problems:
            for path in self.dirs:
                shutil.rmtree(path, ignore_errors=True)
        return problems


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture
def daemon_pool(request):
    pool = DaemonPool()
    yield pool
    rep = getattr(request.node, "rep_call", None)
    failed = rep is not None and rep.failed
    problems = pool.teardown(failed)
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def daemon(daemon_pool):
    """A fresh xenstored with default options."""
    return daemon_pool.start()


@pytest.fixture
def start_daemon(daemon_pool):
    """Factory: start_daemon(args=[...], data_dir=None) -> Daemon."""
    return daemon_pool.start


@pytest.fixture
def dom0(daemon):
    """A raw wire client on the daemon's socket (dom0)."""
    conns = []

    def _connect():
        c = daemon.connect()
        conns.append(c)
        return c

    c = _connect()
    c.connect_more = _connect
    yield c
    for x in conns:
        x.close()


def run_util(daemon, tool, *args, timeout=20, check=False, input=None):
    """Run a xenstore-utils tool against `daemon`."""
    name = tool if tool.startswith("xenstore") else "xenstore-" + tool
    r = subprocess.run([name] + [str(a) for a in args], env=daemon.env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout, input=input)
    if check and r.returncode != 0:
        raise AssertionError("%s %s failed (%d): %s" % (
            name, " ".join(map(str, args)), r.returncode,
            r.stderr.decode(errors="replace")))
    return r


@pytest.fixture
def xs(daemon):
    """xs("read", "/a") runs xenstore-read against the daemon."""
    def _xs(tool, *args, **kw):
        return run_util(daemon, tool, *args, **kw)
    return _xs


class Guests:
    """Creates guest domains (xenia only) and cleans them up."""

    def __init__(self, daemon):
        self.daemon = daemon
        self.dom0 = daemon.connect()
        self.guests = []

    def new(self, domid, start=True, make_home=True, gfn=3):
        g = xswire.GuestDomain(str(self.daemon.hv_path), domid, self.dom0,
                               gfn=gfn)
        self.guests.append(g)
        if start:
            g.start(make_home=make_home)
        return g

    def close(self):
        for g in self.guests:
            g.close()
        self.dom0.close()


@pytest.fixture
def guests(daemon):
    """guests.new(domid) -> a started GuestDomain (xenia only)."""
    if not is_xenia():
        pytest.skip("guest domains need Xenia's hv.sock")
    g = Guests(daemon)
    yield g
    g.close()
