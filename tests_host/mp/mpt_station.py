# The station's own features against the real station (hoststation.py): availability (G03), the EVSE
# an EV may start a transaction on, clock-aligned meter values across a clock step, statuses the full
# queue dropped, and the order of start-up and watchdog.
import asyncio

from station import clock
import hoststation as hs
from hoststation import queued
from mptest import eq

HEAP = "256K"  # the whole station: bytecode (.mpy) sits in the heap under the Unix port
TIMEOUT = 60


def _change(st, op, evse=None):
    req = {"operationalStatus": op}
    if evse is not None:
        req["evse"] = evse
    return st.connectors.change_availability(req)


def _status(st, e):
    return st.connectors.status(e, 1)


def _plug(st, e, **pins):
    hs.pins(e, **pins)
    hs.settle_inputs(st)


def _start(st):
    # What run() does before the tasks start: inputs, availability, recovery; then events flow.
    st.connectors.start()


def test_no_transaction_on_an_inoperative_or_faulted_connector():
    st = hs.make()
    _start(st)
    eq(_change(st, "Inoperative", {"id": 1}), {"status": "Accepted"})
    _plug(st, 1, plug=1, charging=1)
    eq(_status(st, 1), "Unavailable")
    eq(st.tx.running(1), None)
    _plug(st, 2, plug=1, fault=1)  # an RCD trip before the EV was plugged in
    eq(_status(st, 2), "Faulted")
    eq(st.tx.running(2), None)
    eq(len(st.txq), 0)
    eq(_change(st, "Operative", {"id": 1}), {"status": "Accepted"})  # the EV is still there: now it starts
    assert st.tx.running(1) is not None


def test_inoperative_state_survives_a_reboot_and_blocks_the_plugged_ev():
    st = hs.make()
    _start(st)
    _change(st, "Inoperative", {"id": 2})
    hs.pins(2, plug=1)
    st2 = hs.make(fresh=False)
    st2.meters = None

    async def boot():
        try:
            await asyncio.wait_for_ms(st2.run(), 300)
        except asyncio.TimeoutError:
            pass

    asyncio.run(boot())
    eq(_status(st2, 2), "Unavailable")
    eq(st2.tx.running(2), None)  # an EV already plugged in at start-up does not start on it either


def test_scheduled_only_for_the_evses_the_request_names():
    st = hs.make()
    _start(st)
    _plug(st, 1, plug=1, charging=1)
    assert st.tx.running(1) is not None
    eq(_change(st, "Inoperative", {"id": 2}), {"status": "Accepted"})  # idle: at once, whatever EVSE 1 does
    eq(_status(st, 2), "Unavailable")
    eq(_change(st, "Inoperative", {"id": 1}), {"status": "Scheduled"})  # waits for its transaction
    eq(_status(st, 1), "Occupied")
    eq(_change(st, "Operative", {"id": 2}), {"status": "Accepted"})
    eq(_change(st, "Inoperative"), {"status": "Scheduled"})  # the station: EVSE 1 still charging
    _plug(st, 1)  # the EV leaves: EVSE 1 follows the operator's wish now
    st.connectors.tick()
    eq(_status(st, 1), "Unavailable")
    eq(_change(st, "Inoperative", {"id": 9}), {"status": "Rejected", "statusInfo": {"reasonCode": "UnknownEvse"}})
    eq(_change(st, "Inoperative", {"id": 1, "connectorId": 2}),
       {"status": "Rejected", "statusInfo": {"reasonCode": "UnknownConnectorId"}})


def test_change_availability_on_a_board_without_evses():
    st = hs.make(bare=True)
    eq(st.connectors.evse_ids(), [])
    eq(_change(st, "Inoperative"), {"status": "Accepted"})
    eq(_change(st, "Operative", {"id": 0}), {"status": "Accepted"})
    eq(_change(st, "Operative", {"id": 1})["status"], "Rejected")


def test_clock_aligned_values_skip_the_clock_step_and_sit_on_the_grid():
    st = hs.make(dm={"AlignedDataCtrlr.Interval": 60})
    hs.reading(st, 1)
    hs.reading(st, 2)
    t2000 = clock.parse("2000-01-01T00:00:00Z") - clock._epoch()
    clock.use(lambda: t2000)  # an ESP32 after power loss
    clock._known = False
    clock._offset = 0
    st.aligned.tick()
    st.aligned.tick()
    eq(queued(st), [])  # nothing clock-aligned on an unknown clock
    clock.set_from("2026-12-01T10:07:30Z")  # the CSMS's time: a jump of 26 years
    st.aligned.tick()
    eq(queued(st), [])  # the jump itself is no grid point
    clock.set_from("2026-12-01T10:08:00Z")
    st.aligned.tick()
    got = [(p["evseId"], p["meterValue"][0]["timestamp"], p["meterValue"][0]["sampledValue"][0]["context"])
           for _, p, _ in queued(st, "MeterValues")]
    eq(got, [(1, "2026-12-01T10:08:00Z", "Sample.Clock"), (2, "2026-12-01T10:08:00Z", "Sample.Clock")])


def test_status_the_full_queue_dropped_is_reported_later():
    st = hs.make()
    _start(st)
    st.connectors.report_all()  # both Available, reported
    st.outbox.items = []
    for i in range(32):
        st.outbox.put("Heartbeat", {"n": i})
    _plug(st, 1, plug=1)  # Occupied: the queue has no room for its StatusNotification
    eq(queued(st, "StatusNotification"), [])
    st.outbox.items = []  # sent meanwhile
    st.connectors.tick()  # what the ticker does every second
    eq([p["connectorStatus"] for _, p, _ in queued(st, "StatusNotification")], ["Occupied"])


def test_watchdog_is_armed_only_after_the_synchronous_start_up():
    order = []
    st = hs.make()
    hs.pins(1, plug=1)

    class Wdt:
        def feed(self):
            order.append("feed")

    def wdt(ms):
        order.append("armed")
        return Wdt()

    st.board.wdt = wdt
    real_recover = st.tx.recover

    def recover(*a):
        order.append("recover")
        return real_recover(*a)

    st.tx.recover = recover

    async def poll_once(retries=None):
        order.append("poll retries=%r" % (retries,))

    st.meters.poll_once = poll_once

    async def boot():
        try:
            await asyncio.wait_for_ms(st.run(), 300)
        except asyncio.TimeoutError:
            pass

    asyncio.run(boot())
    eq(order[:4], ["poll retries=0", "recover", "armed", "feed"])
    assert st.tx.running(1) is not None  # the EV plugged in at start-up got its transaction


class Link:
    # The WebSocket as rpc.py sees it: what the station sends, and the CSMS's frames fed by the test.
    def __init__(self):
        self.out = []
        self._in = []
        self._ev = asyncio.Event()

    async def send_json(self, obj):
        import json

        self.out.append(json.loads(json.dumps(obj)))  # what goes on the wire: JSON text

    def feed(self, msg):
        import json

        self._in.append(json.dumps(msg))
        self._ev.set()

    async def recv(self):
        while not self._in:
            self._ev.clear()
            await self._ev.wait()
        return self._in.pop(0)


async def _answer(link, n, payload):
    for _ in range(200):
        if len(link.out) >= n:
            break
        await asyncio.sleep_ms(2)
    link.feed([3, link.out[n - 1][1], payload])


async def test_csms_quirks_in_results_do_not_stop_registration_or_resend_events():
    st = hs.make()
    _start(st)
    link = Link()
    serve = asyncio.create_task(st.rpc.serve(link))
    await asyncio.sleep_ms(0)
    st.reg.linked = True
    t2000 = clock.parse("2000-01-01T00:00:00Z") - clock._epoch()
    clock.use(lambda: t2000)  # the RTC after a power loss: only the CSMS can tell the time
    clock._known = False
    clock._offset = 0
    st.outbox.set_state("booting")
    st.reg.send_boot()
    step = asyncio.create_task(st.outbox.step())
    # an extra property and a date-time without "T" or zone: both outside the schema
    await _answer(link, 1, {"status": "Accepted", "interval": 300, "currentTime": "2026-12-01 10:00:00",
                            "vendorQuirk": True})
    await step
    eq(st.reg.state, "accepted")
    assert clock.known() and clock.rfc3339().startswith("2026-12-01T10:00:0"), clock.rfc3339()
    _plug(st, 1, plug=1)  # Started, into the flash queue
    st.outbox.items = []  # (the statuses are not under test here)
    step = asyncio.create_task(st.outbox.step())
    await _answer(link, 2, {"idTokenInfo": {"status": "Accepted"}, "unknownExtra": 1})
    await step
    eq(link.out[1][2], "TransactionEvent")
    eq(len(st.txq), 0)  # processed by the CSMS: not resent, not given up later
    serve.cancel()


def test_operator_disable_gives_unavailable_but_fault_wins():
    st = hs.make()
    _start(st)

    def reported():  # the spontaneous StatusNotification queued now (one per connector: merged)
        return [p["connectorStatus"] for _, p, _ in queued(st, "StatusNotification")]

    _change(st, "Inoperative", {"id": 1})
    eq((_status(st, 1), reported()), ("Unavailable", ["Unavailable"]))
    _plug(st, 1, plug=1)
    eq((_status(st, 1), reported()), ("Unavailable", ["Unavailable"]))  # plugged while disabled
    _plug(st, 1, plug=1, fault=1)
    eq((_status(st, 1), reported()), ("Faulted", ["Faulted"]))
    _plug(st, 1, plug=1)
    eq((_status(st, 1), reported()), ("Unavailable", ["Unavailable"]))
    _change(st, "Operative", {"id": 1})
    eq((_status(st, 1), reported()), ("Occupied", ["Occupied"]))


def test_a_second_of_the_ticker_allocates_nothing():
    # app.tick and the watchdog's check run every second for the station's whole life: with nothing to
    # send they build no lists, dicts or strings (a charging EVSE, an idle one, the clock known).
    from mptest import alloc

    t = clock.parse("2026-12-01T10:00:00Z") - clock._epoch()
    clock.use(lambda: t)  # an int RTC, as an ESP32's (the Unix port's time.time() is a float, boxed)
    clock.set_from("2026-12-01T10:00:00Z")
    st = hs.make(dm={"AlignedDataCtrlr.Interval": 900})
    _start(st)
    st.tx.recover(st.connectors.evse_ids(), st.connectors.plugged)
    _plug(st, 1, plug=1, charging=1)
    assert st.tx.running(1) and not st.tx.running(2)
    st.sched.alive("station")

    def second():
        st.tick()
        st.sched.healthy()

    eq(alloc(second), 0)
