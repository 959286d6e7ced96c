"""Reset (B11/B12) end to end: the real station (tools/sim.py) against the `ocpp`-package CSMS. Immediate ends the
running transaction (Ended, ImmediateReset) and reboots; OnIdle is Scheduled while a transaction runs and reboots
once it has ended; the next BootNotification says RemoteReset; an EVSE reset is Rejected (B11.FR.09)."""

from boards.host.sim.simctl import payloads
from tools.csms.dev import CSMS


def _reasons(csms, sid):
    return [b["reason"] for b in payloads(csms, "BootNotification", sid)]


def _ended(csms, sid):
    return [p for p in payloads(csms, "TransactionEvent", sid) if p["eventType"] == "Ended"]


def test_reset_immediate_ends_the_transaction_and_reboots(stations):
    with CSMS(interval=300) as csms:
        st = stations(csms, "CS-RI")
        csms.wait_for("StatusNotification", timeout=20)
        st.cmd(cmd="charge", evse=1, power_w=7400)
        csms.wait_for("TransactionEvent", timeout=20)
        assert csms.call("CS-RI", "Reset", {"type": "Immediate"}) == {"status": "Accepted"}
        csms.wait(lambda log: _reasons(csms, "CS-RI") == ["PowerUp", "RemoteReset"], 30)
        e = _ended(csms, "CS-RI")
        assert [(x["triggerReason"], x["transactionInfo"]["stoppedReason"]) for x in e][:1] == [
            ("ResetCommand", "ImmediateReset")]


def test_reset_on_idle_waits_for_the_transaction(stations):
    with CSMS(interval=300) as csms:
        st = stations(csms, "CS-RO")
        csms.wait_for("StatusNotification", timeout=20)
        assert csms.call("CS-RO", "Reset", {"type": "OnIdle", "evseId": 1})["status"] == "Rejected"
        st.cmd(cmd="charge", evse=1, power_w=7400)
        csms.wait_for("TransactionEvent", timeout=20)
        assert csms.call("CS-RO", "Reset", {"type": "OnIdle"}) == {"status": "Scheduled"}
        n = st.mark()
        st.cmd(cmd="unplug", evse=1)
        csms.wait(lambda log: _reasons(csms, "CS-RO") == ["PowerUp", "RemoteReset"], 30)
        assert _ended(csms, "CS-RO")[0]["transactionInfo"]["stoppedReason"] == "EVDisconnected"
        assert "reset as the CSMS asked" in "\n".join(st.lines[n:])
