"""xenia-vmm boots the test guest (PVH) and rejects bad kernels.

The VMM is build/xenia-vmm (or build/vmm/xenia-vmm, or $XENIA_VMM); the
guest is build/guest/test-guest.elf (or $XENIA_TEST_GUEST).  Tests skip,
with the reason printed, when /dev/kvm or either binary is missing.
"""

import os
import random
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "build"
TIMEOUT = 60
MEMORY = "64"


def _vmm():
    env = os.environ.get("XENIA_VMM")
    cands = [Path(env)] if env else [BUILD / "xenia-vmm",
                                     BUILD / "vmm" / "xenia-vmm"]
    for c in cands:
        if c.exists():
            return c
    return None


VMM = _vmm()
GUEST = Path(os.environ.get("XENIA_TEST_GUEST",
                            BUILD / "guest" / "test-guest.elf"))


def _need_vmm():
    if not os.path.exists("/dev/kvm"):
        pytest.skip("/dev/kvm is missing")
    if VMM is None:
        pytest.skip("xenia-vmm is not built (build/xenia-vmm)")


def _need_guest():
    _need_vmm()
    if not GUEST.exists():
        pytest.skip("the test guest is not built yet (%s)" % GUEST)


def run_vmm(kernel, cmdline=None, memory=MEMORY, extra=()):
    args = [str(VMM), "--kernel", str(kernel), "--memory", str(memory),
            "--vcpus", "1"]
    if cmdline is not None:
        args += ["--cmdline", cmdline]
    args += list(extra)
    return subprocess.run(args, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=TIMEOUT,
                          text=True, errors="replace")


def show(p):
    return "exit %d\nstdout:\n%s\nstderr:\n%s" % (p.returncode, p.stdout,
                                                   p.stderr)


def verdicts(out):
    return [l for l in out.splitlines() if "PASS" in l or "FAIL" in l]


def assert_clean_failure(p):
    """Exit 1 with an error line from the loader, not a signal."""
    assert p.returncode == 1, show(p)
    assert re.search(r"xenia-vmm: error: loader: ", p.stderr), show(p)
    assert "Traceback" not in p.stderr


# --- the test guest ---------------------------------------------------------

def test_boot():
    _need_guest()
    p = run_vmm(GUEST, "test=boot")
    assert p.returncode == 0, show(p)
    assert "xenia test guest: boot" in p.stdout.splitlines(), show(p)


def test_default_run_all_pass():
    _need_guest()
    p = run_vmm(GUEST, "")
    assert p.returncode == 0, show(p)
    lines = verdicts(p.stdout)
    assert lines, show(p)
    assert not [l for l in lines if "FAIL" in l], show(p)


def test_badargs():
    _need_guest()
    p = run_vmm(GUEST, "test=badargs")
    assert p.returncode == 0, show(p)
    assert not [l for l in verdicts(p.stdout) if "FAIL" in l], show(p)


@pytest.mark.parametrize("scenario", ["evtchn", "timer"])
def test_events_and_time(scenario):
    """Event channels through the callback vector; pvclock and timers."""
    _need_guest()
    p = run_vmm(GUEST, "test=" + scenario)
    assert p.returncode == 0, show(p)
    lines = verdicts(p.stdout)
    assert [l for l in lines if "PASS: %s:" % scenario in l], show(p)
    assert not [l for l in lines if "FAIL" in l], show(p)


def test_shutdown_code_latched():
    """SCHEDOP_shutdown_code: the first latched code names the shutdown."""
    _need_guest()
    p = run_vmm(GUEST, "test=shutdown-code")
    lines = verdicts(p.stdout)
    assert len(lines) == 4 and not [l for l in lines if "FAIL" in l], show(p)
    # The guest powered off; the latched reboot is what the domain reports.
    assert p.returncode == 64 + 1, show(p)
    assert "reported as the latched reboot" in p.stderr, show(p)


def test_domid_reaches_the_guest():
    """--domid is the id in CPUID leaf 0x40000004 and in grant entries."""
    _need_guest()
    p = run_vmm(GUEST, "test=grant", extra=["--domid", "77"])
    assert p.returncode == 0, show(p)
    assert "PASS: grant: our domid from CPUID is 77" in p.stdout, show(p)


def test_initrd_and_more_vcpus_accepted(tmp_path):
    _need_guest()
    initrd = tmp_path / "initrd"
    initrd.write_bytes(b"\0" * 8192)
    args = [str(VMM), "--kernel", str(GUEST), "--memory", MEMORY,
            "--vcpus", "2", "--cmdline", "test=boot", "--initrd",
            str(initrd)]
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=TIMEOUT, text=True, errors="replace")
    assert p.returncode == 0, show(p)
    assert "xenia test guest: boot" in p.stdout, show(p)


# --- bad kernels: exit 1 with a clear message ------------------------------

def test_random_file_rejected(tmp_path):
    _need_vmm()
    k = tmp_path / "random.bin"
    k.write_bytes(random.Random(3).randbytes(65536))
    p = run_vmm(k, "test=boot")
    assert_clean_failure(p)
    assert "not an ELF file" in p.stderr, show(p)


def test_empty_file_rejected(tmp_path):
    _need_vmm()
    k = tmp_path / "empty"
    k.write_bytes(b"")
    assert_clean_failure(run_vmm(k))


def loaded_end(data):
    """One past the last file byte of a PT_LOAD segment of an ELF64."""
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    end = 0
    for i in range(phnum):
        p_type, _, p_offset = struct.unpack_from("<IIQ", data,
                                                 phoff + i * phentsize)
        p_filesz, = struct.unpack_from("<Q", data,
                                       phoff + i * phentsize + 0x20)
        if p_type == 1:
            end = max(end, p_offset + p_filesz)
    return end


# Cut inside what must be loaded: what lies past it (debug info, section
# headers) is not needed to boot, so a cut there is not an error.
@pytest.mark.parametrize("frac", [0.0005, 0.01, 0.5, 0.999])
def test_truncated_guest_rejected(tmp_path, frac):
    _need_guest()
    data = GUEST.read_bytes()
    k = tmp_path / "truncated.elf"
    k.write_bytes(data[:int(loaded_end(data) * frac)])
    p = run_vmm(k, "test=boot")
    assert_clean_failure(p)
    assert "truncated" in p.stderr or "PVH" in p.stderr, show(p)


def test_elf_without_pvh_note_rejected(tmp_path):
    _need_guest()
    objcopy = shutil.which("objcopy")
    if objcopy is None:
        pytest.skip("objcopy (binutils) is missing")
    k = tmp_path / "nonote.elf"
    subprocess.run([objcopy, "-R", ".note.Xen", str(GUEST), str(k)],
                   check=True, capture_output=True)
    p = run_vmm(k, "test=boot")
    assert_clean_failure(p)
    assert "no PVH entry point" in p.stderr, show(p)


def test_host_binary_rejected():
    _need_vmm()
    p = run_vmm("/bin/true", "test=boot")
    assert_clean_failure(p)


def test_memory_too_small():
    _need_guest()
    p = run_vmm(GUEST, "test=boot", memory="1")
    assert_clean_failure(p)
    assert "outside guest RAM" in p.stderr, show(p)


def test_missing_kernel_file(tmp_path):
    _need_vmm()
    p = run_vmm(tmp_path / "nope.elf")
    assert_clean_failure(p)


# --- usage -------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    [],
    ["--kernel", "/bin/true"],
    ["--kernel", "/bin/true", "--memory", "0"],
    ["--kernel", "/bin/true", "--memory", "12x"],
    ["--kernel", "/bin/true", "--memory", "64", "--vcpus", "0"],
    ["--kernel", "/bin/true", "--memory", "64", "--bogus"],
    ["--kernel", "/bin/true", "--memory", "64", "--domid", "0"],
    ["--kernel", "/bin/true", "--memory", "64", "--domid", "32752"],
    ["--kernel", "/bin/true", "--memory", "64", "--domid", "-3"],
])
def test_usage_errors(args):
    _need_vmm()
    p = subprocess.run([str(VMM)] + args, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=TIMEOUT, text=True)
    assert p.returncode == 2, show(p)
    assert p.stderr, show(p)
