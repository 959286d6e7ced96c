# The composition root: builds the station from a board (its adapters, see hw/__init__.py) and a
# configuration, wires the parts, and runs them under the scheduler. No feature lives here.
import asyncio
import time

from micropython import const

from station import clock, log
from station.model.device_model import DeviceModel
from station.model.fwstate import FwState, LogState
from station.model.tx import Transactions
from station.model.txq import TxQueue
from station.sched import Sched
from station.store import Store

_TAG = "app"
_SECURITY_VARS = ("BasicAuthPassword", "OrganizationName")  # the others there are read-only or timers
_FLUSH_S = const(10)  # the diagnostics log reaches flash at least this often (and whenever its buffer fills)


class Station:
    def __init__(self, board, cfg):
        from station.hw.inputs import Inputs
        from station.model.connectors import Connectors
        from station.model.metering import Aligned
        from station.session import connection
        from station.session.outbox import Outbox
        from station.session.registration import Registration
        from station.transport.rpc import Rpc
        from station.trigger.view import View

        self.board = board
        self.cfg = cfg
        clock.use(getattr(board, "rtc", None), getattr(board, "rtc_set", None))
        self.sched = Sched()  # the watchdog is armed in run(), after the synchronous start-up
        self.store = Store(board.root, getattr(board, "fs", None))
        self._logs(cfg.get("logs") or {})
        self.meters = None
        if board.uart is not None and board.meters:
            from station.hw.meter_task import MeterTask
            from station.hw.modbus import Master

            self.meters = MeterTask(Master(board.uart, board.baud, board.de), board.meters,
                                    cfg.get("meter_period_ms", 1000))
        initial = dict(cfg.get("dm") or {})
        initial.setdefault("SecurityCtrlr.Identity", cfg["id"])
        self.dm = DeviceModel(self.store, (self.meters.measurands() if self.meters else ()) or None, initial)
        self.rpc = Rpc(self.dm)
        self.outbox = Outbox(self.rpc, self.dm, cfg.get("outbox_bound", 32))
        self.txq = TxQueue(self.store.sub("txq"), cfg.get("txq_bound", 200))
        self.outbox.add_source(self.txq)
        from station.session.security import Security

        self.secq = TxQueue(self.store.sub("sec"), cfg.get("security_bound", 20), "SecurityEventNotification")
        self.outbox.add_source(self.secq)
        self.security = Security(self.secq, self.outbox.wake, self.seclog)
        cs = {"model": cfg.get("model", "AC"), "vendorName": cfg.get("vendor", "OpenCharge")}
        if cfg.get("serial"):
            cs["serialNumber"] = cfg["serial"]
        if cfg.get("firmware"):
            cs["firmwareVersion"] = cfg["firmware"]
        from station import update

        cause = update.boot_reason(self.store, board.reset_cause)  # RemoteReset, FirmwareUpdate: on flash
        self.reg = Registration(self.dm, self.outbox, cs, cause)
        self.reg.on_clock = lambda step: self.security.event("SettingSystemTime", "moved by %d s" % step)
        # One per boot, sent after the BootNotification (the outbox holds it till then).
        self.security.event("StartupOfTheDevice" if cause == "PowerUp" else "ResetOrReboot", cause)
        self.conn = connection.Connection(self.dm, self.rpc, self.reg, self.outbox, cfg["csms"], cfg["id"],
                                          self._tls, cfg.get("max_message", 16384), self.sched.feed)
        self.conn.on_trial = self._trial
        self.tx = Transactions(self.store, self.txq, self.dm, self.sample, self.conn.online, self.outbox.wake)
        self.inputs = Inputs(board.inputs)
        self.connectors = Connectors(self.inputs, self.store, self.tx, self.outbox)
        self.reg.on_accepted = self._accepted
        self.aligned = Aligned(self.dm, self.connectors.evse_ids, self.tx.running, self.sample, self.outbox)
        self.fw = FwState(self.store)
        self.logs = LogState()
        self.updater = None
        if update.job_on_flash(self.store):  # a job to finish: the update code is needed at once
            self.update()
        self._resetter = None
        self._keys = None
        self._certs = None
        self._getlog = None
        self._certs_on = False
        self.view = View(self.dm, self.tx, self.connectors, self.sample, self.fw, self.logs, self.outbox,
                         self.reg, cfg.get("serial", ""), self.keys)
        # The CSMS's time arrives: real times over the markers on flash before anything else is stamped.
        clock.when_known(self.txq.settle)
        clock.when_known(self.secq.settle)
        clock.when_known(self.outbox.wake)
        on = self.rpc.on
        on("TriggerMessage", self._trigger)
        on("GetVariables", self.dm.get_variables)
        on("SetVariables", self._set_variables)
        on("ChangeAvailability", self.connectors.change_availability)
        on("UpdateFirmware", lambda req: self.update().request(req))
        on("Reset", lambda req: self.resetter().request(req))
        on("GetLog", lambda req: self.getlog().handle(req))
        # What transport/http.py does (its PROTOCOLS; both tested): not imported for this at boot.
        self.dm.show("OCPPCommCtrlr", "FileTransferProtocols", "HTTP,HTTPS")
        self.dm.show("ChargingStation", "FirmwareVersion", cfg.get("firmware") or "")
        try:  # an optional package: without it CertificateSigned is NotSupported
            import station.certs

            self.dm.show("SecurityCtrlr", "CertificateEntries", len(station.certs.installed(self.store.sub("certs"))))
            self._certs_on = True
            on("CertificateSigned", lambda req: self.certs().certificate_signed(req))
            on("InstallCertificate", lambda req: self.certs().install(req))
            on("GetInstalledCertificateIds", lambda req: self.certs().ids(req))
            on("DeleteCertificate", lambda req: self.certs().delete(req))
        except ImportError:
            log.info(_TAG, "no certificates on this board")

    def update(self):
        # The firmware-update code is loaded with the first UpdateFirmware (or a job found on flash).
        if self.updater is None:
            from station.update.run import Updater

            self.updater = Updater(self)
        return self.updater

    def resetter(self):
        if self._resetter is None:
            from station.update.reset import Resetter

            self._resetter = Resetter(self)
        return self._resetter

    def reset(self):
        """The one way the station resets itself (Reset, a firmware install): the logs' RAM buffers go to
        flash first, then the board resets."""
        self.diag.flush()
        self.seclog.flush()
        self.board.reset()

    def _logs(self, c):
        # The diagnostics log (every line the station logs, bounded on flash) and the security log.
        from station.logs.ring import Ring

        self.diag = Ring(self.store.sub("diag"), c.get("diag_seg", 16384), c.get("diag_segs", 4),
                         c.get("diag_buf", 1024))
        self.seclog = Ring(self.store.sub("seclog"), c.get("sec_seg", 4096), 2, 256)
        self._flushed = 0
        log.ring = self.diag

    def _set_variables(self, req):
        res = self.dm.set_variables(req)
        for r in res["setVariableResult"]:  # a key change of ours is a security event (A04)
            if r["attributeStatus"] == "Accepted" and r["component"]["name"] == "SecurityCtrlr" and \
                    r["variable"]["name"] in _SECURITY_VARS:
                self.security.event("ReconfigurationOfSecurityParameters", "SecurityCtrlr." + r["variable"]["name"])
        return res

    def keys(self):
        # The certificate code (big numbers, DER) is loaded on first use: most boots never need it.
        if self._keys is None:
            from station.certs.keystore import Keystore

            self._keys = Keystore(self.store.sub("certs"))
        return self._keys

    def _tls(self):
        # Per connection: installed CSMS roots are trust anchors beside the configured CA, and with security
        # profile 3 the installed ChargingStationCertificate (else the configured one) identifies us.
        from station.session import connection

        c = self.cfg
        if not c["csms"].startswith("wss:"):
            return None
        client = None
        if self._certs_on and self.dm.get("SecurityCtrlr", "SecurityProfile") == 3:
            client = self.keys().client()
        return connection.tls(c, self._csms_roots(), client)

    def _csms_roots(self):
        # The installed CSMSRootCertificates (DER): trust anchors beside the configured CA.
        if not self._certs_on:
            return []
        import station.certs

        st = self.store.sub("certs")
        return [st.read(n) for n in station.certs.installed(st) if n[0] == "c"]

    def file_tls(self):
        # A file server (GetLog, UpdateFirmware) is trusted as the CSMS is: the configured CA and the
        # installed CSMSRootCertificates (N01.FR.15). No anchor at all: no https (never unverified).
        anchors = self._csms_roots()
        if self.cfg.get("ca"):  # a path: DER
            with open(self.cfg["ca"], "rb") as f:
                anchors.append(f.read())
        if not anchors:
            return None
        from station.transport import net

        return net.tls_context(anchors)

    def getlog(self):
        # GetLog's handler and upload, loaded with the first GetLog.
        if self._getlog is None:
            from station.logs.getlog import GetLog

            self._getlog = GetLog({"DiagnosticsLog": self.diag, "SecurityLog": self.seclog}, self.outbox,
                                  self.logs, self.file_tls, self.cfg["id"])
        return self._getlog

    def _trial(self, ok):
        # The first connection attempts with a new client certificate: keep it, or take the old one back.
        if ok:
            self.keys().confirm()
        elif self.keys().revert():
            self.security.event("DiscardedRenewedClientCertificate", "the new certificate did not connect")

    def certs(self):
        # The certificate CALLs' handlers, loaded with the first certificate message.
        if self._certs is None:
            from station.certs.handlers import Handlers

            c = self.cfg
            self._certs = Handlers(self.keys(), self.store.sub("certs"), self.dm, c.get("serial", ""),
                                   self.security, c.get("ca") if c["csms"].startswith("wss:") else None,
                                   c.get("cert_entries", 10), self.conn.new_client)
        return self._certs

    def _accepted(self):
        self.connectors.report_all()  # B01.FR.05
        # An image booted pending verify passed its self-test: the CSMS took its BootNotification. Until
        # now a reset of any kind goes back to the previous image (boards/<board>/station_slots.py).
        s = getattr(self.board, "slots", None)
        if s and s.confirm():
            log.info(_TAG, "image in slot %s confirmed", s.running)
        if self.updater is not None:  # after the confirmation: Installed, or InstallationFailed
            self.updater.accepted()

    def _trigger(self, req):
        from station import trigger

        return trigger.handle(self.view, req)

    def sample(self, evse_id, measurands, context):
        return self.meters.sample(evse_id, measurands, context) if self.meters else None

    def tick(self):
        # The station's once-a-second work.
        up = clock.mono()  # read at least daily, so the monotonic count never misses a ticks wrap
        if up - self._flushed >= _FLUSH_S:
            self._flushed = up
            self.diag.flush()
        self.tx.tick(time.ticks_ms())
        self.aligned.tick()
        self.connectors.tick()
        if self._keys is not None:  # CSRs the CSMS accepted but never signed: resend when due
            for kind in self._keys.due():
                from station.trigger import sign

                sign.resend(self.view, kind)

    async def ticker(self, sched):
        while True:
            self.tick()
            sched.alive("station")
            await asyncio.sleep_ms(1000)

    async def run(self, extra=()):
        # extra: board tasks supervised like ours, as (name, coroutine function, args); they get the
        # scheduler as their last argument so they can check in.
        s = self.sched
        if self.meters:  # a first reading, so a transaction cut by a power loss ends with its energy;
            await self.meters.poll_once(0)  # one try per meter: a dead bus must not hold the start-up
        self.connectors.start()
        self.tx.recover(self.connectors.evse_ids(), self.connectors.plugged)
        self.connectors.start_plugged()
        if self.updater is not None:
            self.updater.boot()  # a download cut by a reset or a power loss starts again
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
        log.info(_TAG, "station %s up: %d EVSE(s), meters %s", self.cfg["id"], len(self.connectors.evse_ids()),
                 "on" if self.meters else "none")
        await s.watchdog()


def run(board, cfg, extra=()):
    asyncio.run(Station(board, cfg).run(extra))
