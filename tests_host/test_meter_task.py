"""The meter task under the Unix port against pymodbus meters on a pty: cache, staleness, down/recovery."""

import json
import os
import subprocess
import sys
import time

import pytest
from mpharness import ROOT, micropypath, micropython, run_mp

sys.path.insert(0, os.path.join(ROOT, "tools"))
from meter_sim import MeterSim  # noqa: E402

SCRIPT = r"""
import asyncio, gc, json, sys, time
import board
from hw import meter_task, modbus
a = json.loads(%r)
b = board.make({"dir": "/tmp", "uart": a["path"], "meters": a["meters"]})
gc.collect()
h0 = gc.mem_alloc()
m = modbus.Master(b.uart, timeout_ms=100, retries=1)
t = meter_task.MeterTask(m, b.meters, period_ms=a["period"], stale_ms=a.get("stale"))

async def main():
    task = asyncio.create_task(t.run())
    state = None
    t0 = time.ticks_ms()
    while time.ticks_diff(time.ticks_ms(), t0) < a["run_ms"]:
        s = "FRESH" if t.reading(1) is not None else "NONE"
        if s != state:
            state = s
            sv = t.sample(1, ("Power.Active.Import",), "Trigger")
            print("STATE", s, json.dumps(sv))
        await asyncio.sleep_ms(20)
        if a.get("stop_at") and time.ticks_diff(time.ticks_ms(), t0) > a["stop_at"]:
            task.cancel()
            a["stop_at"] = None
            print("STOPPED")
    gc.collect()
    print("HEAP", gc.mem_alloc() - h0, t.polls)
    print("MEAS", json.dumps(t.measurands()))

asyncio.run(main())
"""


@pytest.fixture()
def sim():
    s = MeterSim({1: "SDM630", 2: "EM340"})
    s.start()
    s.set_power(1, 7000)
    s.set_power(2, 3000)
    yield s
    s.stop()


def start(sim, **a):
    a.setdefault("meters", {"1": ["SDM630", 1], "2": ["EM340", 2]})
    a["path"] = sim.path
    env = dict(os.environ, MICROPYPATH=micropypath())
    return subprocess.Popen(
        [micropython(), "-X", "heapsize=64K", "-c", SCRIPT % json.dumps(a)],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def wait_line(p, prefix, timeout=10):
    lines = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        ln = p.stdout.readline()
        if not ln:
            break
        lines.append(ln)
        if ln.startswith(prefix):
            return ln, lines
    raise AssertionError("no %r line; got:\n%s" % (prefix, "".join(lines)))


def test_meter_down_is_logged_once_and_recovers_by_itself(sim):
    p = start(sim, period=100, run_ms=3000)
    out = []
    try:
        ln, got = wait_line(p, "STATE FRESH")
        out += got
        sv = json.loads(ln.split(" ", 2)[2])
        assert {"value": 7000.0, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "W"},
                "context": "Trigger"} in sv
        sim.set_silent(True)  # both meters unplugged
        ln, got = wait_line(p, "STATE NONE")
        out += got
        time.sleep(0.8)  # several more failing polls: still only one "down" line per meter
        sim.set_silent(False)
        ln, got = wait_line(p, "STATE FRESH")
        out += got
        rest = p.communicate(timeout=10)[0]
    finally:
        p.kill()
    text = "".join(out) + rest
    assert text.count("SDM630 unit 1 down: Timeout") == 1, text
    assert text.count("EM340 unit 2 down: Timeout") == 1, text
    assert text.count("SDM630 unit 1 answers again") == 1, text
    assert text.count("EM340 unit 2 answers again") == 1, text
    assert " E " not in text and "Traceback" not in text, text
    heap = int(text.split("HEAP ")[1].split()[0])
    assert heap < 8000, text  # master buffers + task + two cached readings, on the 64-bit host
    assert json.loads(text.split("MEAS ")[1].splitlines()[0]) == [
        "Voltage", "Current.Import", "Power.Active.Import", "Frequency", "Energy.Active.Import.Register"]


def test_reading_goes_stale_when_polling_stops(sim):
    # the poller is cancelled at 500 ms: the cached value must not be served past stale_ms
    p = start(sim, period=100, stale=400, run_ms=1400, stop_at=500)
    text = p.communicate(timeout=20)[0]
    states = [ln.split()[1] for ln in text.splitlines() if ln.startswith("STATE")]
    assert states == ["NONE", "FRESH", "NONE"] or states == ["FRESH", "NONE"], text
    assert "STOPPED" in text


def test_unknown_model_is_refused_at_start():
    rc, out = run_mp(["-c", "from hw import meter_task\nmeter_task.MeterTask(None, {1: ('XYZ', 1)})"])
    assert rc != 0 and "unknown meter model XYZ" in out
