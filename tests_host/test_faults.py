"""Faults end to end (tools/robust/faults.py, short runs): the real station (tools/sim.py) against a raw WebSocket CSMS.
The long run (50 power cuts) is `make faults`."""

import random

import pytest

from tools.robust import faults


@pytest.fixture
def bench():
    made = []

    def start(sid, **kw):
        b = faults.Bench(sid, **kw)
        made.append(b)
        return b

    yield start
    for b in made:
        b.close()
        assert not b.st.problems(), "\n".join(b.st.problems())
        assert not b.srv.violations, b.srv.violations[:3]


def test_connection_dropped_between_trigger_response_and_triggered_call(bench):
    b = bench("FLT-DROP")
    res = faults.fault_drop_after_trigger_response(b)
    # RAM-only triggered Heartbeat: discarded with the connection (F06.FR.09), never replayed later
    assert res["heartbeat_after_drop"] == []
    # the triggered TransactionEvent is in the on-flash queue: delivered once, on the new connection
    assert res["txevent_after_drop"] == [True]
    assert res["dup_acknowledged"] == 0 and res["transactions"] == 1


def test_csms_answers_nothing_then_everything_goes_on(bench):
    b = bench("FLT-SILENT")
    res = faults.fault_csms_silent(b)
    assert res["connections"] == 1  # a missing answer is not a reason to reconnect
    assert res["dup_acknowledged"] == 0


def test_meter_bad_crc_mid_transaction(bench):
    b = bench("FLT-CRC")
    b.set_vars({"SampledDataCtrlr": {"TxUpdatedInterval": 1}})
    b.st.cmd(cmd="charge", evse=1, power_w=7400)
    b.wait(lambda: any(c[1][3]["triggerReason"] == "MeterValuePeriodic" for c in b.tx_events()), 10, "periodic")
    b.st.cmd(cmd="meter_corrupt", on=True)
    b.st.wait_log("unit 1 down", timeout=10)
    b.st.cmd(cmd="meter_corrupt", on=False)
    b.st.wait_log("unit 1 answers again", timeout=10)
    n = len(b.tx_events())
    b.wait(lambda: any(c[1][3]["triggerReason"] == "MeterValuePeriodic" and "meterValue" in c[1][3]
                       for c in b.tx_events()[n:]), 10, "periodic values again")
    b.st.cmd(cmd="unplug", evse=1)
    b.wait(lambda: any(c[1][3]["eventType"] == "Ended" for c in b.tx_events()), 10, "Ended")
    assert faults.check_transactions(b.tx_events())["transactions"] == 1


def test_power_cuts_offline_lose_and_duplicate_nothing(bench, tmp_path):
    b = bench("FLT-CUT", state=tmp_path / "flash")
    res = faults.power_cuts(b, cuts=4, rounds=1, rng=random.Random(4), log=lambda *a: None)
    assert res["cuts"] == 4 and res["dup_acknowledged"] == 0
    assert res["transactions"] >= 1 and sum(res["stopped"].values()) == res["transactions"]
