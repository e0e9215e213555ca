"""xend's API against real domains: the lifecycle, on_* actions, re-adoption
after kill -9, managed domains, devices, and bad requests that must change
nothing.  xm's own behaviour is in test_xm.py."""

import concurrent.futures
import json
import os
import signal
import socket
import stat
import subprocess
import time

import pytest

from xendlib import (ApiError, GUEST, XEND, XendHost, guest_config,
                     wait_console, wait_for)

pytestmark = pytest.mark.xenia_only("xend runs Xenia's own domains")


@pytest.fixture
def host():
    h = XendHost().start()
    yield h
    h.stop()


def gone(host, name):
    return name not in host.domains()


def vmm_pid(host, name):
    return host.domains()[name]["pid"]


def traces(host, d):
    """What of a domain is still around, by XenStore path and file."""
    left = []
    domid, uuid = d["domid"], d["uuid"]
    for p in ("/local/domain/%d" % domid, "/vm/%s" % uuid,
              "/local/domain/0/backend/vbd/%d" % domid,
              "/local/domain/0/backend/vif/%d" % domid,
              "/local/domain/0/backend/console/%d" % domid,
              "/xend/domains/%s" % uuid):
        if host.xs_exists(p):
            left.append(p)
    for f in ("xend/vmm/%d.sock" % domid,):
        if (host.rundir / f).exists():
            left.append(f)
    if d.get("pid") and os.path.exists("/proc/%d" % d["pid"]):
        with open("/proc/%d/cmdline" % d["pid"], "rb") as f:
            if b"xenia-vmm" in f.read():
                left.append("vmm pid %d" % d["pid"])
    return left


def test_list_starts_with_domain0(host):
    doms = host.api("GET", "/v1/domains")["domains"]
    assert doms[0]["name"] == "Domain-0" and doms[0]["domid"] == 0
    assert doms[0]["memory_kib"] > 0 and doms[0]["vcpus"] >= 1
    assert len(doms) == 1


def test_create_runs_and_poweroff_removes_every_trace(host):
    d = host.create(guest_config("life", memory=16), path="life.cfg")
    assert d["name"] == "life" and d["domid"] >= 1
    assert d["state"] in ("r-----", "-b----")
    domid = d["domid"]
    wait_console(host, domid, "idle: up")
    listed = host.domains()["life"]
    assert listed["domid"] == domid and listed["memory_kib"] == 16 * 1024
    assert listed["uuid"] == d["uuid"]
    assert host.xs("read", "/local/domain/%d/name" % domid) == "life"
    assert host.xs("read", "/xend/domains/%s/name" % d["uuid"]) == "life"
    # The guest obeys control/shutdown; on_poweroff is destroy.
    host.action("life", "shutdown")
    wait_for(lambda: gone(host, "life"), what="poweroff")
    wait_for(lambda: not traces(host, d), what="traces gone: %s" %
             traces(host, d))


def test_bad_configs_are_refused_and_change_nothing(host, tmp_path):
    before = host.domains()
    cases = [
        ('name = "x"\nmemory = 16\nkernel = "%s"\nvcpus = "two"\n' % GUEST,
         "bad.cfg:4"),
        ('name = "x"\nmemory = 16\n', "kernel"),
        ('name = "x"\nkernel = "/nonexistent/k"\nmemory = 16\n',
         "/nonexistent/k"),
        ('name = "x"\nkernel = "%s"\nmemory = 16\ndisk = ["file:/nope.img,'
         'xvda,w"]\n' % GUEST, "/nope.img"),
        ('name = "x"\nkernel = "%s"\nmemory = 16\non_crash = "explode"\n' %
         GUEST, "bad.cfg:4"),
        ('name = [\n', "bad.cfg"),
    ]
    for text, needle in cases:
        with pytest.raises(ApiError) as e:
            host.create(text, path="bad.cfg")
        assert e.value.status == 400 and e.value.code == "bad-config", text
        assert needle in e.value.error, (needle, e.value.error)
    assert host.domains() == before or \
        set(host.domains()) == set(before)
    assert not list((host.rundir / "xend" / "vmm").iterdir())


def test_malformed_requests(host):
    before = set(host.domains())
    status, text = host.raw("POST", "/v1/domains", b"{not json")
    assert status == 400 and json.loads(text)["code"] == "bad-request"
    status, text = host.raw("POST", "/v1/domains", b"[1, 2]")
    assert status == 400
    with pytest.raises(ApiError) as e:
        host.api("POST", "/v1/domains", {"path": "x"})
    assert e.value.status == 400 and "config" in e.value.error
    with pytest.raises(ApiError) as e:
        host.api("POST", "/v1/domains", {"config": 42})
    assert e.value.status == 400
    with pytest.raises(ApiError) as e:
        host.api("GET", "/v1/nothing")
    assert e.value.status == 404
    with pytest.raises(ApiError) as e:
        host.api("DELETE", "/v1/domains")
    assert e.value.status == 405
    with pytest.raises(ApiError) as e:
        host.action("nosuch", "pause")
    assert e.value.status == 404 and e.value.code == "no-such-domain"
    with pytest.raises(ApiError) as e:
        host.action("Domain-0", "destroy")
    assert e.value.status == 409
    with pytest.raises(ApiError) as e:
        host.action("0", "nosuchaction")
    assert e.value.status == 404
    status, _ = host.raw("POST", "/v1/domains", b"{" + b" " * (1 << 21) +
                         b"}")
    assert status == 413
    assert set(host.domains()) == before


def test_name_and_uuid_must_be_free(host):
    d = host.create(guest_config("one"))
    with pytest.raises(ApiError) as e:
        host.create(guest_config("one"))
    assert e.value.status == 409 and e.value.code == "exists"
    with pytest.raises(ApiError) as e:
        host.create(guest_config("two", extra_lines='uuid = "%s"\n' %
                                 d["uuid"]))
    assert e.value.code == "exists"
    assert set(host.domains()) == {"Domain-0", "one"}


def test_pause_unpause_and_wrong_states(host):
    host.create(guest_config("p"))
    host.action("p", "pause")
    assert host.domains()["p"]["state"] == "--p---"
    with pytest.raises(ApiError) as e:
        host.action("p", "pause")
    assert e.value.status == 409 and e.value.code == "wrong-state"
    host.action("p", "unpause")
    assert host.domains()["p"]["state"] in ("r-----", "-b----")
    with pytest.raises(ApiError) as e:
        host.action("p", "unpause")
    assert e.value.status == 409


def test_reboot_restarts_with_a_new_id(host):
    d = host.create(guest_config("rb"))
    wait_console(host, d["domid"], "idle: up")
    host.action("rb", "reboot")
    new = wait_for(lambda: (host.domains().get("rb") or {}).get("domid")
                   not in (None, d["domid"]) and host.domains()["rb"],
                   what="restart")
    assert new["uuid"] == d["uuid"]
    wait_console(host, new["domid"], "idle: up")
    assert not host.xs_exists("/local/domain/%d" % d["domid"])


def test_destroy_removes_devices_and_sockets(host, tmp_path):
    img = tmp_path / "disk.img"
    img.write_bytes(b"\0" * (1 << 20))
    d = host.create(guest_config("dv", extra_lines=(
        'disk = ["file:%s,xvda,w"]\nvif = ["mac=00:16:3e:00:00:42"]\n' %
        img)))
    domid = d["domid"]
    assert host.xs_exists("/local/domain/0/backend/vbd/%d" % domid)
    assert host.xs_exists("/local/domain/0/backend/vif/%d" % domid)
    d = host.domains()["dv"]
    host.action("dv", "destroy")
    assert "dv" not in host.domains()
    assert not traces(host, d), traces(host, d)


def test_vmm_killed_gets_on_crash_preserve(host):
    host.create(guest_config("cr", extra_lines='on_crash = "preserve"\n'))
    d = host.domains()["cr"]
    os.kill(d["pid"], signal.SIGKILL)
    wait_for(lambda: host.domains()["cr"]["state"] == "----c-",
             what="crashed state")
    kept = host.domains()["cr"]
    assert kept["domid"] == d["domid"]
    # Its XenStore home and devices are gone, its record is not.
    assert not host.xs_exists("/local/domain/%d" % d["domid"])
    assert host.xs_exists("/xend/domains/%s" % d["uuid"])
    with pytest.raises(ApiError):
        host.action("cr", "pause")
    host.action("cr", "destroy")
    assert "cr" not in host.domains()
    assert not host.xs_exists("/xend/domains/%s" % d["uuid"])


def test_vmm_killed_gets_on_crash_restart(host):
    host.create(guest_config("cr2", extra_lines='on_crash = "restart"\n'))
    d = host.domains()["cr2"]
    os.kill(d["pid"], signal.SIGKILL)
    new = wait_for(lambda: host.domains().get("cr2", {}).get("pid") not in
                   (None, d["pid"]) and host.domains()["cr2"],
                   what="restart after crash")
    assert new["domid"] != d["domid"]
    wait_console(host, new["domid"], "idle: up")


def test_rename_restart_keeps_the_old_one(host):
    d = host.create(guest_config("rr", extra_lines=(
        'on_crash = "rename-restart"\n')))
    os.kill(d["pid"], signal.SIGKILL)
    old = "rr-%d" % d["domid"]
    wait_for(lambda: old in host.domains() and
             host.domains().get("rr", {}).get("pid") not in (None, d["pid"]),
             what="rename-restart")
    assert host.domains()[old]["state"] == "----c-"


def test_xend_kill9_readopts_every_domain(host):
    a = host.create(guest_config("ka"))
    b = host.create(guest_config("kb", extra_lines='on_poweroff = '
                                 '"preserve"\n'))
    host.action("kb", "pause")
    before = host.domains()
    host.kill(signal.SIGKILL)
    host.start()
    after = host.domains()
    for n in ("ka", "kb"):
        assert after[n]["domid"] == before[n]["domid"]
        assert after[n]["pid"] == before[n]["pid"]
        assert after[n]["uuid"] == before[n]["uuid"]
    assert after["kb"]["state"] == "--p---"
    # Still supervised: a shutdown is seen and acted on.
    host.action("kb", "unpause")
    host.action("kb", "shutdown")
    wait_for(lambda: host.domains()["kb"]["state"] == "---s--",
             what="preserved after poweroff")
    host.action("ka", "shutdown")
    wait_for(lambda: gone(host, "ka"), what="ka gone")
    assert a["domid"] != b["domid"]


def test_vmm_dying_while_xend_is_away_gets_on_crash(host):
    d1 = host.create(guest_config("away1"))
    d2 = host.create(guest_config("away2", extra_lines=(
        'on_crash = "preserve"\n')))
    host.kill(signal.SIGKILL)
    os.kill(d1["pid"], signal.SIGKILL)
    os.kill(d2["pid"], signal.SIGKILL)
    time.sleep(0.2)
    host.start()
    doms = host.domains()
    assert "away1" not in doms
    assert doms["away2"]["state"] == "----c-"
    assert not host.xs_exists("/vm/%s" % d1["uuid"])
    assert not host.xs_exists("/local/domain/0/backend/console/%d" %
                              d1["domid"])


def test_managed_domains_survive_xend_restarts(host):
    cfg = guest_config("m1")
    d = host.api("POST", "/v1/managed", {"config": cfg, "path": "m1.cfg"})
    assert d["domid"] is None and d["managed"]
    assert host.domains()["m1"]["state"] == "------"
    host.kill(signal.SIGTERM)
    host.start()
    assert host.domains()["m1"]["domid"] is None
    s = host.action("m1", "start")
    assert s["domid"] >= 1
    wait_console(host, s["domid"], "idle: up")
    with pytest.raises(ApiError) as e:
        host.action("m1", "delete")
    assert e.value.status == 409
    host.kill(signal.SIGKILL)
    host.start()
    assert host.domains()["m1"]["domid"] == s["domid"]
    host.action("m1", "shutdown")
    wait_for(lambda: host.domains()["m1"]["domid"] is None,
             what="back to inactive")
    host.action("m1", "delete")
    assert "m1" not in host.domains()
    host.kill(signal.SIGTERM)
    host.start()
    assert "m1" not in host.domains()


def test_shutdown_timeout_destroys_a_domain_that_does_not_obey(host):
    host.create(guest_config("slow"), paused=True)
    assert host.domains()["slow"]["state"] == "--p---"
    host.action("slow", "shutdown", {"timeout": 1})
    wait_for(lambda: gone(host, "slow"), timeout=15, what="destroy")


def test_rename(host):
    d = host.create(guest_config("old"))
    host.create(guest_config("other"))
    with pytest.raises(ApiError) as e:
        host.action("old", "rename", {"name": "other"})
    assert e.value.code == "exists"
    for bad in ("", "123", "a/b", "x" * 80):
        with pytest.raises(ApiError) as e:
            host.action("old", "rename", {"name": bad})
        assert e.value.status == 400
    host.action("old", "rename", {"name": "new"})
    doms = host.domains()
    assert "old" not in doms and doms["new"]["domid"] == d["domid"]
    assert host.xs("read", "/local/domain/%d/name" % d["domid"]) == "new"


def test_memory_and_vcpu_and_sysrq_nodes(host):
    d = host.create(guest_config("knobs", vcpus=2, memory=32))
    domid = d["domid"]
    wait_console(host, domid, "idle: up")
    host.action("knobs", "mem-set", {"mib": 24})
    assert host.xs("read", "/local/domain/%d/memory/target" % domid) == \
        str(24 * 1024)
    with pytest.raises(ApiError) as e:
        host.action("knobs", "mem-set", {"mib": 64})
    assert e.value.status == 400
    host.action("knobs", "vcpu-set", {"vcpus": 1})
    assert host.xs("read", "/local/domain/%d/cpu/1/availability" %
                   domid) == "offline"
    assert host.xs("read", "/local/domain/%d/cpu/0/availability" %
                   domid) == "online"
    with pytest.raises(ApiError):
        host.action("knobs", "vcpu-set", {"vcpus": 3})
    host.action("knobs", "sysrq", {"key": "h"})
    with pytest.raises(ApiError):
        host.action("knobs", "sysrq", {"key": "hh"})
    vc = host.api("GET", "/v1/domains/knobs/vcpus")["vcpus"]
    assert [v["id"] for v in vc] == [0, 1]
    tty = host.api("GET", "/v1/domains/knobs/console")["tty"]
    assert tty.startswith("/dev/pts/")


def test_block_and_network_attach_detach(host, tmp_path):
    img = tmp_path / "b.img"
    img.write_bytes(b"\0" * (1 << 20))
    d = host.create(guest_config("hp"))
    domid = d["domid"]
    assert host.api("GET", "/v1/domains/hp/block")["devices"] == []
    host.action("hp", "block-attach", {"spec": "file:%s,xvdb,w" % img})
    devs = host.api("GET", "/v1/domains/hp/block")["devices"]
    assert [x["vdev"] for x in devs] == ["xvdb"]
    assert devs[0]["params"] == str(img)
    with pytest.raises(ApiError) as e:
        host.action("hp", "block-attach", {"spec": "file:%s,xvdb,w" % img})
    assert e.value.status == 409
    with pytest.raises(ApiError) as e:
        host.action("hp", "block-attach", {"spec": "file:/nope,xvdc,w"})
    assert e.value.status == 400
    host.action("hp", "block-detach", {"vdev": "xvdb"})
    wait_for(lambda: not host.xs_exists(
        "/local/domain/0/backend/vbd/%d/51728" % domid), what="detach")
    host.action("hp", "network-attach", {"spec": "mac=00:16:3e:00:00:07"})
    nets = host.api("GET", "/v1/domains/hp/network")["devices"]
    assert nets and nets[0]["mac"] == "00:16:3e:00:00:07"
    host.action("hp", "network-detach", {"devid": nets[0]["devid"]})
    wait_for(lambda: not host.api("GET", "/v1/domains/hp/network")[
        "devices"], what="vif detach")


def test_info_log_dmesg(host):
    info = host.api("GET", "/v1/info")
    assert info["nr_cpus"] >= 1 and info["total_memory"] > 0
    assert info["xen_major"] == 4
    d = host.create(guest_config("lg"))
    log = host.api("GET", "/v1/log?lines=50")["lines"]
    assert any("created domain %d" % d["domid"] in l for l in log)
    dm = host.api("GET", "/v1/dmesg")["lines"]
    assert any(l.startswith("(d%d) " % d["domid"]) for l in dm)


def test_concurrent_creates_and_destroys(host):
    names = ["c%d" % i for i in range(8)]

    def life(n):
        d = host.create(guest_config(n))
        host.action(n, "destroy")
        return d["domid"]

    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        ids = list(ex.map(life, names))
    assert len(set(ids)) == len(ids)
    assert set(host.domains()) == {"Domain-0"}
    assert not list((host.rundir / "xend" / "vmm").glob("*.sock"))


def test_socket_is_root_only(host):
    mode = stat.S_IMODE(os.stat(host.sock).st_mode)
    assert mode == 0o600
    r = subprocess.run(
        ["python3", "-c",
         "import os, socket; os.setgid(65534); os.setuid(65534);"
         "s = socket.socket(socket.AF_UNIX); s.connect(%r)" %
         str(host.sock)], capture_output=True, text=True)
    assert r.returncode != 0 and "Permission denied" in r.stderr


def test_second_xend_on_the_same_rundir_refuses(host):
    r = subprocess.run([str(XEND), "--log-stderr"], env=host.env,
                       capture_output=True, text=True, timeout=20)
    assert r.returncode != 0 and "another xend" in r.stderr
    assert host.domains()


@pytest.fixture
def bridge():
    name = "xbt%d" % (os.getpid() % 100000)
    subprocess.run(["ip", "link", "add", name, "type", "bridge"], check=True)
    subprocess.run(["ip", "link", "set", name, "up"], check=True)
    yield name
    subprocess.run(["ip", "link", "del", name], capture_output=True)


def link_exists(name):
    return subprocess.run(["ip", "link", "show", name],
                          capture_output=True).returncode == 0


@pytest.mark.parametrize("how", ["destroy", "kill9"])
def test_tap_devices_go_with_the_domain(host, bridge, how):
    d = host.create(guest_config("tap", extra_lines=(
        'vif = ["mac=00:16:3e:00:00:09,bridge=%s"]\n' % bridge)))
    tap = "vif%d.0" % d["domid"]
    assert link_exists(tap)
    master = subprocess.run(["ip", "-o", "link", "show", tap],
                            capture_output=True, text=True).stdout
    assert "master %s" % bridge in master
    if how == "destroy":
        host.action("tap", "destroy")
    else:
        os.kill(d["pid"], signal.SIGKILL)
        wait_for(lambda: gone(host, "tap"), what="on_crash destroy")
    wait_for(lambda: not link_exists(tap), what="tap removed")
    assert not traces(host, d), traces(host, d)


def test_a_long_config_is_recorded_and_readopted(host):
    # XenStore values stop at 4 KiB; the record keeps the text in pieces.
    cfg = guest_config("long") + "".join("# padding line %d %s\n" %
                                         (i, "x" * 60) for i in range(200))
    assert len(cfg) > 12000
    d = host.create(cfg)
    host.kill(signal.SIGKILL)
    host.start()
    got = host.api("GET", "/v1/domains/long")
    assert got["domid"] == d["domid"] and got["config"] == cfg


def test_reserved_names_and_maxmem_above_memory_are_refused(host):
    for name in ("Domain-0", "..", "."):
        with pytest.raises(ApiError) as e:
            host.create(guest_config(name))
        assert e.value.code == "bad-config", name
    with pytest.raises(ApiError) as e:
        host.create(guest_config("mm", memory=16, extra_lines="maxmem = 32\n"))
    assert e.value.code == "bad-config" and "maxmem" in e.value.error
    d = host.create(guest_config("nm"))
    for bad in ({"name": ".."}, {"name": "Domain-0"}):
        with pytest.raises(ApiError):
            host.action("nm", "rename", bad)
    for body in ({"mib": 8.5}, {"mib": "8"}, {"mib": -1}):
        with pytest.raises(ApiError) as e:
            host.action("nm", "mem-set", body)
        assert e.value.status == 400
    assert set(host.domains()) == {"Domain-0", "nm"}
    assert d["domid"] == host.domains()["nm"]["domid"]


def test_restore_refuses_what_is_not_a_saved_domain(host, tmp_path):
    junk = tmp_path / "junk"
    junk.write_bytes(b"not a domain at all" * 10)
    cut = tmp_path / "cut"
    cut.write_bytes(b"XENIA-MIGRATE\0\0\0" + b"\1\0\0\0" + b"\0" * 12)
    for f, needle in ((junk, "not a saved domain"), (cut, "config")):
        with pytest.raises(ApiError) as e:
            host.api("POST", "/v1/restore", {"path": str(f)})
        assert e.value.code == "bad-stream" and needle in e.value.error
    with pytest.raises(ApiError) as e:
        host.api("POST", "/v1/restore", {"path": str(tmp_path / "none")})
    assert e.value.status == 400
    assert set(host.domains()) == {"Domain-0"}


def test_xenstored_killed_under_xend_is_restarted_and_records_rewritten(host):
    a = host.create(guest_config("xa"))
    host.create(guest_config("xb"))
    old = host.xenstored_pid()
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: host.xenstored_pid() not in (None, old) and
             host.xs_exists("/xend/domains/%s" % a["uuid"]),
             what="xenstored restarted and records rewritten")
    host.action("xb", "destroy")
    assert not host.xs_exists("/xend/domains/%s" %
                              host.domains().get("xb", {}).get("uuid", "x"))
    assert set(host.domains()) == {"Domain-0", "xa"}
    c = host.create(guest_config("xc"))
    wait_console(host, c["domid"], "idle: up")
    # A restarted xend still finds the domains from the rewritten records.
    host.kill(signal.SIGKILL)
    host.start()
    assert set(host.domains()) == {"Domain-0", "xa", "xc"}


def test_save_and_restore_through_xm(host, tmp_path):
    d = host.create(guest_config("sv", memory=32, vcpus=2))
    wait_console(host, d["domid"], "idle: up")
    host.action("sv", "mem-set", {"mib": 24})
    wait_for(lambda: host.domains()["sv"]["memory_kib"] == 24 * 1024,
             what="balloon at 24 MiB")
    host.xs("write", "/local/domain/%d/data/mark" % d["domid"], "kept")
    ck = tmp_path / "ck.sav"
    r = host.xm("save", "-c", "sv", str(ck), check=True)
    assert "Saved domain sv" in r.stdout
    assert host.domains()["sv"]["domid"] == d["domid"]  # still running
    with pytest.raises(ApiError) as e:
        host.api("POST", "/v1/restore", {"path": str(ck)})
    assert e.value.code == "exists"
    f = tmp_path / "sv.sav"
    host.xm("save", "sv", str(f), check=True)
    wait_for(lambda: "sv" not in host.domains(), what="saved domain gone")
    assert not traces(host, host_dom(d))
    r = host.xm("restore", str(f), check=True)
    assert "Restored domain sv" in r.stdout
    new = host.domains()["sv"]
    assert new["uuid"] == d["uuid"] and new["domid"] != d["domid"]
    assert new["memory_kib"] == 24 * 1024 and new["vcpus"] == 2
    assert host.xs("read", "/local/domain/%d/data/mark" %
                   new["domid"]) == "kept"
    host.xm("shutdown", "-w", "sv", check=True)
    assert "sv" not in host.domains()
    # A file cut short restores nothing, and says so.
    cut = tmp_path / "cut.sav"
    cut.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    r = host.xm("restore", str(cut))
    assert r.returncode == 1 and r.stderr.strip()
    assert set(host.domains()) == {"Domain-0"}


def host_dom(d):
    """traces() needs the pid too: a saved vmm has ended."""
    return dict(d, pid=None)
