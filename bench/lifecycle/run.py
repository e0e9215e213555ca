#!/usr/bin/python3
"""Domain lifecycle through xend: creates and destroys per second, API
latency, and density (how many idle test-guest domains one host holds with
xend still answering in under 100 ms, and the memory each costs).

    bench/lifecycle/run.py            (or: make bench)

Environment (all optional):
    XENIA_BUILD   the build directory (default build/)
    CREATES       domains for the create/destroy rate (default 40)
    DENSITY       the most idle domains to start (default 220)
    MEMORY        MiB per domain (default 16)

The peer in the same run is the floor: the same number of xenia-vmm
processes started directly (no xend, no API), one after the other, each
waited for until its domain is up in XenStore.  "xend's share" is the
ratio of the two rates.  Prints figures only; a benchmark does not pass or
fail.
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "tests" / "integration"))

from xendlib import GUEST, VMM, XendHost, guest_config  # noqa: E402

CREATES = int(os.environ.get("CREATES", "40"))
DENSITY = int(os.environ.get("DENSITY", "220"))
MEMORY = int(os.environ.get("MEMORY", "16"))
LATENCY_LIMIT_MS = 100.0


def ms(t):
    return t * 1000.0


def timed(fn, *args):
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t


def latency(host, path, n=20):
    v = sorted(timed(host.api, "GET", path) for _ in range(n))
    return ms(statistics.median(v)), ms(v[-1])


def pss_kib(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def mem_available_kib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1])
    return 0


def bench_rate(host):
    names = ["rate%d" % i for i in range(CREATES)]
    t0 = time.perf_counter()
    for n in names:
        host.create(guest_config(n, memory=MEMORY))
    t_create = time.perf_counter() - t0
    t0 = time.perf_counter()
    for n in names:
        host.action(n, "destroy")
    t_destroy = time.perf_counter() - t0

    # Four clients at once (the API has a small thread pool).
    t0 = time.perf_counter()
    with ThreadPoolExecutor(4) as ex:
        list(ex.map(lambda n: host.create(guest_config(n, memory=MEMORY)),
                    names))
    t_par = time.perf_counter() - t0
    with ThreadPoolExecutor(4) as ex:
        list(ex.map(lambda n: host.action(n, "destroy"), names))
    return CREATES / t_create, CREATES / t_destroy, CREATES / t_par


def bench_floor(host):
    """xenia-vmm started directly, as xend would, minus xend."""
    procs = []
    t0 = time.perf_counter()
    for i in range(CREATES):
        domid = 30000 + i
        r, w = os.pipe()
        p = subprocess.Popen(
            [str(VMM), "--kernel", str(GUEST), "--memory", str(MEMORY),
             "--cmdline", "test=idle", "--domid", str(domid), "--xenstore",
             "--name", "floor%d" % i, "--console", "none",
             "--ready-fd", str(w)],
            env=host.env, pass_fds=(w,), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        os.close(w)
        os.read(r, 16)
        os.close(r)
        procs.append(p)
    rate = CREATES / (time.perf_counter() - t0)
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(20)
    return rate


def bench_density(host):
    rows = []
    base_avail = mem_available_kib()
    n = 0
    step = 25
    while n < DENSITY:
        try:
            for _ in range(min(step, DENSITY - n)):
                host.create(guest_config("idle%d" % n, memory=MEMORY))
                n += 1
        except Exception as e:  # a failed create ends the climb
            print("  create %d failed: %s" % (n + 1, e))
            break
        time.sleep(1.0)  # let them settle into SCHEDOP_block
        list_p50, list_max = latency(host, "/v1/domains", 10)
        info_p50, info_max = latency(host, "/v1/info", 10)
        doms = host.api("GET", "/v1/domains")["domains"][1:]
        pss = sum(pss_kib(d["pid"]) for d in doms if d.get("pid"))
        used = base_avail - mem_available_kib()
        rows.append((n, list_p50, list_max, info_p50, info_max,
                     pss / max(n, 1), used / max(n, 1)))
        print("  %4d domains: list p50 %6.1f max %6.1f ms, info p50 %5.1f "
              "max %5.1f ms, PSS/domain %6.0f KiB, host memory/domain "
              "%6.0f KiB" % rows[-1], flush=True)
        if info_max > LATENCY_LIMIT_MS:
            print("  xend answered info in %.0f ms: stopping" % info_max)
            break
    return rows


def main():
    host = XendHost(rundir=tempfile.mkdtemp(prefix="xl", dir="/tmp"))
    host.start()
    try:
        print("lifecycle: %d creates of a %d MiB test=idle domain" %
              (CREATES, MEMORY))
        floor = bench_floor(host)
        seq, destroy, par = bench_rate(host)
        print("  creates/s  xend %.1f (sequential), %.1f (4 clients); "
              "destroys/s %.1f" % (seq, par, destroy))
        print("  floor: xenia-vmm started directly %.1f/s; xend's share "
              "%.2f (goal: >= 20 creates/s)" % (floor, seq / floor))
        p50, mx = latency(host, "/v1/info", 50)
        print("  API latency (idle host): info p50 %.2f ms, max %.2f ms"
              % (p50, mx))
        print("density: idle domains of %d MiB, up to %d (goal: >= 200 "
              "with xend answering in < %.0f ms)" %
              (MEMORY, DENSITY, LATENCY_LIMIT_MS))
        rows = bench_density(host)
        if rows:
            last = rows[-1]
            print("  held %d idle domains; list p50 %.1f ms, info max %.1f "
                  "ms; %.0f KiB PSS and %.0f KiB host memory per domain" %
                  (last[0], last[1], last[4], last[5], last[6]))
    finally:
        host.stop()


if __name__ == "__main__":
    main()
