# Reset (B11/B12) of the whole station: Immediate ends the running transactions (Ended, ResetCommand /
# ImmediateReset, on the flash queue: they reach the CSMS after the reboot if not before, B12.FR.05) and
# resets; OnIdle waits (answer Scheduled, B12.FR.01) until no transaction runs, no firmware job and no log
# upload is under way (errata 2.14), then resets. The next BootNotification says RemoteReset (update.RESET
# on flash). Resetting one EVSE is not offered: one program runs every EVSE (B11.FR.09: Rejected).
import asyncio

from micropython import const

from station import log
from station.update import RESET

_TAG = "reset"
_FLUSH_MS = const(3000)  # after Immediate: time for the Ended events to leave before the reset


class Resetter:
    def __init__(self, st):
        self._st = st
        # An OnIdle reset waiting. In RAM only, on purpose: a power cut while it waits is itself the reboot
        # asked for (the spec is silent), and the BootNotification after it says PowerUp, which is true; a
        # record on flash would reboot the station a second time once its transactions end.
        self._task = None

    def _busy(self):
        st = self._st
        fw = st.updater
        return bool(st.tx.running()) or fw is not None and fw.busy() or st.logs.uploading is not None

    def request(self, req):
        if req.get("evseId") is not None:
            return {"status": "Rejected", "statusInfo": {"reasonCode": "UnsupportedRequest",
                                                         "additionalInfo": "no reset of a single EVSE"}}
        fw = self._st.updater
        if fw is not None and fw.job is not None and fw.job["ph"] != "dl":  # B11.FR.06: the install runs
            return {"status": "Rejected", "statusInfo": {"reasonCode": "FwUpdateInProgress"}}
        if req["type"] == "Immediate":
            return {"status": "Accepted"}, self._immediate
        if self._busy():
            if self._task is None:
                self._task = asyncio.create_task(self._on_idle())
            return {"status": "Scheduled"}
        return {"status": "Accepted"}, lambda sent: self._reset()

    async def _immediate(self, sent):
        self._st.tx.end_all("ResetCommand", "ImmediateReset")
        await asyncio.sleep_ms(_FLUSH_MS)
        self._reset()

    async def _on_idle(self):
        while self._busy():
            await asyncio.sleep(1)
        self._reset()

    def _reset(self):
        log.info(_TAG, "reset as the CSMS asked")
        self._st.store.write(RESET, "1")
        self._st.reset()
