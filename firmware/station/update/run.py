# The firmware update job (L01): answers UpdateFirmware, then runs the job as one task over the record in
# job.py. Sequence: [DownloadScheduled until retrieveDateTime] -> Downloading (streamed into the slot that is
# not running, SHA-256 on the way, never the image in RAM; retries / retryInterval) -> Downloaded ->
# SignatureVerified | InvalidSignature -> [InstallScheduled until installDateTime, or while transactions run:
# free EVSEs Unavailable, not persisted] -> Installing (slot set to boot, pending verify) -> InstallRebooting
# -> reset. The new image, once the CSMS accepted its BootNotification (its self-test, app._accepted),
# sends Installed and one FirmwareUpdated event; an image that never confirms is rolled back by the boot
# loader and the old one sends InstallationFailed. Every status sent is recorded (job record, FwState) first.
import asyncio
import time

from micropython import const

from station import clock, log
from station.update import job as rec

_TAG = "update"
_FULL_MS = const(500)  # outbox full: try the status again after this


class Updater:
    ack_ms = 10000  # InstallRebooting's answer is awaited this long before the reset (a test shortens it)

    def __init__(self, st, get=None):
        # st: the Station (store, outbox, fw, security, connectors, tx, dm, board, sched); get: the download
        # function (http.get's signature), None for station.transport.http.get.
        self._st = st
        self._store = st.store
        self._get = get
        self.job = rec.load(st.store)
        self._task = None
        self._w = None  # the slot writer of the attempt under way, or of the verified image
        self._held = False

    def busy(self):
        return self.job is not None

    # --- at boot --------------------------------------------------------------------------------------

    def boot(self):
        """A job on flash at start-up: a download is started again; an install is settled in accepted()."""
        if self.job is not None and self.job["ph"] == "dl":
            log.info(_TAG, "job %d resumes: download again", self.job["id"])
            self._start()

    def accepted(self):
        # After the first Accepted BootNotification (the image confirmed itself just before, app._accepted).
        j = self.job
        if j is None or j["ph"] == "dl" or self._task is not None:
            return
        s = self._st.board.slots
        ok = s is not None and s.running == j.get("slot") and s.confirmed()
        self._task = self._st.sched.spawn("update", self._settle, j, "Installed" if ok else "InstallationFailed")

    async def _settle(self, j, status):
        again = j["st"] == "Installed"  # a power cut came after Installed was recorded, before the record went
        await self._send(j, status)
        if status == "Installed":  # L01.FR.31, exactly once (libocpp sends two)
            tag = "request %d," % j["id"]
            q = self._st.secq
            # Nothing is awaited between queuing the event and removing the record, so after such a cut the
            # event is either still queued (not sent yet) or was never queued.
            if not again or not q.holds(lambda p: p.get("type") == "FirmwareUpdated" and
                                        p.get("techInfo", "").startswith(tag)):
                self._st.security.event("FirmwareUpdated", "%s version %s" % (tag, self._st.cfg.get("firmware")))
        self._end()

    # --- UpdateFirmware -------------------------------------------------------------------------------

    async def request(self, req):
        from station.update import request

        j, no = await request.read(self._store, req, self._st.security)
        if j is None:
            return no
        if self._st.board.slots is None:
            return request.no("NoImageSlots", "this board has no second image slot")
        status = "Accepted"
        if self.job is not None:
            if self.job["ph"] != "dl":  # the new image is set to boot: too late (L01.FR.27, B11.FR.06 alike)
                return request.no("InstallInProgress")
            self._cancel()  # L01.FR.24: the old job sends nothing more (TC_L_10)
            status = "AcceptedCanceled"
        try:
            rec.save(self._store, j)
        except OSError as e:  # flash full: a job that a reboot would forget is not taken on
            return request.no("FlashFull", repr(e))
        self.job = j
        log.info(_TAG, "job %d: %s, %s", j["id"], status, j["loc"])
        return {"status": status}, lambda sent: self._start()  # its first status follows the answer

    def _start(self):
        self._task = self._st.sched.spawn("update", self._run, self.job)

    def _cancel(self):
        log.info(_TAG, "job %d cancelled", self.job["id"])
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._abort()
        self._hold(False)
        self.job = None

    def _abort(self):
        if self._w is not None:
            self._w.abort()  # never set to boot: the slot's bytes are never started
            self._w = None

    def _end(self):
        self._abort()
        self._hold(False)  # L01.FR.07: the EVSEs' own availability again, at every end state
        rec.clear(self._store)
        self.job = None
        self._task = None

    # --- the job --------------------------------------------------------------------------------------

    async def _send(self, j, status, ack_ms=0):
        # Recorded first (the trigger answers it at once, TC_F_19), then queued; ack_ms > 0 waits that long
        # at most for the CSMS's answer.
        j["st"] = status
        try:
            rec.save(self._store, j)
        except OSError as e:  # flash full: the status still goes; a reboot redoes the step
            log.error(_TAG, "job record not saved: %r", e)
        self._st.fw.sent(status, j["id"])
        got = []
        cb = got.append if ack_ms else None
        while not self._st.outbox.put("FirmwareStatusNotification", {"status": status, "requestId": j["id"]},
                                      on_result=cb):
            await asyncio.sleep_ms(_FULL_MS)
        log.info(_TAG, "job %d: %s", j["id"], status)
        t0 = time.ticks_ms()
        while ack_ms and not got and time.ticks_diff(time.ticks_ms(), t0) < ack_ms:
            await asyncio.sleep_ms(50)

    async def _until(self, t):
        # The clock may be set meanwhile (the CSMS's time): look again at least every minute.
        while clock.now() < t:
            await asyncio.sleep(min(60, t - clock.now()))

    async def _run(self, j):
        if clock.now() < j["rt"]:  # L01.FR.13
            if j["st"] != "DownloadScheduled":
                await self._send(j, "DownloadScheduled")
            await self._until(j["rt"])
        h = None
        while h is None:
            if j["st"] != "Downloading":
                await self._send(j, "Downloading")
            h = await self._attempt(j)
            if h is None:
                if j["left"] <= 0:  # L01.FR.30: only after the last attempt
                    await self._send(j, "DownloadFailed")
                    self._end()
                    return
                j["left"] -= 1
                rec.save(self._store, j)
                await asyncio.sleep(j["ivl"])
        await self._send(j, "Downloaded")
        if not await self._verified(j, h):
            self._abort()  # the running firmware is untouched (TC_L_06)
            await self._send(j, "InvalidSignature")
            self._st.security.event("InvalidFirmwareSignature", "request %d" % j["id"])  # L01.FR.03
            self._end()
            return
        await self._send(j, "SignatureVerified")
        if j["it"] is not None and clock.now() < j["it"]:  # L01.FR.16
            await self._send(j, "InstallScheduled")
            await self._until(j["it"])
        await self._idle(j)
        j["ph"] = "inst"
        await self._send(j, "Installing")
        try:
            self._w.finish()  # checks the image, sets it to boot next, pending verify
        except OSError as e:
            log.error(_TAG, "slot %s refused the image: %r", j["slot"], e)
            self._w = None
            await self._send(j, "InstallVerificationFailed")  # L01.FR.29
            self._end()
            return
        self._w = None
        j["ph"] = "boot"
        await self._send(j, "InstallRebooting", self.ack_ms)
        log.info(_TAG, "job %d: reset into slot %s", j["id"], j["slot"])
        self._st.reset()

    async def _attempt(self, j):
        # One download into the inactive slot: its SHA-256, or None when it failed (logged).
        from station.update import fetch

        try:
            self._w, h = await fetch.into_slot(self._get, j["loc"], self._st)
            j["slot"] = self._w.slot
            log.info(_TAG, "job %d: %d bytes into slot %s", j["id"], self._w.size, self._w.slot)
            return h
        except Exception as e:  # HttpError, OSError (network, flash full), MemoryError: this attempt failed
            log.warn(_TAG, "job %d: download failed (%r), %d retries left", j["id"], e, j["left"])
            return None

    async def _verified(self, j, h):
        if not j["sig"]:  # L01 step 5: no signature is an invalid one
            return False
        from station.certs import x509
        from station.update import check

        cert = x509.parse(x509.unpem(j["cert"])[0])  # checked when the request came
        ok = False
        for ok in check.image(cert, h, j["sig"]):
            if ok is None:
                await asyncio.sleep_ms(0)
        return ok is True

    async def _idle(self, j):
        # L01.FR.06/33: the reset waits for every transaction to end; meanwhile (L01.FR.07) free EVSEs are
        # Unavailable unless AllowNewSessionsPendingFirmwareUpdate, and InstallScheduled tells why (L01.FR.34).
        tx = self._st.tx
        if not tx.running():
            return
        if not self._st.dm.get("ChargingStation", "AllowNewSessionsPendingFirmwareUpdate"):
            self._hold(True)
        if j["st"] != "InstallScheduled":
            await self._send(j, "InstallScheduled")
        while tx.running():
            await asyncio.sleep(1)

    def _hold(self, on):
        if on != self._held:
            self._held = on
            self._st.connectors.hold(on)
