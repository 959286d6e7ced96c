# The real station (station.app.Station) on the host board, for MicroPython-side tests: real outbox, connection
# object, device model, transactions, inputs (through the host board's bench file), certificate store.
# Not connected to any CSMS: a test sets the registration state with a boot answer, as conn.py would.
# Meters: the real MeterTask cache, fed with readings by the test (the poller itself is tested against
# pymodbus in test_modbus.py / test_meter_task.py).
import json
import os

import station_board as board
from flash import rmtree
from station import app
from station.hw.meter_task import MeterTask

_ROOT = "/tmp/mpt_station"


def pins(evse, plug=0, charging=0, fault=0, root=_ROOT):
    """What the bench wires to one EVSE's contacts (read by the host board)."""
    path = root + "/pins.json"
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        data = {}
    data[str(evse)] = {"plug": plug, "charging": charging, "fault": fault}
    with open(path + ".tmp", "w") as f:
        json.dump(data, f)
    os.rename(path + ".tmp", path)


def make(evses=(1, 2), dm=None, fresh=True, serial="SN-0001", bare=False, **cfg):
    """bare: a board without any EVSE (a controller not yet wired)."""
    if fresh:
        rmtree(_ROOT)
    c = {"dir": _ROOT, "evses": list(evses), "csms": "ws://127.0.0.1:9/ocpp", "id": "CS-T", "serial": serial,
         "dm": dict({"SecurityCtrlr.OrganizationName": "Acme", "AlignedDataCtrlr.Interval": 0}, **(dm or {}))}
    c.update(cfg)
    b = board.make(c)
    if bare:
        b.inputs = {}
    st = app.Station(b, c)
    st.meters = MeterTask(None, {e: ("SDM630", e) for e in evses}) if not bare else None
    return st


def sdm630_raw(values):
    """The SDM630's register bytes (float32, energy in kWh) for values in the order of meters.fields()."""
    import struct

    from station.hw import meters

    _, blocks, flds = meters.spec("SDM630")
    raw = bytearray(meters.size("SDM630"))
    for i in range(len(flds)):  # (zip has no strict= in MicroPython)
        f, v = flds[i], values[i]
        base = sum(blocks[i][1] for i in range(f[2])) * 2
        struct.pack_into(">f", raw, base + f[3], v / 1000 if f[5] == 1000 else v)
    return raw


def reading(st, evse, energy_wh=1000, power_w=0.0):
    """A fresh meter reading of one EVSE, as its SDM630 would give it (hw/meters.py)."""
    st.meters.record(evse, sdm630_raw((230.0, 230.0, 230.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, power_w, 50.0, energy_wh)))


def settle_inputs(st, n=4):
    """Sample the inputs until the bench's contacts are debounced (the inputs task does this every 25 ms)."""
    import time

    time.sleep_ms(11)  # the host board re-reads the bench file at most every 10 ms
    for _ in range(n):
        st.inputs.sample()


def register(st, status="Accepted", now="2026-12-01T10:00:00Z", interval=300):
    """The CSMS answered the BootNotification (registration.py's own handling of the answer)."""
    st.reg._boot_result({"status": status, "interval": interval, "currentTime": now})


def queued(st, action=None):
    """(action, payload, triggered) of the outbox's RAM items."""
    return [(i.action, i.payload, i.triggered) for i in st.outbox.items if action is None or i.action == action]


async def ask(st, kind, evse=None, sent=True):
    """TriggerMessage through trigger.handle over the station's view, as rpc.py runs it: response, then
    after(sent)."""
    from station import trigger

    req = {"requestedMessage": kind}
    if evse is not None:
        req["evse"] = evse
    resp, after = trigger.handle(st.view, req)
    assert (after is not None) == (resp["status"] == "Accepted"), "Accepted and only Accepted sends"
    if after:
        r = after(sent)
        if r is not None:
            await r
    return resp["status"], resp.get("statusInfo", {}).get("reasonCode")
