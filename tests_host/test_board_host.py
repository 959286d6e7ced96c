"""Host board: the pin file (boards/host/sim/pins.py) drives connector inputs the firmware polls under the Unix port."""

import json
import os
import subprocess

from mpharness import ROOT, micropypath, micropython

from boards.host.sim import pins

SCRIPT = r"""
import asyncio, json, os, time
import station_board as board
from station.hw import inputs
cfg = json.loads(%r)
b = board.make(cfg)
print("BOARD", b.name, b.reset_cause, b.root, sorted(b.inputs), b.uart, b.wdt, json.dumps(b.meters))
ins = inputs.Inputs(b.inputs, period_ms=10, samples=3)
ins.subscribe(lambda e, pl, ch, fa: print("EV", e, int(pl), int(ch), int(fa)))

def told_to_stop():
    try:
        os.stat(cfg["stop"])
        return True
    except OSError:
        return False

async def main():
    t = asyncio.create_task(ins.run())
    await asyncio.sleep_ms(0)  # run() goes first: its first sample, the start state, is taken before it waits
    print("READY")
    t0 = time.ticks_ms()
    # until the test has seen what it waits for and says so; the bound only ends a hung test
    while not told_to_stop() and time.ticks_diff(time.ticks_ms(), t0) < cfg["hang_ms"]:
        await asyncio.sleep_ms(10)
    print("FINAL", json.dumps([ins.state(e) for e in (1, 2)]))

asyncio.run(main())
"""


def test_bench_file_drives_the_connector_inputs(tmp_path):
    d = str(tmp_path)
    pins.set_inputs(d, 2, plug=1)  # EVSE 2 already plugged at boot: the start state, no event
    stop = os.path.join(d, "stop")
    cfg = {"dir": d, "evses": [1, 2], "reset_cause": "Watchdog", "meters": {"2": ["EM340", 7]}, "stop": stop,
           "hang_ms": 60000}
    p = subprocess.Popen(
        [micropython(), "-X", "heapsize=64K", "-c", SCRIPT % json.dumps(cfg)],
        env=dict(os.environ, MICROPYPATH=micropypath()), cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines = []

    def until(prefix):
        # the next line starting with prefix (the process ends at the latest after hang_ms)
        while True:
            ln = p.stdout.readline()
            assert ln, "".join(lines)
            lines.append(ln)
            if ln.startswith(prefix):
                return ln

    try:
        until("READY")
        # each change of the bench file is seen as its own event before the next one is made: order, no pause
        pins.set_input(d, 1, "plug", 1)
        until("EV ")
        pins.set_inputs(d, 1, charging=1)
        until("EV ")
        pins.set_input(d, 2, "fault", 1)
        until("EV ")
        open(stop, "w").close()
        out = "".join(lines) + p.communicate(timeout=60)[0]
    finally:
        p.kill()
    assert "BOARD host Watchdog %s [1, 2] None None {\"2\": [\"EM340\", 7]}" % d in out, out
    events = [ln.split()[1:] for ln in out.splitlines() if ln.startswith("EV ")]
    assert events == [  # evse, plugged, charging, fault
        ["1", "1", "0", "0"],
        ["1", "1", "1", "0"],
        ["2", "1", "0", "1"],
    ], out
    final = json.loads(out.split("FINAL ")[1])
    assert final == [[True, True, False], [True, False, True]]
    assert pins.get_inputs(d) == {"1": {"plug": 1, "charging": 1, "fault": 0},
                                   "2": {"plug": 1, "charging": 0, "fault": 1}}
    assert not os.path.exists(pins.pins_path(d) + ".tmp")
