# The decision table of spec digest §2, row by row, against a station built from the real station parts.
# Only the outbox, the link and the certificate store are stand-ins here; end-to-end tests use the real ones.
import os

import trigger
from mptest import eq
from certs.keystore import Keystore
from station.device_model import DeviceModel
from station.fwlog import FwState, LogState
from station.store import Store
from station.tx import Transactions
from station.txq import TxQueue

HEAP = "128K"
_ROOT = "/tmp/mpt_trigger"


class Outbox:
    def __init__(self):
        self.items = []
        self.results = {}

    def put(self, action, payload, triggered=False, key=None, on_result=None):
        self.items.append((action, payload, triggered, key))
        self.results[key] = on_result
        return True


class Conn:
    boot_accepted = False

    def __init__(self):
        self.boots = []

    def send_boot(self, reason):
        self.boots.append(reason)


class St:
    serial = "SN-0001"

    def __init__(self):
        os.system("rm -rf " + _ROOT)  # the Unix port has os.system; tests run on the host only
        self.dm = DeviceModel(initial={"SecurityCtrlr.OrganizationName": "Acme"})
        self.outbox = Outbox()
        self.conn = Conn()
        self.fw = FwState(Store(_ROOT))
        self.logs = LogState()
        self.keys = Keystore(Store(_ROOT + "/certs"))
        self.meter_ok = {1: True, 2: True}
        self.status = {(1, 1): "Available", (2, 1): "Occupied"}
        self.tx = Transactions(Store(_ROOT), TxQueue(Store(_ROOT + "/q")), self.dm, self.sample,
                               lambda: True, lambda: None)

    def evse_ids(self):
        return [1, 2]

    def connector(self, e, c):
        return self.status.get((e, c))

    def sample(self, e, meas, ctx):
        if not self.meter_ok[e]:
            return None
        return [{"value": 7, "measurand": m, "context": ctx} for m in meas]


async def ask(st, kind, evse=None):
    req = {"requestedMessage": kind}
    if evse is not None:
        req["evse"] = evse
    resp, after = trigger.handle(st, req)
    assert (after is not None) == (resp["status"] == "Accepted"), "Accepted and only Accepted sends"
    if after:
        await after()
    return resp


def code(resp):
    return resp["status"], resp.get("statusInfo", {}).get("reasonCode")


async def test_heartbeat_always_evse_ignored():
    st = St()
    eq(code(await ask(st, "Heartbeat", {"id": 9})), ("Accepted", None))
    eq(st.outbox.items, [("Heartbeat", {}, True, "Heartbeat")])


async def test_boot_notification_rule():
    st = St()
    eq(code(await ask(st, "BootNotification")), ("Accepted", None))
    eq(st.conn.boots, ["Triggered"])
    st.conn.boot_accepted = True
    eq(code(await ask(st, "BootNotification")), ("Rejected", None))
    eq(st.conn.boots, ["Triggered"])


async def test_status_notification_rows():
    st = St()
    eq(code(await ask(st, "StatusNotification")), ("Rejected", "MissingEvse"))
    eq(code(await ask(st, "StatusNotification", {"id": 1})), ("Rejected", "MissingConnectorId"))
    eq(code(await ask(st, "StatusNotification", {"id": 7, "connectorId": 1})), ("Rejected", "UnknownEvse"))
    eq(code(await ask(st, "StatusNotification", {"id": 1, "connectorId": 3})), ("Rejected", "UnknownConnectorId"))
    eq(st.outbox.items, [])
    eq(code(await ask(st, "StatusNotification", {"id": 2, "connectorId": 1})), ("Accepted", None))
    eq(code(await ask(st, "StatusNotification", {"id": 2, "connectorId": 1})), ("Accepted", None))
    a, p, trig, key = st.outbox.items[0]
    eq((a, p["connectorStatus"], p["evseId"], p["connectorId"], trig), ("StatusNotification", "Occupied", 2, 1, True))
    eq(len(st.outbox.items), 2)  # unchanged status is still sent when triggered


async def test_meter_values_rows():
    st = St()
    st.dm.put("AlignedDataCtrlr", "Measurands", "Current.Import")
    eq(code(await ask(st, "MeterValues")), ("Accepted", None))
    eq([(i[1]["evseId"], i[3]) for i in st.outbox.items], [(1, "Meter1"), (2, "Meter2")])
    sv = st.outbox.items[0][1]["meterValue"][0]["sampledValue"]
    eq([(s["measurand"], s["context"]) for s in sv], [("Current.Import", "Trigger")])
    st.outbox.items = []
    eq(code(await ask(st, "MeterValues", {"id": 2})), ("Accepted", None))
    eq([i[1]["evseId"] for i in st.outbox.items], [2])
    eq(code(await ask(st, "MeterValues", {"id": 5})), ("Rejected", "UnknownEvse"))
    st.meter_ok[2] = False
    st.outbox.items = []
    eq(code(await ask(st, "MeterValues")), ("Rejected", "NoFreshMeterValue"))
    eq(code(await ask(st, "MeterValues", {"id": 1})), ("Accepted", None))
    eq(len(st.outbox.items), 1)


async def test_transaction_event_rows():
    st = St()
    eq(code(await ask(st, "TransactionEvent")), ("Rejected", "TxNotFound"))
    st.tx.on_connector(2, 1, True, True)
    eq(code(await ask(st, "TransactionEvent", {"id": 1})), ("Rejected", "TxNotFound"))
    eq(code(await ask(st, "TransactionEvent", {"id": 4})), ("Rejected", "UnknownEvse"))
    eq(code(await ask(st, "TransactionEvent")), ("Accepted", None))
    q = st.tx.q
    q.ack(q.peek()[0])  # the Started event
    p = q.peek()[1]
    eq((p["eventType"], p["triggerReason"], p["seqNo"], p["evse"]["id"]), ("Updated", "Trigger", 1, 2))


async def test_firmware_and_log_status():
    st = St()
    eq(code(await ask(st, "FirmwareStatusNotification", {"id": 3})), ("Accepted", None))
    eq(st.outbox.items[-1][1], {"status": "Idle"})
    st.fw.sent("DownloadFailed", 12)
    await ask(st, "FirmwareStatusNotification")
    eq(st.outbox.items[-1][1], {"status": "DownloadFailed", "requestId": 12})
    st.fw.sent("Installed", 12)
    await ask(st, "FirmwareStatusNotification")
    eq(st.outbox.items[-1][1], {"status": "Idle"})
    await ask(st, "LogStatusNotification")
    eq(st.outbox.items[-1][1], {"status": "Idle"})
    st.logs.uploading = 44
    await ask(st, "LogStatusNotification")
    eq(st.outbox.items[-1][1], {"status": "Uploading", "requestId": 44})


async def test_certificate_rows():
    st = St()
    eq(code(await ask(st, "SignCombinedCertificate")), ("NotImplemented", None))
    eq(code(await ask(st, "SignV2GCertificate")), ("Rejected", "V2GDisabled"))
    eq(code(await ask(st, "SignChargingStationCertificate")), ("Accepted", None))
    a, p, trig, key = st.outbox.items[-1]
    eq((a, p["certificateType"], trig), ("SignCertificate", "ChargingStationCertificate", True))
    assert p["csr"].startswith("-----BEGIN CERTIFICATE REQUEST-----")
    eq(code(await ask(st, "SignChargingStationCertificate")), ("Rejected", "CsrPending"))
    st.outbox.results["SignChargingStationCertificate"]({"status": "Rejected"})  # the CSMS will not sign
    eq(code(await ask(st, "SignChargingStationCertificate")), ("Accepted", None))
    st.dm.put("ISO15118Ctrlr", "V2GCertificateInstallationEnabled", True)
    eq(code(await ask(st, "SignV2GCertificate")), ("Rejected", "MissingIdentity"))  # no SeccId yet
    st.dm.put("ISO15118Ctrlr", "SeccId", "SECC-7")
    eq(code(await ask(st, "SignV2GCertificate")), ("Accepted", None))
    eq(code(await ask(st, "SignCombinedCertificate")), ("Accepted", None))
    assert "certificateType" not in st.outbox.items[-1][1]
    st2 = St()
    st2.dm.put("SecurityCtrlr", "OrganizationName", "")
    eq(code(await ask(st2, "SignChargingStationCertificate")), ("Rejected", "MissingIdentity"))


async def test_publish_firmware_and_unknown_are_not_implemented():
    st = St()
    eq(code(await ask(st, "PublishFirmwareStatusNotification")), ("NotImplemented", None))
    eq(code(await ask(st, "SomethingNew")), ("NotImplemented", None))
    eq(st.outbox.items, [])
