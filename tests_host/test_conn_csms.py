"""The station's OCPP-J connection (boot, registration states, heartbeats, reconnects, crossing CALLs,
timeouts, Basic auth) end to end: the real station (tools/sim.py: the firmware under the Unix port with
pymodbus meters) against a CSMS on the `ocpp` package.

The CSMS validates every CALL the station sends against the official schemas (a violation would be a
CALLERROR in csms.errors()). Order in the CSMS's message log, not wall-clock windows, decides: the only
times compared are lower bounds the station must wait at least."""

import time

import pytest

from boards.host.sim.simctl import Station, sent_after
from tools.csms.dev import CSMS, CallError

# reconnect after 1 s, doubled once (the defaults, 10 s + up to 10 s at random, would outlast the tests);
# no clock-aligned MeterValues in the middle of a test
FAST = {
    "OCPPCommCtrlr.RetryBackOffWaitMinimum": 1,
    "OCPPCommCtrlr.RetryBackOffRandomRange": 0,
    "OCPPCommCtrlr.RetryBackOffRepeatTimes": 1,
    "AlignedDataCtrlr.Interval": 0,
}
SLACK = 0.15  # a lower bound measured on the CSMS side may look this much shorter than the station's timer


@pytest.fixture
def csms():
    c = CSMS(interval=60).start()
    yield c
    c.stop()


def station(csms, sid="CS1", dm=None, **kw):
    return Station(csms.url, sid, dm=dict(FAST, **(dm or {})), **kw)


def actions(csms):
    return [m.action for m in csms.messages()]


def pos(csms, m):
    return csms.log.index(m)


def answer_pos(csms, call):
    """Log position of the CSMS's CALLRESULT to the station's CALL, or None (not answered yet)."""
    return next((k for k, m in enumerate(csms.log) if m.dir == "out" and m.type == 3 and m.id == call.id), None)


def test_boot_accepted_status_then_heartbeats(csms):
    csms.interval = 1
    with station(csms, "CS 1/ä") as st:
        hb = csms.wait_for("Heartbeat", 2, timeout=10)
        boot = csms.messages("BootNotification")
        assert len(boot) == 1 and boot[0].payload["reason"] == "PowerUp"
        assert boot[0].station == "CS 1/ä"  # percent-encoded in the URL path, decoded by the CSMS
        assert csms.connects[0][2] == "/CS%201%2F%C3%A4"
        # (the boot's security event, StartupOfTheDevice, goes its own way: tests_host/test_security_events_e2e.py)
        acts = [a for a in actions(csms) if a != "SecurityEventNotification"]
        assert acts[:4] == ["BootNotification", "StatusNotification", "Heartbeat", "Heartbeat"]
        assert hb[1].t - hb[0].t >= 1 - SLACK  # the interval from the boot response, at least
        assert not csms.errors()
        st.assert_clean()


def test_pending_lets_only_boot_and_triggered_messages_through(csms):
    csms.boot = ["Pending", "Pending", "Accepted"]
    csms.interval = 2
    with station(csms) as st:
        st.wait_log("BootNotification Pending")
        # B02.FR.02: a triggered message may go while Pending
        assert csms.call("CS1", "TriggerMessage", {"requestedMessage": "Heartbeat"}) == {"status": "Accepted"}
        csms.wait_for("Heartbeat")
        assert "StatusNotification" not in actions(csms)
        # B02.FR.04: a triggered BootNotification goes before the interval is over: the next BootNotification
        # after the answer is the triggered one, not the retry of the first (reason PowerUp)
        n = len(csms.log)
        assert csms.call("CS1", "TriggerMessage", {"requestedMessage": "BootNotification"})["status"] == "Accepted"
        assert sent_after(csms, n, "BootNotification")[0].payload["reason"] == "Triggered"
        boots = csms.wait_for("BootNotification", 3, timeout=10)  # after the interval: Accepted
        sn = csms.wait_for("StatusNotification", timeout=5)[0]
        assert pos(csms, sn) > answer_pos(csms, boots[2])  # only once Accepted (B01.FR.05)
        assert csms.call("CS1", "TriggerMessage", {"requestedMessage": "BootNotification"})["status"] == "Rejected"
        assert not csms.errors()
        st.assert_clean()


def test_rejected_answers_calls_with_security_error_then_boots_again(csms):
    csms.boot = ["Rejected", "Accepted"]
    csms.interval = 2
    with station(csms) as st:
        st.wait_log("BootNotification Rejected")
        with pytest.raises(CallError) as e:
            csms.call("CS1", "GetVariables", {"getVariableData": [
                {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "MessageTimeout"}}]})
        assert e.value.code == "SecurityError"
        # TriggerMessage(BootNotification) is the one CALL a Rejected station answers (TC_B_31)
        assert csms.call("CS1", "TriggerMessage", {"requestedMessage": "BootNotification"})["status"] == "Accepted"
        boots = csms.wait_for("BootNotification", 2, timeout=5)
        assert boots[1].payload["reason"] == "Triggered"
        csms.wait_for("StatusNotification", timeout=5)
        assert not csms.errors()
        st.assert_clean()


def test_rejected_station_stays_silent_until_the_interval_ends(csms):
    csms.boot = ["Rejected", "Accepted"]
    csms.interval = 2
    with station(csms) as st:
        first = csms.wait_for("BootNotification")[0]
        second = csms.wait_for("BootNotification", 2, timeout=10)[1]
        assert second.payload["reason"] == "PowerUp"  # the retry, not a triggered one
        assert second.t - first.t >= 2 - SLACK  # not before the interval of the Rejected answer
        assert [m.action for m in csms.messages() if pos(csms, m) < pos(csms, second)] == ["BootNotification"]
        st.assert_clean()


def test_heartbeat_timer_restarts_whenever_something_is_sent(csms):
    csms.interval = 2
    with station(csms, reset_cause="Watchdog") as st:
        first = csms.wait_for("Heartbeat")[0]
        assert csms.messages("BootNotification")[0].payload["reason"] == "Watchdog"  # --reset-cause
        time.sleep(1)  # half an interval after that heartbeat
        n = len(csms.log)
        csms.call("CS1", "TriggerMessage", {"requestedMessage": "StatusNotification",
                                            "evse": {"id": 1, "connectorId": 1}})
        sn = sent_after(csms, n, "StatusNotification")[0]
        after = sent_after(csms, pos(csms, sn), "Heartbeat", timeout=8)[0]
        # G02.FR.05: the StatusNotification restarted the timer: the next heartbeat comes a whole interval
        # after it, not 2 s after the first heartbeat (which would be about 1 s after it)
        assert after.t - sn.t >= 2 - SLACK, (after.t - sn.t, sn.t - first.t)
        st.assert_clean()


def test_reconnects_after_the_csms_restarts(csms):
    csms.interval = 1
    with station(csms) as st:
        csms.wait_for("Heartbeat")
        port = csms.port
        n = st.mark()
        csms.stop()
        again = CSMS(interval=1, port=port).start()
        try:
            again.wait_connected("CS1", timeout=20)
            again.wait_for("Heartbeat", timeout=10)
            # an Accepted station does not boot again after a reconnect (contents unchanged)
            assert "BootNotification" not in [m.action for m in again.messages()]
            assert again.call("CS1", "TriggerMessage", {"requestedMessage": "Heartbeat"}) == {"status": "Accepted"}
            assert not again.errors()
        finally:
            again.stop()
        st.wait_log("reconnect in", since=n)
        st.assert_clean()


def test_crossing_calls_are_answered_while_our_call_waits(csms):
    csms.delays["Heartbeat"] = 5
    csms.interval = 1
    with station(csms) as st:
        hb = csms.wait_for("Heartbeat")[0]
        n = len(csms.log)
        got = csms.call("CS1", "GetVariables", {"getVariableData": [
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "MessageTimeout"}}]})
        assert got["getVariableResult"][0]["attributeValue"] == "30"
        ours = next(k for k in range(n, len(csms.log)) if csms.log[k].dir == "out" and csms.log[k].type == 2)
        reply = next(k for k in range(ours, len(csms.log)) if csms.log[k].dir == "in" and csms.log[k].type == 3)
        # our CALL went after the station's Heartbeat, and its reply came before that Heartbeat was answered
        hb_answer = answer_pos(csms, hb)
        assert pos(csms, hb) < ours < reply and (hb_answer is None or reply < hb_answer)
        st.assert_clean()


def test_our_call_times_out_and_the_station_goes_on(csms):
    csms.delays["Heartbeat"] = 5
    csms.interval = 1
    with station(csms, dm={"OCPPCommCtrlr.MessageTimeout.Default": 1}) as st:
        hb = csms.wait_for("Heartbeat", 2, timeout=10)
        # the next CALL went after the timeout, not after the (late) answer
        assert hb[1].t - hb[0].t >= 1 - SLACK
        first_answer = answer_pos(csms, hb[0])
        assert first_answer is None or pos(csms, hb[1]) < first_answer
        st.wait_log("no answer within 1 s")
        st.wait_log("stray CALLRESULT")  # the late answer is ignored
        assert csms.call("CS1", "TriggerMessage", {"requestedMessage": "Heartbeat"}, timeout=10)["status"] == "Accepted"
        st.assert_clean()


def test_basic_auth(csms):
    pw = "0123456789abcdefXYZ"
    csms.passwords = {"CS1": pw}
    with station(csms, password="wrong-password-123") as st:
        st.wait_log("retry in")
        assert not csms.connected("CS1")
        # it tried, with credentials, and was refused
        assert csms.connects and "authorization" in {k.lower() for k in csms.connects[0][3]}
    with station(csms, password=pw) as st:
        csms.wait_for("BootNotification")
        st.assert_clean()
