"""Heap allocated per operation on the station's hot paths (issue 15), under the MicroPython Unix port.

    .venv/bin/python tools/bench/hot.py [--label after] [--runs 20]     (make bench-hot)

Each operation runs once to warm up (imports, caches, first-use tables), then `runs` times with the garbage
collector disabled; the figure is gc.mem_alloc() after minus before, divided by runs, minus the same for an
empty call (the loop's own cost). Bytes are x86-64 (objects are about twice an ESP32's), from the .mpy build.

Ints: on an ESP32 a small int is 31-bit signed (at most 1,073,741,823); a bigger one is a heap object there,
while on this 64-bit port it is not. The table says, for the clock, whether the value returned fits an ESP32
small int (else every call allocates on the board, whatever the host figure says).

Results go to results/hot.md and results/hot.json; --label names the column (default "after": the tree as it
is now); the other columns are kept, so the "before" one (issue 15's starting point, measured at 346030d with
--label before) stays next to it.
"""

import argparse
import json
import os
import subprocess
import tempfile

from tools import ROOT
from tools.bench import kit
from tools.build import mpy

# The MicroPython side: prints "HOT <name> <bytes per op> <note>" lines.
MP = r"""
import asyncio, gc, sys

RUNS = int(sys.argv[1])
SMALL = 1073741823  # an ESP32's largest small int


def per_op(fn):
    fn()
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    for _ in range(RUNS):
        fn()
    d = gc.mem_alloc() - a
    gc.enable()
    return d // RUNS


async def per_op_async(fn):
    await fn()
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    for _ in range(RUNS):
        await fn()
    d = gc.mem_alloc() - a
    gc.enable()
    return d // RUNS


BASE = per_op(lambda: None)


def out(name, n, note=""):
    print("HOT", name, max(0, n - BASE), note)


from station.transport import validate

TE = {"totalCost": 1.25, "chargingPriority": 0,
      "idTokenInfo": {"status": "Accepted", "cacheExpiryDateTime": "2026-12-01T10:00:00Z", "language1": "en"}}
GV = {"getVariableData": [
    {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}},
    {"component": {"name": "SampledDataCtrlr"}, "variable": {"name": "TxUpdatedInterval"}, "attributeType": "Actual"},
]}
GV_BAD = {"getVariableData": [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": 5}}]}
assert validate.check(validate.response_node("TransactionEvent"), TE) is None
assert validate.check(validate.request_node("GetVariables"), GV) is None
out("validate_te_response", per_op(lambda: validate.check(validate.response_node("TransactionEvent"), TE)))
out("validate_getvariables", per_op(lambda: validate.check(validate.request_node("GetVariables"), GV)))
out("validate_getvariables_error", per_op(lambda: validate.check(validate.request_node("GetVariables"), GV_BAD)),
    "%s at %s" % validate.check(validate.request_node("GetVariables"), GV_BAD))
out("validate_known", per_op(lambda: validate.known("TriggerMessage")))

from station import clock
import time

# an ESP32's RTC: port-epoch seconds as an int (the Unix port's time.time() is a float, boxed on its own)
T = clock.parse("2026-12-01T10:00:00Z") - clock._epoch()
clock.use(lambda: T)
clock.set_from("2026-12-01T10:00:00Z")
v = clock.now()
out("clock_now", per_op(clock.now), "value %d: %s" % (v, "fits an ESP32 small int" if -SMALL - 1 <= v <= SMALL
                                                  else "an ESP32 big int: allocates there on every call"))
out("clock_stamp", per_op(clock.stamp), "same second again")


def stamp_new_second():
    global T
    T += 1
    clock.stamp()


out("clock_stamp_new_second", per_op(stamp_new_second), "a new second: a new string")

from station.model.device_model import DeviceModel

dm = DeviceModel()
out("dm_get", per_op(lambda: dm.get("SampledDataCtrlr", "TxUpdatedInterval")))
out("dm_get_instance", per_op(lambda: dm.get("OCPPCommCtrlr", "MessageTimeout")), "Default instance")

from station.transport import wsframe


class Sink:
    def write(self, b):
        pass

    async def drain(self):
        pass


ws = wsframe.WS(None, Sink(), 16384, 0)


def payload(size):
    sv = []
    p = {"evseId": 1, "meterValue": [{"timestamp": "2026-12-01T10:00:00Z", "sampledValue": sv}]}
    while len(json.dumps(p)) < size - 60:
        sv.append({"value": 1234.5 + len(sv), "measurand": "Energy.Active.Import.Register"})
    return p


import json

P1 = payload(1024)
P4 = payload(4096)


async def frames():
    n1 = len(json.dumps(P1))
    n4 = len(json.dumps(P4))
    out("ws_send_json_1k", await per_op_async(lambda: ws.send_json(P1)), "%d bytes of JSON" % n1)
    out("ws_send_json_4k", await per_op_async(lambda: ws.send_json(P4)), "%d bytes of JSON" % n4)


asyncio.run(frames())

import hoststation as hs

clock.set_from("2026-12-01T10:00:00Z")
st = hs.make(dm={"AlignedDataCtrlr.Interval": 900})
st.connectors.start()
st.tx.recover(st.connectors.evse_ids(), st.connectors.plugged)
hs.pins(1, plug=1, charging=1)
hs.settle_inputs(st)
st.sched.alive("station")
st.sched.alive("meter")


def one_second():
    global T
    T += 1
    st.tick()
    st.sched.healthy()


out("ticker_second", per_op(one_second), "app.tick + sched.healthy, 2 EVSEs, one transaction")
"""

NAMES = (
    ("validate_te_response", "validate a TransactionEventResponse"),
    ("validate_getvariables", "validate a GetVariablesRequest (2 items)"),
    ("validate_getvariables_error", "the same with a bad field (error path)"),
    ("validate_known", "validate.known(action)"),
    ("clock_now", "clock.now()"),
    ("clock_stamp", "clock.stamp(), same second"),
    ("clock_stamp_new_second", "clock.stamp(), a new second"),
    ("dm_get", "DeviceModel.get"),
    ("dm_get_instance", "DeviceModel.get, Default instance"),
    ("ws_send_json_1k", "WS.send_json, 1 KB JSON"),
    ("ws_send_json_4k", "WS.send_json, 4 KB JSON"),
    ("ticker_second", "one second of the ticker"),
)
RESULT = os.path.join(kit.RESULTS, "hot.json")


def run(runs):
    env = dict(os.environ, MICROPYPATH=":".join((mpy.unix_path("host"), os.path.join(ROOT, "tests_host", "mp"))))
    with tempfile.NamedTemporaryFile("w", suffix=".py") as f:
        f.write(MP)
        f.flush()
        p = subprocess.run([mpy.micropython(), "-X", "heapsize=1M", f.name, str(runs)], env=env,
                           capture_output=True, text=True, timeout=120, cwd=ROOT)
    got = {}
    for ln in p.stdout.splitlines():
        if ln.startswith("HOT "):
            _, name, n, *note = ln.split(" ", 3) + [""]
            got[name] = {"bytes": int(n), "note": note[0].strip()}
    if p.returncode or len(got) != len(NAMES):
        raise RuntimeError("micropython failed:\n" + p.stdout + p.stderr)
    return got


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--label", default="after", help="the column these figures go into (before: issue 15's "
                    "starting point, kept from its own run)")
    ap.add_argument("--runs", type=int, default=20)
    a = ap.parse_args()
    got = run(a.runs)
    cols = {}
    if os.path.exists(RESULT):
        with open(RESULT) as f:
            cols = json.load(f).get("columns", {})
    cols[a.label] = got
    labels = [x for x in ("before", "after") if x in cols] + sorted(x for x in cols if x not in ("before", "after"))
    rows = []
    for key, what in NAMES:
        notes = []
        for lb in labels:  # each column's note once, named when the columns differ
            n = cols[lb].get(key, {}).get("note", "")
            if n and all(n != x for _, x in notes):
                notes.append((lb, n))
        note = notes[0][1] if len(notes) == 1 else "; ".join("%s: %s" % x for x in notes)
        rows.append([what] + [("%d B" % cols[lb][key]["bytes"]) if key in cols[lb] else "-" for lb in labels]
                    + [note])
    text = kit.table(["operation (bytes allocated per call, x86-64)"] + labels + ["note"], rows)
    kit.save("hot", "Heap per operation on hot paths (MicroPython Unix port, .mpy build)", text,
             {"columns": cols, "runs": a.runs}, "make bench-hot ARGS='--label %s'" % a.label)


if __name__ == "__main__":
    main()
