"""The meter task under the Unix port against pymodbus meters on a pty: cache, staleness, down/recovery."""

import json
import os
import subprocess

import pytest
from mpharness import ROOT, micropypath, micropython, run_mp

from boards.host.sim.meters import MeterSim

HANG_MS = 60000  # only ends a hung script: every run below ends on an event

# STATE: EVSE 1's reading changed between fresh and none; POLLS: the poller finished another round;
# STOPPED: the poller was cancelled (stop_when_fresh); AGE: how old the reading was when it was first refused.
SCRIPT = r"""
import asyncio, gc, json, os, sys, time
import station_board as board
from station.hw import meter_task, modbus
a = json.loads(%r)
b = board.make({"dir": "/tmp", "uart": a["path"], "meters": a["meters"]})
gc.collect()
h0 = gc.mem_alloc()
m = modbus.Master(b.uart, timeout_ms=100, retries=1)
t = meter_task.MeterTask(m, b.meters, period_ms=a["period"], stale_ms=a.get("stale"))

def told_to_stop():
    try:
        os.stat(a["stop"])
        return True
    except (KeyError, OSError):
        return False

async def main():
    task = asyncio.create_task(t.run())
    state = None
    polls = t.polls
    t0 = time.ticks_ms()
    while not told_to_stop() and time.ticks_diff(time.ticks_ms(), t0) < a["hang_ms"]:
        s = "FRESH" if t.reading(1) is not None else "NONE"
        if s != state:
            state = s
            sv = t.sample(1, ("Power.Active.Import",), "Trigger")
            print("STATE", s, json.dumps(sv))
            if task is None and s == "NONE":
                print("AGE", time.ticks_diff(time.ticks_ms(), t._t[1]))
                break
        if t.polls != polls:
            polls = t.polls
            print("POLLS", polls)
        if a.get("stop_when_fresh") and task and s == "FRESH":
            task.cancel()
            task = None
            print("STOPPED")
        await asyncio.sleep_ms(20)
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
    a["hang_ms"] = HANG_MS
    env = dict(os.environ, MICROPYPATH=micropypath())
    return subprocess.Popen(
        [micropython(), "-X", "heapsize=64K", "-c", SCRIPT % json.dumps(a)],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def _is(ln, text):
    # a line of the script's own (it starts with text) or a log line of the firmware's that has it
    return ln.startswith(text) or (ln[:1].isdigit() and text in ln)


def wait_line(p, *texts):
    """Read the script's output until a line for each of texts (see _is) has come, in any order; returns
    (the last line for the first text, the lines read). The script ends at the latest after HANG_MS."""
    lines = []
    while not all(any(_is(ln, t) for ln in lines) for t in texts):
        ln = p.stdout.readline()
        if not ln:
            raise AssertionError("no %r line; got:\n%s" % (texts, "".join(lines)))
        lines.append(ln)
    return [ln for ln in lines if _is(ln, texts[0])][-1], lines


def test_meter_down_is_logged_once_and_recovers_by_itself(sim, tmp_path):
    stop = str(tmp_path / "stop")
    p = start(sim, period=100, stop=stop)
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
        for _ in range(3):  # three more rounds of failing polls: still only one "down" line per meter
            ln, got = wait_line(p, "POLLS")
            out += got
        sim.set_silent(False)
        ln, got = wait_line(p, "STATE FRESH", "EM340 unit 2 answers again")  # EVSE 2's meter is polled after 1's
        out += got
        open(stop, "w").close()
        rest = p.communicate(timeout=60)[0]
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
    # the poller is cancelled once it has a reading: the cached value must not be served past stale_ms
    p = start(sim, period=100, stale=400, stop_when_fresh=True)
    text = p.communicate(timeout=HANG_MS // 1000 + 30)[0]
    states = [ln.split()[1] for ln in text.splitlines() if ln.startswith("STATE")]
    assert states == ["NONE", "FRESH", "NONE"] or states == ["FRESH", "NONE"], text
    assert text.index("STOPPED") < text.rindex("STATE NONE"), text
    assert int(text.split("AGE ")[1].split()[0]) > 400, text  # refused only once older than stale_ms


def test_unknown_model_is_refused_at_start():
    rc, out = run_mp(["-c", "from station.hw import meter_task\nmeter_task.MeterTask(None, {1: ('XYZ', 1)})"])
    assert rc != 0 and "unknown meter model XYZ" in out
