"""Host board: the bench (tools/bench.py) drives connector inputs the firmware polls under the Unix port."""

import json
import os
import subprocess
import sys
import time

from mpharness import ROOT, micropypath, micropython

sys.path.insert(0, os.path.join(ROOT, "tools"))
import bench  # noqa: E402

SCRIPT = r"""
import asyncio, json, time
import board
from hw import inputs
cfg = json.loads(%r)
b = board.make(cfg)
print("BOARD", b.name, b.reset_cause, b.root, sorted(b.inputs), b.uart, b.wdt, json.dumps(b.meters))
ins = inputs.Inputs(b.inputs, period_ms=10, samples=3)
ins.subscribe(lambda e, c, st, pl, ch: print("EV", e, c, st, int(pl), int(ch)))

async def main():
    t = asyncio.create_task(ins.run())
    await asyncio.sleep_ms(50)
    print("READY")
    await asyncio.sleep_ms(cfg["run_ms"])
    print("FINAL", json.dumps([ins.state(e) for e in (1, 2)]))

asyncio.run(main())
"""


def test_bench_file_drives_the_connector_inputs(tmp_path):
    d = str(tmp_path)
    bench.set_inputs(d, 2, plug=1)  # EVSE 2 already plugged at boot: the start state, no event
    cfg = {"dir": d, "evses": [1, 2], "reset_cause": "Watchdog", "meters": {"2": ["EM340", 7]}, "run_ms": 2000}
    p = subprocess.Popen(
        [micropython(), "-X", "heapsize=64K", "-c", SCRIPT % json.dumps(cfg)],
        env=dict(os.environ, MICROPYPATH=micropypath()), cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines = []
    try:
        while True:
            ln = p.stdout.readline()
            assert ln, "".join(lines)
            lines.append(ln)
            if ln.startswith("READY"):
                break
        bench.set_input(d, 1, "plug", 1)
        time.sleep(0.3)
        bench.set_inputs(d, 1, charging=1)
        time.sleep(0.3)
        bench.set_input(d, 2, "fault", 1)
        time.sleep(0.3)
        out = "".join(lines) + p.communicate(timeout=10)[0]
    finally:
        p.kill()
    assert "BOARD host Watchdog %s [1, 2] None None {\"2\": [\"EM340\", 7]}" % d in out, out
    events = [ln.split()[1:] for ln in out.splitlines() if ln.startswith("EV ")]
    assert events == [
        ["1", "1", "Occupied", "1", "0"],
        ["1", "1", "Occupied", "1", "1"],
        ["2", "1", "Faulted", "1", "0"],
    ], out
    final = json.loads(out.split("FINAL ")[1])
    assert final == [["Occupied", True, True, False], ["Faulted", True, False, True]]
    assert bench.get_inputs(d) == {"1": {"plug": 1, "charging": 1, "fault": 0},
                                   "2": {"plug": 1, "charging": 0, "fault": 1}}
    assert not os.path.exists(bench.pins_path(d) + ".tmp")
