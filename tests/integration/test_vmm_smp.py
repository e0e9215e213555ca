"""SMP: the test guest brings its secondary vCPUs up through VCPUOP_initialise
and VCPUOP_up and exercises them (test=smp, guest/tests/smp.c).

Same binaries and skips as test_vmm.py.  A later --vcpus wins over the
--vcpus 1 that run_vmm passes first.
"""

import pytest

from test_vmm import GUEST, _need_guest, run_vmm, show, verdicts


def smp_lines(vcpus):
    """The verdicts test=smp prints: fixed ones, then three per AP."""
    return 9 if vcpus == 1 else 33 + 3 * (vcpus - 1)


@pytest.mark.parametrize("vcpus", [1, 2, 4])
def test_smp_scenario(vcpus):
    _need_guest()
    p = run_vmm(GUEST, "test=smp", extra=["--vcpus", str(vcpus)])
    assert p.returncode == 0, show(p)
    lines = verdicts(p.stdout)
    assert not [l for l in lines if "FAIL" in l], show(p)
    assert len(lines) == smp_lines(vcpus), show(p)
    assert all(l.startswith("PASS: smp: ") for l in lines), show(p)
    assert "PASS: smp: %u vCPU(s), vCPU 0 is_up=1" % vcpus in lines, show(p)
    if vcpus == 1:
        assert "PASS: smp: one vCPU: nothing to bring up" in lines, show(p)
        return
    for i in range(1, vcpus):
        assert [l for l in lines
                if l.startswith("PASS: smp: vCPU %u online: LAPIC id %u,"
                                % (i, i))], show(p)
        assert [l for l in lines
                if l.startswith("PASS: smp: IPI vCPU 0 -> %u on port" % i)
                and "taken by vCPU %u;" % i in l], show(p)
    # Four vCPUs: the last AP starts in 32-bit mode, the others in 64-bit.
    if vcpus >= 3:
        assert [l for l in lines
                if "vCPU %u: initialise (32-bit) rc=0" % (vcpus - 1) in l], \
            show(p)
    assert [l for l in lines if "VIRQ_TIMER on vCPU 1:" in l
            and "taken by vCPU 1 rc=0" in l], show(p)
    assert [l for l in lines
            if "event to down vCPU 1 stays pending (taken 0 times" in l], \
        show(p)


def test_default_run_two_vcpus():
    """Every default scenario, test=smp among them, with an AP to bring up."""
    _need_guest()
    p = run_vmm(GUEST, "", extra=["--vcpus", "2"])
    assert p.returncode == 0, show(p)
    lines = verdicts(p.stdout)
    assert not [l for l in lines if "FAIL" in l], show(p)
    smp = [l for l in lines if l.startswith("PASS: smp: ")]
    assert len(smp) == smp_lines(2), show(p)
    # Other scenarios ran too.
    assert len(lines) > len(smp), show(p)
