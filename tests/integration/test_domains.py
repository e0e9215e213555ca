"""Guest domains (Xenia only): rings registered through hv.sock.

Each guest is a memfd holding its "RAM", with its xenstore page at a gfn,
and two eventfds; see xswire.GuestDomain.  The expected behaviour is Xen
4.17's C xenstored for unprivileged domains (read from its sources, since
the reference daemon cannot run guests without a hypervisor here).
"""

import os
import socket
import struct
import time

import pytest

from conftest import Guests
from xswire import (
    HEADER, HV_MAGIC, HV_MSG, OFF_ERROR, OFF_REQ_CONS, OFF_REQ_PROD,
    OFF_RSP_CONS, OFF_SERVER_FEATURES, PAGE_SIZE, RING_SIZE, XS_CONTROL,
    XS_DIRECTORY, XS_ERROR, XS_GET_PERMS, XS_INTRODUCE,
    XS_IS_DOMAIN_INTRODUCED, XS_MKDIR, XS_READ, XS_RELEASE, XS_RESUME, XS_RM,
    XS_SET_PERMS, XS_SET_TARGET, XS_WRITE,
    GuestDomain, XsError, XsTimeout, args, hv_register, pack_msg,
)

pytestmark = pytest.mark.xenia_only("guest domains need hv.sock")

XENSTORE_SERVER_FEATURE_ERROR = 2
XENSTORE_ERROR_RINGIDX = 2
XENSTORE_ERROR_PROTO = 3


def werr(conn, path, value, tx=0):
    return conn.error_of(XS_WRITE, path.encode() + b"\0" + value, tx)


def rerr(conn, path, tx=0):
    return conn.error_of(XS_READ, args(path), tx)


def release_watcher(daemon, path="@releaseDomain"):
    w = daemon.connect()
    w.watch(path, "rel")
    assert w.wait_event() == (path, "rel")
    return w


def wait_released(w, path="@releaseDomain"):
    assert w.wait_event(timeout=10) == (path, "rel")


# -- basics -----------------------------------------------------------------

def test_guest_home_and_relative_paths(guests, dom0):
    g = guests.new(3)
    c = g.conn
    assert c.get_domain_path(3) == "/local/domain/3"
    c.write("data/x", "1")
    assert dom0.read("/local/domain/3/data/x") == b"1"
    assert c.read("/local/domain/3/data/x") == b"1"
    assert c.read("data/x") == b"1"
    # What a guest creates, it owns (entry 0 becomes the creator).
    assert dom0.get_perms("/local/domain/3/data/x") == ["n3"]
    assert c.directory("data") == ["x"]
    c.mkdir("data/m")
    c.rm("data/x")
    assert c.directory("data") == ["m"]
    assert dom0.is_introduced(3) == "T"


def test_guest_watch_through_ring(guests, dom0):
    g = guests.new(4)
    c = g.conn
    c.watch("data", "rel")
    assert c.wait_event() == ("data", "rel")
    c.watch("/local/domain/4/data", "abs")
    assert c.wait_event() == ("/local/domain/4/data", "abs")
    dom0.write("/local/domain/4/data/k", "v")
    assert sorted(c.collect_events(0.3)) == [
        ("/local/domain/4/data/k", "abs"), ("data/k", "rel")]


def test_big_messages_wrap_the_ring(guests, dom0):
    # Requests and replies far bigger than the 1 KiB rings, many times over.
    g = guests.new(5)
    c = g.conn
    big = bytes((i * 7) % 251 for i in range(4000))
    dom0.write("/public", "")
    dom0.set_perms("/public", ["r0"])
    dom0.write("/public/big", big)
    for i in range(20):
        assert c.read("/public/big") == big
        value = bytes([65 + i]) * 1800
        c.write("data/v%d" % i, value)
        assert c.read("data/v%d" % i) == value
    assert c.directory("data") == ["v%d" % i for i in range(20)]


def test_two_guests_and_dom0_interleaved(guests, dom0):
    a, b = guests.new(6), guests.new(7)
    for i in range(50):
        a.conn.write("n%d" % i, "a%d" % i)
        b.conn.write("n%d" % i, "b%d" % i)
        dom0.write("/d0/n%d" % i, "d%d" % i)
    assert a.conn.read("n49") == b"a49"
    assert b.conn.read("n49") == b"b49"
    assert dom0.read("/local/domain/6/n0") == b"a0"
    assert dom0.read("/local/domain/7/n0") == b"b0"


def test_privileged_operations_refused(guests):
    c = guests.new(8).conn
    for mtype, payload in [
            (XS_INTRODUCE, args(9, 1, 1)), (XS_RELEASE, args(8)),
            (XS_IS_DOMAIN_INTRODUCED, args(0)), (XS_RESUME, args(8)),
            (XS_SET_TARGET, args(8, 0)), (XS_CONTROL, args("help"))]:
        assert c.error_of(mtype, payload) == "EACCES", mtype
    # Not privileged: GET_DOMAIN_PATH.
    assert c.get_domain_path(0) == "/local/domain/0"


# -- permissions ------------------------------------------------------------

def test_dom0_nodes_hidden_from_guest(guests, dom0):
    c = guests.new(9).conn
    dom0.write("/secret/x", "s")
    assert rerr(c, "/secret/x") == "EACCES"
    assert rerr(c, "/secret") == "EACCES"
    # A missing node under an unreadable parent: EACCES, so a guest cannot
    # probe what exists.
    assert rerr(c, "/secret/nonexistent") == "EACCES"
    assert rerr(c, "/local/domain/99") == "EACCES"
    assert c.error_of(XS_DIRECTORY, args("/secret")) == "EACCES"
    assert c.error_of(XS_GET_PERMS, args("/secret/x")) == "EACCES"
    assert werr(c, "/secret/x", b"overwrite") == "EACCES"
    assert werr(c, "/secret/new", b"v") == "EACCES"
    assert werr(c, "/toplevel", b"v") == "EACCES"
    assert c.error_of(XS_MKDIR, args("/secret/m")) == "EACCES"
    assert c.error_of(XS_RM, args("/secret/x")) == "EACCES"
    assert dom0.read("/secret/x") == b"s"
    assert not dom0.exists("/secret/new")


def test_missing_node_under_readable_parent_is_enoent(guests, dom0):
    c = guests.new(10).conn
    dom0.write("/open", "")
    dom0.set_perms("/open", ["r0"])
    assert rerr(c, "/open/nonexistent") == "ENOENT"
    assert rerr(c, "/open/no/deeper") == "ENOENT"


@pytest.mark.parametrize("perms,can_read,can_write", [
    (["n0"], False, False),
    (["r0"], True, False),
    (["w0"], False, True),
    (["b0"], True, True),
    (["n0", "r11"], True, False),
    (["n0", "w11"], False, True),
    (["n0", "b11"], True, True),
    (["b0", "n11"], False, False),          # entry for 11 beats default
    (["n0", "r11", "w11"], True, False),    # first matching entry decides
    (["n0", "b12"], False, False),          # entry for someone else
    (["r0", "w12"], True, False),
])
def test_permission_entries(guests, dom0, perms, can_read, can_write):
    c = guests.new(11).conn
    dom0.write("/pe", "value")
    dom0.set_perms("/pe", perms)
    if can_read:
        assert c.read("/pe") == b"value"
        assert c.get_perms("/pe") == perms
    else:
        assert rerr(c, "/pe") == "EACCES"
    if can_write:
        c.write("/pe", "guest")
        assert dom0.read("/pe") == b"guest"
    else:
        assert werr(c, "/pe", b"guest") == "EACCES"
        assert dom0.read("/pe") == b"value"


def test_owner_has_full_access(guests, dom0):
    c = guests.new(12).conn
    dom0.write("/owned", "v")
    dom0.set_perms("/owned", ["n12", "r5"])    # owner 12, default none
    assert c.read("/owned") == b"v"
    c.write("/owned", "mine")
    c.set_perms("/owned", ["n12", "r5", "b6"])
    assert dom0.get_perms("/owned") == ["n12", "r5", "b6"]
    c.rm("/owned")
    assert not dom0.exists("/owned")


def test_create_needs_write_on_parent_and_inherits(guests, dom0):
    a, b = guests.new(13), guests.new(14)
    dom0.write("/wdir", "")
    dom0.set_perms("/wdir", ["n0", "w13", "r14"])
    a.conn.write("/wdir/new/deep", "x")
    # New nodes copy the parent's list, with the creator as entry 0.
    assert dom0.get_perms("/wdir/new") == ["n13", "w13", "r14"]
    assert dom0.get_perms("/wdir/new/deep") == ["n13", "w13", "r14"]
    assert werr(b.conn, "/wdir/other", b"x") == "EACCES"
    assert b.conn.read("/wdir/new/deep") == b"x"    # r14 was inherited


def test_set_perms_rules(guests, dom0):
    a, b = guests.new(15), guests.new(16)
    dom0.write("/sp", "v")
    dom0.set_perms("/sp", ["n15", "b16"])
    # Not the owner: even with "b", SET_PERMS is refused.
    assert b.conn.error_of(XS_SET_PERMS, args("/sp", "n15", "r16")) \
        == "EACCES"
    # The owner may change the list but not give the node away.
    assert a.conn.error_of(XS_SET_PERMS, args("/sp", "n16")) == "EPERM"
    a.conn.set_perms("/sp", ["r15", "n16"])
    assert dom0.get_perms("/sp") == ["r15", "n16"]
    assert rerr(b.conn, "/sp") == "EACCES"
    # Bad lists are still EINVAL for a guest.
    assert a.conn.error_of(XS_SET_PERMS, args("/sp", "x15")) == "EINVAL"
    # dom0 may give it away.
    dom0.set_perms("/sp", ["n16"])
    assert b.conn.read("/sp") == b"v"


def test_perms_for_nonexistent_domain_ignored(guests, dom0):
    # An entry naming a domain that does not exist when it is set must not
    # grant anything to a domain created later with that id.
    dom0.write("/pre", "v")
    dom0.set_perms("/pre", ["n0", "r17"])
    c = guests.new(17).conn
    assert rerr(c, "/pre") == "EACCES"


def test_perms_of_dead_domain_not_inherited_by_domid_reuse(daemon, guests,
                                                             dom0):
    g = guests.new(18)
    dom0.write("/shared", "v")
    dom0.set_perms("/shared", ["n0", "r18"])
    assert g.conn.read("/shared") == b"v"
    w = release_watcher(daemon)
    g.die()
    wait_released(w)
    again = guests.new(18)
    assert rerr(again.conn, "/shared") == "EACCES"


def test_set_target(guests, dom0):
    dm, tgt = guests.new(19), guests.new(20)
    tgt.conn.write("private", "p")
    assert rerr(dm.conn, "/local/domain/20/private") == "EACCES"
    dom0.set_target(19, 20)
    # The device-model domain now acts with its target's rights.
    assert dm.conn.read("/local/domain/20/private") == b"p"
    dm.conn.write("/local/domain/20/from-dm", "x")
    assert dom0.read("/local/domain/20/from-dm") == b"x"
    # ... but not the other way round.
    dm.conn.write("mine", "m")
    assert rerr(tgt.conn, "/local/domain/19/mine") == "EACCES"


def test_set_target_unknown_domains(guests, dom0):
    guests.new(21)
    assert dom0.error_of(XS_SET_TARGET, args(21, 77)) == "ENOENT"
    assert dom0.error_of(XS_SET_TARGET, args(77, 21)) == "ENOENT"


def test_watch_events_need_read_permission(guests, dom0):
    c = guests.new(22).conn
    dom0.write("/hidden/x", "1")
    dom0.write("/visible/x", "1")
    dom0.set_perms("/visible/x", ["n0", "r22"])
    for p in ("/hidden", "/hidden/x", "/visible/x"):
        c.watch(p, "t" + p)
        assert c.wait_event() == (p, "t" + p)   # registration always fires
    dom0.write("/hidden/x", "2")
    dom0.write("/visible/x", "2")
    # C fires only if the watcher can read the node or its parent.
    assert c.collect_events(0.3) == [("/visible/x", "t/visible/x")]


# -- domain life cycle ------------------------------------------------------

def test_introduce_fires_introduce_domain(daemon, guests, dom0):
    w = daemon.connect()
    w.watch("@introduceDomain", "i")
    assert w.wait_event() == ("@introduceDomain", "i")
    guests.new(23)
    assert w.wait_event(timeout=10) == ("@introduceDomain", "i")
    assert dom0.is_introduced(23) == "T"


def test_release_fires_release_domain(daemon, guests, dom0):
    g = guests.new(24)
    w = release_watcher(daemon)
    dom0.release(24)
    wait_released(w)
    assert dom0.is_introduced(24) == "F"
    # A released domain's ring is no longer served.
    g.conn.send_msg(XS_READ, args("/"))
    with pytest.raises(XsTimeout):
        g.conn.recv_msg(timeout=0.5)
    assert dom0.error_of(XS_RELEASE, args(24)) == "ENOENT"


def test_hv_socket_close_is_domain_death(daemon, guests, dom0):
    g = guests.new(25)
    g.conn.watch("data", "t")
    assert g.conn.wait_event() == ("data", "t")
    tx = g.conn.tx_start()
    g.conn.write("data/in-tx", "1", tx)
    w = release_watcher(daemon)
    g.die()
    wait_released(w)
    assert dom0.is_introduced(25) == "F"
    assert not dom0.exists("/local/domain/25/data/in-tx")
    assert dom0.alive()


def test_dead_domain_owned_nodes_removed(daemon, guests, dom0):
    # Xen 4.17 (without --keep-orphans) deletes every node a dying domain
    # owns; nodes it could only write stay.
    g = guests.new(26)
    g.conn.write("owned/a", "1")
    dom0.write("/elsewhere", "")
    dom0.set_perms("/elsewhere", ["n0", "w26"])
    g.conn.write("/elsewhere/by-guest", "g")       # owned by 26
    dom0.write("/notowned", "n")
    dom0.set_perms("/notowned", ["n0", "b26"])
    g.conn.write("/notowned", "written by 26")     # still owned by dom0
    w = release_watcher(daemon)
    g.die()
    wait_released(w)
    assert not dom0.exists("/local/domain/26/owned")
    assert not dom0.exists("/elsewhere/by-guest")
    assert dom0.read("/notowned") == b"written by 26"


def test_domid_reuse_after_death(daemon, guests, dom0):
    g = guests.new(27)
    g.conn.write("x", "old")
    w = release_watcher(daemon)
    g.die()
    wait_released(w)
    g2 = guests.new(27)
    g2.conn.write("y", "new")
    assert g2.conn.read("y") == b"new"
    assert dom0.is_introduced(27) == "T"


def test_release_domain_events_need_special_perms(daemon, guests, dom0):
    a, b = guests.new(28), guests.new(29)
    a.conn.watch("@releaseDomain", "r")
    assert a.conn.wait_event() == ("@releaseDomain", "r")
    w = release_watcher(daemon)
    b.die()
    wait_released(w)
    # The default special-node perms ("n0") give guests no events.
    assert a.conn.collect_events(0.3) == []
    dom0.set_perms("@releaseDomain", ["n0", "r28"])
    c = guests.new(30)
    c.die()
    wait_released(w)
    assert a.conn.wait_event(timeout=10) == ("@releaseDomain", "r")


def test_introduce_unregistered_domain_fails(daemon, dom0):
    assert dom0.error_of(XS_INTRODUCE, args(31, 3, 5)) is not None
    assert dom0.is_introduced(31) == "F"
    assert dom0.alive()


def test_introduce_gfn_outside_guest_memory(daemon, dom0):
    g = GuestDomain(str(daemon.hv_path), 32, dom0, gfn=3, pages=4)
    try:
        assert g.register() == 0
        # Page 64 is beyond the 4-page memfd: refused, not a SIGBUS.
        assert dom0.error_of(XS_INTRODUCE, args(32, 64, 5)) is not None
        assert dom0.error_of(XS_INTRODUCE, args(32, 1 << 40, 5)) is not None
        assert dom0.is_introduced(32) == "F"
        assert dom0.alive()
    finally:
        g.close()


def hv_attempt(daemon, payload, fds):
    """Send one raw hv.sock message; the status, or None if the daemon
    closed the connection without answering."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(5)
    s.connect(str(daemon.hv_path))
    try:
        socket.send_fds(s, [payload], fds)
        reply = s.recv(64)
    except (ConnectionResetError, BrokenPipeError):
        reply = b""
    except socket.timeout:
        raise AssertionError("hv.sock neither answered %r nor closed"
                             % payload)
    finally:
        s.close()
    if not reply:
        return None
    assert len(reply) == 8, reply
    magic, status = struct.unpack("<Ii", reply)
    assert magic == HV_MAGIC
    return status


def test_hv_registration_errors(daemon, dom0):
    mem = os.memfd_create("ram")
    os.ftruncate(mem, 4 * PAGE_SIZE)
    k, n = os.eventfd(0), os.eventfd(0)
    try:
        bad = [
            (HV_MSG.pack(0x12345678, 1, 33, 0), [mem, k, n]),  # magic
            (HV_MSG.pack(HV_MAGIC, 99, 33, 0), [mem, k, n]),   # op
            (HV_MSG.pack(HV_MAGIC, 1, 33, 0), []),             # no fds
            (HV_MSG.pack(HV_MAGIC, 1, 33, 0), [mem]),          # too few
            (b"\x01\x02", [mem, k, n]),                        # short
        ]
        for payload, fds in bad:
            status = hv_attempt(daemon, payload, fds)
            assert status is None or status < 0, (payload, len(fds))
        # The same domid twice while the first is alive.
        s1, st1 = hv_register(str(daemon.hv_path), 34, mem, k, n)
        assert st1 == 0
        s2, st2 = hv_register(str(daemon.hv_path), 34, mem, k, n)
        s2.close()
        assert st2 < 0
        s1.close()
    finally:
        for fd in (mem, k, n):
            os.close(fd)
    assert dom0.alive()


# -- quotas -----------------------------------------------------------------

@pytest.fixture
def quota_guest(start_daemon):
    """make(["-Q", "name=value", ...]) -> (daemon, Guests, dom40)."""
    made = []

    def make(quota_args, domid=40):
        d = start_daemon(quota_args)
        gs = Guests(d)
        made.append(gs)
        return d, gs, gs.new(domid)
    yield make
    for gs in made:
        gs.close()


def tree_ops(n, prefix=""):
    """n requests that create exactly one node each: directories of 25
    children (a guest's node record, child list included, must stay under
    the node-size quota, so no directory may grow large)."""
    ops = []
    while len(ops) < n:
        d = len(ops) // 26
        if len(ops) % 26 == 0:
            ops.append((XS_MKDIR, args("%sd%d" % (prefix, d))))
        else:
            ops.append((XS_WRITE, b"%sd%d/n%d\0v" % (prefix.encode(), d,
                                                        len(ops) % 26)))
    return ops


def run_until_error(conn, ops, tx=0):
    """(number of successful requests, first error name or None)."""
    ok = 0
    for r in conn.pipeline(ops, window=4, tx=tx):
        if r.type == XS_ERROR:
            return ok, r.payload.rstrip(b"\0").decode()
        ok += 1
    return ok, None


@pytest.mark.parametrize("quota", [20, None])
def test_node_quota(quota_guest, quota):
    args_ = ["-Q", "nodes=%d" % quota] if quota else []
    limit = quota or 1000
    d, gs, g = quota_guest(args_)
    ok, error = run_until_error(g.conn, tree_ops(limit + 10))
    # The home directory the guest owns counts too (Xen counts owned
    # nodes): limit - 1 creations, allowing one off either way.
    assert error == "ENOSPC"
    assert limit - 2 <= ok <= limit
    # dom0 is not limited, and deleting frees quota.
    gs.dom0.write("/local/domain/40/by-dom0", "x")
    g.conn.rm("d0/n1")
    g.conn.rm("d0/n2")
    g.conn.write("d0/again", "x")


@pytest.mark.parametrize("quota,small,big", [(512, 300, 600),
                                             (None, 1900, 2100)])
def test_node_size_quota(quota_guest, quota, small, big):
    args_ = ["-Q", "node-size=%d" % quota] if quota else []
    d, gs, g = quota_guest(args_)
    g.conn.write("small", b"s" * small)
    assert werr(g.conn, "big", b"b" * big) == "ENOSPC"
    assert not gs.dom0.exists("/local/domain/40/big")
    gs.dom0.write("/local/domain/40/dom0big", b"d" * 3000)   # dom0: no limit


@pytest.mark.parametrize("quota", [5, None])
def test_watch_quota(quota_guest, quota):
    args_ = ["-Q", "watches=%d" % quota] if quota else []
    limit = quota or 128
    d, gs, g = quota_guest(args_)
    ok = 0
    error = None
    for i in range(limit + 5):
        try:
            g.conn.watch("w%d" % i, "t")
            g.conn.wait_event()
            ok += 1
        except XsError as e:
            error = e.name
            break
    # C checks "count > quota" before adding, so it allows quota + 1.
    assert error == "E2BIG"
    assert limit <= ok <= limit + 1
    g.conn.unwatch("w0", "t")
    g.conn.watch("again", "t")


@pytest.mark.parametrize("quota", [3, None])
def test_transaction_quota(quota_guest, quota):
    args_ = ["-Q", "transactions=%d" % quota] if quota else []
    limit = quota or 10
    d, gs, g = quota_guest(args_)
    txs, error = [], None
    for i in range(limit + 5):
        try:
            txs.append(g.conn.tx_start())
        except XsError as e:
            error = e.name
            break
    # C checks "started > quota" before starting, so it allows quota + 1.
    assert error == "ENOSPC"
    assert limit <= len(txs) <= limit + 1
    g.conn.tx_end(txs.pop(), commit=False)
    txs.append(g.conn.tx_start())
    gs.dom0.tx_end(gs.dom0.tx_start())     # dom0 unaffected


@pytest.mark.parametrize("quota", [10, None])
def test_transaction_nodes_quota(quota_guest, quota):
    args_ = ["-Q", "nodes=5000"]
    if quota:
        args_ += ["-Q", "transaction-nodes=%d" % quota]
    limit = quota or 1024
    d, gs, g = quota_guest(args_)
    tx = g.conn.tx_start()
    ok, error = run_until_error(g.conn, tree_ops(limit + 10), tx=tx)
    assert error == "ENOSPC"
    # The home directory is one of the nodes the transaction touches.
    assert limit - 2 <= ok <= limit
    g.conn.tx_end(tx, commit=False)
    assert not gs.dom0.exists("/local/domain/40/d0")


@pytest.mark.parametrize("quota", [2, None])
def test_perms_quota(quota_guest, quota):
    args_ = ["-Q", "perms=%d" % quota] if quota else []
    limit = quota or 5
    d, gs, g = quota_guest(args_)
    g.conn.write("p", "")
    ok = ["n40"] + ["r%d" % (i + 1) for i in range(limit - 1)]
    g.conn.set_perms("p", ok)
    assert g.conn.get_perms("p") == ok
    assert g.conn.error_of(XS_SET_PERMS, args("p", *(ok + ["w9"]))) \
        == "ENOSPC"
    # dom0 is not limited.
    gs.dom0.set_perms("/local/domain/40/p", ok + ["w9", "w8", "w7", "w6"])


@pytest.mark.parametrize("quota", [2, None])
def test_outstanding_requests(quota_guest, quota):
    # A guest that queues many requests without taking replies is slowed
    # down (C stops reading its ring), never answered with garbage, and
    # gets every reply in order once it reads; dom0 is served meanwhile.
    args_ = ["-Q", "outstanding=%d" % quota] if quota else []
    d, gs, g = quota_guest(args_)
    gs.dom0.write("/local/domain/40/big", b"x" * 600)
    n = 60
    stream = b"".join(pack_msg(XS_READ, args("big"), i + 1)
                      for i in range(n))
    sent = g.conn.write_some(stream)
    assert sent > 0
    time.sleep(0.3)
    assert gs.dom0.alive()
    # Now read replies while feeding the rest of the requests.
    got = []
    deadline = time.monotonic() + 10
    while len(got) < n:
        assert time.monotonic() < deadline, "guest starved: %d/%d" % (
            len(got), n)
        if sent < len(stream):
            sent += g.conn.write_some(stream[sent:])
        try:
            msg = g.conn.recv_msg(timeout=0.5)
        except XsTimeout:
            continue
        got.append(msg)
    assert [m.req_id for m in got] == list(range(1, n + 1))
    assert all(m.type == XS_READ and m.payload == b"x" * 600 for m in got)


def test_path_max_quota(quota_guest):
    d, gs, g = quota_guest(["-Q", "path-max=100"])
    g.conn.write("a" * 100, "ok")
    assert werr(g.conn, "b" * 101, b"v") == "EINVAL"


# -- hostile rings ----------------------------------------------------------

def others_still_served(daemon, guests, dom0, domid):
    assert dom0.alive()
    assert daemon.connect().alive()
    other = guests.new(domid)
    other.conn.write("fine", "yes")
    assert other.conn.read("fine") == b"yes"


def check_error_field(g, code):
    if g.conn.get(OFF_SERVER_FEATURES) & XENSTORE_SERVER_FEATURE_ERROR:
        deadline = time.monotonic() + 5
        while g.conn.get(OFF_ERROR) != code:
            assert time.monotonic() < deadline, \
                "error field %d, expected %d" % (g.conn.get(OFF_ERROR), code)
            time.sleep(0.02)


def test_req_prod_far_ahead(daemon, guests, dom0):
    g = guests.new(50)
    g.conn.put(OFF_REQ_PROD, g.conn.get(OFF_REQ_CONS) + 5000)
    g.conn.kick()
    time.sleep(0.2)
    others_still_served(daemon, guests, dom0, 51)
    check_error_field(g, XENSTORE_ERROR_RINGIDX)


def test_req_cons_moved_by_guest(daemon, guests, dom0):
    g = guests.new(52)
    g.conn.put(OFF_REQ_CONS, 0xFFFFF000)
    g.conn.put(OFF_REQ_PROD, 7)
    g.conn.kick()
    time.sleep(0.2)
    others_still_served(daemon, guests, dom0, 53)


def test_rsp_indexes_corrupted(daemon, guests, dom0):
    g = guests.new(54)
    g.conn.put(OFF_RSP_CONS, 0x80000000)     # "consumed" unsent bytes
    g.conn.send_msg(XS_READ, args("/"))
    time.sleep(0.2)
    others_still_served(daemon, guests, dom0, 55)


def test_oversized_header_in_ring(daemon, guests, dom0):
    g = guests.new(56)
    g.conn.write_some(HEADER.pack(XS_WRITE, 1, 0, 5000) + b"x" * 100)
    time.sleep(0.2)
    others_still_served(daemon, guests, dom0, 57)
    check_error_field(g, XENSTORE_ERROR_PROTO)
    assert not dom0.exists("/local/domain/56/x")


def test_garbage_in_ring(daemon, guests, dom0):
    g = guests.new(58)
    junk = bytes((i * 131 + 7) % 256 for i in range(RING_SIZE))
    g.conn.write_some(junk)
    time.sleep(0.2)
    others_still_served(daemon, guests, dom0, 59)


def test_flood_without_reading(daemon, guests, dom0):
    g = guests.new(60)
    msg = pack_msg(XS_WRITE, b"flood\0v", 1)
    for _ in range(2000):
        g.conn.write_some(msg)
    others_still_served(daemon, guests, dom0, 61)


def test_kick_storm(daemon, guests, dom0):
    g = guests.new(62)
    for _ in range(20000):
        g.conn.kick()
    others_still_served(daemon, guests, dom0, 63)
    g.conn.write("still", "ok")
    assert g.conn.read("still") == b"ok"


def test_guest_memory_scribbled_outside_ring(daemon, guests, dom0):
    # The rest of the guest's RAM is the guest's business; the daemon only
    # reads the page it was given.
    g = guests.new(64)
    g.mm[0:PAGE_SIZE] = b"\xff" * PAGE_SIZE
    g.mm[(g.gfn + 1) * PAGE_SIZE:(g.gfn + 2) * PAGE_SIZE] = \
        b"\xee" * PAGE_SIZE
    g.conn.write("ok", "1")
    assert g.conn.read("ok") == b"1"
