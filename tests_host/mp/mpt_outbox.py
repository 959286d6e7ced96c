# outbox.py: registration gate, de-duplication, triggered items discarded on disconnect, persistent source.
from mptest import eq
from station.transport.rpc import CallError
from station.session.outbox import Outbox

HEAP = "96K"


class Rpc:
    # rpc.call stand-in: records what would go on the wire and answers from a script.
    def __init__(self):
        self.ws = object()
        self.sent = []
        self.fail = 0

    async def call(self, action, payload):
        self.sent.append((action, payload))
        if self.fail:
            self.fail -= 1
            raise CallError("GenericError")
        return {"ok": action}


class Src:
    action = "TransactionEvent"

    def __init__(self, names):
        self.q = list(names)

    def peek(self):
        return (self.q[0], {"n": self.q[0]}) if self.q else None

    def ack(self, name):
        self.q.remove(name)

    def answered(self, name, payload, res):
        self.res = (name, res)


async def drain(ob):
    while await ob.step():
        pass


async def test_gates_by_registration_state():
    rpc = Rpc()
    ob = Outbox(rpc)
    ob.put("StatusNotification", {}, key="s")
    ob.put("Heartbeat", {}, triggered=True)
    ob.put("BootNotification", {})
    await drain(ob)  # offline: nothing
    eq(rpc.sent, [])
    ob.set_state("booting")
    await drain(ob)
    eq([a for a, _ in rpc.sent], ["BootNotification"])
    ob.set_state("pending")  # triggered only
    await drain(ob)
    eq([a for a, _ in rpc.sent], ["BootNotification", "Heartbeat"])
    ob.set_state("rejected")
    await drain(ob)
    eq(len(rpc.sent), 2)
    ob.set_state("accepted")
    await drain(ob)
    eq([a for a, _ in rpc.sent], ["BootNotification", "Heartbeat", "StatusNotification"])


async def test_same_key_is_queued_once_and_results_reported():
    rpc = Rpc()
    ob = Outbox(rpc)
    got = []
    assert ob.put("StatusNotification", {"a": 1}, key=("S", 1, 1), on_result=got.append)
    assert ob.put("StatusNotification", {"a": 2}, key=("S", 1, 1))  # merged: queued once, newest payload
    assert ob.put("StatusNotification", {"a": 3}, key=("S", 2, 1), on_result=got.append)
    eq(len(ob.items), 2)
    rpc.fail = 1
    ob.set_state("accepted")
    await drain(ob)
    eq(len(rpc.sent), 2)
    eq(rpc.sent[0][1], {"a": 2})  # the queued one went out with the newer payload
    eq(got, [None, {"ok": "StatusNotification"}])  # CALLERROR -> None; RAM items are not retried


async def test_triggered_and_spontaneous_never_merge():
    # B02.FR.02: while Pending only the triggered one may go; the spontaneous one waits for Accepted.
    rpc = Rpc()
    ob = Outbox(rpc)
    ob.set_state("pending")
    ob.put("MeterValues", {"ctx": "Trigger"}, triggered=True, key="Meter1")
    ob.put("MeterValues", {"ctx": "Sample.Clock"}, key="Meter1")
    await drain(ob)
    eq(rpc.sent, [("MeterValues", {"ctx": "Trigger"})])
    ob.put("MeterValues", {"ctx": "Sample.Clock", "n": 2}, key="Meter1")
    ob.put("MeterValues", {"ctx": "Trigger", "n": 2}, triggered=True, key="Meter1")
    ob.set_state("accepted")
    await drain(ob)
    # neither wiped the other, and each kept its own context
    eq(rpc.sent[1:], [("MeterValues", {"ctx": "Sample.Clock", "n": 2}), ("MeterValues", {"ctx": "Trigger", "n": 2})])


async def test_disconnect_discards_triggered_items_only():
    rpc = Rpc()
    ob = Outbox(rpc)
    ob.put("MeterValues", {}, triggered=True)
    ob.put("StatusNotification", {})
    ob.put("StatusNotification", {"c": 1}, triggered=True, key="S1")
    ob.put("StatusNotification", {"c": 2}, key="S2")
    ob.put("StatusNotification", {"c": 3}, triggered=True, key="S2")  # a separate, triggered item
    ob.disconnected()
    eq([(i.action, i.payload) for i in ob.items], [("StatusNotification", {}), ("StatusNotification", {"c": 2})])
    eq(ob.state, "offline")


async def test_reserved_room_is_kept_for_the_triggered_message():
    rpc = Rpc()
    ob = Outbox(rpc, bound=3)
    ob.put("StatusNotification", {"n": 1})
    assert ob.reserve(2)  # a trigger answered Accepted for two messages
    assert not ob.reserve(1)  # the queue has no room for a third promise
    assert not ob.put("StatusNotification", {"n": 2})  # spontaneous: the reserved room is not its
    assert ob.put("MeterValues", {"e": 1}, triggered=True, reserved=True)
    assert ob.put("MeterValues", {"e": 2}, triggered=True, reserved=True)
    eq(len(ob.items), 3)
    ob.release(0)
    assert not ob.reserve(1)


async def test_our_own_failure_while_sending_loses_nothing():
    class Tight(Rpc):  # the station's own fault on the first try of each message: no memory
        def __init__(self):
            super().__init__()
            self.seen = set()

        async def call(self, action, payload):
            if action not in self.seen:
                self.seen.add(action)
                raise MemoryError()
            return await super().call(action, payload)

    rpc = Tight()

    class DM:
        def get(self, c, v, i=None):
            return {"MessageAttempts": 1, "MessageAttemptInterval": 0}[v]

    ob = Outbox(rpc, DM())
    src = Src(["q1"])
    ob.add_source(src)
    got = []
    ob.put("BootNotification", {}, triggered=True, on_result=got.append)
    ob.set_state("booting")
    await _fails(ob)
    eq(got, [None])  # the boot's callback ran: conn schedules the retry instead of staying "booting"
    ob.set_state("accepted")
    ob.put("StatusNotification", {"s": 1})
    await _fails(ob)
    eq([i.action for i in ob.items], ["StatusNotification"])  # still queued
    assert await ob.step()
    await _fails(ob)  # the TransactionEvent, first try
    eq(src.q, ["q1"])  # not given up although only one attempt is allowed: it was not the CSMS's answer
    await drain(ob)
    eq(src.q, [])
    eq([a for a, _ in rpc.sent], ["StatusNotification", "TransactionEvent"])


async def _fails(ob):
    try:
        await ob.step()
    except MemoryError:
        return
    raise AssertionError("no MemoryError")


async def test_timestamps_wait_for_a_known_clock():
    from station import clock

    t0 = clock.parse("2000-01-01T00:00:00Z") - clock._epoch()
    clock.use(lambda: t0)  # an RTC after power loss
    clock._known = False
    rpc = Rpc()
    ob = Outbox(rpc)
    ob.set_state("accepted")
    ob.put("StatusNotification", {"timestamp": clock.stamp(), "connectorStatus": "Available"})
    ob.put("Heartbeat", {})
    await drain(ob)
    eq([a for a, _ in rpc.sent], ["Heartbeat"])  # never a 2000 timestamp, nothing invented
    clock.set_from("2030-01-01T00:00:10Z")
    await drain(ob)
    eq(rpc.sent[1][0], "StatusNotification")
    assert rpc.sent[1][1]["timestamp"].startswith("2030-01-01T00:00:"), rpc.sent[1][1]


async def test_source_after_ram_items_with_retries():
    rpc = Rpc()

    class DM:
        def get(self, c, v, i=None):
            return {"MessageAttempts": 2, "MessageAttemptInterval": 0}[v]

    ob = Outbox(rpc, DM())
    src = Src(["q1", "q2"])
    ob.add_source(src)
    ob.put("Heartbeat", {})
    ob.set_state("pending")
    await drain(ob)
    eq(rpc.sent, [])  # transaction events wait for Accepted
    ob.set_state("accepted")
    rpc.fail = 3  # Heartbeat fails once; q1 fails twice -> given up; q2 goes
    await drain(ob)
    eq([p.get("n", a) for a, p in rpc.sent], ["Heartbeat", "q1", "q1", "q2"])
    eq(src.q, [])
    eq(src.res, ("q2", {"ok": "TransactionEvent"}))


async def test_retry_timer_does_not_wrap_after_days_offline():
    # ticks_ms wraps every ~12 days (a ticks_diff only means something within ~6): the retry time of a
    # TransactionEvent is kept in clock.mono() seconds, which do not wrap.
    from station import clock

    rpc = Rpc()

    class DM:
        def get(self, c, v, i=None):
            return {"MessageAttempts": 3, "MessageAttemptInterval": 30}[v]

    ob = Outbox(rpc, DM())
    src = Src(["q1"])
    ob.add_source(src)
    ob.set_state("accepted")
    real = clock.mono
    now = [100]
    clock.mono = lambda: now[0]
    try:
        rpc.fail = 1
        await drain(ob)
        eq(len(rpc.sent), 1)  # failed once: retry due in 30 s
        now[0] = 129
        await drain(ob)
        eq(len(rpc.sent), 1)
        now[0] = 100 + 7 * 86400  # a week later (the link was down, say): due, long past
        await drain(ob)
        eq(len(rpc.sent), 2)
        eq(src.q, [])
    finally:
        clock.mono = real


class Refusing(Rpc):
    # A CSMS without SecurityEventNotification (ocpp-rpc answers NotImplemented), or one that never answers it.
    def __init__(self, exc):
        super().__init__()
        self.exc = exc

    async def call(self, action, payload):
        self.sent.append((action, payload))
        if action == "SecurityEventNotification":
            raise self.exc
        return {}


class SecSrc(Src):
    action = "SecurityEventNotification"


async def test_a_refused_security_event_is_dropped_and_holds_nothing_back():
    from station.transport.rpc import CallTimeout

    rpc = Refusing(CallError("NotImplemented"))
    ob = Outbox(rpc)
    sec, tx = SecSrc(["s1"]), Src(["t1"])
    ob.add_source(sec)  # the security source first, so it would be tried first
    ob.add_source(tx)
    ob.set_state("accepted")
    await drain(ob)
    eq([a for a, _ in rpc.sent], ["SecurityEventNotification", "TransactionEvent"])
    eq(sec.q, [])  # the CSMS has it and said no: no resend of the same
    # unanswered: kept for a retry, and the transaction events behind it still go
    rpc.exc = CallTimeout()
    sec.q, tx.q = ["s2"], ["t2", "t3"]
    await drain(ob)
    eq([a for a, _ in rpc.sent][2:], ["SecurityEventNotification", "TransactionEvent", "TransactionEvent"])
    eq(sec.q, ["s2"])
