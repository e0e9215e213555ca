"""Transactions: isolation, read-your-writes, conflicts, abort, contention.

Note (C daemon): reads inside a transaction are not a snapshot taken at
TRANSACTION_START; a node first read after another client changed it shows
the new value.  What is guaranteed is that the commit fails with EAGAIN if
any node the transaction read or wrote changed meanwhile.
"""

import threading

import pytest

from xswire import XS_READ, XS_TRANSACTION_END, XS_WRITE, XsError, args


def commit_error(conn, tx):
    return conn.error_of(XS_TRANSACTION_END, b"T\0", tx)


@pytest.fixture
def other(daemon):
    c = daemon.connect()
    yield c
    c.close()


def test_writes_invisible_until_commit(dom0, other):
    dom0.write("/iso/x", "old")
    tx = dom0.tx_start()
    dom0.write("/iso/x", "new", tx)
    dom0.write("/iso/n/deep", "1", tx)
    assert other.read("/iso/x") == b"old"
    assert not other.exists("/iso/n")
    assert dom0.read("/iso/x") == b"old"     # same connection, no tx
    assert other.directory("/iso") == ["x"]
    dom0.tx_end(tx)
    assert other.read("/iso/x") == b"new"
    assert other.read("/iso/n/deep") == b"1"
    assert other.directory("/iso") == ["x", "n"]


def test_read_your_writes(dom0):
    dom0.write("/ryw/keep", "k")
    dom0.write("/ryw/gone/child", "g")
    tx = dom0.tx_start()
    dom0.write("/ryw/a/b/c", "abc", tx)
    assert dom0.read("/ryw/a/b/c", tx) == b"abc"
    assert dom0.read("/ryw/a", tx) == b""          # implicit parents too
    assert dom0.directory("/ryw/a/b", tx) == ["c"]
    assert dom0.get_perms("/ryw/a", tx) == ["n0"]
    dom0.rm("/ryw/gone", tx)
    assert dom0.error_of(XS_READ, args("/ryw/gone/child"), tx) == "ENOENT"
    assert dom0.directory("/ryw", tx) == ["keep", "a"]
    dom0.set_perms("/ryw/keep", ["n0", "r4"], tx)
    assert dom0.get_perms("/ryw/keep", tx) == ["n0", "r4"]
    assert dom0.get_perms("/ryw/keep") == ["n0"]
    dom0.mkdir("/ryw/m", tx)
    assert dom0.read("/ryw/m", tx) == b""
    dom0.tx_end(tx)
    assert dom0.directory("/ryw") == ["keep", "a", "m"]
    assert dom0.get_perms("/ryw/keep") == ["n0", "r4"]
    assert not dom0.exists("/ryw/gone")


def test_abort_applies_nothing(dom0, other):
    dom0.write("/abt/x", "orig")
    dom0.write("/abt/del/me", "d")
    tx = dom0.tx_start()
    dom0.write("/abt/x", "changed", tx)
    dom0.write("/abt/new/deep", "n", tx)
    dom0.rm("/abt/del", tx)
    dom0.set_perms("/abt/x", ["n0", "r3"], tx)
    dom0.tx_end(tx, commit=False)
    assert other.read("/abt/x") == b"orig"
    assert other.get_perms("/abt/x") == ["n0"]
    assert not other.exists("/abt/new")
    assert other.read("/abt/del/me") == b"d"
    # The id is gone after END.
    assert dom0.error_of(XS_TRANSACTION_END, b"F\0", tx) == "ENOENT"


def test_empty_and_read_only_transactions_commit(dom0):
    tx = dom0.tx_start()
    dom0.tx_end(tx)
    dom0.write("/rot", "v")
    tx = dom0.tx_start()
    assert dom0.read("/rot", tx) == b"v"
    dom0.tx_end(tx)


@pytest.mark.parametrize("how", ["read", "write", "read-missing", "directory",
                                 "get_perms", "rm"])
def test_conflict_eagain(dom0, other, how):
    dom0.write("/cf/node", "0")
    dom0.write("/cf/node/kid", "0")
    tx = dom0.tx_start()
    if how == "read":
        dom0.read("/cf/node", tx)
        other.write("/cf/node", "other")
    elif how == "write":
        dom0.write("/cf/node", "mine", tx)
        other.write("/cf/node", "other")
    elif how == "read-missing":
        assert dom0.error_of(XS_READ, args("/cf/absent"), tx) == "ENOENT"
        other.write("/cf/absent", "now here")
    elif how == "directory":
        dom0.directory("/cf/node", tx)
        other.write("/cf/node/kid2", "new child")
    elif how == "get_perms":
        dom0.get_perms("/cf/node", tx)
        other.set_perms("/cf/node", ["n0", "r2"])
    elif how == "rm":
        dom0.read("/cf/node/kid", tx)
        other.rm("/cf/node/kid")
    dom0.write("/cf/marker", "from-tx", tx)
    assert commit_error(dom0, tx) == "EAGAIN"
    # Nothing of the failed transaction is applied, and its id is gone.
    assert not other.exists("/cf/marker")
    assert dom0.error_of(XS_READ, args("/cf/node"), tx) == "ENOENT"


def test_unrelated_writes_do_not_conflict(dom0, other):
    dom0.write("/ur/a", "0")
    dom0.write("/ur/b", "0")
    tx = dom0.tx_start()
    assert dom0.read("/ur/a", tx) == b"0"
    dom0.write("/ur/a", "tx", tx)
    other.write("/ur/b", "other")
    other.write("/elsewhere/x", "1")
    dom0.tx_end(tx)
    assert other.read("/ur/a") == b"tx"
    assert other.read("/ur/b") == b"other"


def test_new_sibling_vs_other_child_value(dom0, other):
    # Creating /s/new changes /s's child list; another client changing the
    # value of /s/old does not touch /s itself, so no conflict (C).
    dom0.write("/s/old", "0")
    tx = dom0.tx_start()
    dom0.write("/s/new", "1", tx)
    other.write("/s/old", "2")
    dom0.tx_end(tx)
    assert other.read("/s/new") == b"1"
    assert other.read("/s/old") == b"2"


def test_two_transactions_same_node(daemon, dom0, other):
    dom0.write("/tt", "0")
    t1 = dom0.tx_start()
    t2 = other.tx_start()
    dom0.write("/tt", "one", t1)
    other.write("/tt", "two", t2)
    dom0.tx_end(t1)
    assert commit_error(other, t2) == "EAGAIN"
    assert other.read("/tt") == b"one"


def test_several_open_transactions_per_connection(dom0, other):
    txs = [dom0.tx_start() for _ in range(20)]   # dom0: no quota
    assert len(set(txs)) == 20
    for i, tx in enumerate(txs):
        dom0.write("/multi/%d" % i, str(i), tx)
    for i, tx in enumerate(txs):
        # Each transaction sees only its own write.
        assert dom0.directory("/multi", tx) == [str(i)]
    outcomes = []
    for i, tx in enumerate(txs):
        if i % 2:
            dom0.tx_end(tx, commit=False)
        else:
            outcomes.append(commit_error(dom0, tx))
    # Sibling creations all touch /multi: the first commit wins, the rest
    # conflict (C checks the parent's child list).
    assert outcomes == [None] + ["EAGAIN"] * 9
    assert other.directory("/multi") == ["0"]


def test_large_transaction_dom0(dom0, other):
    tx = dom0.tx_start()
    for start in range(0, 1100, 100):
        for i in range(start, start + 100):
            dom0.send_msg(XS_WRITE, b"/lt/n%d\0%d" % (i, i), tx)
        for _ in range(100):
            r = dom0.recv_reply()
            assert r.type == XS_WRITE, r
    assert not other.exists("/lt")
    dom0.tx_end(tx)
    assert other.directory_all("/lt") == ["n%d" % i for i in range(1100)]
    assert other.read("/lt/n1099") == b"1099"


def test_connection_close_aborts_transaction(daemon, other):
    c = daemon.connect()
    tx = c.tx_start()
    c.write("/closed/x", "1", tx)
    c.close()
    assert other.alive()
    assert not other.exists("/closed")


def _incrementer(daemon, path, n, results, idx):
    try:
        c = daemon.connect(timeout=30)
        retries = 0
        for _ in range(n):
            while True:
                tx = c.tx_start()
                value = int(c.read(path, tx))
                c.write(path, str(value + 1), tx)
                c.write(path + "-last", str(idx), tx)
                try:
                    c.tx_end(tx)
                    break
                except XsError as e:
                    if e.name != "EAGAIN":
                        raise
                    retries += 1
        c.close()
        results[idx] = ("ok", retries)
    except Exception as e:          # reported by the main thread
        results[idx] = ("error", repr(e))


def test_contended_increments(daemon, dom0):
    dom0.write("/counter", "0")
    clients, per_client = 4, 40
    results = [None] * clients
    threads = [threading.Thread(target=_incrementer,
                                args=(daemon, "/counter", per_client,
                                      results, i))
               for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert all(not t.is_alive() for t in threads)
    assert all(r is not None and r[0] == "ok" for r in results), results
    assert int(dom0.read("/counter")) == clients * per_client
    print("EAGAIN retries per client:", [r[1] for r in results])


def test_contended_increments_separate_counters(daemon, dom0):
    # Disjoint counters in one parent: no client should ever fail for
    # good, and every counter ends exact.
    clients, per_client = 4, 25
    for i in range(clients):
        dom0.write("/ctr/%d" % i, "0")
    results = [None] * clients
    threads = [threading.Thread(target=_incrementer,
                                args=(daemon, "/ctr/%d" % i, per_client,
                                      results, i))
               for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert all(r is not None and r[0] == "ok" for r in results), results
    for i in range(clients):
        assert int(dom0.read("/ctr/%d" % i)) == per_client
