"""The station's OCPP-J client (firmware under the Unix port) against a CSMS on the `ocpp` package.

The CSMS validates every CALL the station sends against the official schemas (a violation would be a
CALLERROR in csms.errors())."""

import time

import pytest

from peers.stationproc import Station
from tools.csms import CSMS, CallError


@pytest.fixture
def csms():
    c = CSMS(interval=60).start()
    yield c
    c.stop()


def station(csms, **kw):
    return Station(csms.url, **kw)


def actions(csms):
    return [m.action for m in csms.messages()]


def test_boot_accepted_status_then_heartbeats(csms):
    csms.interval = 1
    with station(csms, sid="CS 1/ä") as st:
        hb = csms.wait_for("Heartbeat", 2, timeout=10)
        boot = csms.messages("BootNotification")
        assert len(boot) == 1 and boot[0].payload["reason"] == "PowerUp"
        assert boot[0].station == "CS 1/ä"  # percent-encoded in the URL path, decoded by the CSMS
        assert csms.connects[0][2] == "/CS%201%2F%C3%A4"
        assert actions(csms)[:2] == ["BootNotification", "StatusNotification"]
        assert 0.8 < hb[1].t - hb[0].t < 1.6
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
        # B02.FR.04: a triggered BootNotification goes before the interval is over
        t0 = time.time()
        assert csms.call("CS1", "TriggerMessage", {"requestedMessage": "BootNotification"})["status"] == "Accepted"
        boots = csms.wait_for("BootNotification", 2, timeout=3)
        assert boots[1].payload["reason"] == "Triggered" and boots[1].t - t0 < 1
        boots = csms.wait_for("BootNotification", 3, timeout=5)  # after the interval: Accepted
        csms.wait_for("StatusNotification", timeout=3)
        assert actions(csms).index("StatusNotification") > actions(csms).index("BootNotification") + 2
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
        second = csms.wait_for("BootNotification", 2, timeout=5)[1]
        assert 1.8 < second.t - first.t < 3
        assert [m.action for m in csms.messages() if m.t < second.t] == ["BootNotification"]
        st.assert_clean()


def test_heartbeat_timer_restarts_whenever_something_is_sent(csms):
    csms.interval = 2
    with station(csms, reset="Watchdog") as st:
        first = csms.wait_for("Heartbeat")[0]
        assert csms.messages("BootNotification")[0].payload["reason"] == "Watchdog"  # from the reset cause
        time.sleep(1)
        csms.call("CS1", "TriggerMessage", {"requestedMessage": "StatusNotification"})
        sn = csms.wait_for("StatusNotification", 2)[1]
        second = csms.wait_for("Heartbeat", 2, timeout=5)[1]
        # G02.FR.05: the StatusNotification reset the timer, so no heartbeat 2 s after the first one
        assert second.t - sn.t > 1.8 and second.t - first.t > 2.5
        st.assert_clean()


def test_reconnects_after_the_csms_restarts(csms):
    csms.interval = 1
    with station(csms) as st:
        csms.wait_for("Heartbeat")
        port = csms.port
        csms.stop()
        time.sleep(0.5)
        again = CSMS(interval=1, port=port).start()
        try:
            again.wait_connected("CS1", timeout=10)
            again.wait_for("Heartbeat", timeout=5)
            # an Accepted station does not boot again after a reconnect (contents unchanged)
            assert "BootNotification" not in [m.action for m in again.messages()]
            assert again.call("CS1", "TriggerMessage", {"requestedMessage": "Heartbeat"}) == {"status": "Accepted"}
            assert not again.errors()
        finally:
            again.stop()
        st.wait_log("reconnect in")
        st.assert_clean()


def test_crossing_calls_are_answered_while_our_call_waits(csms):
    csms.delays["Heartbeat"] = 1.5
    csms.interval = 1
    with station(csms) as st:
        hb = csms.wait_for("Heartbeat")[0]
        got = csms.call("CS1", "GetVariables", {"getVariableData": [
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "MessageTimeout"}}]})
        assert got["getVariableResult"][0]["attributeValue"] == "30"
        reply = [m for m in csms.log if m.dir == "in" and m.type == 3][0]
        hb_answer = [m for m in csms.log if m.dir == "out" and m.type == 3 and m.id == hb.id]
        # our reply came while the station's Heartbeat was still unanswered
        assert reply.t - hb.t < 1.0 and (not hb_answer or hb_answer[0].t > reply.t)
        st.assert_clean()


def test_our_call_times_out_and_the_station_goes_on(csms):
    csms.delays["Heartbeat"] = 2.5
    csms.interval = 1
    with station(csms, dm={"OCPPCommCtrlr.MessageTimeout.Default": 1}) as st:
        hb = csms.wait_for("Heartbeat", 2, timeout=8)
        assert 1.0 <= hb[1].t - hb[0].t < 2.4  # the next CALL went after the timeout, not after the answer
        st.wait_log("no answer within 1 s")
        st.wait_log("stray CALLRESULT")  # the late answer is ignored
        assert csms.call("CS1", "TriggerMessage", {"requestedMessage": "Heartbeat"}, timeout=10)["status"] == "Accepted"
        st.assert_clean()


def test_basic_auth(csms):
    pw = "0123456789abcdefXYZ"
    csms.passwords = {"CS1": pw}
    with station(csms, dm={"SecurityCtrlr.BasicAuthPassword": "wrong-password-123"}) as st:
        st.wait_log("retry in")
        assert not csms.connected("CS1")
    with station(csms, dm={"SecurityCtrlr.BasicAuthPassword": pw}) as st:
        csms.wait_for("BootNotification")
        st.assert_clean()
