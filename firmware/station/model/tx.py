# Transactions (E block): start/stop from connector events per TxCtrlr.TxStartPoint/TxStopPoint,
# seqNo per transaction, Started/Updated/Ended, periodic meter values, recovery after a power cut.
# Every event goes to the on-flash queue (txq) first, then the transaction's state file; the outbox
# drains the queue in order. A power cut between the two writes is reconciled by recover().
import json
import os
import time

from station import clock
from station import log

_TAG = "tx"


def _new_id():
    # 32 hex chars from the hardware RNG: unique without a counter that would have to survive reboots.
    return "".join("%02x" % b for b in os.urandom(16))


class Transactions:
    def __init__(self, store, txq, dm, sample, online, wake):
        # sample(evse_id, measurands, context) -> [sampledValue, ...] or None when no fresh reading.
        # online() -> True when events go straight to the CSMS; wake() tells the sender there is work.
        self._store = store
        self.q = txq
        self._dm = dm
        self._sample = sample
        self._online = online
        self._wake = wake
        self._tx = {}  # evse_id -> {"id", "seq", "cs", "conn", "t" (ticks_ms of the last periodic Updated)}
        self._dirty = set()  # evse ids whose state file could not be written (flash full): retried by tick()

    def _file(self, evse_id):
        return "tx%d" % evse_id

    def running(self, evse_id=None):
        """The running transaction of one EVSE, or a list of (evse_id, tx) for all of them."""
        if evse_id is not None:
            return self._tx.get(evse_id)
        return sorted(self._tx.items())

    def recover(self, evse_ids, plugged=None):
        """After a (re)boot, reconcile what is on flash: a transaction whose Ended is already queued is
        over; one with a state file, or with queued events only (the cut came right after its Started
        was queued), was cut by a power loss and is ended now. plugged(evse_id) -> bool chooses the
        Ended's chargingState (EVConnected or Idle)."""
        info = self.q.scan()  # every queued file read once
        seen = set()
        for e in evse_ids:
            raw = self._store.read(self._file(e))
            if not raw:
                continue
            try:
                tx = json.loads(raw)
                tid = tx["id"]
                if not isinstance(tx["seq"], int):
                    raise ValueError("seq")
            except (ValueError, KeyError, TypeError):
                log.error(_TAG, "evse %d: unreadable transaction state dropped", e)
                self._store.remove(self._file(e))
                continue
            seen.add(tid)
            r = info.get(tid)
            if r is not None and r[1]:  # cut between queueing Ended and removing the state file
                log.info(_TAG, "evse %d: transaction %s had already ended", e, tid)
                self._store.remove(self._file(e))
                continue
            if r is not None:  # an event may have reached the queue before the state: never reuse its seqNo
                tx["seq"] = max(tx["seq"], r[0] + 1)
            self._cut(e, tx, plugged)
        for tid in info:
            r = info[tid]
            if not r[1] and tid not in seen:
                e = r[2] if r[2] in evse_ids else None
                self._cut(e, {"id": tid, "seq": r[0] + 1, "cs": "Idle", "conn": r[3] or 1, "t": None}, plugged)

    def _cut(self, e, tx, plugged):
        log.warn(_TAG, "evse %s: transaction %s interrupted by power loss, ending it", e, tx["id"])
        cs = "EVConnected" if e is not None and plugged is not None and plugged(e) else "Idle"
        self._end(e, tx, "AbnormalCondition", "PowerLoss", cs)

    def _values(self, evse_id, var, context):
        # sampledValues of the measurands in SampledDataCtrlr.<var>, or None without a fresh reading.
        if evse_id is None:
            return None
        return self._sample(evse_id, self._dm.measurands("SampledDataCtrlr", var), context)

    def _event(self, evse_id, tx, kind, reason, cs=None, sv=None, stopped=None):
        info = {"transactionId": tx["id"], "chargingState": cs or tx["cs"]}
        if stopped:
            info["stoppedReason"] = stopped
        p = {
            "eventType": kind,
            "timestamp": clock.stamp(),
            "triggerReason": reason,
            "seqNo": tx["seq"],
            "transactionInfo": info,
        }
        if evse_id is not None and (kind == "Started" or reason == "Trigger"):
            p["evse"] = {"id": evse_id, "connectorId": tx["conn"]}
        if sv:
            p["meterValue"] = [{"timestamp": p["timestamp"], "sampledValue": sv}]
        if not self._online():
            p["offline"] = True
        name = self.q.push(p, reason == "Trigger")
        tx["seq"] += 1  # only once the event is queued: a failed write leaves no gap
        if reason == "Trigger":
            tx["trig"] = name
        if evse_id is not None:
            self._save(evse_id, tx if kind != "Ended" else None)
        self._wake()
        return p

    def _save(self, evse_id, tx):
        # The state file follows the queue; if the flash is full, make room once, else retry from tick().
        for _ in range(2):
            try:
                if tx is None:
                    self._store.remove(self._file(evse_id))
                else:
                    self._store.write(self._file(evse_id), json.dumps(tx))
                self._dirty.discard(evse_id)
                return
            except OSError as e:
                err = e
                if not self.q.free():
                    break
        log.error(_TAG, "evse %d: transaction state not saved (%r): retrying", evse_id, err)
        self._dirty.add(evse_id)

    def _start(self, evse_id, conn, reason, cs):
        tx = {"id": _new_id(), "seq": 0, "cs": cs, "conn": conn, "t": None}
        self._tx[evse_id] = tx
        log.info(_TAG, "evse %d: transaction %s started (%s)", evse_id, tx["id"], reason)
        self._event(evse_id, tx, "Started", reason, cs, self._values(evse_id, "TxStartedMeasurands",
                                                                   "Transaction.Begin"))

    def _end(self, evse_id, tx, reason, stopped, cs):
        if evse_id is not None and self._tx.get(evse_id) is tx:
            del self._tx[evse_id]
        # Without a fresh reading the event goes without values: never invented or stale ones.
        self._event(evse_id, tx, "Ended", reason, cs, self._values(evse_id, "TxEndedMeasurands", "Transaction.End"),
                    stopped)
        log.info(_TAG, "evse %s: transaction %s ended (%s)", evse_id, tx["id"], stopped)

    def on_connector(self, evse_id, conn, plugged, charging, usable=True):
        """Debounced connector state changed (model/connectors.py). usable: the connector is
        neither Faulted nor made Inoperative by the operator, so a transaction may start on it."""
        start = self._dm.get("TxCtrlr", "TxStartPoint")
        stop = self._dm.get("TxCtrlr", "TxStopPoint")
        tx = self._tx.get(evse_id)
        if tx is None:
            if usable and plugged and (start == "EVConnected" or charging):
                reason = "CablePluggedIn" if start == "EVConnected" else "ChargingStateChanged"
                self._start(evse_id, conn, reason, "Charging" if charging else "EVConnected")
            return
        if not plugged:  # the cable is out: nothing is connected any more
            self._end(evse_id, tx, "EVCommunicationLost", "EVDisconnected", "Idle")
            return
        if not charging and stop != "EVConnected":
            self._end(evse_id, tx, "ChargingStateChanged", "StoppedByEV", "EVConnected")
            return
        cs = "Charging" if charging else ("SuspendedEV" if tx["cs"] == "Charging" else tx["cs"])
        if cs != tx["cs"]:
            tx["cs"] = cs
            self._event(evse_id, tx, "Updated", "ChargingStateChanged", cs)

    def end_all(self, reason, stopped):
        """End every running transaction now (a Reset: ResetCommand, ImmediateReset, B12.FR.04)."""
        for e, tx in self.running():
            self._end(e, tx, reason, stopped, "Idle")

    def trigger(self, evse_id):
        """TriggerMessage(TransactionEvent): Updated, triggerReason Trigger, through the same queue.
        None when the previous triggered event still waits in the queue, unsent: that one counts for this
        trigger. One already handed to the sender went before this trigger's response and does not count."""
        tx = self._tx[evse_id]
        t = tx.get("trig")
        if t in self.q and t != self.q.taken:
            return None
        return self._event(evse_id, tx, "Updated", "Trigger", None,
                           self._values(evse_id, "TxUpdatedMeasurands", "Trigger"))

    def tick(self, now_ms):
        """Called about once a second: periodic Updated events per SampledDataCtrlr.TxUpdatedInterval."""
        if self._dirty:  # (a copy only then: _save changes the set)
            for e in list(self._dirty):
                self._save(e, self._tx.get(e))
        iv = self._dm.get("SampledDataCtrlr", "TxUpdatedInterval") * 1000
        if not iv:
            return
        # Over the dict itself, no sorted list every second (small-int keys come out in order); an Updated
        # event adds or removes no transaction.
        for e in self._tx:
            tx = self._tx[e]
            if tx["t"] is None or time.ticks_diff(now_ms, tx["t"]) >= iv:
                if tx["t"] is not None:  # the first tick only starts the period
                    sv = self._values(e, "TxUpdatedMeasurands", "Sample.Periodic")
                    if sv:
                        self._event(e, tx, "Updated", "MeterValuePeriodic", None, sv)
                    else:  # a periodic event exists for its values: none fresh, none sent
                        log.warn(_TAG, "evse %d: no fresh meter reading, periodic update skipped", e)
                tx["t"] = now_ms
