"""Benchmark signature and chain verification (firmware/station/certs: verify, p256, rsa, x509) under the
MicroPython Unix port.

For each operation it prints: ms per run on this host (mean of --rounds, the collector on, a 256 KiB heap) and
an ESP32 estimate (the 240 MHz Xtensa runs the same bytecode roughly 10-30x slower, as tools/bench/csr.py
says); the bytes allocated by one run (gc.mem_alloc delta with the collector off: all garbage included); and
the heap it needs of its own: the least free heap (1 KiB steps, one bisection) it still runs in once the
modules and its data are loaded and the rest of the heap is filled with ballast (so its need is measured
apart from what loading took).
Modules come from the .mpy build as the tests use it (bytecode in RAM: ~19 KiB for verify, x509, exts, names,
p256, rsa, der; frozen on a board they cost no heap). Keys and certificates are made here by `cryptography`.

    .venv/bin/python tools/bench/verify.py [--rounds 20] [--no-heap]
"""

import argparse
import datetime
import os
import subprocess
import sys
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from tools.build import mpy

# One script for every measurement: argv = data file, record key, kind (d: digest over spki, h, sig; s: parse
# one certificate; c: parse and validate a chain: anchor, leaf, sub-CA), mode ("alloc", "time <rounds>",
# "need <KiB>"). Every module an operation could need is imported first, and it runs once before it is measured.
_MP = """
import gc, sys, time
from station.certs import exts, names, p256, rsa, verify, x509

def records(path):
    with open(path, "rb") as f:
        while True:
            head = f.read(2)
            if not head:
                return
            out = [chr(head[0])]
            for _ in range(head[1]):
                n = f.read(2)
                out.append(f.read(n[0] << 8 | n[1]))
            yield out

path, op, kind, mode = sys.argv[1:5]
recs = [r for r in records(path) if r[0] == op]
assert recs, op

hold = [0, 0]  # [longest stretch between two yields in us, ticks_us of the last yield]

def lap():
    t = time.ticks_us()
    hold[0] = max(hold[0], time.ticks_diff(t, hold[1]))
    hold[1] = t

def run():
    r = None
    f = recs[0]
    if kind == "n":
        return True
    if kind == "s":
        return x509.parse(f[1]) is not None
    if kind == "d":
        for r in verify.digest(f[1], f[2], f[3]):
            lap()
        return r
    certs = [x509.parse(b) for b in recs[0][1:]]
    for r in verify.chain(certs[1:], certs[:1], b"20260601000000"):
        lap()
    return r is None

assert run()
if mode.startswith("need"):
    # ballast: fill the free heap down to the given KiB (small pieces last, so holes fill too), then run
    want = int(mode.split()[1]) * 1024
    gc.collect()
    keep = []
    for size in (1024, 256, 64, 16):
        while gc.mem_free() - want > size + 32:
            keep.append(bytearray(size))
    assert run()
    print("DONE")
elif mode == "hold":  # the event loop would run at each yield: the longest stretch without one
    hold[0] = 0  # the warm-up run above counted from 0
    for _ in range(5):
        hold[1] = time.ticks_us()
        run()
        lap()
    print("RESULT", hold[0])
elif mode == "alloc":
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    run()
    print("RESULT", gc.mem_alloc() - a)
else:
    n = int(mode.split()[1])
    t = time.ticks_us()
    for _ in range(n):
        run()
    print("RESULT", time.ticks_diff(time.ticks_us(), t) // n)
"""

_NOW = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject, key, issuer, signer, ca, pad=None):
    b = x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
    b = b.public_key(key.public_key()).serial_number(x509.random_serial_number())
    b = b.not_valid_before(_NOW).not_valid_after(_NOW + datetime.timedelta(days=3650))
    b = b.add_extension(x509.BasicConstraints(ca, None), critical=True)
    if ca:
        ku = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
    else:
        ku = x509.KeyUsage(True, False, False, False, True, False, False, False, False)
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName("cs1.example.com")]), critical=False)
    b = b.add_extension(ku, critical=True)
    return b.sign(signer, hashes.SHA256(), rsa_padding=pad).public_bytes(serialization.Encoding.DER)


def _chain(root_key, sub_key, leaf_key, pad=None):
    # DER: anchor (self-signed root), then leaf, then sub-CA: a chain of 3
    root = _cert("Bench Root", root_key, "Bench Root", root_key, True, pad)
    sub = _cert("Bench Sub", sub_key, "Bench Root", root_key, True, pad)
    return [root, _cert("CS-0001", leaf_key, "Bench Sub", sub_key, False), sub]


def _spki(key):
    return key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def data():
    """[(kind, label, fields)]"""
    msg = b"x" * 200
    h = hashes.Hash(hashes.SHA256())
    h.update(msg)
    h = h.finalize()
    pss = padding.PSS(padding.MGF1(hashes.SHA256()), 32)
    ops = [("n", "nothing (the floor of this heap measurement)", [b""])]
    eck = ec.generate_private_key(ec.SECP256R1())
    ops.append(("d", "ECDSA P-256 verify", [_spki(eck), h, eck.sign(msg, ec.ECDSA(hashes.SHA256()))]))
    keys = {}
    for bits in (2048, 3072, 4096):
        k = keys[bits] = rsa.generate_private_key(65537, bits)
        ops.append(("d", "RSA-%d PSS verify" % bits, [_spki(k), h, k.sign(msg, pss, hashes.SHA256())]))
        ops.append(("d", "RSA-%d PKCS#1 v1.5 verify" % bits,
                    [_spki(k), h, k.sign(msg, padding.PKCS1v15(), hashes.SHA256())]))
    e1, e2, e3 = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ec3 = _chain(e1, e2, e3)
    ops.append(("s", "parse 1 certificate (P-256 leaf, 3 extensions)", [ec3[1]]))
    ops.append(("c", "chain of 3, P-256 / ECDSA throughout", ec3))
    ops.append(("c", "chain of 3, RSA-3072 root (PSS), P-256 sub and leaf", _chain(keys[3072], e2, e3, pss)))
    ops.append(("c", "chain of 3, RSA-2048 throughout (PKCS#1 v1.5)", _chain(keys[2048], keys[2048], e3)))
    return ops


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--no-heap", action="store_true", help="skip the smallest-heap bisections")
    a = ap.parse_args()
    path = os.pathsep.join([".frozen", *mpy.build("host")])
    tmp = tempfile.mkdtemp(prefix="bench_verify")
    script = os.path.join(tmp, "run.py")
    with open(script, "w") as f:
        f.write(_MP)
    dat = os.path.join(tmp, "data.bin")
    ops = data()
    with open(dat, "wb") as f:
        for i, (_, _, fields) in enumerate(ops):
            f.write(bytes([65 + i, len(fields)]))  # record key: "A", "B", ...
            for v in fields:
                f.write(len(v).to_bytes(2, "big") + v)

    def mp(op, mode, heap):
        p = subprocess.run([mpy.micropython(), "-X", "heapsize=" + heap, script, dat, chr(65 + op), ops[op][0], mode],
                           env=dict(os.environ, MICROPYPATH=path), capture_output=True, text=True, timeout=600)
        return p.returncode, p.stdout + p.stderr

    def result(op, mode, heap):
        rc, out = mp(op, mode, heap)
        line = [x for x in out.splitlines() if x.startswith("RESULT ")]
        if rc != 0 or not line:
            sys.exit("%s %s failed:\n%s" % (op, mode, out))
        return int(line[0].split()[1])

    def need(op):
        lo, hi = 0, 128
        while lo < hi:
            mid = (lo + hi) // 2
            rc, out = mp(op, "need %d" % mid, "512K")
            if rc == 0 and "DONE" in out:
                hi = mid
            else:
                lo = mid + 1
        return lo

    print("%-52s %9s %15s %11s %9s %9s" % ("operation", "ms host", "ESP32 ~10x/30x", "allocated", "own heap",
                                            "hold ms"))
    rows = []
    for i, (_, label, _) in enumerate(ops):
        us = result(i, "time %d" % a.rounds, "256K")
        alloc = result(i, "alloc", "16M")
        hold = result(i, "hold", "256K")
        heap = ""
        if not a.no_heap:
            heap = "%d KiB" % need(i)
        print("%-52s %9.2f %7.0f /%6.0f %9.1f KB %9s %9.2f" % (label, us / 1000, us / 100, us * 3 / 100, alloc / 1000,
                                                             heap, hold / 1000))
        sys.stdout.flush()
        rows.append((label, "%.2f" % (us / 1000), "%.0f / %.0f" % (us / 100, us * 3 / 100), "%.1f KB" % (alloc / 1000),
                     heap, "%.2f" % (hold / 1000)))
    from tools.bench import kit

    kit.save("verify", "Signature and chain verification", kit.table(
        ("operation", "ms host", "ESP32 ~10x/30x ms", "allocated (garbage included)", "own heap",
         "longest hold ms"), rows),
        {"rows": rows}, "python tools/bench/verify.py")


if __name__ == "__main__":
    main()
