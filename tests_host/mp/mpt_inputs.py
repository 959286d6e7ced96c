# Debounced connector contacts: bouncing contacts do not flap; a held change is reported once. The
# contacts only: what they mean to OCPP (statuses, the operator's availability) is mpt_station.py's.
import asyncio

from mptest import eq

from station.hw import inputs

HEAP = "32K"
TIMEOUT = 20


class Line:
    """A contact driven by the test (on the board this is machine.Pin; on the host the bench file)."""

    def __init__(self, v=0):
        self.v = v

    def value(self):
        return self.v


def _setup(samples=3):
    plug, chg, fault = Line(), Line(), Line()
    ins = inputs.Inputs({1: (plug, chg, fault)}, samples=samples)
    events = []
    ins.subscribe(lambda e, pl, ch, fa: events.append((e, pl, ch, fa)))
    ins.sample()  # start state
    return ins, plug, chg, fault, events


def test_bouncing_plug_does_not_flap_and_held_change_is_reported_once():
    ins, plug, chg, fault, events = _setup(samples=3)
    eq(ins.state(1), (False, False, False))
    for v in (1, 0, 1, 1, 0, 1, 0, 0, 1, 0):  # contact bounce: never 3 samples in a row
        plug.v = v
        ins.sample()
    eq(events, [])
    plug.v = 1
    for _ in range(10):  # held: reported once, on the third sample
        ins.sample()
    eq(events, [(1, True, False, False)])
    eq(ins.state(1), (True, False, False))


def test_change_needs_exactly_n_samples():
    ins, plug, chg, fault, events = _setup(samples=4)
    plug.v = 1
    for _ in range(3):
        ins.sample()
    eq(events, [])
    ins.sample()
    eq(len(events), 1)


def test_charging_fault_and_unplug_sequence():
    ins, plug, chg, fault, events = _setup(samples=2)

    def hold(n=2):
        for _ in range(n):
            ins.sample()

    plug.v = 1
    hold()
    chg.v = 1
    hold()
    fault.v = 1  # RCD trips: not charging any more even if the feedback lags
    hold()
    fault.v = 0
    chg.v = 0
    hold()
    plug.v = 0
    hold()
    eq([ev[1:] for ev in events], [
        (True, False, False),
        (True, True, False),
        (True, False, True),
        (True, False, False),
        (False, False, False),
    ])


def test_charging_contact_without_a_plug_is_no_change():
    ins, plug, chg, fault, events = _setup(samples=1)
    chg.v = 1  # feedback wired wrong or a stuck relay: not charging while nothing is plugged in
    ins.sample()
    eq(events, [])
    eq(ins.state(1), (False, False, False))


def test_a_failing_subscriber_does_not_stop_the_others():
    ins, plug, chg, fault, events = _setup(samples=1)

    def bad(*a):
        raise RuntimeError("subscriber bug")

    ins._subs.insert(0, bad)
    plug.v = 1
    ins.sample()
    eq(len(events), 1)


def test_missing_inputs_read_inactive_and_unknown_evse_is_none():
    ins = inputs.Inputs({1: (Line(1), None, None), 2: (None, None, None)})
    ins.sample()
    eq(ins.state(1), (True, False, False))
    eq(ins.state(2), (False, False, False))
    eq(ins.state(3), None)


async def test_run_polls_in_the_background():
    plug = Line()
    ins = inputs.Inputs({1: (plug, None, None)}, period_ms=5, samples=3)
    seen = asyncio.Event()
    ins.subscribe(lambda *a: seen.set())
    t = asyncio.create_task(ins.run())
    await asyncio.sleep_ms(30)
    plug.v = 1
    await asyncio.wait_for_ms(seen.wait(), 500)
    eq(ins.state(1), (True, False, False))
    t.cancel()
