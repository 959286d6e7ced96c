# The station's ONE outgoing queue: every CALL the station sends goes through here (replies to the CSMS's
# CALLs bypass it, see transport/rpc.py). It holds the registration state, decides what may go now and sends
# one CALL at a time via rpc.call.
#
#   ob = Outbox(rpc, dm)
#   ob.reserve(n) / ob.release(n)   # hold room for n triggered items before answering Accepted (F06.FR.10)
#   ob.put(action, payload, triggered=False, key=None, on_result=None, reserved=False) -> True if queued
#                                   # (or merged into a queued one), False if dropped (queue full)
#   ob.set_state(s)      # "offline" | "booting" | "pending" | "accepted" | "rejected" (conn.py sets it;
#                        # ob.state is the one copy of the registration state)
#   ob.add_source(src)   # persistent messages (station.model.txq.TxQueue), sent as src.action
#                        # (TransactionEvent, SecurityEventNotification), each source in turn:
#                        # src.peek() -> (name, payload) or None, src.ack(name) once the CSMS has it
#                        # (or it was given up); optional src.answered(name, payload, res) gets the
#                        # CALLRESULT payload first (idTokenInfo...)
#   ob.wake()            # new work in a source, or the clock became known
#   ob.disconnected()    # connection lost: triggered RAM items are discarded (F06.FR.09), others wait
#   await ob.run()       # the sender task
#
# Registration gate (spec digest §4): "booting" sends only BootNotification; "pending" BootNotification and
# items put with triggered=True; "accepted" everything; "offline"/"rejected" nothing.
# De-duplication: an item with a key is not queued twice: when one with the same key AND the same kind
# (triggered or spontaneous) is queued, that one takes the newer payload and keeps its place (a status that
# changed twice is reported as it is now; a second trigger before the first went is the same message).
# A triggered and a spontaneous message never merge: one would cross the Pending gate or outlive a
# disconnect as the other, or carry the other's context (Trigger vs Sample.Clock).
# A payload whose timestamp is still a clock marker (clock.py) waits until the clock is known.
# on_result(res) is called once per item: res is the CSMS's CALLRESULT payload, or None when the CSMS
# answered CALLERROR, did not answer in time, or the item was discarded. RAM items are not retried.
# Source items are retried per OCPPCommCtrlr.MessageAttempts/MessageAttemptInterval (instance
# TransactionEvent): a TransactionEvent on CALLERROR or no answer, a SecurityEventNotification only when
# unanswered (a CALLERROR means the CSMS has it); then given up (logged). A source waiting for a retry holds
# no other back. After a disconnect they simply wait for the next "accepted". RAM items go
# first, then the sources in turn, each in its own order. An exception of our own while sending
# (MemoryError, a bug) loses nothing: the message waits a second and goes again (a triggered one is
# answered None).
import asyncio

from station import clock
from station import log
from station.transport.rpc import CallError, CallTimeout, NotConnected

_TAG = "outbox"


class Item:
    __slots__ = ("action", "payload", "triggered", "key", "on_result")

    def __init__(self, action, payload, triggered, key, on_result):
        self.action = action
        self.payload = payload
        self.triggered = triggered
        self.key = key
        self.on_result = on_result


def _replayable(it):
    # F06.FR.09: triggered messages carry current information only; BootNotification is redone by conn.
    return not it.triggered and it.action != "BootNotification"


def _done(it, res):
    if it.on_result:
        try:
            it.on_result(res)
        except Exception as e:
            log.exc(_TAG, e, "on_result of " + it.action)


class Outbox:
    def __init__(self, rpc, dm=None, bound=32):
        self._rpc = rpc
        self._dm = dm
        self._bound = bound
        self._held = 0  # room reserved for triggered items not put yet
        self.items = []
        self.state = "offline"
        self._sources = []
        self._ev = asyncio.Event()
        # Per source (same index as _sources): failed attempts of its head, and the clock.mono() second
        # before which that head is not tried again. Per source, so one that waits holds no other back.
        self._tries = []
        self._retry_at = []
        self.sent = 0

    def set_state(self, s):
        if s != self.state:
            log.info(_TAG, "registration state %s -> %s", self.state, s)
            self.state = s
            self._ev.set()

    def add_source(self, src):
        self._sources.append(src)
        self._tries.append(0)
        self._retry_at.append(None)
        self._ev.set()

    def wake(self):
        self._ev.set()

    def queued(self, key, triggered):
        for it in self.items:
            if it.key == key and it.triggered == triggered:
                return it
        return None

    def reserve(self, n):
        """Hold room for n triggered items (answer Accepted only with it); False when the queue is full."""
        if len(self.items) + self._held + n > self._bound:
            return False
        self._held += n
        return True

    def release(self, n=1):
        self._held = max(0, self._held - n)

    def put(self, action, payload, triggered=False, key=None, on_result=None, reserved=False):
        if reserved:
            self.release(1)
        it = self.queued(key, triggered) if key is not None else None
        if it is not None:
            log.info(_TAG, "%s %r already queued: updated, not queued twice", action, key)
            it.payload = payload
            it.on_result = it.on_result or on_result
            self._ev.set()
            return True
        if not reserved and len(self.items) + self._held >= self._bound:
            log.error(_TAG, "queue full (%d): %s dropped", self._bound, action)
            return False
        self.items.append(Item(action, payload, triggered, key, on_result))
        self._ev.set()
        return True

    def disconnected(self):
        # F06.FR.09: triggered messages carry current information only; they are not replayed later.
        keep = []
        for it in self.items:
            if not _replayable(it):
                log.info(_TAG, "disconnected: triggered %s discarded", it.action)
                _done(it, None)
            else:
                keep.append(it)
        self.items = keep
        self.set_state("offline")

    def _allowed(self, it):
        s = self.state
        if s == "accepted":
            return True
        if s == "booting":
            return it.action == "BootNotification"
        if s == "pending":
            return it.action == "BootNotification" or it.triggered
        return False

    def _next(self):
        for it in self.items:
            if self._allowed(it) and clock.fix(it.payload):
                return it
        return None

    def _source_head(self):
        if self.state != "accepted":
            return None, None
        up = clock.mono()
        for i, src in enumerate(self._sources):
            if self._retry_at[i] is not None and up < self._retry_at[i]:
                continue
            h = src.peek()
            if h is not None and clock.fix(h[1]):
                # In order: while the head's times are unknown, nothing behind it in its source goes.
                return i, h
        return None, None

    def _attempts(self):
        try:
            return (self._dm.get("OCPPCommCtrlr", "MessageAttempts", "TransactionEvent"),
                    self._dm.get("OCPPCommCtrlr", "MessageAttemptInterval", "TransactionEvent"))
        except (AttributeError, KeyError):  # no device model: the spec digest's defaults
            return 3, 30

    async def _send_source(self, i, head):
        src = self._sources[i]
        name, payload = head
        try:
            res = await self._rpc.call(src.action, payload)
            cb = getattr(src, "answered", None)
            if cb is not None:
                try:
                    cb(name, payload, res)
                except Exception as e:
                    log.exc(_TAG, e, "answered hook")
        except NotConnected:
            return  # stays queued for the next connection
        except (CallError, CallTimeout) as e:  # the CSMS's answer (or none): the retry policy decides
            if isinstance(e, CallError) and src.action != "TransactionEvent":
                # The CSMS got it and refused it (a CSMS without SecurityEventNotification, say): a resend
                # would get the same answer. The attempts policy is TransactionEvent's (its instance).
                log.warn(_TAG, "%s %s refused by the CSMS (%r): dropped", src.action, name, e)
            else:
                self._tries[i] += 1
                attempts, interval = self._attempts()
                if self._tries[i] < attempts:
                    log.warn(_TAG, "%s %s failed (%r), retry %d/%d", src.action, name, e, self._tries[i], attempts)
                    self._retry_at[i] = clock.mono() + interval * self._tries[i]
                    return
                log.error(_TAG, "%s %s given up after %d attempts", src.action, name, self._tries[i])
        self._tries[i] = 0
        self._retry_at[i] = None
        self.sent += 1
        src.ack(name)

    async def step(self):
        """Send at most one item if the gate allows it; True if something was attempted."""
        if self._rpc.ws is None:
            return False
        it = self._next()
        if it is not None:
            self.items.remove(it)
            res = None
            try:
                res = await self._rpc.call(it.action, it.payload)
                self.sent += 1
            except NotConnected:
                if _replayable(it):
                    self.items.insert(0, it)  # never reached the CSMS: send it after the reconnect
                    return True
                log.info(_TAG, "%s dropped: connection lost", it.action)
            except (CallError, CallTimeout) as e:
                log.warn(_TAG, "%s not answered: %r", it.action, e)
            except Exception:  # our fault (no memory, a bug): a spontaneous message waits and goes again,
                if _replayable(it):  # the others get their answer (a BootNotification is retried by conn)
                    self.items.insert(0, it)
                else:
                    _done(it, None)
                raise  # run() logs it and pauses
            _done(it, res)
            return True
        i, head = self._source_head()
        if i is not None:
            await self._send_source(i, head)
            return True
        return False

    async def run(self):
        while True:
            self._ev.clear()
            try:
                if await self.step():
                    continue
            except Exception as e:  # our fault, not the CSMS's (no memory, a bug): never drop, pause
                log.exc(_TAG, e)  # a TransactionEvent stays at the head, its attempts uncounted
                await asyncio.sleep(1)
                continue
            # Nothing sendable: wait for new work, a state change, or a source retry coming due.
            try:
                await asyncio.wait_for_ms(self._ev.wait(), 1000 if any(self._retry_at) else 5000)
            except asyncio.TimeoutError:  # periodic re-check (retry timers, sources without wake)
                pass
