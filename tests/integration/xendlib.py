"""A xend host for tests: a private run directory with xend (which starts
its own xenstored there), an API client over the Unix socket, and xm.

Each XendHost is one "machine's" worth of daemons; tests may run several
side by side, as XENIA_RUNDIR allows.
"""

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("XENIA_BUILD", REPO / "build"))
XEND = BUILD / "xend"
XM = BUILD / "xm"
VMM = BUILD / "xenia-vmm"
GUEST = BUILD / "guest" / "test-guest.elf"


class _UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class ApiError(Exception):
    def __init__(self, status, body):
        super().__init__("%d %s" % (status, body))
        self.status = status
        self.body = body
        self.code = body.get("code") if isinstance(body, dict) else None
        self.error = body.get("error") if isinstance(body, dict) else None


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(cond, timeout=15.0, step=0.02, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(step)
    raise AssertionError("timed out waiting for " + what)


class XendHost:
    """netns: run xend (and so its xenstored and vmms) in that network
    namespace, as another machine.  The relocation server is off unless
    relocation_port is given."""

    def __init__(self, rundir=None, env=None, netns=None,
                 relocation_port=0):
        self.rundir = Path(rundir or tempfile.mkdtemp(prefix="xh", dir="/tmp"))
        self.env = dict(os.environ, XENIA_RUNDIR=str(self.rundir))
        self.env["XENIA_RELOCATION_PORT"] = str(relocation_port)
        self.env.update(env or {})
        self.sock = self.rundir / "xend.sock"
        self.proc = None
        self.netns = netns
        self.env["XENSTORED_PATH"] = str(self.rundir / "xenstored" / "socket")

    # -- daemons -------------------------------------------------------
    def start(self, *args):
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        self.proc = subprocess.Popen(prefix + [str(XEND), *args], env=self.env,
                                     stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        wait_for(self._answers, 15, what="xend's socket")
        return self

    def _answers(self):
        if self.proc.poll() is not None:
            raise AssertionError("xend exited with %d; log:\n%s" %
                                 (self.proc.returncode, self.log()))
        try:
            self.api("GET", "/v1/info", timeout=2)
            return True
        except (OSError, ApiError):
            return False

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(10)

    def xenstored_pid(self):
        try:
            return int((self.rundir / "xenstored" / "pid").read_text())
        except (OSError, ValueError):
            return None

    def stop(self):
        """Destroy every domain, stop xend and xenstored, remove the dir."""
        if self.proc and self.proc.poll() is None:
            try:
                for d in self.api("GET", "/v1/domains")["domains"]:
                    if d["domid"] != 0 and d["domid"] is not None:
                        try:
                            self.action(d["domid"], "destroy")
                        except (ApiError, OSError):
                            pass
            except (ApiError, OSError):
                pass
            self.kill(signal.SIGTERM)
        # Anything a test left behind (a killed xend's vmms).
        out = subprocess.run(["pgrep", "-f", "xenia-vmm.*%s/" %
                              self.rundir], capture_output=True, text=True)
        for pid in out.stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        pid = self.xenstored_pid()
        if pid and _pid_alive(pid):
            os.kill(pid, signal.SIGTERM)
            try:
                wait_for(lambda: not _pid_alive(pid), 10, what="xenstored")
            except AssertionError:
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.rundir, ignore_errors=True)

    def log(self):
        try:
            return (self.rundir / "log" / "xend.log").read_text()
        except OSError:
            return ""

    def vmm_log(self, domid):
        try:
            return (self.rundir / "log" / ("vmm-%d.log" % domid)).read_text()
        except OSError:
            return ""

    def console_log(self, domid):
        try:
            return (self.rundir / "log" /
                    ("console-%d.log" % domid)).read_text(errors="replace")
        except OSError:
            return ""

    # -- API -----------------------------------------------------------
    def raw(self, method, path, body=None, timeout=30, headers=None):
        c = _UnixHTTP(str(self.sock), timeout)
        try:
            data = body if isinstance(body, (bytes, type(None))) \
                else json.dumps(body).encode()
            c.request(method, path, body=data, headers=headers or {})
            r = c.getresponse()
            text = r.read()
            return r.status, text
        finally:
            c.close()

    def api(self, method, path, body=None, timeout=30):
        status, text = self.raw(method, path, body, timeout)
        try:
            obj = json.loads(text) if text else {}
        except ValueError:
            obj = {"raw": text.decode(errors="replace")}
        if status >= 400:
            raise ApiError(status, obj)
        return obj

    def domains(self):
        return {d["name"]: d for d in self.api("GET", "/v1/domains")["domains"]}

    def create(self, config, path="test.cfg", paused=False, cwd=None):
        body = {"config": config, "path": path, "paused": paused}
        if cwd:
            body["cwd"] = cwd
        return self.api("POST", "/v1/domains", body)

    def action(self, dom, action, body=None):
        return self.api("POST", "/v1/domains/%s/%s" % (dom, action), body)

    # -- xenstore ------------------------------------------------------
    def xs(self, tool, *args, check=True):
        r = subprocess.run(["xenstore-" + tool, *args], env=self.env,
                           capture_output=True, text=True, timeout=20)
        if check and r.returncode != 0:
            raise AssertionError("xenstore-%s %s: %s" % (tool, args, r.stderr))
        return r.stdout.strip() if r.returncode == 0 else None

    def xs_exists(self, path):
        return subprocess.run(["xenstore-exists", path], env=self.env,
                              capture_output=True).returncode == 0

    # -- xm ------------------------------------------------------------
    def xm(self, *args, check=False, timeout=60, input=None, cwd=None):
        r = subprocess.run([str(XM), *args], env=self.env,
                           capture_output=True, text=True, timeout=timeout,
                           input=input, cwd=cwd)
        if check and r.returncode != 0:
            raise AssertionError("xm %s: rc %d\n%s%s" %
                                 (" ".join(args), r.returncode, r.stdout,
                                  r.stderr))
        return r


def guest_config(name, test="idle", memory=16, vcpus=1, extra_lines=""):
    return ('name = "%s"\nkernel = "%s"\nmemory = %d\nvcpus = %d\n'
            'extra = "test=%s"\n%s' % (name, GUEST, memory, vcpus, test,
                                       extra_lines))


def wait_console(host, domid, text, timeout=20):
    """The test guest prints through console_io (the vmm's log) and its
    PV console (the console log); either will do."""
    return wait_for(lambda: text in host.vmm_log(domid) or
                    text in host.console_log(domid), timeout,
                    what="%r on domain %d's console" % (text, domid))
