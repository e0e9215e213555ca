"""Watches: registration, matching, events of each operation, transactions."""

import statistics
import time

import pytest

from xswire import (
    XS_DIRECTORY_PART, XS_READ, XS_RM, XS_TRANSACTION_END, XS_UNWATCH,
    XS_WATCH, XS_WATCH_EVENT, XS_WRITE, XsTimeout, args,
)


@pytest.fixture
def watcher(daemon):
    c = daemon.connect()
    yield c
    c.close()


def watch(conn, path, token=None):
    """Register a watch and consume its registration event."""
    token = token if token is not None else "T" + path
    conn.watch(path, token)
    assert conn.wait_event() == (path, token)
    return token


def events(conn, quiet=0.3):
    return sorted(conn.collect_events(quiet))


def test_watch_fires_once_on_registration(dom0):
    req_id = dom0.send_msg(XS_WATCH, args("/not/yet/there", "tok"))
    first = dom0.recv_msg()
    # The OK reply comes first, then the initial event.
    assert (first.type, first.req_id, first.payload) == \
        (XS_WATCH, req_id, b"OK\0")
    ev = dom0.recv_msg()
    assert (ev.type, ev.req_id, ev.tx_id) == (XS_WATCH_EVENT, 0, 0)
    assert ev.payload == b"/not/yet/there\0tok\0"
    assert dom0.collect_events(0.3) == []


def test_token_is_returned_verbatim(dom0):
    for token in ("a b/c?*", "", "x" * 200, "tok\x01"):
        dom0.watch("/tokens", token)
        assert dom0.wait_event() == ("/tokens", token)


def test_subtree_matching_by_whole_components(dom0, watcher):
    watch(watcher, "/a/w")
    dom0.write("/a/w/x/y", "1")
    dom0.write("/a/wx", "1")          # shares a prefix, not a component
    dom0.write("/a", "parent")        # ancestor: no event
    dom0.write("/a/w", "self")
    dom0.write("/b/a/w", "elsewhere")
    assert events(watcher) == [("/a/w", "T/a/w"), ("/a/w/x/y", "T/a/w")]


def test_root_watch_sees_everything(dom0, watcher):
    watch(watcher, "/")
    dom0.write("/r1", "1")
    dom0.write("rel", "1")
    assert events(watcher) == [("/local/domain/0/rel", "T/"),
                               ("/r1", "T/")]


def test_only_requested_path_fires_for_implicit_parents(dom0, watcher):
    for p in ("/ip", "/ip/a", "/ip/a/b"):
        watch(watcher, p)
    dom0.write("/ip/a/b/c/d", "1")
    assert events(watcher) == [("/ip/a/b/c/d", "T/ip"),
                               ("/ip/a/b/c/d", "T/ip/a"),
                               ("/ip/a/b/c/d", "T/ip/a/b")]


def test_rm_fires_removed_path_and_watchers_own_paths(dom0, watcher):
    dom0.write("/rm/a/b/c/d", "1")
    dom0.write("/rm/other", "1")
    for p in ("/", "/rm", "/rm/a", "/rm/a/b/c", "/rm/a/b/c/d/e",
              "/rm/other", "/rm/ab"):
        watch(watcher, p)
    dom0.rm("/rm/a")
    # Watchers on /rm/a or above see "/rm/a"; a watcher below sees its own
    # path if that node existed (C fires per deleted node, exact match), so
    # the one on the never-created /rm/a/b/c/d/e sees nothing; others
    # (/rm/other, the prefix /rm/ab) see nothing either.
    assert events(watcher) == sorted([
        ("/rm/a", "T/"), ("/rm/a", "T/rm"), ("/rm/a", "T/rm/a"),
        ("/rm/a/b/c", "T/rm/a/b/c"),
    ])


def test_rm_relative_watchers(dom0, watcher):
    dom0.write("rr/x/y/z", "1")
    watch(watcher, "rr")
    watch(watcher, "rr/x/y")
    watch(watcher, "/")
    dom0.rm("rr/x")
    assert events(watcher) == sorted([
        ("rr/x", "Trr"), ("rr/x/y", "Trr/x/y"),
        ("/local/domain/0/rr/x", "T/"),
    ])


def test_rm_of_missing_node_fires_nothing(dom0, watcher):
    dom0.write("/rmm", "")
    watch(watcher, "/rmm")
    dom0.rm("/rmm/absent")
    assert dom0.error_of(XS_RM, args("/rmm/no/such")) == "ENOENT"
    assert events(watcher) == []


def test_each_operation_fires(dom0, watcher):
    dom0.write("/ops/n", "v")
    watch(watcher, "/ops")
    dom0.write("/ops/n", "v")                 # same value: still fires
    assert events(watcher) == [("/ops/n", "T/ops")]
    dom0.set_perms("/ops/n", ["n0", "r1"])
    assert events(watcher) == [("/ops/n", "T/ops")]
    dom0.mkdir("/ops/m")
    assert events(watcher) == [("/ops/m", "T/ops")]
    dom0.mkdir("/ops/m")                      # exists: C fires nothing
    assert events(watcher) == []
    dom0.rm("/ops/m")
    assert events(watcher) == [("/ops/m", "T/ops")]


def test_read_operations_fire_nothing(dom0, watcher):
    dom0.write("/ro/x", "1")
    watch(watcher, "/ro")
    dom0.read("/ro/x")
    dom0.directory("/ro")
    dom0.get_perms("/ro/x")
    dom0.call(XS_DIRECTORY_PART, args("/ro", "0"))
    assert dom0.error_of(XS_READ, args("/ro/missing")) == "ENOENT"
    assert events(watcher) == []


def test_events_only_on_commit(dom0, watcher):
    watch(watcher, "/tx")
    tx = dom0.tx_start()
    dom0.write("/tx/a", "1", tx)
    dom0.write("/tx/b/c", "1", tx)
    dom0.write("/tx/a", "2", tx)          # twice: one event (C)
    dom0.mkdir("/tx/m", tx)
    assert events(watcher) == []
    dom0.tx_end(tx, commit=True)
    assert events(watcher) == sorted([("/tx/a", "T/tx"),
                                      ("/tx/b/c", "T/tx"),
                                      ("/tx/m", "T/tx")])


def test_rm_in_transaction_fires_on_commit(dom0, watcher):
    dom0.write("/txr/a/b", "1")
    watch(watcher, "/txr")
    watch(watcher, "/txr/a/b")
    tx = dom0.tx_start()
    dom0.rm("/txr/a", tx)
    assert events(watcher) == []
    dom0.tx_end(tx)
    got = events(watcher)
    assert ("/txr/a", "T/txr") in got
    assert ("/txr/a/b", "T/txr/a/b") in got


def test_no_events_on_abort(dom0, watcher):
    watch(watcher, "/ab")
    tx = dom0.tx_start()
    dom0.write("/ab/x", "1", tx)
    dom0.tx_end(tx, commit=False)
    assert events(watcher) == []


def test_no_events_on_conflict(daemon, dom0, watcher):
    dom0.write("/cf/k", "0")
    watch(watcher, "/cf")
    tx = dom0.tx_start()
    dom0.read("/cf/k", tx)
    dom0.write("/cf/k", "1", tx)
    dom0.write("/cf/new", "1", tx)
    other = daemon.connect()
    other.write("/cf/k", "x")
    assert events(watcher) == [("/cf/k", "T/cf")]    # the other's write
    assert dom0.error_of(XS_TRANSACTION_END, b"T\0", tx) == "EAGAIN"
    assert events(watcher) == []


def test_duplicate_watch_eexist(dom0):
    watch(dom0, "/dup", "t")
    assert dom0.error_of(XS_WATCH, args("/dup", "t")) == "EEXIST"
    watch(dom0, "/dup", "t2")                  # other token: fine
    watch(dom0, "/dup2", "t")                  # other path: fine
    dom0.write("/dup", "1")
    assert events(dom0) == [("/dup", "t"), ("/dup", "t2")]


def test_unwatch(dom0, watcher):
    watch(watcher, "/uw", "t")
    assert watcher.error_of(XS_UNWATCH, args("/uw", "other")) == "ENOENT"
    assert watcher.error_of(XS_UNWATCH, args("/uw/x", "t")) == "ENOENT"
    assert watcher.error_of(XS_UNWATCH, args("/never", "t")) == "ENOENT"
    watcher.unwatch("/uw", "t")
    dom0.write("/uw/a", "1")
    assert events(watcher) == []
    assert watcher.error_of(XS_UNWATCH, args("/uw", "t")) == "ENOENT"
    # Registering again works and fires again.
    watch(watcher, "/uw", "t")


def test_relative_watch_gives_relative_events(dom0, watcher):
    watch(watcher, "relw")
    watch(watcher, "/local/domain/0/relw", "abs")
    dom0.write("relw/x", "1")
    assert events(watcher) == sorted([
        ("relw/x", "Trelw"), ("/local/domain/0/relw/x", "abs")])
    # UNWATCH canonicalises the path the same way.
    watcher.unwatch("/local/domain/0/relw", "Trelw")
    dom0.write("/local/domain/0/relw/y", "1")
    assert events(watcher) == [("/local/domain/0/relw/y", "abs")]


def test_special_paths(dom0):
    # (Events of @introduceDomain / @releaseDomain need guest domains: see
    # test_domains.py.)
    for p in ("@introduceDomain", "@releaseDomain", "@other"):
        watch(dom0, p, "s")
    # Writing nodes never fires @-watches.
    dom0.write("/x", "1")
    assert events(dom0) == []


def test_watch_on_each_connection(daemon, dom0):
    ws = [daemon.connect() for _ in range(5)]
    for i, w in enumerate(ws):
        watch(w, "/multi", "w%d" % i)
    dom0.write("/multi/k", "v")
    for i, w in enumerate(ws):
        assert w.wait_event() == ("/multi/k", "w%d" % i)
    ws[0].close()
    ws[1].close()
    dom0.write("/multi/k", "again")
    for i, w in enumerate(ws[2:], 2):
        assert w.wait_event() == ("/multi/k", "w%d" % i)
        w.close()


def test_watching_connection_gets_its_own_events(dom0):
    watch(dom0, "/self")
    dom0.send_msg(XS_WRITE, b"/self/a\0" + b"1")
    dom0.send_msg(XS_WRITE, b"/self/b\0" + b"2")
    replies = [dom0.recv_reply() for _ in range(2)]
    assert [r.payload for r in replies] == [b"OK\0", b"OK\0"]
    assert events(dom0) == [("/self/a", "T/self"), ("/self/b", "T/self")]


def test_many_watches_on_dom0(dom0, watcher):
    # The watch quota is for guests only.
    for i in range(200):
        watcher.send_msg(XS_WATCH, args("/mw/%d" % i, "t"))
    for i in range(200):
        r = watcher.recv_reply()
        assert r.type == XS_WATCH, r
    initial = watcher.collect_events(0.3)
    assert len(initial) == 200
    dom0.write("/mw/7/x", "1")
    assert events(watcher) == [("/mw/7/x", "t")]


def test_event_order_matches_write_order(dom0, watcher):
    watch(watcher, "/eo")
    for i in range(100):
        dom0.write("/eo/k%d" % i, str(i))
    got = [watcher.wait_event() for _ in range(100)]
    assert got == [("/eo/k%d" % i, "T/eo") for i in range(100)]
    assert watcher.collect_events(0.2) == []


def test_identical_pending_events_may_coalesce(dom0, watcher):
    # C drops a new event when an identical (path, token) event is still
    # queued unsent for that connection (never for @-events).  So a
    # watcher that lags sees between 1 and n events, and never misses the
    # last change.
    watch(watcher, "/co")
    for i in range(100):
        dom0.write("/co/k", str(i))
    dom0.write("/co/last", "x")
    got = watcher.collect_events(0.5)
    assert got[-1] == ("/co/last", "T/co")
    same = got[:-1]
    assert 1 <= len(same) <= 100
    assert set(same) == {("/co/k", "T/co")}


def test_slow_watcher_does_not_block_writers(daemon, dom0, watcher):
    # The watcher reads nothing while 2000 events pile up for it; the
    # writer must still be served, and every event must arrive later.
    watch(watcher, "/slow")
    n = 2000
    for start in range(0, n, 200):
        for i in range(start, start + 200):
            dom0.send_msg(XS_WRITE, b"/slow/k%d\0v" % i)
        for _ in range(200):
            assert dom0.recv_reply().type == XS_WRITE
    other = daemon.connect()
    assert other.read("/slow/k%d" % (n - 1)) == b"v"
    got = [watcher.wait_event() for _ in range(n)]
    assert got == [("/slow/k%d" % i, "T/slow") for i in range(n)]
    other.close()


def test_watch_latency_sanity(dom0, watcher):
    # Not a benchmark: every event must arrive, and the figures are printed
    # for a human to compare with the C daemon (README: ~20 us).
    watch(watcher, "/lat")
    lat = []
    for i in range(200):
        t0 = time.perf_counter()
        dom0.write("/lat/k", str(i))
        assert watcher.wait_event(timeout=5) == ("/lat/k", "T/lat")
        lat.append(time.perf_counter() - t0)
    print("write+event round trip: median %.1f us, max %.1f us"
          % (statistics.median(lat) * 1e6, max(lat) * 1e6))
    with pytest.raises(XsTimeout):
        watcher.wait_event(timeout=0.2)
