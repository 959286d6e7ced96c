"""The firmware's validation tables come from the official schemas, are up to date, and cover every action
the firmware really handles or sends (taken from firmware/ itself, not from the generator's lists)."""

import filecmp
import json
import os
import re
import shutil

import jsonschema

from mpharness import ROOT, run_mp

from tools.build import gen_validators


def test_committed_tables_match_the_generator_output():
    with open(gen_validators.OUT) as f:
        committed = f.read()
    assert committed == gen_validators.generate(), "run: .venv/bin/python tools/build/gen_validators.py"


def test_schemas_are_the_official_ones_from_the_ocpp_package():
    pkg = gen_validators.package_schemas()
    names = sorted(n for n in os.listdir(gen_validators.SCHEMAS) if n.endswith(".json"))
    assert names == gen_validators.wanted_files()
    for n in names:
        assert filecmp.cmp(os.path.join(pkg, n), os.path.join(gen_validators.SCHEMAS, n), shallow=False), n


# --- what the firmware handles and sends, taken from firmware/ itself ----------------------------------------

FIRMWARE = os.path.join(ROOT, "firmware")
# the message a TriggerMessage(requestedMessage) asks for (OCPP 2.0.1 F06): the kind's own name, except these
TRIGGERED_ACTION = {"SignChargingStationCertificate": "SignCertificate", "SignV2GCertificate": "SignCertificate",
                    "SignCombinedCertificate": "SignCertificate"}
_ON = re.compile(r"\bon\(\s*[\"']([A-Za-z0-9]+)[\"']")  # rpc.on("Action", ...) / on("Action", ...)
_SENT = (re.compile(r"\.(?:put|call)\(\s*[\"']([A-Za-z0-9]+)[\"']"),  # outbox.put("Action", ...), rpc.call(...)
         re.compile(r"\b(?:Call|__init__)\(\s*[\"']([A-Za-z0-9]+)[\"']"))  # a producer's Call("Action", ...)

# Under MicroPython: the real station object (station.app.Station on the host board, not connected) built with every
# rpc.on registration recorded, then asked for each requestedMessage whether it produces it (not NotImplemented).
_ASK = """
import json, sys
from station.transport import rpc
seen = []
_on = rpc.Rpc.on
def on(self, action, handler):
    seen.append(action)
    return _on(self, action, handler)
rpc.Rpc.on = on
import station_board as board
from station import app, trigger
cfg = {"dir": sys.argv[1], "csms": "ws://127.0.0.1:9/ocpp", "id": "CS-SCAN", "evses": [1]}
st = app.Station(board.make(cfg), cfg)
kinds = {}
for k in KINDS:
    resp, after = trigger.handle(st.view, {"requestedMessage": k, "evse": {"id": 1, "connectorId": 1}})
    kinds[k] = resp["status"]
print("ASK " + json.dumps({"handled": seen, "kinds": kinds}))
"""


def _sources(fw):
    for d, _, files in os.walk(fw):
        for n in files:
            if n.endswith(".py") and n != "schema_tbl.py":
                with open(os.path.join(d, n)) as f:
                    yield f.read()


def trigger_kinds():
    with open(os.path.join(gen_validators.SCHEMAS, "TriggerMessageRequest.json")) as f:
        return json.load(f)["definitions"]["MessageTriggerEnumType"]["enum"]


def firmware_actions(tmp, fw=FIRMWARE):
    """(handled, sent): the actions the firmware in fw registers a handler for, and the CALLs it sends."""
    known = set(gen_validators.all_actions())
    handled, sent = set(), set()
    for src in _sources(fw):
        handled |= set(_ON.findall(src))
        for rx in _SENT:
            sent |= {a for a in rx.findall(src) if a in known}
    script = os.path.join(str(tmp), "ask.py")
    with open(script, "w") as f:  # the kinds in the script: this Unix port aborts on argv items of 256+ chars
        f.write("KINDS = %s\n" % json.dumps(trigger_kinds()) + _ASK)
    flash = os.path.join(str(tmp), "flash")
    os.makedirs(flash, exist_ok=True)
    extra = () if fw == FIRMWARE else (fw,)  # a copy of firmware/ goes first on the import path
    rc, out = run_mp([script, flash], heap="512K", timeout=60, extra_path=extra)
    assert rc == 0 and "ASK " in out, out
    asked = json.loads(out.split("ASK ", 1)[1].splitlines()[0])
    handled |= set(asked["handled"])
    sent |= {TRIGGERED_ACTION.get(k, k) for k, status in asked["kinds"].items() if status != "NotImplemented"}
    return handled, sent


def schema_tables(fw=FIRMWARE):
    ns = {}
    with open(os.path.join(fw, "station", "transport", "schema_tbl.py")) as f:
        exec(f.read(), ns)  # plain data: the generated dicts
    return ns["REQ"], ns["RES"]


def missing(handled, sent, fw=FIRMWARE):
    """What the schemas, the generator or the generated tables lack for these actions."""
    req_tbl, res_tbl = schema_tables(fw)
    out = []
    for a in sorted(handled | sent):
        for kind in ("Request", "Response"):
            path = os.path.join(gen_validators.SCHEMAS, a + kind + ".json")
            if not os.path.exists(path):
                out.append("no schemas/%s%s.json" % (a, kind))
                continue
            with open(path) as f:
                jsonschema.Draft6Validator.check_schema(json.load(f))
    for a in sorted(handled):
        if a not in gen_validators.INCOMING:
            out.append("%s handled, not in gen_validators.INCOMING" % a)
        if a not in req_tbl:
            out.append("%s handled, no Request table in schema_tbl.REQ" % a)
    for a in sorted(sent):
        if a not in gen_validators.OUTGOING:
            out.append("%s sent, not in gen_validators.OUTGOING" % a)
        if a not in res_tbl:
            out.append("%s sent, no Response table in schema_tbl.RES" % a)
    return out


def test_every_handled_action_has_both_schemas(tmp_path):
    handled, sent = firmware_actions(tmp_path)
    # what the scan must at least see (the station's core): a scan that finds nothing proves nothing
    assert {"TriggerMessage", "GetVariables", "SetVariables"} <= handled, handled
    assert {"BootNotification", "Heartbeat", "StatusNotification", "TransactionEvent", "MeterValues",
            "SignCertificate", "LogStatusNotification", "FirmwareStatusNotification"} <= sent, sent
    assert missing(handled, sent) == []


def test_a_handler_or_sent_action_the_generator_lacks_is_found(tmp_path):
    # The check above on a copy of firmware/ with one more handler and one more sent CALL: both reported.
    fw = tmp_path / "fw"
    shutil.copytree(FIRMWARE, fw)
    app = fw / "station" / "app.py"
    src = app.read_text()
    anchor = '        on("TriggerMessage", '
    assert anchor in src
    app.write_text(src.replace(anchor, '        on("UnlockConnector", lambda p: {"status": "Unlocked"})\n' + anchor, 1))
    (fw / "station" / "extra_sender.py").write_text('def go(ob):\n    ob.put("NotifyEvent", {})\n')
    handled, sent = firmware_actions(tmp_path, str(fw))
    assert "UnlockConnector" in handled and "NotifyEvent" in sent
    got = missing(handled, sent, str(fw))
    assert "UnlockConnector handled, not in gen_validators.INCOMING" in got, got
    assert "UnlockConnector handled, no Request table in schema_tbl.REQ" in got, got
    assert "NotifyEvent sent, not in gen_validators.OUTGOING" in got, got
    assert "NotifyEvent sent, no Response table in schema_tbl.RES" in got, got
