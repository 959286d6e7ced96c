"""Wire budget of one meter poll, CRC cost and meter-task heap, measured under the Unix port.

    .venv/bin/python tools/bench/modbus.py

Runs the firmware's Modbus master (firmware/station/hw) in `micropython` against the pymodbus SDM630 of
boards/host/sim/meters.py over a real pty and prints, for one SDM630 poll of V/I/P per phase, total power,
import energy and frequency: transactions, bytes on the wire each way, and the time those bytes take
at 9600 baud 8N1 (plus the 3.5-character silence before each request). Also the CRC-16 cost (table
vs bitwise) and the heap the meter task holds (gc.mem_alloc before/after, x86-64 objects are about
twice their ESP32 size).
"""

import json
import os
import subprocess
import sys

from boards.host.sim.meters import MeterSim
from tools import ROOT
from tools.build import mpy

BAUD = 9600

SCRIPT = r"""
import asyncio, gc, json, time
import station_board as board
from station.hw import meters, modbus, meter_task
a = json.loads(%r)


def crc16_bitwise(buf, n):
    # The same CRC without the table: what the table saves (the firmware keeps only the table)
    c = 0xFFFF
    for i in range(n):
        c ^= buf[i]
        for _ in range(8):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
    return c


out = {}
b = board.make({"dir": "/tmp", "uart": a["path"]})

# CRC: a 153-byte frame (the longest SDM630 reply we would get with one 74-register read)
buf = bytes(range(153))
modbus.crc16(buf, 8)  # build the table outside the timing
for name, fn in (("table", modbus.crc16), ("bitwise", crc16_bitwise)):
    t0 = time.ticks_us()
    for _ in range(200):
        fn(buf, 153)
    out["crc_" + name + "_us"] = time.ticks_diff(time.ticks_us(), t0) / 200

gc.collect()
h0 = gc.mem_alloc()
m = modbus.Master(b.uart, BAUD, timeout_ms=300)
gc.collect()
h1 = gc.mem_alloc()
t = meter_task.MeterTask(m, {1: ("SDM630", 1), 2: ("SDM630", 1)}, period_ms=1000)
gc.collect()
h2 = gc.mem_alloc()

gap = [0, True]

async def ticker():
    # the longest the event loop went without running this task while polls ran
    last = time.ticks_ms()
    while gap[1]:
        await asyncio.sleep_ms(1)
        now = time.ticks_ms()
        gap[0] = max(gap[0], time.ticks_diff(now, last))
        last = now

async def main():
    await t.poll_once()  # warm up
    r0, tx0, rx0 = m.requests, m.tx_bytes, m.rx_bytes
    tk = asyncio.create_task(ticker())
    t0 = time.ticks_ms()
    n = 10
    for _ in range(n):
        await meters.read(m, "SDM630", 1)
    out["host_poll_ms"] = time.ticks_diff(time.ticks_ms(), t0) / n
    gap[1] = False
    await tk
    out["loop_gap_ms"] = gap[0]
    out["requests"] = (m.requests - r0) / n
    out["tx"] = (m.tx_bytes - tx0) / n
    out["rx"] = (m.rx_bytes - rx0) / n
    await t.poll_once()

asyncio.run(main())
gc.collect()
h3 = gc.mem_alloc()
out["heap_master"] = h1 - h0
out["heap_task"] = h2 - h1
out["heap_readings"] = h3 - h2
out["t35_ms"] = m._t35
out["errors"] = m.errors
print("RESULT", json.dumps(out))
""".replace("BAUD", str(BAUD))


def wire_ms(nbytes, baud=BAUD):
    return nbytes * 10 * 1000.0 / baud  # 8N1: 10 bits per byte


def plan_bytes(blocks):
    """(transactions, request bytes, reply bytes) of a list of (start, count) block reads."""
    return len(blocks), 8 * len(blocks), sum(5 + 2 * c for _, c in blocks)


def main():
    sim = MeterSim({1: "SDM630"})
    path = sim.start()
    sim.set_power(1, 11000)
    try:
        bytes_in0, bytes_out0 = sim.bytes_in, sim.bytes_out
        p = subprocess.run([mpy.micropython(), "-X", "heapsize=64K", "-c", SCRIPT % json.dumps({"path": path})],
                           env=dict(os.environ, MICROPYPATH=mpy.unix_path("host")), cwd=ROOT, capture_output=True,
                           text=True, errors="replace", timeout=60)
        rc, out = p.returncode, p.stdout + p.stderr
        seen_in, seen_out = sim.bytes_in - bytes_in0, sim.bytes_out - bytes_out0
    finally:
        sim.stop()
    if rc != 0 or "RESULT" not in out:
        print(out)
        sys.exit(1)
    r = json.loads(out.split("RESULT ", 1)[1].splitlines()[0])
    t35 = r["t35_ms"]

    print("One SDM630 poll: V, I, P per phase + total power + import energy + frequency, %d baud 8N1" % BAUD)
    print()
    hdr = "%-34s %6s %8s %8s %8s %10s %11s" % ("plan", "trans", "req B", "reply B", "total B", "bytes ms",
                                               "+silence ms")
    print(hdr)
    print("-" * len(hdr))
    plans = [
        ("measured (firmware, 2 block reads)", (r["requests"], r["tx"], r["rx"])),
        ("  map: 0x0000+18, 0x0034+22", plan_bytes([(0x0000, 18), (0x0034, 22)])),
        ("alternative: one read 0x0000+74", plan_bytes([(0x0000, 74)])),
        ("naive: one read per quantity", plan_bytes([(0, 2)] * 12)),
    ]
    for name, (n, tx, rx) in plans:
        total = tx + rx
        ms = wire_ms(total)
        print("%-34s %6d %8d %8d %8d %10.1f %11.1f" % (name, n, tx, rx, total, ms, ms + n * t35))
    print()
    print("bytes on the simulated bus during the run: %d from the station, %d from the meter" % (seen_in, seen_out))
    print("silence before each request: %d ms (3.5 chars of 11 bits, rounded up to ticks_ms)" % t35)
    print("meter reply latency is not included (device-specific, typically tens of ms per transaction)")
    print("host poll time over the pty (no baud limit): %.1f ms; master errors: %d" % (r["host_poll_ms"], r["errors"]))
    print("longest event-loop stall while polling (1 ms ticker task): %d ms" % r["loop_gap_ms"])
    print()
    print("CRC-16/MODBUS over 153 bytes on the Unix port: table %.1f us, bitwise %.1f us (%.1fx)"
          % (r["crc_table_us"], r["crc_bitwise_us"], r["crc_bitwise_us"] / r["crc_table_us"]))
    print()
    print("Heap (Unix port, x86-64; gc.mem_alloc deltas after gc.collect):")
    print("  Master (rx/tx buffers, lock):              %5d B" % r["heap_master"])
    print("  MeterTask for 2 EVSEs:                     %5d B" % r["heap_task"])
    print("  after polls (cached readings, CRC table):  %5d B" % r["heap_readings"])
    total = r["heap_master"] + r["heap_task"] + r["heap_readings"]
    print("  total:                                     %5d B" % total)


if __name__ == "__main__":
    main()
