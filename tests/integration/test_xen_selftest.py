"""Xen's own conformance test, test-xenstore, against the daemon."""

import subprocess

import pytest

from conftest import TEST_XENSTORE

# The tests test-xenstore 4.17 lists with -l; the list is checked below
# so that a newer tool with more tests is noticed.
KNOWN_TESTS = [
    "read 1", "read 2000", "write 1", "write 2000", "dir", "rm node",
    "rm dir", "ta empty", "ta empty x", "ta rmw", "ta rmw x", "ta err",
]

pytestmark = pytest.mark.skipif(not TEST_XENSTORE.exists(),
                                reason="%s not installed" % TEST_XENSTORE)


def run_selftest(daemon, *args, timeout=60):
    r = subprocess.run([str(TEST_XENSTORE)] + list(args), env=daemon.env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout)
    output = r.stdout.decode(errors="replace")
    # test-xenstore exits 0 even when a test fails; it prints
    # "<name>: failed (ret = N, stage S)" instead.
    assert "failed" not in output, output
    return r.returncode, output


def listed_tests():
    r = subprocess.run([str(TEST_XENSTORE), "-l"], stdout=subprocess.PIPE,
                       timeout=30, check=True)
    names = []
    for line in r.stdout.decode().splitlines():
        if ":" in line:
            names.append(line.split(":", 1)[0].strip())
    return names


def test_list_matches_known_tests():
    assert listed_tests() == KNOWN_TESTS


def test_all(daemon, dom0):
    rc, output = run_selftest(daemon)
    assert rc == 0, output
    for name in KNOWN_TESTS:
        assert name in output, output
    # The tool cleans up after itself: the daemon's tree is as before.
    assert dom0.alive()


@pytest.mark.parametrize("name", KNOWN_TESTS)
def test_single(daemon, name):
    rc, output = run_selftest(daemon, "-t", name)
    assert rc == 0, output
    assert output.startswith(name), output


def test_iterations(daemon):
    rc, output = run_selftest(daemon, "-i", "25")
    assert rc == 0, output
    assert "avg:" in output, output


def test_random_mix(daemon, dom0):
    # -r: random tests for the given number of seconds.
    rc, output = run_selftest(daemon, "-r", "3")
    assert rc == 0, output
    assert dom0.alive()
