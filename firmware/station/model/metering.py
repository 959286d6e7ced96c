# Clock-aligned MeterValues (AlignedDataCtrlr.Interval and .Measurands) for EVSEs without a transaction;
# a running transaction reports through its own TransactionEvents. Only on a known clock, and stamped
# with the grid point itself. When the clock steps (the CSMS sets it: after a power loss from 2000 to
# now) the schedule restarts at the next grid point instead of reporting the jump.
from station import clock, log

_TAG = "metering"


class Aligned:
    def __init__(self, dm, evse_ids, running, sample, outbox):
        # evse_ids() -> ids; running(e) -> transaction or None; sample(e, measurands, context) -> list/None
        self._dm = dm
        self._ids = evse_ids
        self._running = running
        self._sample = sample
        self._ob = outbox
        self.due = None  # Unix second of the next grid point

    def tick(self):
        """Called about once a second."""
        iv = self._dm.get("AlignedDataCtrlr", "Interval")
        if not iv or not clock.known():
            self.due = None
            return
        now = clock.now()
        due = self.due
        if due is None or now < due - iv or now >= due + iv:
            self.due = (now // iv + 1) * iv
            return
        if now < due:
            return
        self.due = due + iv
        meas = self._dm.measurands("AlignedDataCtrlr", "Measurands")
        for e in self._ids():
            if self._running(e):
                continue
            sv = self._sample(e, meas, "Sample.Clock")
            if not sv:
                log.warn(_TAG, "evse %d: no fresh reading for clock-aligned MeterValues", e)
                continue
            # No key: every reading is its own message, never merged into a triggered one or another reading.
            self._ob.put("MeterValues", {"evseId": e, "meterValue": [
                {"timestamp": clock.rfc3339(due), "sampledValue": sv}]})
