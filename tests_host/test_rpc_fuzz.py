"""Property-based bad input: every CALL gets the Part 4 answer the official schema implies, junk frames get
the right CALLERROR (or are ignored when they look like a stray answer), fragments may be split anywhere with
pings in between, and the station stays up with no unhandled exception in its log. The station is the real one
(tools/sim.py): its TriggerMessage handler answers the well-formed requests."""

import asyncio
import json
import threading

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from boards.host.sim.simctl import Station
from tools.csms.audit import AuditServer, frame, schema_errors

CODES = {
    "type": "TypeConstraintViolation",
    "required": "OccurrenceConstraintViolation",
    "minItems": "OccurrenceConstraintViolation",
    "maxItems": "OccurrenceConstraintViolation",
    "enum": "PropertyConstraintViolation",
    "maxLength": "PropertyConstraintViolation",
    "minimum": "PropertyConstraintViolation",
    "maximum": "PropertyConstraintViolation",
    "format": "PropertyConstraintViolation",
    "additionalProperties": "FormatViolation",
}
TRIGGERS = ["BootNotification", "LogStatusNotification", "FirmwareStatusNotification", "Heartbeat", "MeterValues",
            "SignChargingStationCertificate", "SignV2GCertificate", "StatusNotification", "TransactionEvent",
            "SignCombinedCertificate", "PublishFirmwareStatusNotification"]
# No example database: what a run tries depends on its seed alone, not on what earlier runs left behind.
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck), database=None)


def pinned(n):
    """Hypothesis draws from seed n: every run (make test) tries the same inputs, so a failure replays."""

    def deco(f):
        f = seed(n)(f)
        f.fuzz_seed = n
        return f

    return deco


@pytest.fixture(autouse=True)
def _show_seed(request, record_property):
    # printed (shown with a failure, or always with -s) and kept in the JUnit XML
    n = getattr(request.function, "fuzz_seed", None)
    assert n is not None, "every test here draws from a pinned seed: @pinned(N)"
    record_property("hypothesis_seed", n)
    print("hypothesis seed %d: %s" % (n, request.node.nodeid))


class Live:
    """One station connected to an AuditServer whose loop runs in a thread; tests use it synchronously."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.srv = self.run(AuditServer().start())
        # no clock-aligned MeterValues: only what the inputs cause
        self.st = Station(self.srv.url, "CS1", dm={"AlignedDataCtrlr.Interval": 0})
        self.run(self.srv.wait_message(lambda m: m[0] == 2 and m[2] == "StatusNotification", timeout=20))
        self.n = 0

    def run(self, coro, timeout=10):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def next_id(self):
        self.n += 1
        return "h%d" % self.n

    def call(self, action, payload):
        mid = self.next_id()
        return self.run(self.srv.call(mid, action, payload))

    def send_then_probe(self, data):
        """Send raw frame bytes, then a probe CALL; returns the station's messages in between."""
        before = len(self.srv.messages)
        self.run(self.srv.send(data))
        mid = self.next_id()
        self.run(self.srv.call(mid, "TriggerMessage", {"requestedMessage": "Heartbeat"}))
        return [m for m in self.srv.messages[before:] if m[1] != mid and m[0] != 2]

    def close(self):
        self.st.stop()
        self.run(self.srv.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)


@pytest.fixture(scope="module")
def live():
    lv = Live()
    yield lv
    lv.st.assert_clean()  # no traceback, no error line after everything the tests threw at it
    assert lv.srv.connections == 1, "the connection dropped"
    assert not lv.srv.violations
    lv.close()


def expected_codes(action, payload):
    errs = schema_errors(action, payload)
    return {CODES[e.validator] for e in errs}


def junk_value():
    scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**53, 2**53),
                        st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: not x.is_integer()),
                        st.text(max_size=60))
    return st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(st.text(max_size=12), inner, max_size=4)),
                        max_leaves=10)


def trigger_payloads():
    evse = st.one_of(
        st.fixed_dictionaries({"id": st.integers(-5, 5)}, optional={"connectorId": st.integers(0, 3)}),
        st.dictionaries(st.sampled_from(["id", "connectorId", "x"]), junk_value(), max_size=3),
        junk_value())
    base = st.fixed_dictionaries(
        {}, optional={"requestedMessage": st.one_of(st.sampled_from(TRIGGERS), junk_value()),
                      "evse": evse,
                      "customData": st.one_of(st.fixed_dictionaries({"vendorId": st.text(max_size=300)}),
                                              junk_value())})
    extra = st.dictionaries(st.text(max_size=10), junk_value(), max_size=2)
    return st.one_of(base, st.builds(lambda a, b: {**a, **b}, base, extra), junk_value())


@pinned(70101)
@SETTINGS
@given(payload=trigger_payloads())
def test_trigger_message_payloads_get_the_schema_answer(live, payload):
    reply = live.call("TriggerMessage", payload)
    want = expected_codes("TriggerMessage", payload)
    if want:
        assert reply[0] == 4 and reply[2] in want, (payload, reply, want)
    else:
        assert reply[0] == 3 and reply[2]["status"] in ("Accepted", "Rejected", "NotImplemented"), (payload, reply)


@pinned(70102)
@SETTINGS
@given(payload=junk_value())
def test_get_variables_payloads_get_the_schema_answer(live, payload):
    reply = live.call("GetVariables", payload)
    want = expected_codes("GetVariables", payload)
    if want:
        assert reply[0] == 4 and reply[2] in want, (payload, reply, want)
    else:
        assert reply[0] == 3, (payload, reply)


def expected_for_junk(text):
    """None: the station must not answer; else the set of acceptable CALLERROR codes."""
    try:
        m = json.loads(text)
    except ValueError:
        return {"RpcFrameworkError"}
    if not isinstance(m, list) or len(m) < 3 or not isinstance(m[1], str) or not m[1] or len(m[1]) > 36:
        return {"RpcFrameworkError"}
    if m[0] in (3, 4) and not isinstance(m[0], bool):
        return None
    if m[0] == 2 and not isinstance(m[0], bool):
        return {"RpcFrameworkError", "NotImplemented", "NotSupported"} | set(CODES.values())
    return {"MessageTypeNotSupported"}


@pinned(70103)
@SETTINGS
@given(text=st.one_of(st.text(max_size=80), junk_value().map(json.dumps),
                      st.lists(junk_value(), max_size=5).map(json.dumps),
                      st.tuples(st.sampled_from([2, 3, 4, 5, 0, -1, True, "2"]), st.text(max_size=40),
                                junk_value(), junk_value()).map(lambda t: json.dumps(list(t)))))
def test_junk_messages_get_the_right_callerror_or_are_ignored(live, text):
    got = live.send_then_probe(frame(1, text))
    want = expected_for_junk(text)
    if want is None:
        assert got == [], (text, got)
    else:
        assert len(got) == 1 and got[0][0] == 4 and got[0][2] in want, (text, got, want)


@pinned(70104)
@SETTINGS
@given(cuts=st.lists(st.integers(1, 60), max_size=5), pings=st.lists(st.booleans(), min_size=6, max_size=6))
def test_a_call_split_anywhere_with_pings_between_gets_one_answer(live, cuts, pings):
    mid = live.next_id()
    text = json.dumps([2, mid, "TriggerMessage", {"requestedMessage": "Heartbeat"}]).encode()
    points = sorted({c for c in cuts if c < len(text)})
    pieces = [text[a:b] for a, b in zip([0] + points, points + [len(text)], strict=True)]
    data = b""
    for i, p in enumerate(pieces):
        data += frame(1 if i == 0 else 0, p, fin=i == len(pieces) - 1)
        if pings[i]:
            data += frame(9, b"x%d" % i)
    live.run(live.srv.send(data))
    assert live.run(live.srv.reply_to(mid)) == [3, mid, {"status": "Accepted"}]
