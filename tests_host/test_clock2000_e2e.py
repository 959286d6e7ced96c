"""A station whose RTC restarts at 2000-01-01 at every boot, as an ESP32's does after a power loss
(tools/sim.py --clock-start), against the `ocpp` package CSMS: power cuts while charging, with the CSMS there
and with it away, reconnects. No message may carry a time from the station's unset clock (2000, or any
other moment before this test began), times never go back within a transaction (Ended never precedes
Started), and the clock's jump from 2000 to now produces no off-grid clock-aligned MeterValues."""

import re
import time

import pytest

from boards.host.sim.simctl import payloads, set_vars
from tools.csms.dev import CSMS

SID = "CS-RTC"
ALIGN = 60  # AlignedDataCtrlr.Interval for the test: every grid point is a whole minute


def stamps(csms):
    """Every timestamp the station sent, with the message it was in."""
    out = []
    for m in csms.messages():
        p = m.payload
        if isinstance(p.get("timestamp"), str):
            out.append((p["timestamp"], m.action))
        for mv in p.get("meterValue", []):
            out.append((mv["timestamp"], m.action))
    return out


def wait_answered(csms, action):
    """Until the CSMS has answered every CALL of action the station sent it so far."""
    ids = [m.id for m in csms.messages(action)]
    csms.wait(lambda log: set(ids) <= {m.id for m in log if m.dir == "out" and m.type == 3})


STARTED = re.compile(r"evse 1: transaction (\S+) started \(")


def started_after(st, mark):
    """The id of the transaction the station logs it started after log line mark (waits for it)."""
    return STARTED.search(st.wait_log(STARTED, timeout=30, since=mark)).group(1)


def has_event(csms, tid, kind):
    return any(p["transactionInfo"]["transactionId"] == tid and p["eventType"] == kind
               for p in payloads(csms, "TransactionEvent"))


@pytest.fixture
def station(stations, tmp_path):
    return lambda csms: stations(
        csms, SID, state=tmp_path / "flash",
        extra=["--clock-start", "2000-01-01T00:00:00Z", "--dm", "AlignedDataCtrlr.Interval=%d" % ALIGN,
               "--dm", "OCPPCommCtrlr.RetryBackOffWaitMinimum=1", "--dm", "OCPPCommCtrlr.RetryBackOffRandomRange=0"])


def test_power_cuts_with_the_rtc_at_2000_never_send_a_time_from_the_unset_clock(station):
    began = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 2))
    csms = CSMS(interval=300).start()
    port = csms.port
    csms2 = None
    try:
        st = station(csms)
        st.wait_log("station CS-RTC up")
        csms.wait_for("StatusNotification")
        st.cmd(cmd="plug", evse=1)
        st.cmd(cmd="charge", evse=1, power_w=7400)
        csms.wait(lambda log: any(p["transactionInfo"].get("chargingState") == "Charging"
                                  for p in payloads(csms, "TransactionEvent")))
        # 1: power cut with the CSMS there; the EV stays plugged in and charging
        cut = st.mark()
        st.cmd(cmd="power_cut")
        csms.wait_for("BootNotification", 2, timeout=30)
        tx2 = started_after(st, cut)  # the rebooted station's transaction for the plugged EV
        csms.wait(lambda log: has_event(csms, tx2, "Started"), timeout=30)
        wait_answered(csms, "TransactionEvent")  # answered (one that came again would be told apart by its seqNo)
        # 2: the CSMS goes away, then the power: the station boots offline with its RTC at 2000 again
        gone = st.mark()
        csms.stop()
        st.wait_log("disconnected", since=gone)
        cut = st.mark()
        st.cmd(cmd="power_cut")
        st.wait_log("interrupted by power loss", timeout=30, since=cut)
        tx3 = started_after(st, cut)  # started while the CSMS is away, from the RTC at 2000
        csms2 = CSMS(interval=300, port=port).start()
        csms2.wait(lambda log: has_event(csms2, tx3, "Started"), timeout=30)
        st.cmd(cmd="unplug", evse=1)
        # the last event queued: what the station queued before it (transaction 2's Ended) has come before
        csms2.wait(lambda log: has_event(csms2, tx3, "Ended"), timeout=30)
        assert set_vars(csms2, SID, AlignedDataCtrlr__Interval=0) == ["Accepted"]

        sent = stamps(csms) + stamps(csms2)
        assert sent
        bad = [(t, a) for t, a in sent if not (t >= began and t[:4] >= "2026")]
        assert not bad, bad  # nothing from the unset clock: not 2000, not before the CSMS gave the time

        events = payloads(csms, "TransactionEvent") + payloads(csms2, "TransactionEvent")
        by_id = {}
        for e in events:
            by_id.setdefault(e["transactionInfo"]["transactionId"], {})[e["seqNo"]] = e
        assert len(by_id) == 3  # one per boot: each cut ends it, each boot starts one for the plugged EV
        for tid, evs in by_id.items():
            seqs = sorted(evs)
            assert seqs == list(range(len(seqs))), (tid, seqs)
            kinds = [evs[s]["eventType"] for s in seqs]
            assert kinds[0] == "Started" and kinds[-1] == "Ended" and kinds.count("Ended") == 1, (tid, kinds)
            ts = [evs[s]["timestamp"] for s in seqs]
            assert ts == sorted(ts), (tid, ts)  # never back in time: Ended never before Started
        stops = sorted(evs[max(evs)]["transactionInfo"]["stoppedReason"] for evs in by_id.values())
        assert stops == ["EVDisconnected", "PowerLoss", "PowerLoss"]

        aligned = [(m.payload["meterValue"][0]["timestamp"]) for c in (csms, csms2) for m in c.messages("MeterValues")
                   if m.payload["meterValue"][0]["sampledValue"][0].get("context") == "Sample.Clock"]
        off_grid = [t for t in aligned if t[17:19] != "00"]
        assert not off_grid, aligned  # the jump from 2000 to now is no grid point
        assert not csms.errors() and not csms2.errors()
    finally:
        csms.stop()
        if csms2:
            csms2.stop()
