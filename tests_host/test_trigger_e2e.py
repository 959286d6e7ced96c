"""TriggerMessage (F06) end to end: the firmware under the Unix port (tools/sim.py, pymodbus meters) against
the `ocpp` package as CSMS, which validates every station message against the official schemas.
Conformance case ids (TC_F_xx) from OCPP 2.0.1 Part 6, as listed in the spec digest §7."""

import time

import pytest

from boards.host.sim.simctl import Station, between, marker, none_before_marker, sent_after, set_vars, trigger
from tools.csms.dev import CSMS

SID = "CS-TRIG"


@pytest.fixture(scope="module")
def bench():
    with CSMS(interval=300) as csms:
        # no clock-aligned MeterValues: at :00/:15/:30/:45 they would land between a trigger and its message
        st = Station(csms.url + "/ocpp", SID, evses=2, dm={"AlignedDataCtrlr.Interval": 0})
        try:
            csms.wait_for("StatusNotification", 2, timeout=20)  # B01.FR.05: every connector after boot
            yield csms, st
        finally:
            st.stop()
        assert not csms.errors(), csms.errors()
        assert not st.problems(), "\n".join(st.problems())


@pytest.fixture
def idle(bench):
    csms, st = bench
    yield csms, st
    # Back to idle, and wait until the station has reported it, so nothing of this test lands in the next one.
    events = [m.payload for m in csms.messages("TransactionEvent")]
    running = {p["transactionInfo"]["transactionId"] for p in events} - {
        p["transactionInfo"]["transactionId"] for p in events if p["eventType"] == "Ended"}
    bench_state = st.cmd(cmd="state")["evses"]
    for e in (1, 2):
        n = st.mark()
        st.cmd(cmd="unplug", evse=e)
        st.cmd(cmd="meter_fail", evse=e, on=False)
        if bench_state[str(e)]["plug"]:
            st.wait_log("connector: evse %d: Available" % e, since=n)
        if bench_state[str(e)]["meter_fail"]:
            st.wait_log("unit %d answers again" % e, since=n)
    csms.wait(lambda log: running <= {m.payload["transactionInfo"]["transactionId"] for m in log
                                      if m.dir == "in" and m.action == "TransactionEvent"
                                      and m.payload["eventType"] == "Ended"})
    marker(csms, SID)  # the StatusNotifications the unplugging queued went before this Heartbeat


def test_tc_f_20_heartbeat(idle):
    csms, st = idle
    res, i = trigger(csms, SID, "Heartbeat")
    assert res == {"status": "Accepted"}
    assert sent_after(csms, i, "Heartbeat")[0].payload == {}


def test_heartbeat_ignores_evse(idle):
    csms, st = idle
    res, i = trigger(csms, SID, "Heartbeat", {"id": 9})
    assert res["status"] == "Accepted"
    sent_after(csms, i, "Heartbeat")


def test_tc_f_23_24_status_available_then_occupied(idle):
    csms, st = idle
    res, i = trigger(csms, SID, "StatusNotification", {"id": 1, "connectorId": 1})
    assert res == {"status": "Accepted"}
    p = sent_after(csms, i, "StatusNotification")[0].payload
    assert (p["connectorStatus"], p["evseId"], p["connectorId"]) == ("Available", 1, 1)
    st.cmd(cmd="plug", evse=1)
    csms.wait(lambda log: any(m.action == "StatusNotification" and m.payload["connectorStatus"] == "Occupied"
                              for m in log if m.dir == "in" and m.type == 2))
    res, i = trigger(csms, SID, "StatusNotification", {"id": 1, "connectorId": 1})
    p = sent_after(csms, i, "StatusNotification")[0].payload
    assert (p["connectorStatus"], p["evseId"]) == ("Occupied", 1)
    # unchanged since the last one: still sent when triggered (never debounced away)
    res, i = trigger(csms, SID, "StatusNotification", {"id": 1, "connectorId": 1})
    assert sent_after(csms, i, "StatusNotification")[0].payload["connectorStatus"] == "Occupied"


@pytest.mark.parametrize("evse, reason", [
    (None, "MissingEvse"),
    ({"id": 1}, "MissingConnectorId"),
    ({"id": 7, "connectorId": 1}, "UnknownEvse"),
    ({"id": 1, "connectorId": 2}, "UnknownConnectorId"),
])
def test_status_notification_rejected(idle, evse, reason):
    csms, st = idle
    res, i = trigger(csms, SID, "StatusNotification", evse)
    assert res == {"status": "Rejected", "statusInfo": {"reasonCode": reason}}
    assert none_before_marker(csms, SID, i, "StatusNotification")


def test_tc_f_11_meter_values_one_evse_follows_aligned_measurands(idle):
    csms, st = idle
    assert set_vars(csms, SID, AlignedDataCtrlr__Measurands="Current.Import") == ["Accepted"]
    try:
        res, i = trigger(csms, SID, "MeterValues", {"id": 1})
        assert res == {"status": "Accepted"}
        msgs = sent_after(csms, i, "MeterValues")
        # one MeterValues and nothing else (no TransactionEvent) before a later trigger's Heartbeat
        assert [m.action for m in between(csms, i, marker(csms, SID))] == ["MeterValues"]
        p = msgs[0].payload
        assert p["evseId"] == 1
        sv = p["meterValue"][0]["sampledValue"]
        assert {s["measurand"] for s in sv} == {"Current.Import"}
        assert all(s["context"] == "Trigger" for s in sv)
        assert {s["phase"] for s in sv} == {"L1", "L2", "L3"}
    finally:
        set_vars(csms, SID, AlignedDataCtrlr__Measurands="Energy.Active.Import.Register,Power.Active.Import")


def test_tc_f_12_meter_values_all_evses(idle):
    csms, st = idle
    st.cmd(cmd="charge", evse=2, power_w=7400)
    time.sleep(2.5)  # a few meter polls with the EV drawing power
    res, i = trigger(csms, SID, "MeterValues")
    assert res["status"] == "Accepted"
    msgs = sent_after(csms, i, "MeterValues", 2)
    assert sorted(m.payload["evseId"] for m in msgs) == [1, 2]
    for m in msgs:
        sv = m.payload["meterValue"][0]["sampledValue"]
        assert {s.get("measurand", "Energy.Active.Import.Register") for s in sv} == {
            "Energy.Active.Import.Register", "Power.Active.Import"}
        assert all(s["context"] == "Trigger" for s in sv)
    power = {m.payload["evseId"]: float(next(s["value"] for s in m.payload["meterValue"][0]["sampledValue"]
                                             if s.get("measurand") == "Power.Active.Import" and "phase" not in s))
             for m in msgs}
    assert power[1] == 0 and abs(power[2] - 7400) < 1, power  # the live meter, not invented values


def test_meter_values_unknown_evse_rejected(idle):
    csms, st = idle
    res, i = trigger(csms, SID, "MeterValues", {"id": 5})
    assert res == {"status": "Rejected", "statusInfo": {"reasonCode": "UnknownEvse"}}
    assert none_before_marker(csms, SID, i, "MeterValues")


def test_meter_down_rejected_never_stale_values(idle):
    csms, st = idle
    st.cmd(cmd="meter_fail", evse=1, on=True)
    st.wait_log("evse 1: SDM630 unit 1 down")
    time.sleep(5.5)  # past the staleness limit of the last good reading
    res, i = trigger(csms, SID, "MeterValues", {"id": 1})
    assert res == {"status": "Rejected", "statusInfo": {"reasonCode": "NoFreshMeterValue"}}
    res2, _ = trigger(csms, SID, "MeterValues")  # "every EVSE" cannot be kept either
    assert res2 == {"status": "Rejected", "statusInfo": {"reasonCode": "NoFreshMeterValue"}}
    res3, j = trigger(csms, SID, "MeterValues", {"id": 2})
    assert res3["status"] == "Accepted"
    sent_after(csms, j, "MeterValues")
    # from the first trigger's answer to a later trigger's Heartbeat: the one MeterValues of EVSE 2 only
    assert [m.payload["evseId"] for m in between(csms, i, marker(csms, SID), "MeterValues")] == [2]


def test_tc_f_13_14_transaction_event(idle):
    csms, st = idle
    res, i = trigger(csms, SID, "TransactionEvent")
    assert res == {"status": "Rejected", "statusInfo": {"reasonCode": "TxNotFound"}}
    st.cmd(cmd="charge", evse=1, power_w=11000)
    st.cmd(cmd="charge", evse=2, power_w=3700)
    csms.wait(lambda log: sum(1 for m in log if m.dir == "in" and m.action == "TransactionEvent"
                              and m.payload["transactionInfo"].get("chargingState") == "Charging") >= 2)
    time.sleep(1.2)
    res, i = trigger(csms, SID, "TransactionEvent", {"id": 1})
    assert res == {"status": "Accepted"}
    p = sent_after(csms, i, "TransactionEvent")[0].payload
    assert (p["eventType"], p["triggerReason"]) == ("Updated", "Trigger")
    assert p["transactionInfo"]["chargingState"] == "Charging"
    assert p["evse"]["id"] == 1
    assert p["meterValue"][0]["sampledValue"][0]["context"] == "Trigger"
    tid = p["transactionInfo"]["transactionId"]
    # the events of this transaction sent before the trigger was answered: the triggered one is the next
    earlier = [m.payload["seqNo"] for m in between(csms, 0, i, "TransactionEvent")
               if m.payload["transactionInfo"]["transactionId"] == tid]
    assert earlier and earlier == list(range(len(earlier))), earlier
    assert p["seqNo"] == earlier[-1] + 1, (earlier, p["seqNo"])  # next seqNo, no gap
    # TC_F_14: evse absent -> one per running transaction
    res, i = trigger(csms, SID, "TransactionEvent")
    msgs = sent_after(csms, i, "TransactionEvent", 2)
    assert sorted(m.payload["evse"]["id"] for m in msgs) == [1, 2]
    assert all(m.payload["triggerReason"] == "Trigger" for m in msgs)
    res, i = trigger(csms, SID, "TransactionEvent", {"id": 3})
    assert res == {"status": "Rejected", "statusInfo": {"reasonCode": "UnknownEvse"}}


def test_tc_f_15_18_17_log_and_firmware_status_idle(idle):
    csms, st = idle
    res, i = trigger(csms, SID, "LogStatusNotification")
    assert res["status"] == "Accepted"
    assert sent_after(csms, i, "LogStatusNotification")[0].payload == {"status": "Idle"}
    res, i = trigger(csms, SID, "FirmwareStatusNotification")
    assert sent_after(csms, i, "FirmwareStatusNotification")[0].payload == {"status": "Idle"}
    res, i = trigger(csms, SID, "FirmwareStatusNotification", {"id": 1, "connectorId": 1})  # TC_F_17
    assert res["status"] == "Accepted"
    assert sent_after(csms, i, "FirmwareStatusNotification")[0].payload == {"status": "Idle"}


def test_tc_f_26_boot_notification_after_accepted_is_rejected(idle):
    csms, st = idle
    res, i = trigger(csms, SID, "BootNotification")
    assert res["status"] == "Rejected"
    assert none_before_marker(csms, SID, i, "BootNotification")


def test_tc_f_27_combined_and_publish_firmware_not_implemented(idle):
    csms, st = idle
    for kind in ("SignCombinedCertificate", "PublishFirmwareStatusNotification"):
        res, i = trigger(csms, SID, kind)
        assert res == {"status": "NotImplemented"}
    res, i = trigger(csms, SID, "SignV2GCertificate")
    assert res == {"status": "Rejected", "statusInfo": {"reasonCode": "V2GDisabled"}}
    # fenced by a trigger whose SignCertificate takes the same path (a CSR built after the answer)
    end = marker(csms, SID, "SignChargingStationCertificate")
    assert csms.log[end].payload["certificateType"] == "ChargingStationCertificate"
    assert not between(csms, i, end, "SignCertificate")


def test_schema_invalid_trigger_is_a_callerror(idle):
    csms, st = idle
    for raw, code in (
        ('[2,"x1","TriggerMessage",{}]', "OccurrenceConstraintViolation"),
        ('[2,"x2","TriggerMessage",{"requestedMessage":"Coffee"}]', "PropertyConstraintViolation"),
        ('[2,"x3","TriggerMessage",{"requestedMessage":"Heartbeat","evse":{}}]', "OccurrenceConstraintViolation"),
        ('[2,"x4","TriggerMessage",{"requestedMessage":"Heartbeat","extra":1}]', "FormatViolation"),
    ):
        n = len(csms.log)
        csms.send_raw(SID, raw)
        mid = raw.split('"')[1]
        csms.wait(lambda log, mid=mid, n=n: any(m.dir == "in" and m.id == mid for m in log[n:]))
        ans = next(m for m in csms.log[n:] if m.dir == "in" and m.id == mid)
        assert ans.type == 4 and ans.msg[2] == code, ans


def test_ordering_response_first_while_own_call_outstanding(idle):
    csms, st = idle
    csms.delays["StatusNotification"] = 5  # the CSMS is slow to answer the station's own CALL
    try:
        n = len(csms.log)
        st.cmd(cmd="plug", evse=2)  # the station sends a StatusNotification and waits for the answer
        sn = sent_after(csms, n, "StatusNotification")[0]
        res, i = trigger(csms, SID, "Heartbeat")
        assert res["status"] == "Accepted"
        hb = sent_after(csms, i, "Heartbeat")[0]
        sn_answer = next(k for k, m in enumerate(csms.log) if m.dir == "out" and m.type == 3 and m.id == sn.id)
        # the response did not wait behind the station's own CALL: it came while that CALL was unanswered,
        # and the triggered Heartbeat only after (one CALL in flight)
        assert csms.log.index(sn) < i < sn_answer < csms.log.index(hb)
    finally:
        csms.delays.pop("StatusNotification")
