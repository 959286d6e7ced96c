import os

from flash import FullFS
from mptest import eq
from station.model.device_model import DeviceModel
from station.store import Store
from station.model.tx import Transactions
from station.model.txq import TxQueue

HEAP = "72K"  # 64K ran out by a few hundred bytes once txq learnt its action (issue 12)
_ROOT = "/tmp/mpt_tx"


class Bench:
    # The station around Transactions: a meter that may be down, a link that may be offline.
    def __init__(self, fresh=True, fs=None):
        if fresh:
            os.system("rm -rf " + _ROOT)  # the Unix port has os.system; tests run on the host only
        self.dm = DeviceModel()
        self.energy = 1000
        self.meter_ok = True
        self.is_online = True
        self.wakes = 0
        self.q = TxQueue(Store(_ROOT + "/q", fs))
        self.tx = Transactions(Store(_ROOT, fs), self.q, self.dm, self.sample, lambda: self.is_online, self.wake)

    def wake(self):
        self.wakes += 1

    def sample(self, evse_id, measurands, context):
        if not self.meter_ok:
            return None
        return [{"value": self.energy, "measurand": m, "context": context} for m in measurands]

    def drain(self):
        out = []
        while self.q.peek():
            name, p = self.q.peek()
            out.append(p)
            self.q.ack(name)
        return out


def test_plug_charge_pause_unplug():
    b = Bench()
    b.tx.on_connector(1, 1, True, False)
    b.tx.on_connector(1, 1, True, True)
    b.energy = 1500
    b.tx.on_connector(1, 1, True, False)
    b.tx.on_connector(1, 1, False, False)
    ev = b.drain()
    eq([(e["eventType"], e["triggerReason"], e["transactionInfo"]["chargingState"], e["seqNo"]) for e in ev], [
        ("Started", "CablePluggedIn", "EVConnected", 0),
        ("Updated", "ChargingStateChanged", "Charging", 1),
        ("Updated", "ChargingStateChanged", "SuspendedEV", 2),
        ("Ended", "EVCommunicationLost", "Idle", 3),  # the cable is out: nothing is connected
    ])
    eq(len(set(e["transactionInfo"]["transactionId"] for e in ev)), 1)
    eq(ev[0]["evse"], {"id": 1, "connectorId": 1})
    eq(ev[0]["meterValue"][0]["sampledValue"][0]["context"], "Transaction.Begin")
    eq(ev[3]["transactionInfo"]["stoppedReason"], "EVDisconnected")
    eq(ev[3]["meterValue"][0]["sampledValue"][0]["value"], 1500)
    assert "offline" not in ev[0]
    eq(b.tx.running(1), None)
    eq(b.wakes, 4)


def test_trigger_uses_tx_updated_measurands_and_next_seq():
    b = Bench()
    b.tx.on_connector(2, 1, True, True)
    b.dm.put("SampledDataCtrlr", "TxUpdatedMeasurands", "Current.Import")
    p = b.tx.trigger(2)
    eq((p["eventType"], p["triggerReason"], p["seqNo"]), ("Updated", "Trigger", 1))
    eq(p["transactionInfo"]["chargingState"], "Charging")
    eq(p["evse"], {"id": 2, "connectorId": 1})
    eq([(s["measurand"], s["context"]) for s in p["meterValue"][0]["sampledValue"]], [("Current.Import", "Trigger")])


def test_meter_down_means_no_invented_values_and_offline_flag():
    b = Bench()
    b.meter_ok = False
    b.is_online = False
    b.tx.on_connector(1, 1, True, True)
    ev = b.drain()
    assert "meterValue" not in ev[0]
    eq(ev[0]["offline"], True)


def test_periodic_updates_follow_interval():
    b = Bench()
    b.dm.put("SampledDataCtrlr", "TxUpdatedInterval", 10)
    b.tx.on_connector(1, 1, True, True)
    for t in range(0, 35000, 1000):
        b.tx.tick(t)
    ev = b.drain()
    eq([e["triggerReason"] for e in ev], ["CablePluggedIn", "MeterValuePeriodic", "MeterValuePeriodic",
                                          "MeterValuePeriodic"])
    eq([e["seqNo"] for e in ev], [0, 1, 2, 3])
    eq(ev[1]["meterValue"][0]["sampledValue"][0]["context"], "Sample.Periodic")


def test_power_cut_ends_transaction_and_continues_seq():
    b = Bench()
    b.tx.on_connector(1, 1, True, True)
    b.tx.on_connector(1, 1, True, False)
    tid = b.tx.running(1)["id"]
    # power cut: the CSMS has none of them (queue kept), a new station boots on the same flash
    b2 = Bench(fresh=False)
    b2.tx.recover([1, 2])
    ev = b2.drain()
    eq([(e["eventType"], e["seqNo"]) for e in ev], [("Started", 0), ("Updated", 1), ("Ended", 2)])
    eq(ev[2]["transactionInfo"]["stoppedReason"], "PowerLoss")
    eq(ev[2]["triggerReason"], "AbnormalCondition")
    eq(ev[2]["transactionInfo"]["transactionId"], tid)
    eq(b2.tx.running(1), None)
    b3 = Bench(fresh=False)  # and a second reboot finds nothing left to end
    b3.tx.recover([1, 2])
    eq(len(b3.q), 0)


def test_power_cut_between_queue_and_state_write_never_reuses_seq():
    b = Bench()
    b.tx.on_connector(1, 1, True, True)
    saved = b.tx._store.read("tx1")  # state as it was before the next event
    b.tx.on_connector(1, 1, True, False)
    b.tx._store.write("tx1", saved)  # the state write of that event never happened
    b2 = Bench(fresh=False)
    b2.tx.recover([1])
    eq([e["seqNo"] for e in b2.drain()], [0, 1, 2])


def test_start_point_energy_transfer():
    b = Bench()
    b.dm.put("TxCtrlr", "TxStartPoint", "EnergyTransfer")
    b.dm.put("TxCtrlr", "TxStopPoint", "EnergyTransfer")
    b.tx.on_connector(1, 1, True, False)
    eq(b.tx.running(1), None)
    b.tx.on_connector(1, 1, True, True)
    b.tx.on_connector(1, 1, True, False)
    eq([(e["eventType"], e["triggerReason"]) for e in b.drain()],
       [("Started", "ChargingStateChanged"), ("Ended", "ChargingStateChanged")])


def test_periodic_update_skipped_without_fresh_reading():
    b = Bench()
    b.dm.put("SampledDataCtrlr", "TxUpdatedInterval", 10)
    b.tx.on_connector(1, 1, True, True)
    b.tx.tick(0)
    b.meter_ok = False
    b.tx.tick(10000)
    b.meter_ok = True
    b.tx.tick(20000)
    ev = b.drain()
    eq([(e["triggerReason"], e["seqNo"]) for e in ev], [("CablePluggedIn", 0), ("MeterValuePeriodic", 1)])


def test_second_trigger_while_the_first_waits_is_not_queued_twice():
    b = Bench()
    b.tx.on_connector(1, 1, True, True)
    assert b.tx.trigger(1) is not None
    eq(b.tx.trigger(1), None)  # still queued (CSMS offline or busy): it counts for this trigger too
    b.q.ack(b.q.peek()[0])  # Started sent
    b.q.peek()  # the triggered one is on the wire now, its answer not yet in
    p = b.tx.trigger(1)  # so it cannot count for a trigger answered after it: a new one, next seqNo
    eq((p["triggerReason"], p["seqNo"]), ("Trigger", 2))
    eq([e["seqNo"] for e in b.drain()], [1, 2])


def test_no_transaction_starts_on_an_inoperative_or_faulted_connector():
    b = Bench()
    b.tx.on_connector(1, 1, True, True, False)  # plugged into an Unavailable/Faulted connector
    eq(b.tx.running(1), None)
    eq(len(b.q), 0)
    b.tx.on_connector(1, 1, True, True, True)  # made Operative again with the EV still there
    eq(b.drain()[0]["eventType"], "Started")


def test_power_cut_after_ended_was_queued_sends_no_second_ended():
    b = Bench()
    b.tx.on_connector(1, 1, True, True)
    saved = b.tx._store.read("tx1")
    b.tx.on_connector(1, 1, False, False)  # Ended queued, state file removed ...
    b.tx._store.write("tx1", saved)  # ... but the removal never reached the flash
    b2 = Bench(fresh=False)
    b2.tx.recover([1])
    ev = b2.drain()
    eq([e["eventType"] for e in ev], ["Started", "Ended"])
    eq(b2.tx._store.read("tx1"), None)


def test_power_cut_before_the_first_state_write_still_ends_the_transaction():
    b = Bench()
    b.tx.on_connector(2, 1, True, True)
    b.tx._store.remove("tx2")  # the Started is queued, its state file never written
    b2 = Bench(fresh=False)
    b2.tx.recover([1, 2], lambda e: e == 2)
    ev = b2.drain()
    eq([(e["eventType"], e["seqNo"]) for e in ev], [("Started", 0), ("Ended", 1)])
    eq(ev[1]["transactionInfo"]["stoppedReason"], "PowerLoss")
    eq(ev[1]["transactionInfo"]["chargingState"], "EVConnected")  # the EV is still plugged in
    eq(ev[1]["transactionInfo"]["transactionId"], ev[0]["transactionInfo"]["transactionId"])


def test_flash_full_skips_no_seqno_and_loses_no_event():
    fs = FullFS()
    b = Bench(fs=fs)
    b.tx.on_connector(1, 1, True, False)
    fs.full = True
    b.tx.on_connector(1, 1, True, True)  # neither the event nor the state fits: kept in RAM, retried
    b.tx.on_connector(1, 1, True, False)
    fs.full = False
    b.tx.tick(0)  # the state file is written once there is room
    b.tx.on_connector(1, 1, False, False)
    ev = b.drain()
    eq([(e["eventType"], e["seqNo"]) for e in ev], [("Started", 0), ("Updated", 1), ("Updated", 2), ("Ended", 3)])
