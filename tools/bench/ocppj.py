"""Measure the OCPP-J layer (ws + rpc + validate + conn + outbox) under the Unix port, .mpy build:

    .venv/bin/python tools/bench/ocppj.py

- heap in use after import, and at rest once registered (gc.mem_alloc after gc.collect),
- bytes allocated while one 4 KB CSMS CALL is received, validated and answered (gc disabled meanwhile),
- bytes allocated while one 4 KB CALL of ours is sent and answered,
- the smallest -X heapsize with which boot + 20 CALL round trips + the 4 KB message still work,
- round-trip time of the station's CALL (Heartbeat) on loopback against tools/csms/dev.py (the ocpp package).
Objects are about twice as large on x86_64 as on the ESP32, so these heap figures are an upper bound.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

from tools.build import mpy
from tools.csms.dev import CSMS

MP = r'''
import gc, sys, json, time, asyncio
gc.collect(); m0 = gc.mem_alloc()
from station.session.connection import Connection
from station.session.registration import Registration
from station.transport.rpc import Rpc
from station.session.outbox import Outbox
import station.transport.schema_tbl
gc.collect(); m_import = gc.mem_alloc() - m0
from station import log
log.LEVEL = 2
cfg = json.loads(sys.argv[1])

class DM:
    V = {"MessageTimeout": 30, "RetryBackOffWaitMinimum": 1, "RetryBackOffRandomRange": 0,
         "RetryBackOffRepeatTimes": 1, "WebSocketPingInterval": 0, "HeartbeatInterval": 0,
         "SecurityProfile": 1, "BasicAuthPassword": ""}
    def get(self, c, v, i=None):
        return self.V[v]

big = {}
def trig(p):
    if "customData" in p:
        gc.collect(); big["a"] = gc.mem_alloc()
    return {"status": "Rejected"}

async def main():
    dm = DM()
    rpc = Rpc(dm)
    ob = Outbox(rpc, dm)
    rpc.on("TriggerMessage", trig)
    reg = Registration(dm, ob, {"model": "M", "vendorName": "V"})
    conn = Connection(dm, rpc, reg, ob, cfg["url"], "BENCH")
    asyncio.create_task(ob.run())
    asyncio.create_task(conn.run())
    while reg.state != "accepted" or ob.items or rpc._pending is not None:
        await asyncio.sleep_ms(10)
    await asyncio.sleep_ms(300)
    gc.collect(); rest = gc.mem_alloc() - m0
    rtt = []
    for i in range(20):
        t = time.ticks_us()
        await rpc.call("Heartbeat", {})
        rtt.append(time.ticks_diff(time.ticks_us(), t))
    rtt.sort()
    print("READY", flush=True) if hasattr(print, "flush") else print("READY")
    gc.collect(); before = gc.mem_alloc()
    gc.disable()
    while "a" not in big:
        await asyncio.sleep_ms(1)
    await asyncio.sleep_ms(50)
    after = gc.mem_alloc()
    gc.enable()
    # one 4 KB CALL of ours: json text, the frame (masking), the small answer
    payload = {"customData": {"vendorId": "bench", "pad": "x" * (4096 - 80)}}
    gc.collect(); b2 = gc.mem_alloc()
    gc.disable()
    await rpc.call("Heartbeat", payload)
    send4k = gc.mem_alloc() - b2
    gc.enable()
    print("RESULT", json.dumps({"import": m_import, "rest": rest, "msg4k_alloc": after - before,
                                "send4k_alloc": send4k,
                                "rtt_us_median": rtt[len(rtt) // 2], "rtt_us_min": rtt[0], "rtt_us_max": rtt[-1]}))

asyncio.run(main())
'''


def run(heap, mpy_dir, script):
    with CSMS(interval=3600) as csms:
        env = dict(os.environ, MICROPYPATH=".frozen:" + mpy_dir)
        p = subprocess.Popen([mpy.micropython(), "-X", "heapsize=" + heap, script,
                              json.dumps({"url": csms.url})], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        out = []
        try:
            end = time.time() + 20
            for line in p.stdout:
                out.append(line)
                if line.startswith("READY"):
                    pad = "x" * (4096 - 110)
                    try:
                        csms.call("BENCH", "TriggerMessage", {"requestedMessage": "Heartbeat",
                                                              "customData": {"vendorId": "bench", "pad": pad}},
                                  timeout=5)
                    except Exception:  # the station ran out of heap: this size does not work
                        return None, out
                if line.startswith("RESULT"):
                    return json.loads(line[7:]), out
                if time.time() > end:
                    break
        finally:
            p.kill()
            p.wait()
        return None, out


def main():
    fw, _ = mpy.build()
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(MP)
    res, out = run("512K", fw, f.name)
    if res is None:
        print("".join(out))
        sys.exit(1)
    lo, hi = 8, 512  # smallest heap (KiB) that still works
    while lo < hi:
        mid = (lo + hi) // 2
        ok, _ = run("%dK" % mid, fw, f.name)
        if ok:
            hi = mid
        else:
            lo = mid + 1
    os.unlink(f.name)
    print("OCPP-J layer, .mpy under the Unix port (x86_64):")
    print("  heap after import             %6d bytes" % res["import"])
    print("  heap at rest (registered)     %6d bytes" % res["rest"])
    print("  allocated for one 4 KB CALL   %6d bytes (received, parsed, validated, answered; gc off)" %
          res["msg4k_alloc"])
    print("  allocated for one 4 KB CALL of ours %d bytes (json text, masked frame, the answer; gc off)" %
          res["send4k_alloc"])
    print("  smallest working heapsize     %6d KiB (boot, 20 CALLs, the 4 KB CALL)" % lo)
    print("  CALL round trip (Heartbeat)   median %.2f ms, min %.2f, max %.2f (20 calls, ocpp-package CSMS)" %
          (res["rtt_us_median"] / 1000, res["rtt_us_min"] / 1000, res["rtt_us_max"] / 1000))


if __name__ == "__main__":
    main()
