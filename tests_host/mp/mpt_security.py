# Security events (A04): queued on flash, sent as SecurityEventNotification through the one outbox after
# the transaction events, kept across a reboot; a full flash or a clock that is not set yet loses nothing.
import os

from flash import FullFS
from mptest import eq
from station import clock
from station.model.txq import TxQueue
from station.session.outbox import Outbox
from station.session.security import Security
from station.store import Store

HEAP = "96K"  # the outbox and rpc compiled from source here
_ROOT = "/tmp/mpt_security"


class Rpc:  # the CSMS side of rpc.call: records what the outbox sends
    def __init__(self):
        self.ws = object()
        self.sent = []

    async def call(self, action, payload):
        self.sent.append((action, payload))
        return {}


def _sec(fs=None, fresh=True):
    if fresh:
        os.system("rm -rf " + _ROOT)  # the Unix port has os.system; tests run on the host only
    q = TxQueue(Store(_ROOT, fs), 20, "SecurityEventNotification")
    return Security(q), q


async def _drain(ob):
    while await ob.step():
        pass


async def test_event_is_on_flash_and_goes_after_transaction_events():
    sec, q = _sec()
    sec.event("InvalidChargingStationCertificate", "x" * 400)
    sec.event("FirmwareUpdated")
    sec, q = _sec(fresh=False)  # a reboot: both come back from flash, in order
    eq(len(q), 2)
    rpc = Rpc()
    ob = Outbox(rpc)
    tx = TxQueue(Store(_ROOT + "/tx"), 20)
    tx.push({"eventType": "Started", "timestamp": clock.rfc3339(), "seqNo": 0})
    ob.add_source(tx)
    ob.add_source(q)
    ob.set_state("accepted")
    await _drain(ob)
    eq([a for a, _ in rpc.sent], ["TransactionEvent", "SecurityEventNotification", "SecurityEventNotification"])
    first = rpc.sent[1][1]
    eq(first["type"], "InvalidChargingStationCertificate")
    eq(len(first["techInfo"]), 255)  # the schema's maxLength
    eq(rpc.sent[2][1], {"type": "FirmwareUpdated", "timestamp": rpc.sent[2][1]["timestamp"]})
    eq(len(q), 0)


async def test_full_flash_keeps_the_event_in_ram_and_never_raises():
    fs = FullFS()
    sec, q = _sec(fs)
    fs.full = True
    sec.event("InvalidFirmwareSignature")
    eq(len(q), 1)
    rpc = Rpc()
    ob = Outbox(rpc)
    ob.add_source(q)
    ob.set_state("accepted")
    await _drain(ob)
    eq([p["type"] for _, p in rpc.sent], ["InvalidFirmwareSignature"])


def test_event_before_the_clock_is_set_gets_its_time_once_it_is():
    sec, q = _sec()
    t0 = clock.parse("2000-01-01T00:00:00Z") - clock._epoch()  # an ESP32's RTC after power loss
    clock.use(lambda: t0)
    clock._known = False
    clock._offset = 0
    clock.when_known(q.settle)
    sec.event("SettingSystemTime")
    p = TxQueue(Store(_ROOT), 20, "SecurityEventNotification").peek()[1]  # as on flash
    assert p["timestamp"].startswith("@"), p  # a boot-relative marker, not a time from 2000
    clock.set_from("2031-05-06T07:08:09Z")
    p = TxQueue(Store(_ROOT), 20, "SecurityEventNotification").peek()[1]
    assert p["timestamp"].startswith("2031-05-06T07:08"), p  # rewritten on flash with the real time
