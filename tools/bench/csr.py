"""Benchmark the firmware's certificate code under the MicroPython Unix port.

Reports: source and .mpy (xtensawin) sizes of firmware/station/certs, time for key generation, signing and a whole
CSR, the longest stretch the event loop is held between yields, and the smallest heap that runs a CSR +
CertificateSigned from precompiled .mpy files (as on the board). The ESP32 (240 MHz Xtensa) runs the same
bytecode roughly 10-30x slower than an x86 host; the output scales the figures by that.

    .venv/bin/python tools/bench/csr.py [--rounds 10] [--every 8]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

from tools import ROOT

BIN = os.path.dirname(sys.executable)
# every module of the package: cert, ecdsa, exts, names, rsa, verify count in the sizes (the runs below need none)
MODULES = ["station/certs/" + m for m in ("__init__.py", "p256.py", "der.py", "csr.py", "keystore.py", "x509.py",
                                         "cert.py", "ecdsa.py", "exts.py", "names.py", "rsa.py", "verify.py")]
DEPS = ["station/__init__.py", "station/store.py", "station/log.py", "station/clock.py"]

_BENCH = """
import asyncio, gc, time
from station.certs import p256
from station.certs.keystore import Keystore, CS
from station.store import Store
ks = Keystore(Store(%(store)r), every=%(every)d)
kg = sg = tot = gap = 0
yields = 0
for i in range(%(rounds)d):
    d = p256.new_key()
    t = time.ticks_us(); pub = p256.run(p256.public(d)); kg = max(kg, time.ticks_diff(time.ticks_us(), t))
    t = time.ticks_us(); p256.run(p256.sign(d, b"x" * 200)); sg = max(sg, time.ticks_diff(time.ticks_us(), t))
    last = [time.ticks_us(), 0, 0]
    async def ticker():
        while True:
            now = time.ticks_us()
            last[1] = max(last[1], time.ticks_diff(now, last[0])); last[0] = now; last[2] += 1
            await asyncio.sleep_ms(0)
    async def main():
        tk = asyncio.create_task(ticker())
        await asyncio.sleep_ms(0)
        last[0] = time.ticks_us()
        t = time.ticks_us()
        await ks.make_csr(CS, "SN-0001", "Example Charging Ltd.")
        tk.cancel()
        return time.ticks_diff(time.ticks_us(), t)
    tot = max(tot, asyncio.run(main()))
    gap = max(gap, last[1]); yields = last[2]
    ks.cancel(CS)
    gc.collect()
print("RESULT", kg, sg, tot, gap, yields)
"""

_HEAP = """
import asyncio
from station.certs import x509
from station.certs.keystore import Keystore, CS
from station.store import Store
ks = Keystore(Store(%(store)r))
if %(work)r == "csr":
    asyncio.run(ks.make_csr(CS, "SN-0001", "Example Charging Ltd."))
elif %(work)r == "install":
    with open(%(chain)r) as f:
        chain = f.read()
    assert ks.install(CS, chain)[0] == "Accepted"
print("DONE")
"""


def chain_for(csr_pem):
    """An RSA-2048 CA and a leaf for the CSR's key, PEM, leaf first (a realistic 2-certificate chain)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    req = x509.load_pem_x509_csr(csr_pem.encode())
    key = rsa.generate_private_key(65537, 2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Bench CPO Sub-CA")])
    now = datetime.datetime.now(datetime.UTC)
    certs = []
    for subj, pub in ((req.subject, req.public_key()), (name, key.public_key())):
        b = x509.CertificateBuilder().subject_name(subj).issuer_name(name).public_key(pub)
        b = b.serial_number(x509.random_serial_number()).not_valid_before(now)
        b = b.not_valid_after(now + datetime.timedelta(days=365)).sign(key, hashes.SHA256())
        certs.append(b.public_bytes(serialization.Encoding.PEM).decode())
    return "".join(certs)


def mp(script, heap, libdir, tmp):
    path = os.path.join(tmp, "run.py")
    with open(path, "w") as f:
        f.write(script)
    env = dict(os.environ, MICROPYPATH=".frozen:" + libdir)
    p = subprocess.run(
        [os.path.join(BIN, "micropython"), "-X", "heapsize=" + heap, path],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return p.returncode, p.stdout + p.stderr


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--every", type=int, default=8, help="bits between event-loop yields")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench_csr")
    try:
        lib = os.path.join(tmp, "lib")
        print("%-30s %8s %8s" % ("module", "source", ".mpy"))
        tot_src = tot_mpy = 0
        for rel in MODULES + DEPS:
            src = os.path.join(ROOT, "firmware", rel)
            out = os.path.join(lib, rel[:-3] + ".mpy")
            os.makedirs(os.path.dirname(out), exist_ok=True)
            subprocess.run([os.path.join(BIN, "mpy-cross"), "-march=xtensawin", "-o", out, src], check=True)
            if rel in MODULES:
                s, m = os.path.getsize(src), os.path.getsize(out)
                tot_src, tot_mpy = tot_src + s, tot_mpy + m
                print("%-30s %8d %8d" % (rel, s, m))
        print("%-30s %8d %8d" % ("total station/certs/", tot_src, tot_mpy))

        store = os.path.join(tmp, "flash")
        rc, out = mp(_BENCH % {"store": store, "every": a.every, "rounds": a.rounds}, "256K", lib, tmp)
        line = [x for x in out.splitlines() if x.startswith("RESULT ")]
        if rc != 0 or not line:
            sys.exit("benchmark failed:\n" + out)
        kg, sg, tot, gap, yields = (int(v) for v in line[0].split()[1:])
        print("\nworst of %d rounds on this host (µs); ESP32 estimate at 10x / 30x (ms):" % a.rounds)
        for name, us in (
            ("keygen (d*G)", kg),
            ("sign", sg),
            ("make_csr total", tot),
            ("longest gap between yields", gap),
        ):
            print("  %-28s %8d   %7.0f / %7.0f" % (name, us, us * 10 / 1000, us * 30 / 1000))
        print("  event-loop turns during one make_csr: %d (a yield every %d bits)" % (yields, a.every))

        # Smallest heaps: modules imported only; + a CSR; + a CertificateSigned with a 2-cert RSA chain.
        prepared = os.path.join(tmp, "prepared")
        rc, out = mp(_HEAP % {"store": prepared, "work": "csr", "chain": ""}, "256K", lib, tmp)
        if rc != 0:
            sys.exit("CSR failed:\n" + out)
        with open(os.path.join(prepared, "cs.pend")) as f:
            csr_pem = f.read().split("\n", 1)[1]
        chain_file = os.path.join(tmp, "chain.pem")
        with open(chain_file, "w") as f:
            f.write(chain_for(csr_pem))
        need = {}
        for work in ("none", "csr", "install"):
            lo, hi = 4, 256  # KiB
            while lo < hi:
                mid = (lo + hi) // 2
                shutil.rmtree(store, ignore_errors=True)
                shutil.copytree(prepared, store)
                rc, out = mp(_HEAP % {"store": store, "work": work, "chain": chain_file}, "%dK" % mid, lib, tmp)
                if rc == 0 and "DONE" in out:
                    hi = mid
                else:
                    lo = mid + 1
            need[work] = lo
        print(
            "\nsmallest heap, .mpy modules loaded into RAM (asyncio frozen), chain %d chars:"
            % os.path.getsize(chain_file)
        )
        print("  imports only %d KiB, + make_csr %d KiB, + CertificateSigned %d KiB" % tuple(need.values()))
        print(
            "(frozen on the board, the modules cost no heap: the work itself needs ~%d / ~%d KiB)"
            % (need["csr"] - need["none"], need["install"] - need["none"])
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
