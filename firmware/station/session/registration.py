# Registration with the CSMS (B01-B03) and the heartbeat (G02): BootNotification and its answer, the
# registration state (kept once, in the outbox, which gates on it), the retry timer, heartbeats on an
# idle link, and the Rejected guard on incoming CALLs.
#
#   r = Registration(dm, outbox, charging_station, reset_cause="PowerUp")
#   r.on_accepted = fn        # after each Accepted boot (the station reports every connector)
#   r.state                   # "offline" | "booting" | "pending" | "accepted" | "rejected" (outbox.state)
#   r.boot_accepted           # the last BootNotification response was Accepted (F06.FR.17)
#   r.send_boot("Triggered", reserved=False)   # queue one; goes even before the interval
#   r.connected(registered)   # a session starts: boot, or carry on if accepted since power-up
#   await r.timers()          # per session: due BootNotification, heartbeat on an idle link
#   r.sent()                  # rpc.on_sent: any message sent resets the heartbeat timer (G02.FR.05)
#   r.guard(action, payload)  # rpc.guard: SecurityError while Rejected, but TriggerMessage(Boot) (TC_B_31)
# A boot answer that breaks its schema is used as far as it goes (rpc.py): a known status registers.
import asyncio
import time

from station import clock, log

_TAG = "reg"
_RETRY_S = 30  # BootNotification unanswered, or Pending/Rejected with interval 0: ask again after this
_STATUSES = ("Accepted", "Pending", "Rejected")
# A CSMS moving a known clock by more than this is a SettingSystemTime security event; the spec leaves
# "significant" open, and a few minutes is more than the drift of an RTC between two heartbeats.
_JUMP_S = 180


class Registration:
    def __init__(self, dm, outbox, charging_station, reset_cause="PowerUp"):
        self._dm = dm
        self._ob = outbox
        self._cs = charging_station
        self._reason = reset_cause
        self.on_accepted = None
        self.on_clock = None  # on_clock(step_s): the CSMS moved a known clock by more than _JUMP_S
        self.boot_accepted = False
        self.registered = False  # accepted once since power-up: reconnects need no new BootNotification
        self.linked = False  # a session is up (answers can arrive)
        self._next_boot = None  # clock.mono() second when the next BootNotification is due
        self._interval = 0
        self._last_tx = time.ticks_ms()

    @property
    def state(self):
        return self._ob.state

    def sent(self):
        self._last_tx = time.ticks_ms()

    def set_clock(self, res):
        t = res.get("currentTime")
        was = clock.known()
        try:
            step = clock.set_from(t)
        except ValueError:
            log.warn(_TAG, "currentTime %r unreadable: clock not set", t)
            return
        if was and abs(step) > _JUMP_S and self.on_clock:
            self.on_clock(step)

    def guard(self, action, payload):
        if self._ob.state != "rejected":
            return None
        if action == "TriggerMessage" and isinstance(payload, dict):
            if payload.get("requestedMessage") == "BootNotification":  # TC_B_31 accepts this one
                return None
        return "SecurityError"

    # --- BootNotification -------------------------------------------------------------------------------

    def connected(self):
        self.linked = True
        self._last_tx = time.ticks_ms()
        if self.registered:
            self._ob.set_state("accepted")
        else:
            self._ob.set_state("booting")
            self.send_boot()

    def disconnected(self):
        self.linked = False
        self._next_boot = None

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
            if self.linked:
                self._due_in(_RETRY_S)
            return
        interval = res.get("interval")
        if not isinstance(interval, int) or isinstance(interval, bool) or interval < 0:
            log.warn(_TAG, "BootNotification interval %r unusable", interval)
            interval = 0
        self.boot_accepted = status == "Accepted"
        self.set_clock(res)
        log.info(_TAG, "BootNotification %s, interval %d", status, interval)
        if status == "Accepted":
            self.registered = True
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
        return self._dm.get("OCPPCommCtrlr", "HeartbeatInterval") or self._interval

    def heartbeat_result(self, res):
        if res:
            self.set_clock(res)

    async def timers(self):
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
                    self._ob.put("Heartbeat", {}, key="Heartbeat", on_result=self.heartbeat_result)
