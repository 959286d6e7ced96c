# Builds the station from a board and a configuration and runs it:
# board -> config -> storage -> device model -> hardware tasks -> OCPP connection.
import asyncio
import time

import clock
import log
import trigger
from producers import status as pstatus
from sched import Sched
from station.device_model import DeviceModel
from station.fwlog import FwState, LogState
from station.store import Store
from station.tx import Transactions
from station.txq import TxQueue

_TAG = "app"
_USABLE = ("Available", "Occupied")  # a transaction may start on a connector in these states


class Station:
    # What producers and handlers see (see producers/__init__.py): dm, outbox, conn, tx, fw, logs, keys,
    # serial, evse_ids(), connector(), sample().
    def __init__(self, board, cfg):
        from hw.inputs import Inputs
        from ocppj.conn import Conn
        from ocppj.rpc import Rpc
        from station.outbox import Outbox

        self.board = board
        self.cfg = cfg
        self.serial = cfg.get("serial", "")
        clock.use(getattr(board, "rtc", None), getattr(board, "rtc_set", None))
        self.sched = Sched()  # the watchdog is armed in run(), after the synchronous start-up
        self.store = Store(board.root, getattr(board, "fs", None))
        self.meters = None
        if board.uart is not None and board.meters:
            from hw.meter_task import MeterTask
            from hw.modbus import Master

            master = Master(board.uart, board.baud, board.de)
            self.meters = MeterTask(master, board.meters, cfg.get("meter_period_ms", 1000))
        initial = dict(cfg.get("dm") or {})
        initial.setdefault("SecurityCtrlr.Identity", cfg["id"])
        measurable = self.meters.measurands() if self.meters else ()
        self.dm = DeviceModel(self.store, measurable or None, initial)
        self.inputs = Inputs(board.inputs)
        self.fw = FwState(self.store)
        self.logs = LogState()
        self._keys = None
        self.rpc = Rpc(self.dm)
        self.outbox = Outbox(self.rpc, self.dm, cfg.get("outbox_bound", 32))
        self.txq = TxQueue(self.store.sub("txq"), cfg.get("txq_bound", 200))
        self.outbox.add_source(self.txq)
        # The CSMS's time arrives: real times over the markers on flash before anything else is stamped.
        clock.when_known(self.txq.settle)
        clock.when_known(self.outbox.wake)
        self.tx = Transactions(self.store, self.txq, self.dm, self.sample, self.online, self.outbox.wake)
        cs = {"model": cfg.get("model", "AC"), "vendorName": cfg.get("vendor", "OpenCharge")}
        if self.serial:
            cs["serialNumber"] = self.serial
        if cfg.get("firmware"):
            cs["firmwareVersion"] = cfg["firmware"]
        self.conn = Conn(self.dm, self.rpc, self.outbox, cfg["csms"], cfg["id"], cs, board.reset_cause,
                         ssl=self._tls(), on_accepted=self.all_status, max_size=cfg.get("max_message", 16384),
                         feed=self.sched.feed)
        self._handlers()
        self._aligned_due = None
        self._status = {}  # StatusNotification key -> connectorStatus last queued
        self._operative = {}  # evse id -> False when the operator made it Inoperative (persisted)
        self._applied = {}  # evse id -> the enable state last given to the inputs

    @property
    def keys(self):
        # The certificate code (big numbers, DER) is loaded on first use: most boots never need it.
        if self._keys is None:
            from certs.keystore import Keystore

            self._keys = Keystore(self.store.sub("certs"))
        return self._keys

    def _tls(self):
        ca = self.cfg.get("ca")
        if not self.cfg["csms"].startswith("wss:"):
            return None
        from ocppj.ws import tls_context

        with open(ca, "rb") as f:  # DER: MicroPython's tls refuses PEM here
            cadata = f.read()
        return tls_context(cadata)

    def _handlers(self):
        on = self.rpc.on
        on("TriggerMessage", lambda p: trigger.handle(self, p))
        on("GetVariables", self.dm.get_variables)
        on("SetVariables", self.dm.set_variables)
        on("CertificateSigned", self._certificate_signed)
        on("ChangeAvailability", self._change_availability)

    # --- what producers read ----------------------------------------------------------------------------

    def evse_ids(self):
        return self.inputs.evse_ids()

    def connector(self, evse_id, conn_id):
        if conn_id != self.inputs.connector_id:
            return None
        return self.inputs.status(evse_id)

    def sample(self, evse_id, measurands, context):
        return self.meters.sample(evse_id, measurands, context) if self.meters else None

    def online(self):
        return self.conn.state == "accepted" and self.rpc.ws is not None

    # --- events -------------------------------------------------------------------------------------------

    def status_changed(self, evse_id, conn_id, always=False):
        # Spontaneous StatusNotification only when connectorStatus moves (charging on/off is not one).
        p = pstatus.build(self, evse_id, conn_id)
        k = pstatus.key(evse_id, conn_id)
        if p is not None and (always or self._status.get(k) != p["connectorStatus"]):
            # Marked as reported only once queued: a status the full queue dropped is tried again (ticker).
            if self.outbox.put("StatusNotification", p, key=k):
                self._status[k] = p["connectorStatus"]

    def all_status(self):
        # B01.FR.05: after an Accepted boot, the current state of every connector.
        for e in self.evse_ids():
            self.status_changed(e, self.inputs.connector_id, True)

    def _on_input(self, e, c, status, plugged, charging):
        self.tx.on_connector(e, c, plugged, charging, status in _USABLE)
        self.status_changed(e, c)

    # --- CSMS-initiated -----------------------------------------------------------------------------------

    def _certificate_signed(self, req):
        st, reason = self.keys.install(req.get("certificateType"), req["certificateChain"])
        resp = {"status": st}
        if reason:
            resp["statusInfo"] = {"reasonCode": reason}
        return resp

    def _change_availability(self, req):
        on = req["operationalStatus"] == "Operative"
        evse = req.get("evse")
        cid = self.inputs.connector_id
        if evse is None or evse["id"] == 0:
            ids = self.evse_ids()  # the whole station (a board without EVSEs has nothing to switch)
        elif evse["id"] in self.evse_ids():
            ids = [evse["id"]]
            if evse.get("connectorId", cid) != cid:
                return {"status": "Rejected", "statusInfo": {"reasonCode": "UnknownConnectorId"}}
        else:
            return {"status": "Rejected", "statusInfo": {"reasonCode": "UnknownEvse"}}
        for e in ids:
            self._operative[e] = on
        try:
            self.store.write("avail", "".join("1" if self._operative.get(e, True) else "0" for e in self.evse_ids()))
        except OSError as e:  # applied now, but a reboot will not remember it
            log.error(_TAG, "availability not saved: %r", e)
        self._apply_availability()
        # G03: a running transaction is not cut; the EVSE goes Inoperative once it has ended. Only the
        # EVSEs this request names decide: another one waiting on its transaction is not this answer's.
        later = not on and any(self.tx.running(e) for e in ids)
        return {"status": "Scheduled" if later else "Accepted"}

    def _apply_availability(self):
        """Make the connectors follow the operator's wish (a wish waits while a transaction runs)."""
        for e in self.evse_ids():
            on = self._operative.get(e, True)
            if (on or not self.tx.running(e)) and self._applied.get(e, True) != on:
                self._applied[e] = on
                self.inputs.set_enabled(e, on)  # notifies _on_input when the status moves

    def _restore_availability(self):
        raw = self.store.read("avail")
        if raw:
            for e, flag in zip(self.evse_ids(), raw):
                self._operative[e] = flag == ord("1")

    # --- periodic -------------------------------------------------------------------------------------------

    def _aligned(self):
        # Clock-aligned MeterValues per AlignedDataCtrlr.Interval, for EVSEs without a transaction
        # (a running transaction reports through its own TransactionEvents). Only on a known clock, and
        # stamped with the grid point itself. When the clock steps (the CSMS sets it: after a power loss
        # from 2000 to now) the schedule restarts at the next grid point instead of reporting the jump.
        iv = self.dm.get("AlignedDataCtrlr", "Interval")
        if not iv or not clock.known():
            self._aligned_due = None
            return
        now = clock.now()
        due = self._aligned_due
        if due is None or now < due - iv or now >= due + iv:
            self._aligned_due = (now // iv + 1) * iv
            return
        if now < due:
            return
        self._aligned_due = due + iv
        meas = self.dm.measurands("AlignedDataCtrlr", "Measurands")
        for e in self.evse_ids():
            if self.tx.running(e):
                continue
            sv = self.sample(e, meas, "Sample.Clock")
            if not sv:
                log.warn(_TAG, "evse %d: no fresh reading for clock-aligned MeterValues", e)
                continue
            # No key: every reading is its own message, never merged into a triggered one or another reading.
            self.outbox.put("MeterValues", {"evseId": e, "meterValue": [
                {"timestamp": clock.rfc3339(due), "sampledValue": sv}]})

    async def ticker(self, sched):
        while True:
            clock.mono()  # read at least daily, so the monotonic count never misses a ticks wrap
            self.tx.tick(time.ticks_ms())
            self._aligned()
            self._apply_availability()
            for e in self.evse_ids():  # a status the full queue dropped is reported once there is room
                self.status_changed(e, self.inputs.connector_id)
            sched.alive("station")
            await asyncio.sleep_ms(1000)

    # --- start-up -------------------------------------------------------------------------------------------

    async def run(self, extra=()):
        # extra: board tasks supervised like ours, as (name, coroutine function, args); they get the
        # scheduler as their last argument so they can check in.
        s = self.sched
        if self.meters:  # a first reading, so a transaction cut by a power loss ends with its energy;
            await self.meters.poll_once(0)  # one try per meter: a dead bus must not hold the start-up
        self.inputs.sample()
        self._restore_availability()
        self._apply_availability()
        self.tx.recover(self.evse_ids(), lambda e: self.inputs.state(e)[1])
        for e in self.evse_ids():  # an EV already plugged in at start-up (not on an Inoperative/Faulted one)
            status, plugged, charging, _ = self.inputs.state(e)
            if plugged and not self.tx.running(e):
                self.tx.on_connector(e, self.inputs.connector_id, plugged, charging, status in _USABLE)
        self.inputs.subscribe(self._on_input)
        if self.board.wdt:  # armed only now: the start-up above (first poll, recovery) runs unfed
            s.arm(self.board.wdt(8000))
        if self.meters:
            s.spawn("meter", self.meters.run, s, critical=True)
        s.spawn("inputs", self.inputs.run, s, critical=True)
        s.spawn("station", self.ticker, s, critical=True)
        s.spawn("outbox", self.outbox.run)
        s.spawn("conn", self.conn.run)
        for name, fn, args in extra:
            s.spawn(name, fn, *(tuple(args) + (s,)))
        if self.cfg.get("heap_log_ms"):  # benchmarks and fuzzing only (heapmon.py)
            import heapmon

            s.spawn("heap", heapmon.run, self.cfg["heap_log_ms"])
        log.info(_TAG, "station %s up: %d EVSE(s), meters %s", self.cfg["id"], len(self.evse_ids()),
                 "on" if self.meters else "none")
        await s.watchdog()


def run(board, cfg, extra=()):
    asyncio.run(Station(board, cfg).run(extra))
