#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Write the seed corpora of the fuzz harnesses (fuzz/*.c).

    make-fuzz-corpus.py OUTDIR

creates OUTDIR/fuzz_wire, fuzz_ring, fuzz_journal, fuzz_elf,
fuzz_vmm_state, fuzz_blkif, fuzz_netif, fuzz_domcfg and fuzz_stream with a few small inputs each, in the input formats described at the top of each
harness.  The seeds are generated, not committed: scripts/run-fuzz.sh calls
this when a corpus directory is missing.  Standard library only.
"""
import json
import os
import struct
import sys
import zlib

# xs_wire.h message types
XS_CONTROL, XS_DIRECTORY, XS_READ, XS_GET_PERMS, XS_WATCH, XS_UNWATCH = range(6)
XS_TRANSACTION_START, XS_TRANSACTION_END, XS_INTRODUCE, XS_RELEASE = range(6, 10)
XS_GET_DOMAIN_PATH, XS_WRITE, XS_MKDIR, XS_RM, XS_SET_PERMS = range(10, 15)
XS_IS_DOMAIN_INTRODUCED, XS_RESUME, XS_SET_TARGET = 17, 18, 19
XS_RESET_WATCHES, XS_DIRECTORY_PART = 21, 22


def z(*parts):
    """NUL-terminated strings, concatenated: the wire's argument lists."""
    return b"".join(p.encode() + b"\0" for p in parts)


def wv(path, value):
    """A WRITE payload: the path's NUL, then the value without one."""
    return path.encode() + b"\0" + value.encode()


# --- fuzz_wire: (selector, action) chunks -------------------------------

DOM0, DOM1, DOM2 = 0, 1, 2
A_RAW, A_MSG, A_DRAIN, A_DRAIN_ALL, A_LIFE = 0, 2, 5, 6, 7


def w_msg(conn, mtype, payload=b"", tx=0):
    return bytes([conn + 3 * A_MSG, mtype, tx]) + \
        struct.pack("<H", len(payload)) + payload


def w_raw(conn, data):
    assert len(data) < 256
    return bytes([conn + 3 * A_RAW, len(data)]) + data


def w_drain(conn, n=0):
    return bytes([conn + 3 * A_DRAIN, n])


def w_drain_all(conn):
    return bytes([conn + 3 * A_DRAIN_ALL])


def w_life(conn, what, arg=None):
    return bytes([conn + 3 * A_LIFE, what]) + (bytes([arg]) if arg is not None
                                               else b"")


def hdr(mtype, length, req_id=1, tx=0):
    return struct.pack("<IIII", mtype, req_id, tx, length)


def wire_seeds():
    s = {}
    s["basic"] = b"".join([
        w_msg(DOM0, XS_WRITE, wv("/a/b", "hello")),
        w_msg(DOM0, XS_READ, z("/a/b")),
        w_msg(DOM0, XS_DIRECTORY, z("/a")),
        w_msg(DOM0, XS_GET_PERMS, z("/a/b")),
        w_msg(DOM0, XS_MKDIR, z("/a/c")),
        w_msg(DOM0, XS_DIRECTORY_PART, z("/a", "0")),
        w_msg(DOM0, XS_RM, z("/a")),
        w_drain_all(DOM0),
    ])
    s["guest"] = b"".join([
        w_msg(DOM0, XS_WRITE, wv("/local/domain/1/data", "")),
        w_msg(DOM0, XS_SET_PERMS, z("/local/domain/1", "n1", "r2")),
        w_msg(DOM1, XS_WRITE, wv("data/x", "v1")),
        w_msg(DOM1, XS_READ, z("data/x")),
        w_msg(DOM1, XS_SET_PERMS, z("data/x", "n1", "b2")),
        w_msg(DOM2, XS_READ, z("/local/domain/1/data/x")),
        w_msg(DOM2, XS_WRITE, wv("/local/domain/1/data/x", "v2")),
        w_msg(DOM1, XS_GET_DOMAIN_PATH, z("1")),
        w_drain_all(DOM1),
        w_drain_all(DOM2),
    ])
    s["txn"] = b"".join([
        w_msg(DOM0, XS_TRANSACTION_START, z("")),
        w_msg(DOM0, XS_WRITE, wv("/t/a", "1"), tx=1),
        w_msg(DOM0, XS_WRITE, wv("/t/b", "2"), tx=1),
        w_msg(DOM0, XS_RM, z("/t/a"), tx=1),
        w_msg(DOM0, XS_TRANSACTION_END, z("T"), tx=1),
        w_msg(DOM1, XS_TRANSACTION_START, z("")),
        w_msg(DOM1, XS_WRITE, wv("data/t", "x"), tx=1),
        w_msg(DOM1, XS_TRANSACTION_END, z("F"), tx=1),
        w_drain_all(DOM0),
        w_drain_all(DOM1),
    ])
    s["watch"] = b"".join([
        w_msg(DOM0, XS_WATCH, z("/w", "tok")),
        w_msg(DOM0, XS_WATCH, z("@releaseDomain", "rel")),
        w_msg(DOM1, XS_WATCH, z("data", "rel-tok")),
        w_msg(DOM0, XS_WRITE, wv("/w/k", "1")),
        w_msg(DOM1, XS_WRITE, wv("data/k", "1")),
        w_drain(DOM0, 2),
        w_life(DOM2, 0),
        w_msg(DOM0, XS_RM, z("/w")),
        w_msg(DOM0, XS_UNWATCH, z("/w", "tok")),
        w_msg(DOM1, XS_RESET_WATCHES),
        w_drain_all(DOM0),
        w_drain_all(DOM1),
    ])
    s["domains"] = b"".join([
        w_msg(DOM0, XS_IS_DOMAIN_INTRODUCED, z("1")),
        w_msg(DOM0, XS_SET_TARGET, z("2", "1")),
        w_msg(DOM0, XS_RESUME, z("1")),
        w_msg(DOM0, XS_RELEASE, z("2")),
        w_msg(DOM0, XS_INTRODUCE, z("2", "4097", "3")),
        w_msg(DOM0, XS_INTRODUCE, z("5", "99", "1")),
        w_msg(DOM0, XS_CONTROL, z("quota")),
        w_msg(DOM0, XS_CONTROL, z("quota", "nodes=3")),
        w_msg(DOM0, XS_CONTROL, z("stats")),
        w_msg(DOM0, XS_CONTROL, z("help")),
        w_msg(DOM0, XS_CONTROL, z("checkpoint")),
        w_msg(DOM1, XS_INTRODUCE, z("1", "1", "1")),
        w_drain_all(DOM0),
    ])
    s["quota"] = b"".join(
        [w_msg(DOM1, XS_WRITE, wv("data/n%d" % i, "x" * 40))
         for i in range(30)] +
        [w_msg(DOM1, XS_TRANSACTION_START, z("")) for _ in range(4)] +
        [w_msg(DOM1, XS_WATCH, z("data/n%d" % i, "t")) for i in range(6)] +
        [w_drain(DOM1, 4), w_drain_all(DOM1)])
    # Enough nodes for the hash table to grow, then one removal of them all.
    s["grow"] = b"".join(
        [w_msg(DOM0, XS_MKDIR, z("/g/%d" % i)) for i in range(80)] +
        [w_msg(DOM0, XS_WATCH, z("/g/7", "t")),
         w_msg(DOM0, XS_RM, z("/g")), w_drain_all(DOM0)])
    s["raw"] = b"".join([
        w_raw(DOM0, hdr(XS_WRITE, 8) + b"/r\0"),
        w_raw(DOM0, b"value"),
        w_raw(DOM1, hdr(XS_READ, 5000)),
        w_raw(DOM2, hdr(99, 2) + b"x\0"),
        w_drain_all(DOM0),
        w_drain_all(DOM2),
    ])
    s["life"] = b"".join([
        w_msg(DOM1, XS_WATCH, z("data", "t")),
        w_msg(DOM1, XS_TRANSACTION_START, z("")),
        w_life(DOM1, 2),
        w_life(DOM1, 3),
        w_life(DOM1, 0),
        w_life(DOM1, 1),
        w_life(DOM2, 4),
        w_life(DOM2, 5, 1),
        w_msg(DOM2, XS_READ, z("domid")),
        w_drain_all(DOM2),
    ])
    return s


# --- fuzz_ring: opcodes -------------------------------------------------

def r_msg(mtype, payload=b"", tx=0):
    return bytes([2, mtype, tx]) + struct.pack("<H", len(payload)) + payload


def ring_seeds():
    s = {}
    s["rw"] = b"".join([
        r_msg(XS_WRITE, wv("data/x", "1")),
        r_msg(XS_READ, z("data/x")),
        r_msg(XS_DIRECTORY, z("data")),
        bytes([3, 0]),
    ])
    s["many"] = b"".join([r_msg(XS_WRITE, wv("k%d" % i, "v" * 100))
                          for i in range(12)] + [bytes([3, 4]), bytes([3, 0])])
    s["big"] = r_msg(XS_WRITE, wv("big", "b" * 2500)) + bytes([3, 0, 3, 0])
    s["reconnect"] = b"".join([
        r_msg(XS_WATCH, z("data", "t")),
        bytes([4, 1]),
        bytes([7, 3]),
        r_msg(XS_READ, z("domid")),
        bytes([3, 0]),
    ])
    s["indexes"] = b"".join([
        bytes([0, 1]) + struct.pack("<I", 5000),
        bytes([0, 0]) + struct.pack("<I", 5000),
        bytes([1, 0, 0, 16]) + hdr(XS_READ, 0),
        bytes([0, 3]) + struct.pack("<I", 0xfffffff0),
        bytes([5, 0x14, 0x08, 1]),
    ])
    s["life"] = b"".join([
        r_msg(XS_WRITE, wv("data/x", "1")),
        bytes([6, 0, 6, 1]),
        bytes([6, 3]),
        bytes([6, 4, 6, 2]),
        r_msg(XS_READ, z("data/x")),
        bytes([3, 0]),
    ])
    return s


# --- fuzz_journal: a snapshot and a log in journal.c's format -----------

J_REC_NODE, J_REC_DELETE, J_REC_DOMAIN, J_REC_GEN, J_REC_END = 1, 2, 3, 4, 5
J_MAGIC_SNAP, J_MAGIC_LOG, J_VERSION = 0x50414e53, 0x474f4c58, 1
F_SNAP, F_LOG, F_SNAP_HDR, F_LOG_HDR = 1, 2, 4, 8
F_SAME_SEQ, F_FIX_CRC, F_USE, F_SYNC = 16, 32, 64, 128


def rec(rtype, payload):
    h = struct.pack("<II", rtype, len(payload))
    return h + payload + struct.pack("<I", zlib.crc32(h + payload))


def node(path, value=b"", perms=((0, 0),), children=(), gen=1):
    kids = b"".join(c.encode() + b"\0" for c in children)
    p = path.encode()
    return rec(J_REC_NODE,
               struct.pack("<QIIII", gen, len(p), len(value), len(perms),
                           len(kids)) + p + value +
               b"".join(struct.pack("<II", d, a) for d, a in perms) + kids)


def domain(domid, mfn=4096, port=1, target=0x7ff4, born=2):
    return rec(J_REC_DOMAIN, struct.pack("<IIQIIQ", domid, 1, mfn, port,
                                         target, born))


def snapshot_body():
    nodes = [
        node("/", children=("local", "tool")),
        node("/tool"),
        node("/local", children=("domain",)),
        node("/local/domain", children=("1",)),
        node("/local/domain/1", perms=((1, 0), (0, 1)),
             children=("name", "data")),
        node("/local/domain/1/name", b"guest", perms=((1, 0),)),
        node("/local/domain/1/data", perms=((1, 3),)),
    ]
    return (rec(J_REC_GEN, struct.pack("<Q", 10)) + b"".join(nodes) +
            domain(1) + rec(J_REC_END, struct.pack("<Q", len(nodes))))


def log_body():
    return b"".join([
        node("/local/domain/1/data", perms=((1, 3),), children=("k",),
             gen=11),
        node("/local/domain/1/data/k", b"v", perms=((1, 3),), gen=11),
        rec(J_REC_DELETE, b"/local/domain/1/name"),
        domain(2, born=12),
        rec(J_REC_GEN, struct.pack("<Q", 12)),
    ])


def journal_input(flags, seq, snap, log):
    return bytes([flags, seq]) + struct.pack("<H", len(snap)) + snap + log


def journal_seeds():
    snap, log = snapshot_body(), log_body()
    both = F_SNAP | F_LOG | F_SNAP_HDR | F_LOG_HDR | F_SAME_SEQ
    return {
        "both": journal_input(both | F_USE, 3, snap, log),
        "both-fixcrc": journal_input(both | F_FIX_CRC | F_USE, 3, snap, log),
        "snap-only": journal_input(F_SNAP | F_SNAP_HDR | F_USE | F_SYNC, 1,
                                   snap, b""),
        "log-only": journal_input(F_LOG | F_LOG_HDR | F_SAME_SEQ | F_USE, 0,
                                  b"", log),
        "stale-log": journal_input(F_SNAP | F_LOG | F_SNAP_HDR | F_LOG_HDR,
                                   4, snap, log),
        "torn": journal_input(both | F_USE, 2, snap, log[:-7]),
        "raw": journal_input(F_SNAP | F_LOG, 0, snap[:40], log[:40]),
    }


# --- fuzz_elf: a kernel file ---------------------------------------------

def elf64(entry=0x100000, paddr=0x100000, note=True, filesz=64, memsz=4096):
    """A minimal ELF64 PVH kernel: one PT_LOAD and the Xen entry note."""
    ehsize, phentsize = 64, 56
    phnum = 2 if note else 1
    desc = struct.pack("<Q", entry)
    notedata = struct.pack("<III", 4, len(desc), 18) + b"Xen\0" + desc
    code_off = ehsize + phnum * phentsize
    note_off = code_off + filesz
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    eh = ident + struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, entry, ehsize, 0, 0,
                             ehsize, phentsize, phnum, 64, 0, 0)
    ph = struct.pack("<IIQQQQQQ", 1, 5, code_off, paddr, paddr, filesz,
                     memsz, 4096)
    if note:
        ph += struct.pack("<IIQQQQQQ", 4, 4, note_off, 0, 0, len(notedata),
                          len(notedata), 4)
    return eh + ph + b"\xf4" * filesz + (notedata if note else b"")


def elf_seeds():
    return {
        "pvh": elf64(),
        "no-note": elf64(note=False),
        "big-bss": elf64(memsz=1 << 20),
        "low": elf64(paddr=0x4000, entry=0x4000),
    }


# --- fuzz_vmm_state: u16 keep, then (u16 offset, u8 value) patches --------

def vmm_state_seeds():
    return {
        "whole": struct.pack("<H", 0xffff),
        "cut": struct.pack("<H", 100),
        "patch-xen": struct.pack("<HHB", 0xffff, 18, 0x7f),
        "patch-evt": struct.pack("<HHBHB", 0xffff, 400, 2, 420, 9),
    }


# --- fuzz_blkif: u8 config, then (opcode, bytes) ops ---------------------

B_RAW, B_TEMPLATE, B_PUSH, B_REAP, B_INDIRECT, B_GRANT, B_RECONNECT = range(7)
# Template kinds: indexes into the harness's ops[] table.
K_READ, K_WRITE, K_BARRIER, K_FLUSH, K_DISCARD, K_INDIRECT = range(6)


def b_tmpl(kind, nseg=1, sector=0, ref=0, sects=0x80, flags=0, rid=1):
    """A template request: sects 0x80 = whole pages (sectors 0..7)."""
    return bytes([B_TEMPLATE, kind, nseg]) + struct.pack("<H", sector) + \
        bytes([ref, sects, flags, rid])


def b_push(corrupt=0):
    return bytes([B_PUSH, corrupt])


def b_reap(all_=1):
    return bytes([B_REAP, all_])


def blkif_seeds():
    raw_req = struct.pack("<BBHQQ", 1, 1, 0, 9, 8) + \
        struct.pack("<IBB", 33, 0, 7) + bytes(2) + bytes(80)
    s = {}
    s["rw"] = bytes([0]) + b"".join([
        b_tmpl(K_WRITE, nseg=3, sector=8, rid=1),
        b_tmpl(K_READ, nseg=3, sector=8, ref=20, rid=2),
        b_push(), b_reap(),
        b_tmpl(K_READ, nseg=11, sector=0, rid=3),
        b_push(), b_reap(0), b_reap(),
    ])
    s["multi-page"] = bytes([3]) + b"".join(
        [b_tmpl(K_WRITE if i % 2 else K_READ, nseg=1 + i % 11,
                sector=i % 100, ref=i, rid=i) for i in range(40)] +
        [b_push(), b_reap()])
    s["indirect"] = bytes([1]) + b"".join([
        b_tmpl(K_INDIRECT, nseg=16, ref=0, flags=1, rid=4),
        b_push(), b_reap(),
        bytes([B_INDIRECT, 0]) + struct.pack("<H", 3) +
        struct.pack("<IBB", 40, 2, 5),
        b_tmpl(K_INDIRECT, nseg=16, ref=0, flags=0, rid=5),
        b_push(), b_reap(),
    ])
    s["flush-barrier"] = bytes([0]) + b"".join([
        b_tmpl(K_WRITE, nseg=2, sector=16, rid=6),
        b_tmpl(K_FLUSH, nseg=0, rid=7),
        b_tmpl(K_READ, nseg=1, sector=16, rid=8),
        b_tmpl(K_BARRIER, nseg=1, sector=24, rid=9),
        b_tmpl(K_READ, nseg=1, sector=24, rid=10),
        b_push(), b_reap(),
    ])
    s["discard"] = bytes([2]) + b"".join([
        b_tmpl(K_WRITE, nseg=4, sector=0, rid=11),
        b_tmpl(K_DISCARD, nseg=16, sector=8, rid=12),
        b_tmpl(K_DISCARD, nseg=8, sector=0, flags=1, rid=13),
        b_push(), b_reap(),
    ])
    s["read-only"] = bytes([4]) + b"".join([
        b_tmpl(K_WRITE, nseg=1, rid=14),
        b_tmpl(K_READ, nseg=1, rid=15),
        b_tmpl(K_FLUSH, nseg=0, rid=16),
        b_push(), b_reap(),
    ])
    s["corrupt"] = bytes([0]) + b"".join([
        b_tmpl(K_READ, nseg=1, rid=17), b_push(0x85), b_reap(),
        b_tmpl(K_READ, nseg=1, rid=18), b_push(),
    ])
    s["reconnect"] = bytes([1]) + b"".join([
        b_tmpl(K_WRITE, nseg=2, rid=19), b_push(),
        bytes([B_GRANT, 3, 0]), bytes([B_RECONNECT, 0]),
        b_tmpl(K_READ, nseg=2, rid=20), b_push(),
        bytes([B_RECONNECT, 1]),
        b_tmpl(K_WRITE, nseg=11, rid=21), b_push(),
    ])
    s["disconnect-in-flight"] = bytes([8 | 1]) + b"".join(
        [b_tmpl(K_WRITE, nseg=11, sector=i * 8, ref=i, rid=i)
         for i in range(10)] + [b_push()])
    s["raw"] = bytes([0, B_RAW]) + raw_req + b_push() + b_reap()
    return s


# --- fuzz_netif: u8 config, then (opcode, bytes) ops ---------------------

N_RAW, N_TMPL, N_PUSH, N_POST, N_FRAME, N_RXBAD, N_RECONNECT, N_EXTRA = \
    range(8)
TXF_CSUM, TXF_VALID, TXF_MORE, TXF_EXTRA = 1, 2, 4, 8


def n_tmpl(ref=0, off=0, size=60, flags=0):
    return bytes([N_TMPL, ref]) + struct.pack("<HH", off, size) + \
        bytes([flags])


def n_frame(length):
    return bytes([N_FRAME]) + struct.pack("<H", length)


def netif_seeds():
    s = {}
    s["tx"] = bytes([1]) + b"".join([
        n_tmpl(0, 100, 60), n_tmpl(1, 0, 5000, TXF_MORE | TXF_CSUM),
        n_tmpl(2, 0, 4000, TXF_MORE), n_tmpl(4, 0, 1000),
        bytes([N_PUSH, 0]),
    ])
    s["tx-extra"] = bytes([0]) + b"".join([
        n_tmpl(0, 0, 100, TXF_EXTRA), bytes([N_EXTRA, 2, 1, N_EXTRA, 4, 0]),
        n_tmpl(1, 0, 100), bytes([N_PUSH, 0]),
    ])
    s["tx-long-chain"] = bytes([0]) + b"".join(
        [n_tmpl(i, 0, 10 if i else 400, TXF_MORE) for i in range(24)] +
        [n_tmpl(24, 0, 10), n_tmpl(0, 0, 64), bytes([N_PUSH, 0])])
    s["tx-bad"] = bytes([2]) + b"".join([
        n_tmpl(0, 4000, 200), n_tmpl(1, 0, 13), n_tmpl(66, 0, 100),
        n_tmpl(3, 0, 100), bytes([N_PUSH, 0x81]), n_tmpl(0), bytes([N_PUSH, 0]),
    ])
    s["rx"] = bytes([1]) + b"".join(
        [bytes([N_POST, i]) for i in range(8)] +
        [n_frame(100), n_frame(9000), n_frame(1514), bytes([N_PUSH, 0])])
    s["rx-queue"] = bytes([0]) + b"".join(
        [n_frame(200 + i) for i in range(70)] +
        [bytes([N_POST, i]) for i in range(20)] + [bytes([N_PUSH, 0])])
    s["rx-corrupt"] = bytes([1, N_POST, 1, N_RXBAD, 0x7f, N_RXBAD, 0x80])
    s["reconnect"] = bytes([0]) + b"".join([
        n_tmpl(0), bytes([N_POST, 1]), n_frame(60), bytes([N_RECONNECT]),
        n_tmpl(1), bytes([N_PUSH, 0]),
    ])
    s["raw"] = bytes([0, N_RAW]) + struct.pack("<IHHHH", 33, 0, 0, 1, 60) + \
        bytes([N_PUSH, 0])
    return s


# --- fuzz_domcfg: a domain config file ------------------------------------

def domcfg_seeds():
    return {
        "full": b"name = 'demo'\nkernel = '/srv/guest.elf'\nmemory = 64\n"
                b"vcpus = 2\ndisk = [ 'file:/srv/a.img,xvda,w',\n"
                b"  'phy:/dev/vg/b,xvdb,r' ]\n"
                b"vif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0' ]\n"
                b"on_crash = 'preserve'; extra = \"test=idle\"\n",
        "bad": b"name = 'x\nkernel = [ 1, [ 2 ] ]\n",
    }


# --- fuzz_stream: a migration stream of a 4 MiB, 1-vCPU domain ----------

S_CONFIG, S_PAGES, S_PAUSED, S_VMM_STATE, S_DEVICE, S_XENSTORE, S_END = \
    range(1, 8)
PFN_ZERO = 1 << 63


def s_rec(rtype, payload):
    return struct.pack("<IIQ", rtype, 0, len(payload)) + payload


def s_pages(pfns, data, encoding=0):
    return s_rec(S_PAGES, struct.pack("<II", len(pfns), encoding) +
                 struct.pack("<%dQ" % len(pfns), *pfns) + data)


def zstd_raw_frame(data):
    """One zstd frame of raw blocks (zstd's format, no compression)."""
    out = struct.pack("<IB", 0xFD2FB528, 0xA0) + struct.pack("<I", len(data))
    for i in range(0, len(data), 1 << 16):
        block = data[i:i + (1 << 16)]
        last = i + (1 << 16) >= len(data)
        out += struct.pack("<I", (len(block) << 3) | last)[:3] + block
    return out


def stream(body, flags=0, ram=4 << 20):
    data = b"XENIA-MIGRATE\0\0\0" + struct.pack("<IIQ", 1, flags, ram)
    data += body
    return data + s_rec(S_END, struct.pack("<IIQ", zlib.crc32(data), 0,
                                           len(data)))


def stream_seeds():
    config = json.dumps({"memory_kib": 4096, "vcpus": 1, "domid": 3,
                         "name": "s", "uuid":
                         "0b5e0b5e-0000-4000-8000-000000000003",
                         "config": "memory = 4\n",
                         "disks": ["file:/tmp/x.img,xvda,w"],
                         "vifs": ["mac=00:16:3e:00:00:01"]}).encode()
    xs = json.dumps({"domid": 3,
                     "home": [["", "", "n0,r@"], ["data", "", "n@"],
                              ["data/k", "v\u0001", "n@"],
                              ["device/vbd/51712/backend",
                               "/local/domain/0/backend/vbd/3/51712", "n@,r0"]],
                     "vm": [["", "", "n0,r@"], ["name", "s", "n0,r@"]],
                     "watches": [["control/shutdown", "shutdown"],
                                 ["@releaseDomain", "r"]]}).encode()
    devs = [json.dumps({"type": "console", "devid": 0, "state": 4,
                        "ring": {"ring-ref": 1023,
                                 "event-channel": 1}}).encode(),
            json.dumps({"type": "vbd", "devid": 51712, "state": 4,
                        "spec": "file:/tmp/x.img,xvda,w",
                        "ring": {"ring-ref": [8], "event-channel": 3,
                                 "protocol": "x86_64-abi", "req_cons": 5,
                                 "rsp_prod_pvt": 5}}).encode()]
    page = bytes(range(256)) * 16
    raw = s_pages([1, 2 | PFN_ZERO, 1023], page + page)
    head = s_rec(S_CONFIG, config)
    tail = s_rec(S_VMM_STATE, b"DOM1" + bytes(12)) + \
        b"".join(s_rec(S_DEVICE, d) for d in devs) + s_rec(S_XENSTORE, xs)
    return {
        "raw": stream(head + raw + tail),
        "zstd": stream(head + s_pages([5, 6 | PFN_ZERO],
                                      zstd_raw_frame(page), 1) + tail),
        "live": stream(head + raw + s_rec(S_PAUSED, b"") +
                       s_pages([7 | PFN_ZERO], b"") + tail,
                       flags=1),
        "bare": stream(s_rec(S_CONFIG, b'{"memory_kib":4096,"vcpus":1,'
                             b'"domid":3}') +
                       s_rec(S_VMM_STATE, b"x") +
                       s_rec(S_XENSTORE, b'{"domid":3,"home":[],"vm":[],'
                             b'"watches":[]}')),
    }


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make-fuzz-corpus.py OUTDIR")
    for name, seeds in (("fuzz_wire", wire_seeds()),
                        ("fuzz_ring", ring_seeds()),
                        ("fuzz_journal", journal_seeds()),
                        ("fuzz_elf", elf_seeds()),
                        ("fuzz_vmm_state", vmm_state_seeds()),
                        ("fuzz_blkif", blkif_seeds()),
                        ("fuzz_netif", netif_seeds()),
                        ("fuzz_domcfg", domcfg_seeds()),
                        ("fuzz_stream", stream_seeds())):
        d = os.path.join(sys.argv[1], name)
        os.makedirs(d, exist_ok=True)
        for seed, data in seeds.items():
            with open(os.path.join(d, "seed-" + seed), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
