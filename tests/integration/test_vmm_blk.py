"""The test guest's block frontend (guest/blkfront.c) against xenia-vmm's
block backend (xenia-vmm --xenstore --disk), with a real xenstored.

test=blk writes fixed patterns at fixed places (guest/tests/blk.c names
them; REGIONS below must agree), reads back a test disk that we prepare
here (a header sector, then pseudo-random sectors and their FNV-1a
checksum), uses a read-only second disk, disconnects and reconnects.
Afterwards the image must be exactly what the guest was told it wrote:
the patterns where they belong, the discarded range zero, every other
byte as we made it; the read-only image must be unchanged.

test=blk-hostile sends malformed requests, unusable ring-refs and event
channels and a corrupt ring; the backend answers with errors or gives up
that connection, and the VMM serves on until the guest powers off.

With `blk-pause` the guest waits, connected, until we write
data/blk-resume, so that Xen's xenstore-ls can show that both device
directories look as libxl lays them out.

Everything skips (with the reason) while xenia-vmm has no --disk.
"""

import os
import random
import re
import shutil
import struct
import subprocess
import time

import pytest

from test_vmm import GUEST, TIMEOUT, VMM, _need_guest, run_vmm, show, \
    verdicts
from test_vmm_xenstore import Lines, _stop

DOMID = 43
SECTOR = 512
DISK_SIZE = 8 << 20
DISK_SECTORS = DISK_SIZE // SECTOR
TESTDISK_SECTORS = 256
RO_TESTDISK_SECTORS = 100
XVDA, XVDB = 51712, 51728
MASK = (1 << 64) - 1
PAT_MUL = 0x9E3779B97F4A7C15
FNV_BASIS, FNV_PRIME = 0xCBF29CE484222325, 0x100000001B3

# (first sector, sectors, tag): guest/tests/blk.c's regions[], then the
# range written after the reconnect.
REGIONS = [(1024, 1, 1), (1032, 8, 2), (1040, 88, 3), (1200, 20, 4),
           (1300, 200, 5), (1600, 200, 6), (3000, 24, 7)]
TAG_LAST = 8
DISCARD = (2048, 64)
# test=blk-hostile: the probe sectors and the good writes after each trial.
HOSTILE_REGIONS = [(4000, 8, 20), (4008, 8, 20)]


def _need_disk_vmm():
    _need_guest()
    h = subprocess.run([str(VMM), "--help"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT)
    if "--disk" not in h.stdout:
        pytest.skip("xenia-vmm has no --disk yet (the block backend of "
                    "issue 4)")


def pattern(sector, n, tag):
    """What the guest writes: word w of sector s holds
    ((s << 16 | w << 8 | tag) + 1) * PAT_MUL, little-endian."""
    words = [((((s << 16) | (w << 8) | tag) + 1) * PAT_MUL) & MASK
             for s in range(sector, sector + n) for w in range(SECTOR // 8)]
    return struct.pack("<%dQ" % len(words), *words)


def fnv_words(data):
    h = FNV_BASIS
    for (w,) in struct.iter_unpack("<Q", data):
        h = ((h ^ w) * FNV_PRIME) & MASK
    return h


def make_testdisk(path, nsect, seed):
    """A sparse DISK_SIZE image: the header sector, then nsect sectors of
    pseudo-random data.  Returns the image's bytes."""
    data = random.Random(seed).randbytes(nsect * SECTOR)
    header = ("XENIA-TESTDISK v1 %d %016x\n" % (nsect, fnv_words(data)))
    img = bytearray(DISK_SIZE)
    img[:SECTOR] = header.encode().ljust(SECTOR, b"\0")
    img[SECTOR:SECTOR * (1 + nsect)] = data
    with open(path, "wb") as f:
        f.write(img[:SECTOR * (1 + nsect)])
        f.truncate(DISK_SIZE)
    return img


def expect_writes(img, regions):
    want = bytearray(img)
    for sector, n, tag in regions:
        want[sector * SECTOR:(sector + n) * SECTOR] = pattern(sector, n, tag)
    return want


def first_difference(path, want):
    """None if the file holds want, else a description of the first
    sector that differs."""
    got = path.read_bytes()
    if len(got) != len(want):
        return "size %d, want %d" % (len(got), len(want))
    if got == want:
        return None
    for s in range(len(want) // SECTOR):
        a = got[s * SECTOR:(s + 1) * SECTOR]
        b = want[s * SECTOR:(s + 1) * SECTOR]
        if a != b:
            return "sector %d differs: %r... want %r..." % (s, a[:16], b[:16])
    return "differs"


def disk_args(*disks):
    args = ["--xenstore", "--domid", str(DOMID)]
    for path, vdev, mode in disks:
        args += ["--disk", "file:%s,%s,%s" % (path, vdev, mode)]
    return args


def assert_all_pass(p):
    assert p.returncode == 0, show(p)
    lines = verdicts(p.stdout)
    assert lines, show(p)
    assert not [l for l in lines if "FAIL" in l], show(p)
    assert "SKIP" not in p.stdout, show(p)


@pytest.mark.xenia_only("a guest domain needs hv.sock")
def test_blk_scenario(daemon, monkeypatch, tmp_path):
    """Patterns, the test disk, flush, discard, a read-only disk and a
    reconnect; then nothing the guest wrote is lost or misplaced."""
    _need_disk_vmm()
    monkeypatch.setenv("XENIA_RUNDIR", str(daemon.rundir))
    a, b = tmp_path / "a.img", tmp_path / "b.img"
    img_a = make_testdisk(a, TESTDISK_SECTORS, 1)
    img_b = make_testdisk(b, RO_TESTDISK_SECTORS, 2)

    p = run_vmm(GUEST, "test=blk", memory=32,
                extra=disk_args((a, "xvda", "w"), (b, "xvdb", "r")))
    assert_all_pass(p)
    out = p.stdout
    for want in (
            r"PASS: blk: xvda connected .*, 4 ring page\(s\)",
            r"PASS: blk: xvda: test disk checksum matches \(direct",
            r"PASS: blk: xvda: test disk checksum matches \(indirect",
            r"PASS: blk: write 11 pages, 11 segments",
            r"PASS: blk: read back 200 sectors, 3 requests in flight",
            r"PASS: blk: flush",
            r"PASS: blk: xvdb is read-only",
            r"PASS: blk: xvdb: test disk checksum matches",
            r"PASS: blk: xvdb: a write to the read-only disk gets "
            r"BLKIF_RSP_ERROR",
            r"PASS: blk: xvda \(again\) connected .*, 1 ring page\(s\)",
            r"PASS: blk: what was written before the reconnect is still",
            r"PASS: blk: xvda disconnected: both ends Closed"):
        assert re.search(want, out), (want, show(p))
    # Offered where the image's file system can punch holes.
    if "blk: discard not offered" not in out:
        assert "PASS: blk: discard 64 sectors at 2048" in out, show(p)
    sums = re.findall(r"blk: xvda: test disk: \d+ sectors, checksum "
                      r"([0-9a-f]{16})", out)
    assert sums and set(sums) == {"%016x" % fnv_words(
        bytes(img_a[SECTOR:SECTOR * (1 + TESTDISK_SECTORS)]))}, show(p)

    want = expect_writes(img_a, REGIONS +
                         [(DISK_SECTORS - 1, 1, TAG_LAST)])
    # Written, then discarded: a punched hole reads as zeros.
    want[DISCARD[0] * SECTOR:(DISCARD[0] + DISCARD[1]) * SECTOR] = \
        bytes(DISCARD[1] * SECTOR)
    assert first_difference(a, want) is None, \
        (first_difference(a, want), show(p))
    assert first_difference(b, img_b) is None, \
        ("the read-only image changed", first_difference(b, img_b))


def _ls(daemon, path):
    """xenstore-ls -f -p: {path: (value, perms)}."""
    r = subprocess.run(["xenstore-ls", "-f", "-p", path], env=daemon.env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=TIMEOUT)
    assert r.returncode == 0, (path, r.stderr)
    nodes = {}
    for line in r.stdout.splitlines():
        m = re.match(r'^(\S+) = "(.*)"\s+\((.*)\)$', line)
        assert m, line
        nodes[m.group(1)] = (m.group(2), m.group(3))
    return nodes


def _exists(daemon, path):
    return subprocess.run(["xenstore-exists", path], env=daemon.env,
                          stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL,
                          timeout=TIMEOUT).returncode == 0


@pytest.mark.xenia_only("a guest domain needs hv.sock")
def test_blk_xenstore_layout(daemon, monkeypatch, tmp_path):
    """While the guest is connected, both directories of each disk are
    laid out as libxl does; they are gone once the domain is."""
    _need_disk_vmm()
    monkeypatch.setenv("XENIA_RUNDIR", str(daemon.rundir))
    a, b = tmp_path / "a.img", tmp_path / "b.img"
    make_testdisk(a, TESTDISK_SECTORS, 3)
    make_testdisk(b, RO_TESTDISK_SECTORS, 4)
    args = [str(VMM), "--kernel", str(GUEST), "--memory", "32",
            "--vcpus", "1", "--cmdline", "test=blk blk-pause"] + \
        disk_args((a, "xvda", "w"), (b, "xvdb", "r"))
    proc = subprocess.Popen(args, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        lines = Lines(proc)
        deadline = time.monotonic() + TIMEOUT
        seen = []
        while True:
            line = lines.next(deadline)
            assert line is not None, ("no pause", seen, _stop(proc))
            seen.append(line)
            if line == "blk: paused until data/blk-resume is written":
                break

        home = "/local/domain/%d" % DOMID
        fe = "%s/device/vbd/%d" % (home, XVDA)
        be = "/local/domain/0/backend/vbd/%d/%d" % (DOMID, XVDA)
        fe_b = "%s/device/vbd/%d" % (home, XVDB)
        be_b = "/local/domain/0/backend/vbd/%d/%d" % (DOMID, XVDB)
        front = _ls(daemon, home + "/device/vbd")
        back = _ls(daemon, "/local/domain/0/backend/vbd/%d" % DOMID)

        def val(nodes, path):
            assert path in nodes, (path, sorted(nodes))
            return nodes[path][0]

        # The frontend's directory: the guest's, dom0 may read it.
        assert front[fe][1] == "n%d,r0" % DOMID, front[fe]
        assert val(front, fe + "/backend") == be
        assert val(front, fe + "/backend-id") == "0"
        assert val(front, fe + "/virtual-device") == str(XVDA)
        assert val(front, fe + "/device-type") == "disk"
        assert val(front, fe + "/state") == "4"
        assert val(front, fe + "/protocol") == "x86_64-abi"
        assert val(front, fe + "/event-channel").isdigit()
        order = int(val(front, fe + "/ring-page-order"))
        assert order == 2
        for i in range(1 << order):
            assert val(front, fe + "/ring-ref%d" % i).isdigit()
        # The backend's: dom0's, the guest may read it.
        assert back[be][1] == "n0,r%d" % DOMID, back[be]
        assert val(back, be + "/frontend") == fe
        assert val(back, be + "/frontend-id") == str(DOMID)
        assert val(back, be + "/online") == "1"
        assert val(back, be + "/state") == "4"
        assert val(back, be + "/params") == str(a)
        assert val(back, be + "/type") == "file"
        assert val(back, be + "/mode") == "w"
        assert val(back, be + "/dev") == "xvda"
        assert val(back, be + "/sectors") == str(DISK_SECTORS)
        assert val(back, be + "/sector-size") == "512"
        assert int(val(back, be + "/info")) & 4 == 0
        assert val(back, be + "/feature-flush-cache") == "1"
        assert int(val(back, be + "/feature-max-indirect-segments")) > 0
        assert int(val(back, be + "/max-ring-page-order")) >= order
        # xvdb: not connected yet, the backend waits; read-only.
        assert val(front, fe_b + "/backend") == be_b
        assert val(front, fe_b + "/state") == "1"
        assert val(back, be_b + "/state") == "2"
        assert val(back, be_b + "/mode") == "r"
        assert int(val(back, be_b + "/info")) & 4 == 4

        r = subprocess.run(["xenstore-write", home + "/data/blk-resume",
                            "1"], env=daemon.env, timeout=TIMEOUT)
        assert r.returncode == 0
        out, err = proc.communicate(timeout=TIMEOUT)
        out = "\n".join(seen) + "\n" + out.decode(errors="replace")
        err = err.decode(errors="replace")
        assert proc.returncode == 0, (proc.returncode, out, err)
        assert "blk: resumed" in out, out
        assert not [l for l in verdicts(out) if "FAIL" in l], out
    finally:
        _stop(proc)
    # Teardown: the VMM removes both directories when the domain ends.
    assert not _exists(daemon, fe)
    assert not _exists(daemon, "/local/domain/0/backend/vbd/%d" % DOMID)


@pytest.mark.xenia_only("a guest domain needs hv.sock")
def test_blk_hostile(daemon, monkeypatch, tmp_path):
    """Every malformed request is answered with an error, bad connects and
    a corrupt ring cost only that connection, and the VMM serves on until
    the guest powers off; no bad request reached the image."""
    _need_disk_vmm()
    monkeypatch.setenv("XENIA_RUNDIR", str(daemon.rundir))
    a = tmp_path / "a.img"
    img_a = make_testdisk(a, TESTDISK_SECTORS, 5)
    p = run_vmm(GUEST, "test=blk-hostile", memory=32,
                extra=disk_args((a, "xvda", "w")))
    assert_all_pass(p)
    out = p.stdout
    assert len([l for l in verdicts(out)
                if re.search(r"answered -[12] with its id rc=0", l)]) >= 20, \
        show(p)
    for want in (
            r"PASS: blk-hostile: READ into a page granted read-only",
            r"PASS: blk-hostile: the read-only page was not written",
            r"PASS: blk-hostile: WRITE from a page granted to domain 7",
            r"PASS: blk-hostile: after \d+ bad requests the device is "
            r"still Connected",
            r"PASS: blk-hostile: a ring-ref that grants nothing: the "
            r"backend goes Closing",
            r"PASS: blk-hostile: an event channel that is not ours",
            r"PASS: blk-hostile: a corrupt req_prod: the backend stops "
            r"serving the ring",
            r"PASS: blk-hostile: after the corrupt ring a good write and "
            r"read work",
            r"PASS: blk-hostile: every grant of the test can be ended"):
        assert re.search(want, out), (want, show(p))
    assert "domain: shutdown (poweroff)" in p.stderr, show(p)
    want = expect_writes(img_a, HOSTILE_REGIONS)
    assert first_difference(a, want) is None, \
        (first_difference(a, want), show(p))


@pytest.mark.parametrize("scenario", ["blk", "blk-hostile"])
def test_blk_skips_without_a_store(scenario):
    """No --xenstore: no store ring, one SKIP line, exit 0."""
    _need_guest()
    p = run_vmm(GUEST, "test=" + scenario, memory=32)
    assert p.returncode == 0, show(p)
    assert "SKIP: %s: no store ring" % scenario in p.stdout.splitlines(), \
        show(p)
    assert verdicts(p.stdout) == [], show(p)


@pytest.mark.xenia_only("a guest domain needs hv.sock")
@pytest.mark.parametrize("scenario", ["blk", "blk-hostile"])
def test_blk_skips_without_a_disk(daemon, monkeypatch, scenario):
    """A store but no --disk: no xvda, a SKIP line, exit 0."""
    _need_guest()
    monkeypatch.setenv("XENIA_RUNDIR", str(daemon.rundir))
    p = run_vmm(GUEST, "test=" + scenario, memory=32,
                extra=["--xenstore"])
    assert p.returncode == 0, show(p)
    assert "SKIP: %s: no vbd xvda (0 vbds)" % scenario in \
        p.stdout.splitlines(), show(p)
    assert not [l for l in verdicts(p.stdout) if "FAIL" in l], show(p)


@pytest.mark.xenia_only("a guest domain needs hv.sock")
def test_blk_on_a_block_device(daemon, monkeypatch, tmp_path):
    """phy: disks: the same scenario on a loop device over the image; what
    the guest wrote is in the image once the device is detached."""
    _need_disk_vmm()
    if os.geteuid() != 0 or not shutil.which("losetup"):
        pytest.skip("loop devices need root and losetup")
    monkeypatch.setenv("XENIA_RUNDIR", str(daemon.rundir))
    a = tmp_path / "a.img"
    img_a = make_testdisk(a, TESTDISK_SECTORS, 3)
    lo = subprocess.run(["losetup", "-f", "--show", str(a)],
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        text=True)
    if lo.returncode != 0:
        pytest.skip("no loop device here: %s" % lo.stderr.strip())
    dev = lo.stdout.strip()
    try:
        p = run_vmm(GUEST, "test=blk", memory=32,
                    extra=["--xenstore", "--domid", str(DOMID),
                           "--disk", "phy:%s,xvda,w" % dev])
    finally:
        subprocess.run(["losetup", "-d", dev], check=True)
    assert_all_pass(p)
    assert "PASS: blk: flush" in p.stdout, show(p)
    want = expect_writes(img_a, REGIONS + [(DISK_SECTORS - 1, 1, TAG_LAST)])
    # Discard is not offered on block devices: the range keeps its data,
    # as the guest left it (patterns written there are checked above).
    if "PASS: blk: discard" in p.stdout:
        want[DISCARD[0] * SECTOR:(DISCARD[0] + DISCARD[1]) * SECTOR] = \
            bytes(DISCARD[1] * SECTOR)
    assert first_difference(a, want) is None, \
        (first_difference(a, want), show(p))
