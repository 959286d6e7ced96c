"""The station runtime end to end (issue 4): boot, connector statuses, a full transaction with periodic
meter values, SetVariables, CSMS outages and power cuts, a failing meter. The firmware runs under the
Unix port with a heap cap (tools/sim.py), against the `ocpp` package CSMS and pymodbus meters."""

import json
import os
import re
import subprocess
import sys
import time

import pytest

from boards.host.sim import simulator as sim
from boards.host.sim.simctl import between, marker, payloads, set_vars
from tools import ROOT
from tools.csms.dev import CSMS


def tx_events(csms_list, sid):
    out = []
    for c in csms_list:
        out += payloads(c, "TransactionEvent", sid)
    return out


def assert_transactions_whole(events):
    """Every transaction: seqNo 0..n without gap or duplicate, Started first, Ended last (if ended)."""
    by_id = {}
    for e in events:
        by_id.setdefault(e["transactionInfo"]["transactionId"], []).append(e)
    for tid, evs in by_id.items():
        seqs = [e["seqNo"] for e in evs]
        assert seqs == list(range(len(seqs))), (tid, seqs)
        assert evs[0]["eventType"] == "Started", (tid, evs[0])
        assert all(e["eventType"] == "Updated" for e in evs[1:-1]), tid
    return by_id


@pytest.fixture
def bench(stations):
    return stations


def inputs_seen(st, evse, status, charging=False):
    """A pattern for the station's log line once its inputs show this state of the EVSE."""
    return re.compile(r"connector: evse %d: %s%s$" % (evse, status, " charging" if charging else ""))


def bench_then_seen(st, evse, status, charging=False, **cmd):
    """A bench command, then wait until the station's inputs have seen its effect (not a guessed pause)."""
    n = st.mark()
    st.cmd(evse=evse, **cmd)
    st.wait_log(inputs_seen(st, evse, status, charging), since=n)


def plug_and_charge(st, evse, power_w):
    bench_then_seen(st, evse, "Occupied", cmd="plug")  # a transaction starts at EVConnected
    st.cmd(cmd="charge", evse=evse, power_w=power_w)


def wait_answered(csms, action):
    """Until the CSMS has answered every CALL of action the station sent so far (it will not come again)."""
    ids = [m.id for m in csms.messages(action)]
    csms.wait(lambda log: set(ids) <= {m.id for m in log if m.dir == "out" and m.type == 3})


def energy(ev):
    for mv in ev.get("meterValue", []):
        for s in mv["sampledValue"]:
            if s.get("measurand", "Energy.Active.Import.Register") == "Energy.Active.Import.Register":
                return float(s["value"])
    return None


def test_boot_statuses_and_variables(bench):
    with CSMS(interval=300) as csms:
        bench(csms, "CS-BOOT", evses=3, meter="em340")
        sns = csms.wait_for("StatusNotification", 3, timeout=20)
        assert sorted((m.payload["evseId"], m.payload["connectorStatus"]) for m in sns) == [
            (1, "Available"), (2, "Available"), (3, "Available")]
        boot = csms.messages("BootNotification")[0].payload
        assert boot["reason"] == "PowerUp" and boot["chargingStation"]["serialNumber"] == "CS-BOOT"
        r = csms.call("CS-BOOT", "GetVariables", {"getVariableData": [
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}},
            {"component": {"name": "AlignedDataCtrlr"}, "variable": {"name": "Measurands"}}]})["getVariableResult"]
        assert [x["attributeValue"] for x in r] == ["300", "Energy.Active.Import.Register,Power.Active.Import"]
        # a measurand no meter here can deliver is refused, not silently dropped later
        assert set_vars(csms, "CS-BOOT", AlignedDataCtrlr__Measurands="SoC") == ["Rejected"]
        assert not csms.errors()


def test_sim_dm_and_reset_cause_reach_the_firmware(bench, tmp_path):
    with CSMS(interval=300) as csms:
        st = bench(csms, "CS-OPT", state=tmp_path / "st", reset_cause="Watchdog",
                   dm={"OCPPCommCtrlr.MessageTimeout.Default": 7, "SecurityCtrlr.OrganizationName": "Acme Corp",
                       "AlignedDataCtrlr.Measurands": "Voltage,Current.Import"})
        csms.wait_for("StatusNotification", timeout=20)
        assert csms.messages("BootNotification")[0].payload["reason"] == "Watchdog"
        names = (("OCPPCommCtrlr", "MessageTimeout"), ("SecurityCtrlr", "OrganizationName"),
                 ("AlignedDataCtrlr", "Measurands"))
        r = csms.call("CS-OPT", "GetVariables", {"getVariableData": [
            {"component": {"name": c}, "variable": {"name": v}} for c, v in names]})["getVariableResult"]
        assert [x["attributeValue"] for x in r] == ["7", "Acme Corp", "Voltage,Current.Import"]
        st.cmd(cmd="power_cut")  # --reset-cause is the first boot's: the next one is a power-up
        boots = csms.wait_for("BootNotification", 2, timeout=20)
        assert [b.payload["reason"] for b in boots] == ["Watchdog", "PowerUp"]
        assert not csms.errors()


def test_sim_writes_dm_and_clock_start_into_the_configuration(tmp_path):
    a = sim.parse_args(["--csms", "ws://127.0.0.1:1", "--id", "CS-CFG", "--state", str(tmp_path), "--password",
                        "0123456789abcdef", "--dm", "OCPPCommCtrlr.RetryBackOffWaitMinimum=1",
                        "--dm", "ISO15118Ctrlr.V2GCertificateInstallationEnabled=true",
                        "--dm", "ISO15118Ctrlr.SeccId=SECC-1", "--dm", 'ISO15118Ctrlr.SeccId="0042"',
                        "--dm", "SecurityCtrlr.OrganizationName=Acme Corp",
                        "--dm", "OCPPCommCtrlr.MessageTimeout.Default=5",
                        "--clock-start", "2000-01-01T00:00:00Z"])
    with open(sim.Sim(a).config("/dev/null")) as f:
        cfg = json.load(f)
    assert cfg["dm"] == {"SecurityCtrlr.OrganizationName": "Acme Corp",  # --dm wins over --org
                         "SecurityCtrlr.BasicAuthPassword": "0123456789abcdef", "SecurityCtrlr.SecurityProfile": 1,
                         "OCPPCommCtrlr.RetryBackOffWaitMinimum": 1,
                         "ISO15118Ctrlr.V2GCertificateInstallationEnabled": True,
                         "ISO15118Ctrlr.SeccId": "0042",  # the last one given, a JSON string
                         "OCPPCommCtrlr.MessageTimeout.Default": 5}
    assert cfg["clock_start"] == 946684800
    a = sim.parse_args(["--csms", "ws://127.0.0.1:1", "--id", "CS-CFG", "--state", str(tmp_path),
                        "--clock-start", "2024-06-01T12:00:00+02:00"])
    with open(sim.Sim(a).config("/dev/null")) as f:
        cfg = json.load(f)
    assert cfg["clock_start"] == 1717236000 and "BasicAuthPassword" not in str(cfg["dm"])
    a = sim.parse_args(["--csms", "ws://127.0.0.1:1", "--id", "CS-CFG", "--state", str(tmp_path)])
    with open(sim.Sim(a).config("/dev/null")) as f:
        assert "clock_start" not in json.load(f)  # the host clock
    for bad in (["--dm", "NoDot=1"], ["--dm", "A.B"], ["--clock-start", "yesterday"], ["--reset-cause", "Nap"]):
        with pytest.raises(SystemExit):
            sim.parse_args(["--csms", "ws://x", "--id", "X"] + bad)


def test_the_readme_command_line_is_the_simulator(tmp_path):
    # tools/sim.py, what people script against, is a thin entry to boards/host/sim/simulator.py; it finds the
    # project from any working directory (the venv's .pth file, make setup)
    p = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "sim.py"), "--help"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    for option in ("--csms", "--id", "--evses", "--meter", "--state", "--control", "--clock-start"):
        assert option in p.stdout


def test_full_transaction_periodic_values_and_measurands(bench):
    with CSMS(interval=300) as csms:
        st = bench(csms, "CS-TX")
        csms.wait_for("StatusNotification")
        assert set_vars(csms, "CS-TX", SampledDataCtrlr__TxUpdatedInterval=2) == ["Accepted"]
        plug_and_charge(st, 1, 11000)
        csms.wait(lambda log: len(payloads(csms, "TransactionEvent")) >= 4, timeout=15)
        assert set_vars(csms, "CS-TX", SampledDataCtrlr__TxUpdatedMeasurands="Current.Import,Voltage") == ["Accepted"]
        n = len(payloads(csms, "TransactionEvent"))
        csms.wait(lambda log: len(payloads(csms, "TransactionEvent")) >= n + 2, timeout=10)
        bench_then_seen(st, 1, "Occupied", cmd="charge", power_w=0)  # the EV pauses
        st.cmd(cmd="unplug", evse=1)
        csms.wait(lambda log: any(p["eventType"] == "Ended" for p in payloads(csms, "TransactionEvent")), timeout=10)
        evs = payloads(csms, "TransactionEvent")
        (tid, whole), = assert_transactions_whole(evs).items()
        assert whole[0]["triggerReason"] == "CablePluggedIn" and whole[0]["evse"] == {"id": 1, "connectorId": 1}
        states = [e["transactionInfo"]["chargingState"] for e in whole if e["triggerReason"] == "ChargingStateChanged"]
        assert states == ["Charging", "SuspendedEV"]
        periodic = [e for e in whole if e["triggerReason"] == "MeterValuePeriodic"]
        assert len(periodic) >= 3
        assert all(s["context"] == "Sample.Periodic" for e in periodic for s in e["meterValue"][0]["sampledValue"])
        late = [e for e in periodic if e["seqNo"] > n - 1 + 1]  # after the SetVariables took effect
        assert late and all({s["measurand"] for s in e["meterValue"][0]["sampledValue"]} ==
                            {"Current.Import", "Voltage"} for e in late)
        end = whole[-1]
        assert end["eventType"] == "Ended" and end["transactionInfo"]["stoppedReason"] == "EVDisconnected"
        assert end["meterValue"][0]["sampledValue"][0]["context"] == "Transaction.End"
        assert energy(end) > energy(whole[0]) > -1  # energy register grew with the 11 kW charge
        assert [m.payload["connectorStatus"] for m in csms.messages("StatusNotification")] == [
            "Available", "Occupied", "Available"]
        assert not csms.errors()


def test_csms_down_during_transaction_then_back(bench):
    csms = CSMS(interval=300).start()
    port = csms.port
    try:
        st = bench(csms, "CS-OFF")
        csms.wait_for("StatusNotification")
        set_vars(csms, "CS-OFF", OCPPCommCtrlr__RetryBackOffWaitMinimum=1, OCPPCommCtrlr__RetryBackOffRandomRange=0)
        plug_and_charge(st, 1, 7400)
        csms.wait(lambda log: len(payloads(csms, "TransactionEvent")) >= 2)
        wait_answered(csms, "TransactionEvent")  # an event the CSMS never confirmed would rightly come again
        n = st.mark()
        csms.stop()
        st.wait_log("reconnect in", since=n)  # the station knows it is offline
        bench_then_seen(st, 1, "Occupied", cmd="charge", power_w=0)
        bench_then_seen(st, 1, "Occupied", charging=True, cmd="charge", power_w=3000)
        bench_then_seen(st, 1, "Available", cmd="unplug")
        csms2 = CSMS(interval=300, port=port).start()
        try:
            csms2.wait(lambda log: any(p["eventType"] == "Ended" for p in payloads(csms2, "TransactionEvent")),
                       timeout=20)
            before, after = payloads(csms, "TransactionEvent"), payloads(csms2, "TransactionEvent")
            assert_transactions_whole(before + after)
            # paused, charging again, cable out (chargingState Idle: no EV connected any more, since 0c257dd)
            assert [(e["eventType"], e["transactionInfo"]["chargingState"]) for e in after] == [
                ("Updated", "SuspendedEV"), ("Updated", "Charging"), ("Ended", "Idle")]
            assert all(e.get("offline") is True for e in after)  # happened while the CSMS was away
            assert not any(e.get("offline") for e in before)
            assert not csms2.messages("BootNotification")  # same boot: no new BootNotification
            assert not csms.errors() and not csms2.errors()
        finally:
            csms2.stop()
    finally:
        csms.stop()


def test_power_cut_while_offline_loses_nothing(bench, tmp_path):
    csms = CSMS(interval=300).start()
    port = csms.port
    try:
        st = bench(csms, "CS-CUT", state=tmp_path / "flash")
        csms.wait_for("StatusNotification")
        set_vars(csms, "CS-CUT", OCPPCommCtrlr__RetryBackOffWaitMinimum=1, OCPPCommCtrlr__RetryBackOffRandomRange=0,
                 SampledDataCtrlr__TxUpdatedInterval=1)
        plug_and_charge(st, 1, 7400)
        csms.wait(lambda log: len(payloads(csms, "TransactionEvent")) >= 2)
        wait_answered(csms, "TransactionEvent")  # an event the CSMS never confirmed would rightly come again
        csms.stop()
        time.sleep(3.5)  # periodic events pile up in the on-flash queue
        st.cmd(cmd="power_cut")
        time.sleep(2)
        st.cmd(cmd="power_cut")  # and once more while it boots without a CSMS
        time.sleep(1.5)
        csms2 = CSMS(interval=300, port=port).start()
        try:
            def tx_ids(evs, ended=False):
                return {p["transactionInfo"]["transactionId"] for p in evs if not ended or p["eventType"] == "Ended"}

            # each cut ends the running transaction; each boot starts one for the EV still plugged in: three
            # transactions, two ended (waited for as such, not for a pause after the first ones)
            csms2.wait(lambda log: (lambda evs: len(tx_ids(evs)) >= 3 and len(tx_ids(evs, True)) >= 2)(
                payloads(csms, "TransactionEvent") + payloads(csms2, "TransactionEvent")), timeout=30)
            by_id = assert_transactions_whole(payloads(csms, "TransactionEvent") + payloads(csms2, "TransactionEvent"))
            assert len(by_id) == 3
            ended = [t for t in by_id.values() if t[-1]["eventType"] == "Ended"]
            assert len(ended) == 2
            for t in ended:
                assert t[-1]["transactionInfo"]["stoppedReason"] == "PowerLoss"
                assert t[-1]["triggerReason"] == "AbnormalCondition"
            assert csms2.messages("BootNotification")[0].payload["reason"] == "PowerUp"
            assert not csms.errors() and not csms2.errors()
        finally:
            csms2.stop()
    finally:
        csms.stop()


def test_meter_down_no_invented_values(bench):
    with CSMS(interval=300) as csms:
        st = bench(csms, "CS-MTR")
        csms.wait_for("StatusNotification")
        set_vars(csms, "CS-MTR", SampledDataCtrlr__TxUpdatedInterval=1)
        st.cmd(cmd="charge", evse=1, power_w=7400)
        csms.wait(lambda log: any(p["triggerReason"] == "MeterValuePeriodic"
                                  for p in payloads(csms, "TransactionEvent")))
        st.cmd(cmd="meter_fail", evse=1, on=True)
        st.wait_log("unit 1 down")
        time.sleep(6)  # past staleness: from here on nothing may carry a value
        n = len(payloads(csms, "TransactionEvent"))
        time.sleep(2.5)
        st.cmd(cmd="unplug", evse=1)
        csms.wait(lambda log: any(p["eventType"] == "Ended" for p in payloads(csms, "TransactionEvent")))
        late = payloads(csms, "TransactionEvent")[n:]
        assert [e["eventType"] for e in late] == ["Ended"]  # no periodic updates without a reading
        assert "meterValue" not in late[0]
        st.cmd(cmd="meter_fail", evse=1, on=False)
        st.wait_log("unit 1 answers again")
        assert not csms.errors()


def test_clock_aligned_meter_values_outside_transactions(bench):
    with CSMS(interval=300) as csms:
        bench(csms, "CS-ALN", evses=2)
        csms.wait_for("StatusNotification", 2)
        assert set_vars(csms, "CS-ALN", AlignedDataCtrlr__Interval=2,
                        AlignedDataCtrlr__Measurands="Energy.Active.Import.Register,Voltage") == ["Accepted"] * 2
        msgs = csms.wait_for("MeterValues", 4, timeout=15)
        for m in msgs:
            mv = m.payload["meterValue"][0]
            assert int(mv["timestamp"][17:19]) % 2 == 0, mv["timestamp"]  # on the clock, every 2 s
            assert {s["context"] for s in mv["sampledValue"]} == {"Sample.Clock"}
            assert {s.get("measurand") for s in mv["sampledValue"]} == {"Energy.Active.Import.Register", "Voltage"}
        assert {m.payload["evseId"] for m in msgs} == {1, 2}
        assert not csms.errors()


def test_change_availability_survives_a_reboot(bench, tmp_path):
    with CSMS(interval=300) as csms:
        st = bench(csms, "CS-AV", evses=2, state=tmp_path / "flash")
        csms.wait_for("StatusNotification", 2)
        r = csms.call("CS-AV", "ChangeAvailability", {"operationalStatus": "Inoperative", "evse": {"id": 2}})
        assert r == {"status": "Accepted"}
        m = csms.wait_for("StatusNotification", 3)[-1].payload
        assert (m["evseId"], m["connectorStatus"]) == (2, "Unavailable")
        r = csms.call("CS-AV", "ChangeAvailability", {"operationalStatus": "Inoperative", "evse": {"id": 7}})
        assert r["status"] == "Rejected" and r["statusInfo"]["reasonCode"] == "UnknownEvse"
        st.cmd(cmd="power_cut")
        csms.wait_for("BootNotification", 2, timeout=20)
        after = csms.wait_for("StatusNotification", 5, timeout=20)[-2:]
        assert {(m.payload["evseId"], m.payload["connectorStatus"]) for m in after} == {(1, "Available"),
                                                                                         (2, "Unavailable")}
        csms.call("CS-AV", "ChangeAvailability", {"operationalStatus": "Operative"})
        m = csms.wait_for("StatusNotification", 6)[-1].payload
        assert (m["evseId"], m["connectorStatus"]) == (2, "Available")
        assert not csms.errors()


def test_change_availability_waits_for_the_running_transaction(bench):
    with CSMS(interval=300) as csms:
        st = bench(csms, "CS-AV2")
        csms.wait_for("StatusNotification")
        plug_and_charge(st, 1, 7400)
        csms.wait_for("TransactionEvent", 2)
        n = len(csms.log)
        r = csms.call("CS-AV2", "ChangeAvailability", {"operationalStatus": "Inoperative"})
        assert r == {"status": "Scheduled"}
        time.sleep(1.5)  # a ticker round or two (it applies waiting wishes): room for a wrong Unavailable
        # none before a later trigger's Heartbeat (the outbox sends in order): still Occupied
        assert not [m for m in between(csms, n, marker(csms, "CS-AV2"), "StatusNotification")
                    if m.payload["connectorStatus"] != "Occupied"]
        assert [m.payload["connectorStatus"] for m in csms.messages("StatusNotification")][-1] == "Occupied"
        st.cmd(cmd="unplug", evse=1)
        csms.wait(lambda log: [m.payload["connectorStatus"] for m in csms.messages("StatusNotification")][-1:]
                  == ["Unavailable"], timeout=10)
        ended = [p for p in payloads(csms, "TransactionEvent") if p["eventType"] == "Ended"]
        assert len(ended) == 1
        assert not csms.errors()
