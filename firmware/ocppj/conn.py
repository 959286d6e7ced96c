# Connection manager: connect (with back-off), BootNotification and the registration state, heartbeat,
# WebSocket pings, reconnect. The outbox (station/outbox.py) sends; this module decides what the
# registration state allows (spec digest §4) and queues BootNotification and Heartbeat.
#
#   c = Conn(dm, rpc, outbox, url, station_id, charging_station, reset_cause="PowerUp",
#            ssl=None, on_accepted=None, max_size=16384)
#   await c.run()             # forever: connect, boot, serve, reconnect
#   c.state                   # "offline" | "booting" | "pending" | "accepted" | "rejected"
#   c.boot_accepted           # the last BootNotification response was Accepted (F06.FR.17)
#   c.send_boot("Triggered")  # queue a BootNotification (TriggerMessage); goes even before the interval
#   c.on_accepted()           # hook, after each Accepted boot: the station sends StatusNotification per connector
#
# Reads OCPPCommCtrlr.RetryBackOffWaitMinimum/RandomRange/RepeatTimes, WebSocketPingInterval, HeartbeatInterval
# (set from the boot response's interval), SecurityCtrlr.SecurityProfile and BasicAuthPassword via dm.get.
# A BootNotification is sent once per boot of the station: after a reconnect an Accepted station goes on
# without one (its contents have not changed). Owns rpc.on_sent (heartbeat timer reset on every send) and
# rpc.guard (Rejected: every CALL but TriggerMessage(BootNotification) gets SecurityError, B03.FR.08).
import asyncio
import os
import time

import clock
import log
from ocppj import ws as wsmod

_TAG = "conn"
_RETRY_S = 30  # BootNotification unanswered, or Pending/Rejected with interval 0: ask again after this


def _rand(n):
    return int.from_bytes(os.urandom(2), "big") % (n + 1) if n > 0 else 0


class Conn:
    def __init__(self, dm, rpc, outbox, url, station_id, charging_station, reset_cause="PowerUp",
                 ssl=None, on_accepted=None, max_size=16384):
        self._dm = dm
        self._rpc = rpc
        self._ob = outbox
        self.url = url.rstrip("/") + "/" + wsmod.quote(station_id)
        self._id = station_id
        self._cs = charging_station
        self._reason = reset_cause
        self._ssl = ssl
        self.on_accepted = on_accepted
        self._max = max_size
        self.state = "offline"
        self.boot_accepted = False
        self._registered = False  # accepted once since power-up: reconnects need no new BootNotification
        self._next_boot = None  # ticks_ms when the next BootNotification is due (Pending/Rejected/failed)
        self._interval = 0
        self._last_tx = time.ticks_ms()
        self.connects = 0
        self.ws = None
        rpc.on_sent = self._sent
        rpc.guard = self._guard

    def _get(self, comp, var, default):
        try:
            return self._dm.get(comp, var)
        except KeyError:
            return default

    def _sent(self):
        self._last_tx = time.ticks_ms()

    def _guard(self, action, payload):
        if self.state != "rejected":
            return None
        if action == "TriggerMessage" and isinstance(payload, dict):
            if payload.get("requestedMessage") == "BootNotification":  # TC_B_31 accepts this one
                return None
        return "SecurityError"

    def _set(self, state):
        self.state = state
        self._ob.set_state(state)

    # --- BootNotification -------------------------------------------------------------------------------

    def send_boot(self, reason=None):
        self._next_boot = None
        if self.state == "rejected":  # a triggered boot (TC_B_31) or the retry interval is over
            self._ob.set_state("booting")
        self._ob.drop("BootNotification")
        self._ob.put("BootNotification", {"reason": reason or self._reason, "chargingStation": self._cs},
                     triggered=True, key="BootNotification", on_result=self._boot_result)

    def _due_in(self, s):
        self._next_boot = time.ticks_add(time.ticks_ms(), int(s * 1000))

    def _boot_result(self, res):
        if res is None:  # CALLERROR, timeout or discarded: try again later (if still connected)
            if self.ws is not None:
                self._due_in(_RETRY_S)
            return
        status = res["status"]
        interval = res["interval"]
        self.boot_accepted = status == "Accepted"
        try:
            clock.set_from(res["currentTime"])
        except ValueError:
            log.warn(_TAG, "bad currentTime %r", res["currentTime"])
        log.info(_TAG, "BootNotification %s, interval %d", status, interval)
        if status == "Accepted":
            self._registered = True
            if interval > 0:
                self._interval = interval
                try:
                    self._dm.put("OCPPCommCtrlr", "HeartbeatInterval", interval)
                except (AttributeError, KeyError):  # a device model without put: keep it here only
                    pass
            self._set("accepted")
            if self.on_accepted:
                try:
                    self.on_accepted()
                except Exception as e:
                    log.exc(_TAG, e, "on_accepted")
        else:
            # Pending: only BootNotification and triggered messages; Rejected: nothing until the interval ends.
            self._set("pending" if status == "Pending" else "rejected")
            self._due_in(interval if interval > 0 else _RETRY_S)

    # --- timers -------------------------------------------------------------------------------------------

    def heartbeat_interval(self):
        return self._get("OCPPCommCtrlr", "HeartbeatInterval", 0) or self._interval

    def _hb_result(self, res):
        if res:
            try:
                clock.set_from(res["currentTime"])
            except ValueError:
                log.warn(_TAG, "bad currentTime %r", res["currentTime"])

    async def _timers(self):
        while True:
            await asyncio.sleep_ms(200)
            now = time.ticks_ms()
            if self._next_boot is not None and time.ticks_diff(now, self._next_boot) >= 0:
                self.send_boot()
            if self.state == "accepted":
                hb = self.heartbeat_interval()
                # G02.FR.05: any message sent resets the timer, so an idle link is the only trigger.
                if hb > 0 and time.ticks_diff(now, self._last_tx) >= hb * 1000:
                    self._last_tx = now
                    self._ob.put("Heartbeat", {}, key="Heartbeat", on_result=self._hb_result)

    # --- connection ---------------------------------------------------------------------------------------

    def _auth(self):
        if self._get("SecurityCtrlr", "SecurityProfile", 1) == 3:
            return None  # the client certificate identifies the station
        pw = self._get("SecurityCtrlr", "BasicAuthPassword", "")
        return (self._id, pw) if pw else None

    def _backoff_s(self, failures):
        # RetryBackOffWaitMinimum + random(0..RandomRange), doubled up to RepeatTimes times, then kept.
        wmin = self._get("OCPPCommCtrlr", "RetryBackOffWaitMinimum", 10)
        rng = self._get("OCPPCommCtrlr", "RetryBackOffRandomRange", 10)
        rep = self._get("OCPPCommCtrlr", "RetryBackOffRepeatTimes", 5)
        return (wmin << min(failures, rep)) + _rand(rng)

    async def run(self):
        failures = 0
        while True:
            try:
                ws = await wsmod.connect(self.url, auth=self._auth(), ssl=self._ssl, max_size=self._max)
            except Exception as e:  # refused, DNS, TLS, handshake: all mean "try again later"
                wait = self._backoff_s(failures)
                failures += 1
                log.warn(_TAG, "connect to %s failed: %r; retry in %d s", self.url, e, wait)
                await asyncio.sleep(wait)
                continue
            failures = 0
            self.connects += 1
            log.info(_TAG, "connected to %s", self.url)
            await self._session(ws)
            self._ob.disconnected()
            self.state = "offline"
            wait = self._backoff_s(0)
            log.info(_TAG, "disconnected; reconnect in %d s", wait)
            await asyncio.sleep(wait)

    async def _session(self, ws):
        self.ws = ws
        self._last_tx = time.ticks_ms()
        serve = asyncio.create_task(self._rpc.serve(ws))
        if self._registered:
            self._set("accepted")
        else:
            self._set("booting")
            self.send_boot()
        tasks = [asyncio.create_task(self._timers()),
                 asyncio.create_task(ws.keepalive(self._get("OCPPCommCtrlr", "WebSocketPingInterval", 0)))]
        try:
            await serve
        finally:
            self.ws = None
            self._next_boot = None
            for t in tasks:
                t.cancel()

    async def stop(self):
        """Close the connection cleanly (close handshake); run() will reconnect after the back-off."""
        if self.ws is not None:
            await self.ws.close(1000)
