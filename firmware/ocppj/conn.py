# Connection manager: connect (with back-off), BootNotification and the registration state, heartbeat,
# WebSocket pings, reconnect. The outbox (station/outbox.py) sends and holds the registration state (the
# one copy); this module decides the state from the CSMS's answers and queues BootNotification and Heartbeat.
#
#   c = Conn(dm, rpc, outbox, url, station_id, charging_station, reset_cause="PowerUp",
#            ssl=None, on_accepted=None, max_size=16384, feed=None)
#   await c.run()             # forever: connect, boot, serve, reconnect
#   c.state                   # outbox.state: "offline" | "booting" | "pending" | "accepted" | "rejected"
#   c.boot_accepted           # the last BootNotification response was Accepted (F06.FR.17)
#   c.send_boot("Triggered", reserved=False)  # queue a BootNotification (TriggerMessage); goes even before
#                             # the interval; reserved: the trigger holds outbox room for it
#   c.on_accepted()           # hook, after each Accepted boot: the station sends StatusNotification per connector
#   feed()                    # the watchdog, fed around the blocking DNS look-up
#
# Reads OCPPCommCtrlr.RetryBackOffWaitMinimum/RandomRange/RepeatTimes, WebSocketPingInterval, HeartbeatInterval
# (set from the boot response's interval), SecurityCtrlr.SecurityProfile and BasicAuthPassword via dm.get.
# A BootNotification is sent once per boot of the station: after a reconnect an Accepted station goes on
# without one (its contents have not changed). Owns rpc.on_sent (heartbeat timer reset on every send) and
# rpc.guard (Rejected: every CALL but TriggerMessage(BootNotification) gets SecurityError, B03.FR.08).
# A boot response that breaks its schema is used as far as it goes (rpc.py): a known status registers.
import asyncio
import os
import time

import clock
import log
from ocppj import ws as wsmod

_TAG = "conn"
_RETRY_S = 30  # BootNotification unanswered, or Pending/Rejected with interval 0: ask again after this
_STATUSES = ("Accepted", "Pending", "Rejected")


def _rand(n):
    return int.from_bytes(os.urandom(2), "big") % (n + 1) if n > 0 else 0


def _set_clock(res):
    t = res.get("currentTime")
    try:
        clock.set_from(t)
    except ValueError:
        log.warn(_TAG, "currentTime %r unreadable: clock not set", t)


class Conn:
    def __init__(self, dm, rpc, outbox, url, station_id, charging_station, reset_cause="PowerUp",
                 ssl=None, on_accepted=None, max_size=16384, feed=None):
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
        self._feed = feed
        self._addr = None  # the CSMS's address, resolved once (DNS blocks the event loop)
        self.boot_accepted = False
        self._registered = False  # accepted once since power-up: reconnects need no new BootNotification
        self._next_boot = None  # clock.mono() second when the next BootNotification is due
        self._interval = 0
        self._last_tx = time.ticks_ms()
        self.connects = 0
        self.ws = None
        rpc.on_sent = self._sent
        rpc.guard = self._guard

    @property
    def state(self):
        return self._ob.state

    def _get(self, comp, var, default):
        try:
            return self._dm.get(comp, var)
        except KeyError:
            return default

    def _sent(self):
        self._last_tx = time.ticks_ms()

    def _guard(self, action, payload):
        if self._ob.state != "rejected":
            return None
        if action == "TriggerMessage" and isinstance(payload, dict):
            if payload.get("requestedMessage") == "BootNotification":  # TC_B_31 accepts this one
                return None
        return "SecurityError"

    # --- BootNotification -------------------------------------------------------------------------------

    def send_boot(self, reason=None, reserved=False):
        self._next_boot = None
        if self._ob.state == "rejected":  # a triggered boot (TC_B_31) or the retry interval is over
            self._ob.set_state("booting")
        # Same key: a BootNotification still queued takes this payload instead of a second one (and its
        # callback stays the one; nothing re-arms the retry timer behind our back).
        self._ob.put("BootNotification", {"reason": reason or self._reason, "chargingStation": self._cs},
                     triggered=True, key="BootNotification", on_result=self._boot_result, reserved=reserved)

    def _due_in(self, s):
        self._next_boot = clock.mono() + s

    def _boot_result(self, res):
        status = res.get("status") if res else None
        if status not in _STATUSES:  # CALLERROR, timeout, discarded or no usable status: ask again later
            if res:
                log.warn(_TAG, "BootNotification answer without a usable status: %r", status)
            if self.ws is not None:
                self._due_in(_RETRY_S)
            return
        interval = res.get("interval")
        if not isinstance(interval, int) or isinstance(interval, bool) or interval < 0:
            log.warn(_TAG, "BootNotification interval %r unusable", interval)
            interval = 0
        self.boot_accepted = status == "Accepted"
        _set_clock(res)
        log.info(_TAG, "BootNotification %s, interval %d", status, interval)
        if status == "Accepted":
            self._registered = True
            if interval > 0:
                self._interval = interval
                try:
                    self._dm.put("OCPPCommCtrlr", "HeartbeatInterval", min(interval, 86400))
                except (AttributeError, KeyError):  # a device model without put: keep it here only
                    pass
            self._ob.set_state("accepted")
            if self.on_accepted:
                try:
                    self.on_accepted()
                except Exception as e:
                    log.exc(_TAG, e, "on_accepted")
        else:
            # Pending: only BootNotification and triggered messages; Rejected: nothing until the interval ends.
            self._ob.set_state("pending" if status == "Pending" else "rejected")
            self._due_in(interval if interval > 0 else _RETRY_S)

    # --- timers -------------------------------------------------------------------------------------------

    def heartbeat_interval(self):
        return self._get("OCPPCommCtrlr", "HeartbeatInterval", 0) or self._interval

    def _hb_result(self, res):
        if res:
            _set_clock(res)

    async def _timers(self):
        while True:
            await asyncio.sleep_ms(200)
            if self._next_boot is not None and clock.mono() >= self._next_boot:
                self.send_boot()
            if self._ob.state == "accepted":
                hb = self.heartbeat_interval()
                now = time.ticks_ms()
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

    def _resolve(self):
        # getaddrinfo blocks the whole event loop (seconds on a bad network): once, with the watchdog fed
        # right before and after, and cached until a connect fails.
        if self._addr is None:
            _, host, port, _ = wsmod.parse_url(self.url)
            if self._feed:
                self._feed()
            try:
                self._addr = wsmod.resolve(host, port)
            finally:
                if self._feed:
                    self._feed()
        return self._addr

    async def run(self):
        failures = 0
        while True:
            try:
                ws = await wsmod.connect(self.url, auth=self._auth(), ssl=self._ssl, max_size=self._max,
                                         addr=self._resolve())
            except Exception as e:  # refused, DNS, TLS, handshake: all mean "try again later"
                self._addr = None  # the CSMS may have moved: look it up again next time
                wait = self._backoff_s(failures)
                failures += 1
                log.warn(_TAG, "connect to %s failed: %r; retry in %d s", self.url, e, wait)
                await asyncio.sleep(wait)
                continue
            failures = 0
            self.connects += 1
            log.info(_TAG, "connected to %s", self.url)
            try:
                await self._session(ws)
            except Exception as e:  # a bug must not leak the socket nor carry triggered items over
                log.exc(_TAG, e, "session")
            finally:
                ws.abort()  # idempotent; after a bug the socket (and its TLS memory) must not leak
                self._ob.disconnected()
            wait = self._backoff_s(0)
            log.info(_TAG, "disconnected; reconnect in %d s", wait)
            await asyncio.sleep(wait)

    async def _session(self, ws):
        self.ws = ws
        self._last_tx = time.ticks_ms()
        tasks = []
        try:
            tasks.append(asyncio.create_task(self._rpc.serve(ws)))
            if self._registered:
                self._ob.set_state("accepted")
            else:
                self._ob.set_state("booting")
                self.send_boot()
            tasks.append(asyncio.create_task(self._timers()))
            tasks.append(asyncio.create_task(ws.keepalive(self._get("OCPPCommCtrlr", "WebSocketPingInterval", 0))))
            await tasks[0]
        finally:
            # Close the socket first: the reader ends with Closed by itself. Cancelling a task that waits
            # on the socket would drop the socket's registration under a writer still draining it.
            ws.abort()
            self.ws = None
            self._next_boot = None
            for t in tasks[1:]:
                t.cancel()
