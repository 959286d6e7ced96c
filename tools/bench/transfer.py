"""Benchmark the firmware's HTTP client (firmware/station/transport/http.py) under the MicroPython Unix port
against a CPython ThreadingHTTPServer on loopback (plain, and TLS with a CA made here by `cryptography`).

It prints and writes to results/http.md / .json:
- the time of a 1.5 MiB download (Content-Length) through a SHA-256 sink, median of --rounds, per chunk size,
  and of a 1.5 MiB multipart upload (POST);
- the transient heap of a transfer beyond the chunk buffer: the least free heap (256-byte steps, one bisection)
  a whole 1.5 MiB transfer still succeeds in, once the modules, the buffer and the sink are in place and the
  rest of the heap is filled with ballast; and the bytes it allocates per chunk (collector off: garbage too);
- the longest event-loop hold during the body: the longest gap between two runs of another task that only
  yields (asyncio.sleep_ms(0)), i.e. the longest time the client kept the loop; connecting apart;
- the .mpy size (mpy-cross -march=xtensawin) of http.py, httpconn.py and net.py (net.py is shared with ws.py).

    .venv/bin/python tools/bench/transfer.py [--rounds 5]
"""

import argparse
import datetime
import hashlib
import os
import ssl
import statistics
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tools.bench import kit
from tools.build import mpy

SIZE = 1536 * 1024
HOLD_BUDGET_MS = 20
HEAP_BUDGET = 8 * 1024
MODULES = ("station/transport/http.mpy", "station/transport/httpconn.mpy", "station/transport/net.mpy")

# argv: mode, url, chunk size, CA file or "-", GET or POST, and for "need" the free bytes to leave. A POST
# uploads SIZE bytes as a multipart file (the source leaves the buffer as it is: no copy to measure).
_MP = """
import asyncio, gc, hashlib, sys, time
from station.transport import http, net

mode, url, size, ca, op = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
ctx = None
if ca != "-":
    with open(ca, "rb") as f:
        ctx = net.tls_context(f.read())
buf = bytearray(size)
h = hashlib.sha256()
gap = [0, 0, True, 0]  # longest gap between ticker runs (us) so far, last run, running, the same before the body

def first():
    if not gap[3]:  # the first chunk: what held the loop until now was connecting (DNS, TCP, TLS) and the header
        gap[3], gap[0] = max(1, gap[0]), 0

def sink(mv):
    first()
    h.update(mv)

def src(b):
    first()
    return len(b)

async def ticker():
    gap[1] = time.ticks_us()
    while gap[2]:
        await asyncio.sleep_ms(0)
        now = time.ticks_us()
        gap[0] = max(gap[0], time.ticks_diff(now, gap[1]))
        gap[1] = now

async def transfer(small=False):
    if op == "GET":
        await http.get(url + ("?small" if small else ""), sink, ssl=ctx, buf=buf)
    else:
        await http.post_file(url, "big.bin", src, 65536 if small else SIZE_BYTES, ssl=ctx, buf=buf)

async def main():
    if mode == "time":
        asyncio.create_task(ticker())
        await asyncio.sleep_ms(0)
        t0 = time.ticks_us()
        await transfer()
        us = time.ticks_diff(time.ticks_us(), t0)
        gap[2] = False
        print("TIME", us, gap[0], "".join("%02x" % b for b in h.digest()), gap[3])
    elif mode == "alloc":
        await transfer(True)  # warm: everything imported and built once
        gc.collect()
        gc.disable()
        a = gc.mem_alloc()
        await transfer(True)
        print("ALLOC", gc.mem_alloc() - a)
    else:
        await transfer(True)  # warm
        want = int(sys.argv[6])
        gc.collect()
        keep = []
        for piece in (1024, 256, 64, 16):
            while gc.mem_free() - want > piece + 32:
                keep.append(bytearray(piece))
        try:
            await transfer()
            print("DONE")
        except MemoryError:
            print("MEM")

asyncio.run(main())
""".replace("SIZE_BYTES", str(SIZE))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_POST(self):
        left = int(self.headers["Content-Length"])
        while left:
            left -= len(self.rfile.read(min(left, 65536)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        body = self.server.small if self.path.endswith("?small") else self.server.big
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _server(ctx, big):
    s = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    s.daemon_threads = True
    if ctx is not None:
        s.socket = ctx.wrap_socket(s.socket, server_side=True)
    s.big, s.small = big, big[: 64 * 1024]
    threading.Thread(target=s.serve_forever, daemon=True).start()
    return s


def _pki(d):
    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())

    def cert(subject, pub, ca):
        b = (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name("Bench CA")).public_key(pub)
             .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
             .not_valid_after(now + datetime.timedelta(days=7)))
        b = b.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True) if ca else \
            b.add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        return b.sign(ca_key, hashes.SHA256())

    ca = cert("Bench CA", ca_key.public_key(), True)
    leaf = cert("localhost", key.public_key(), False)
    with open(os.path.join(d, "ca.der"), "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.DER))
    with open(os.path.join(d, "s.pem"), "wb") as f:
        f.write(leaf.public_bytes(serialization.Encoding.PEM))
    with open(os.path.join(d, "s.key"), "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(d, "s.pem"), os.path.join(d, "s.key"))
    return os.path.join(d, "ca.der"), ctx


_CPUS = sorted(os.sched_getaffinity(0))


def _client_cpu():
    # The client alone on its own CPU, the server (this process) on another: a hold measured by the clock is
    # then the client's, not the server's encryption or a context switch between the two.
    if len(_CPUS) > 1:
        os.sched_setaffinity(0, _CPUS[1:2])


def _run(script, args, heap="256K"):
    env = dict(os.environ, MICROPYPATH=mpy.unix_path("host"))
    p = subprocess.run([mpy.micropython(), "-X", "heapsize=" + heap, script] + [str(a) for a in args], env=env,
                       capture_output=True, timeout=120, preexec_fn=_client_cpu)
    return (p.stdout + p.stderr).decode("utf-8", "replace")


def _need(script, url, size, ca, op, heap, hi=32 * 1024, step=256):
    lo = 0  # lo fails (or is 0), hi passes
    if "DONE" not in _run(script, ["need", url, size, ca, op, hi], heap):
        raise RuntimeError("a transfer does not pass with %d bytes free" % hi)
    while hi - lo > step:
        mid = (lo + hi) // 2 // step * step
        if "DONE" in _run(script, ["need", url, size, ca, op, mid], heap):
            hi = mid
        else:
            lo = mid
    return hi


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    if len(_CPUS) > 1:
        os.sched_setaffinity(0, _CPUS[:1])
    big = os.urandom(SIZE)
    want = hashlib.sha256(big).hexdigest()
    fw, _ = mpy.build("host")
    with tempfile.TemporaryDirectory() as d:
        script = os.path.join(d, "bench_http.py")
        with open(script, "w") as f:
            f.write(_MP)
        ca, ctx = _pki(d)
        plain, tls = _server(None, big), _server(ctx, big)
        targets = [("http", "http://127.0.0.1:%d/big" % plain.server_port, "-"),
                   ("https", "https://localhost:%d/big" % tls.server_port, ca)]
        rows, data = [], {"size": SIZE, "rounds": a.rounds, "runs": {}}
        cases = [(op, scheme, url, cafile, size) for op, sizes in (("GET", (1024, 4096)), ("POST", (1024,)))
                 for scheme, url, cafile in targets for size in sizes]
        for op, scheme, url, cafile, size in cases:
            times, holds, opens = [], [], []
            for _ in range(a.rounds):
                out = _run(script, ["time", url, size, cafile, op])
                if "TIME " not in out:
                    raise RuntimeError(out)
                us, gap, sha, before = out.split("TIME ", 1)[1].split()[:4]
                assert op == "POST" or sha == want, "the download's SHA-256 differs"
                times.append(int(us) / 1000)
                holds.append(int(gap) / 1000)
                opens.append(int(before) / 1000)
            alloc = int(_run(script, ["alloc", url, size, cafile, op]).split("ALLOC ", 1)[1].split()[0])
            per_chunk = alloc / (64 * 1024 / size)
            need = _need(script, url, size, cafile, op, "256K") if scheme == "http" else \
                _need(script, url, size, cafile, op, "256K", 128 * 1024, 1024)
            key = "%s %s/%d" % (op, scheme, size)
            data["runs"][key] = {"ms_median": statistics.median(times), "ms": times, "hold_ms_max": max(holds),
                                 "hold_ms_median_of_max": statistics.median(holds),
                                 "connect_hold_ms_max": max(opens),
                                 "alloc_per_chunk": per_chunk, "need_bytes": need}
            rows.append((op, scheme, size, "%.0f" % statistics.median(times),
                         "%.1f" % (SIZE / 1024 / 1024 / (statistics.median(times) / 1000)),
                         "%.2f" % max(holds), "%.2f" % max(opens), "%.0f" % per_chunk, need))
        plain.shutdown()
        tls.shutdown()
    sizes = {m: os.path.getsize(os.path.join(fw, m)) for m in MODULES}
    data["mpy"] = sizes
    worst_need = max(r["need_bytes"] for k, r in data["runs"].items() if " http/" in k)
    worst_hold = max(r["hold_ms_max"] for r in data["runs"].values())
    data["need_max"], data["hold_max"] = worst_need, worst_hold
    text = kit.table(("", "scheme", "chunk B", "1.5 MiB ms (median)", "MiB/s", "longest loop hold in the body, ms",
                      "longest hold connecting, ms",
                      "B allocated / chunk", "free heap needed beyond the buffer, B"), rows)
    text += ("\n\nOver https (1 KiB steps) the figure barely moves: on the Unix port mbedtls takes its "
             "session (record buffers, keys) from the C heap, not the MicroPython heap, so it is not counted here. "
             "The longest hold is the worst of the runs (median of the runs' longest in the JSON); the client runs "
             "on a CPU of its own, the server on another, but other load on the machine still shows in it.")
    text += ("\n\nBudgets: transient heap of a plain download or upload beyond the chunk buffer ≤ %d B: %s (%d B); "
             "longest event-loop hold during the body ≤ %d ms: %s (%.2f ms). Connecting holds the loop longer over "
             "TLS: the handshake's public-key steps run in mbedtls's C code inside one write." % (
                 HEAP_BUDGET, "met" if worst_need <= HEAP_BUDGET else "NOT met", worst_need, HOLD_BUDGET_MS,
                 "met" if worst_hold <= HOLD_BUDGET_MS else "NOT met", worst_hold))
    text += "\n\n" + kit.table(("module (.mpy, xtensawin)", "bytes"),
                               [(m, n) for m, n in sizes.items()] + [("**total** (net.mpy shared with ws.mpy)",
                                                                      sum(sizes.values()))])
    kit.save("http", "HTTP client: 1.5 MiB download, heap, event-loop hold, code size", text, data, "make bench-http")


if __name__ == "__main__":
    main()
