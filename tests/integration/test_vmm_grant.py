"""Grant table v1: the test guest's test=grant scenario under xenia-vmm.

The guest sets the version, sizes and places its table, grants pages to
its own domain id and copies through them with GNTTABOP_copy, and throws
hostile arguments at every op (bad references, ungranted entries, copies
past the page end, bad domains, frames outside RAM, huge counts, bad
pointers).  Each check prints one PASS/FAIL line; the guest powers off
(exit 0) only if all passed, and must reach its last check: a VMM that
kills the domain on a bad argument loses the lines after it.
"""

import re

import pytest

from test_vmm import GUEST, _need_guest, run_vmm, show, verdicts

# Every check of guest/tests/grant.c, in order: change with the scenario.
GRANT_CHECKS = 48


def _grant_lines(p):
    return [l for l in verdicts(p.stdout) if ": grant: " in l]


@pytest.mark.parametrize("domid", [None, "5", "32000"])
def test_grant_scenario(domid):
    """Every check passes, under the default domain id and others: the
    guest learns its id from CPUID and grants to it."""
    _need_guest()
    extra = ["--domid", domid] if domid else []
    p = run_vmm(GUEST, "test=grant", extra=extra)
    assert p.returncode == 0, show(p)
    lines = _grant_lines(p)
    assert not [l for l in lines if l.startswith("FAIL")], show(p)
    assert len(lines) == GRANT_CHECKS, show(p)
    want = domid or "1"
    assert "PASS: grant: our domid from CPUID is %s" % want in lines, show(p)


def test_grant_hostile_copies_answered_with_xen_status():
    """The hostile copies get Xen's GNTST_* codes, one per element."""
    _need_guest()
    p = run_vmm(GUEST, "test=grant")
    assert p.returncode == 0, show(p)
    out = p.stdout
    expect = [
        (r"gref \d+ past the table status=(-?\d+)", -3),    # bad_gntref
        (r"gref 0xffffffff status=(-?\d+)", -3),
        (r"ungranted gref \d+ status=(-?\d+)", -1),         # general_error
        (r"read-only gref \d+ refused status=(-?\d+)", -1),
        (r"past the end of the dest page status=(-?\d+)", -10),
        (r"gref of domain 7 status=(-?\d+)", -2),           # bad_domain
        (r"instead of DOMID_SELF status=(-?\d+)", -8),      # permission
        (r"gmfn 0x10000000 outside RAM status=(-?\d+)", -9),  # bad_page
        (r"batch of 3, statuses (-?\d+) (-?\d+) (-?\d+)", None),
    ]
    for pat, status in expect:
        m = re.search(pat, out)
        assert m, "%s\n%s" % (pat, show(p))
        if status is None:
            assert [int(g) for g in m.groups()] == [0, -3, 0], show(p)
        else:
            assert int(m.group(1)) == status, show(p)


def test_grant_in_default_run():
    """The default run (no test=) includes the grant checks."""
    _need_guest()
    p = run_vmm(GUEST, "")
    assert p.returncode == 0, show(p)
    lines = _grant_lines(p)
    assert len(lines) == GRANT_CHECKS, show(p)
    assert not [l for l in verdicts(p.stdout) if "FAIL" in l], show(p)
