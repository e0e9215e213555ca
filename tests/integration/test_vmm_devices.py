"""test=devices: every frontend of the test guest in one domain.

A domain with the PV console, its XenStore ring, two disks (one
read-only) and a network interface on libslirp runs every frontend's
scenario in turn; each must pass, none may skip.
"""

import pytest

from test_vmm import GUEST, run_vmm, show, verdicts
from test_vmm_blk import RO_TESTDISK_SECTORS, TESTDISK_SECTORS, \
    _need_disk_vmm, make_testdisk


@pytest.mark.xenia_only("a guest domain needs hv.sock")
def test_every_frontend(daemon, monkeypatch, tmp_path):
    _need_disk_vmm()
    monkeypatch.setenv("XENIA_RUNDIR", str(daemon.rundir))
    a, b = tmp_path / "a.img", tmp_path / "b.img"
    make_testdisk(a, TESTDISK_SECTORS, 1)
    make_testdisk(b, RO_TESTDISK_SECTORS, 2)
    p = run_vmm(GUEST, "test=devices ip=10.0.2.15 peer=10.0.2.2",
                memory=32,
                extra=["--xenstore", "--domid", "44",
                       "--disk", "file:%s,xvda,w" % a,
                       "--disk", "file:%s,xvdb,r" % b,
                       "--vif", "mac=00:16:3e:00:00:44"])
    assert p.returncode == 0, show(p)
    lines = verdicts(p.stdout)
    assert not [l for l in lines if "FAIL" in l], show(p)
    assert "SKIP" not in p.stdout, show(p)
    for part in ("console:", "xenstore:", "blk:", "net:"):
        assert [l for l in lines if l.startswith("PASS: " + part)], \
            (part, show(p))
