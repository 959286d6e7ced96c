# MicroPython driver for tests_host/test_http.py and tools/bench/transfer.py: one request with
# station.transport.http, described by the JSON in argv[1]; prints "RESULT <json>".
#   {"op": "get", "url": ..., "buf": 1024, "redirects": 5, "timeout": 15000, "ca": path, "factory": bool,
#    "ticker": bool, "async": bool}
#   {"op": "post" | "put" | "upload", "url": ..., "file": path, "name": "x.log", "size": n (default: the
#    file's), "pattern": n (no file: n bytes of a pattern), "ca": ..., "timeout": ..., "ticker": bool,
#    "async": bool}     "badfactory": an ssl factory that raises, as with a CA missing on flash
import asyncio
import gc
import hashlib
import json
import os
import sys
import time

from station.transport import http, net

spec = json.loads(sys.argv[1])
out = {}
ticks = [0]  # the ticker task's count: it runs whenever the client lets the event loop go on


async def ticker():
    while True:
        ticks[0] += 1
        await asyncio.sleep_ms(0)


def ssl_arg():
    if spec.get("badfactory"):
        def bad():
            raise OSError(2)  # as when the CA file is missing on flash
        return bad
    ca = spec.get("ca")
    if not ca:
        return None
    with open(ca, "rb") as f:
        der = f.read()
    if spec.get("factory"):
        made = out.setdefault("contexts", [0])

        def factory():
            made[0] += 1
            return net.tls_context(der)
        return factory
    return net.tls_context(der)


def getter():
    h = hashlib.sha256()
    st = {"n": 0, "chunks": 0, "short": 0, "stalls": 0, "tick": ticks[0], "hold": 0, "at": time.ticks_us()}
    size = spec.get("buf", 1024)

    def sink(mv):
        now = time.ticks_us()
        h.update(mv)
        st["n"] += len(mv)
        st["chunks"] += 1
        if len(mv) != size:
            st["short"] += 1
        if spec.get("ticker") and ticks[0] == st["tick"]:  # no other task ran since the last chunk
            st["stalls"] += 1
        st["tick"] = ticks[0]
        st["at"] = now

    async def asink(mv):
        sink(mv)
        await asyncio.sleep_ms(0)

    return h, st, asink if spec.get("async") else sink


def source():
    up = out.setdefault("src", {"calls": 0, "stalls": 0, "tick": ticks[0]})
    if "file" in spec:
        f = open(spec["file"], "rb")

        def fill(buf):
            return f.readinto(buf)
    else:
        pat = bytes(range(256)) * 4

        def fill(buf):
            n = min(len(buf), len(pat))
            buf[:n] = pat[:n]
            return n

    def src(buf):
        up["calls"] += 1
        if spec.get("ticker") and up["calls"] > 1 and ticks[0] == up["tick"]:  # nothing else ran since the last
            up["stalls"] += 1
        up["tick"] = ticks[0]
        return fill(buf)

    async def asrc(buf):
        await asyncio.sleep_ms(0)
        return src(buf)
    return asrc if spec.get("async") else src


async def main():
    if spec.get("ticker"):
        asyncio.create_task(ticker())
    buf = bytearray(spec.get("buf", 1024))
    t0 = time.ticks_ms()
    op = spec["op"]
    try:
        if op == "get":
            h, st, sink = getter()
            gc.collect()
            out["status"] = await http.get(spec["url"], sink, ssl=ssl_arg(), buf=buf,
                                           redirects=spec.get("redirects", 5), timeout_ms=spec.get("timeout", 15000))
            out["sha256"] = "".join("%02x" % b for b in h.digest())
            out.update(st)
        else:
            size = spec.get("size")
            if size is None:
                size = os.stat(spec["file"])[6] if "file" in spec else spec["pattern"]
            kw = {"ssl": ssl_arg(), "buf": buf, "timeout_ms": spec.get("timeout", 15000)}
            if op == "put":
                out["status"] = await http.put(spec["url"], source(), size, **kw)
            elif op == "post":
                out["status"] = await http.post_file(spec["url"], spec.get("name", "f.bin"), source(), size, **kw)
            else:
                out["status"] = await http.upload(spec["url"], spec.get("name", "f.bin"), source, size, **kw)
    except http.HttpError as e:
        out["error"] = [e.status, e.reason]
    out["ms"] = time.ticks_diff(time.ticks_ms(), t0)
    out["ticks"] = ticks[0]
    print("RESULT " + json.dumps(out))


asyncio.run(main())
