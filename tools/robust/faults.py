"""Fault injection against the real station (tools/sim.py: firmware .mpy under the Unix port, pymodbus meters)
and a raw WebSocket CSMS (tools/csms/audit.py's AuditServer, which answers the station's CALLs and
checks them against the official schemas). Used by tests_host/test_faults*.py (short runs) and as a tool:

    .venv/bin/python tools/robust/faults.py [--cuts 50] [--seed N]

Faults:
- drop: the CSMS drops the TCP connection right after the TriggerMessageResponse; whatever the station sent after
  the response on that connection is lost (the station writes the triggered CALL right after the response);
- silent: the CSMS stops answering; the station's CALL times out (MessageTimeout), then everything goes on;
- meter: the meter goes silent, then answers with bad CRCs, in the middle of a transaction;
- cuts: power cuts at random points of transactions while the CSMS is offline (--cuts of them, in rounds;
  the CSMS comes back after each round): no TransactionEvent lost, none duplicated, seqNo continuous, every
  transaction Started first and Ended last. A TransactionEvent the CSMS received but whose answer the station
  never processed is rightly sent again (at-least-once); duplicates are counted only among acknowledged events
  (answered by the CSMS, with the station's next CALL on the same connection proving it saw the answer).
"""

import argparse
import asyncio
import json
import os
import random
import sys
import threading
import time

from boards.host.sim.simctl import Station
from tools.bench import kit
from tools.robust.fuzz import Server

FAST = {"OCPPCommCtrlr": {"RetryBackOffWaitMinimum": 0, "RetryBackOffRandomRange": 0}}


class RawCSMS(Server):
    """The audit server, restartable on the same port, keeping every CALL the station sent with its connection
    number and whether it was answered."""

    def __init__(self):
        super().__init__()
        self.calls = []  # [connection number, message, answered]
        self.drop_after_reply = None  # id of our CALL: abort the TCP connection as soon as its reply is read
        self.dead = None  # the writer of that connection: what else arrived on it is ignored

    async def listen(self, port=0):
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", port)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _message(self, text):
        msg = json.loads(text)
        if self.writer is not None and self.writer is self.dead:
            return  # sent on the connection we cut: lost in the network, never seen by the CSMS
        if msg and msg[0] in (3, 4) and msg[1] == self.drop_after_reply and self.writer:
            self.drop_after_reply = None
            self.dead = self.writer
            self.writer.transport.abort()  # nothing more goes either way on this connection
        if msg and msg[0] == 2:
            entry = [self.connections, msg, False]
            with self.cv:
                self.calls.append(entry)
        await super()._message(text)
        if msg and msg[0] == 2 and self.answer:
            entry[2] = True


class Bench:
    """A RawCSMS in its own event-loop thread and one simulated station; synchronous helpers for tests."""

    def __init__(self, sid, evses=1, state=None, heap="256K"):
        self.sid = sid
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.srv = self.run(RawCSMS().listen())
        self.port = self.srv.port
        self.st = Station(self.srv.url + "/ocpp", sid, evses=evses, state=state, heap=heap)
        self.n = 0
        self.wait_call("StatusNotification", evses, timeout=20)

    def run(self, coro, timeout=10):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def wait(self, pred, timeout=10, what="condition"):
        end = time.time() + timeout
        with self.srv.cv:
            while not pred():
                left = end - time.time()
                if left <= 0:
                    raise TimeoutError("%s not met in %gs; station log tail:\n%s" % (
                        what, timeout, "\n".join(self.st.lines[-15:])))
                self.srv.cv.wait(min(left, 0.2))

    def calls(self, action=None, since=0):
        with self.srv.cv:
            return [c for c in self.srv.calls[since:] if action is None or c[1][2] == action]

    def wait_call(self, action, count=1, since=0, timeout=10):
        self.wait(lambda: len(self.calls(action, since)) >= count, timeout, "%d x %s" % (count, action))
        return self.calls(action, since)

    def connected(self):
        return self.srv.writer is not None and not self.srv.closed.is_set()

    def call(self, action, payload, timeout=5, drop_after=False):
        self.n += 1
        mid = "f%d" % self.n
        if drop_after:
            self.srv.drop_after_reply = mid
        self.run(self.srv.send_text(json.dumps([2, mid, action, payload])))
        self.wait(lambda: mid in self.srv.replies, timeout, "reply to " + action)
        return self.srv.replies.pop(mid)

    def set_vars(self, comps):
        # {component: {variable or "variable@instance": value}}
        data = [{"component": {"name": c}, "variable": dict(zip(("name", "instance"), v.split("@"), strict=False)),
                 "attributeValue": str(x)} for c, vs in comps.items() for v, x in vs.items()]
        r = self.call("SetVariables", {"setVariableData": data})
        assert r[0] == 3 and all(x["attributeStatus"] == "Accepted" for x in r[2]["setVariableResult"]), r

    def offline(self):
        """The CSMS goes away: listener closed, connection dropped."""
        async def go():
            self.srv.server.close()
            if self.srv.writer:
                self.srv.writer.transport.abort()
        self.run(go())

    def online(self):
        self.run(self.srv.listen(self.port))

    def tx_events(self):
        return [c for c in self.calls("TransactionEvent")]

    def close(self):
        self.st.stop()
        self.run(self.srv.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)


# --- checks -------------------------------------------------------------------------------------------------------

def acknowledged(calls):
    """Indexes of CALLs the CSMS answered and whose answer the station saw (its next CALL on that connection)."""
    out = set()
    for i, (conn, _, answered) in enumerate(calls):
        if answered and any(c[0] == conn for c in calls[i + 1:]):
            out.add(i)
    return out


def check_transactions(calls, must_end=True):
    """Every transaction whole: seqNo 0..n, Started first, Ended last. Returns a summary dict; raises
    AssertionError with the evidence otherwise. calls: RawCSMS.calls entries of TransactionEvent."""
    ack = acknowledged(calls)
    by_tx = {}
    dup_acked = dup_unacked = 0
    seen = {}
    for i, (_, msg, _) in enumerate(calls):
        p = msg[3]
        tid, seq = p["transactionInfo"]["transactionId"], p["seqNo"]
        if (tid, seq) in seen:
            if seen[(tid, seq)] in ack:
                dup_acked += 1
            else:
                dup_unacked += 1
            continue
        seen[(tid, seq)] = i
        by_tx.setdefault(tid, []).append(p)
    problems = []
    for tid, evs in by_tx.items():
        evs.sort(key=lambda e: e["seqNo"])
        seqs = [e["seqNo"] for e in evs]
        if seqs != list(range(len(seqs))):
            problems.append("%s: seqNo %s (lost events)" % (tid, seqs))
        if evs[0]["eventType"] != "Started":
            problems.append("%s: first event %s" % (tid, evs[0]["eventType"]))
        if any(e["eventType"] != "Updated" for e in evs[1:-1]):
            problems.append("%s: Started/Ended in the middle" % tid)
        if must_end and evs[-1]["eventType"] != "Ended":
            problems.append("%s: not ended (last %s seqNo %d)" % (tid, evs[-1]["eventType"], evs[-1]["seqNo"]))
    if dup_acked:
        problems.append("%d acknowledged events sent again" % dup_acked)
    assert not problems, problems
    reasons = {}
    for evs in by_tx.values():
        r = evs[-1].get("transactionInfo", {}).get("stoppedReason", "-")
        reasons[r] = reasons.get(r, 0) + 1
    return {"transactions": len(by_tx), "events": len(seen), "dup_unacknowledged": dup_unacked,
            "dup_acknowledged": dup_acked, "stopped": reasons}


def settle(b, quiet=3.0, timeout=60):
    """Wait until the station has sent no TransactionEvent for `quiet` seconds (its queue drained)."""
    end = time.time() + timeout
    n, t = -1, time.time()
    while time.time() < end:
        m = len(b.tx_events())
        if m != n:
            n, t = m, time.time()
        elif time.time() - t >= quiet:
            return n
        time.sleep(0.1)
    raise TimeoutError("the station kept sending TransactionEvents")


# --- the faults ---------------------------------------------------------------------------------------------------

def fault_drop_after_trigger_response(b):
    """Connection dropped between TriggerMessageResponse and the triggered CALL, for a RAM message (Heartbeat:
    discarded with the connection, F06.FR.09) and a queued one (TransactionEvent: delivered after the reconnect)."""
    b.set_vars(FAST)
    b.st.cmd(cmd="charge", evse=1, power_w=7400)
    b.wait_call("TransactionEvent", 1)
    out = {}
    for kind in ("Heartbeat", "TransactionEvent"):
        conns = b.srv.connections
        mark = len(b.calls())
        r = b.call("TriggerMessage", {"requestedMessage": kind}, drop_after=True)
        assert r[0] == 3 and r[2]["status"] == "Accepted", r
        b.wait(lambda conns=conns: b.srv.connections > conns and b.connected(), 15, "reconnect")
        time.sleep(1.0)
        got = b.calls(kind, mark)
        out[kind] = [c[0] > conns for c in got]  # per triggered CALL seen: on the new connection?
        n = len(b.calls("Heartbeat", mark))
        p = b.call("TriggerMessage", {"requestedMessage": "Heartbeat"})
        assert p[0] == 3 and p[2]["status"] == "Accepted", p
        b.wait_call("Heartbeat", n + 1, mark)  # the connection works again
    te = [c for c in b.calls("TransactionEvent") if c[1][3].get("triggerReason") == "Trigger"]
    assert te, "the triggered TransactionEvent was lost with the connection"
    b.st.cmd(cmd="unplug", evse=1)
    b.wait(lambda: any(c[1][3]["eventType"] == "Ended" for c in b.tx_events()), 10, "Ended")
    summary = check_transactions(b.tx_events())
    return {"heartbeat_after_drop": out["Heartbeat"], "txevent_after_drop": out["TransactionEvent"], **summary}


def fault_csms_silent(b):
    """The CSMS stops answering: the station's CALL times out after MessageTimeout, then work goes on."""
    b.set_vars({"OCPPCommCtrlr": {"MessageTimeout": 2, "MessageAttemptInterval@TransactionEvent": 1}})
    b.srv.answer = False
    mark = len(b.calls())
    r = b.call("TriggerMessage", {"requestedMessage": "Heartbeat"})
    assert r[2]["status"] == "Accepted", r
    b.wait_call("Heartbeat", 1, mark)
    b.st.wait_log("no answer within", timeout=6)
    b.st.cmd(cmd="plug", evse=1)  # meanwhile: a status change and a transaction start
    time.sleep(2.5)
    b.srv.answer = True
    b.st.cmd(cmd="unplug", evse=1)
    b.wait(lambda: any(c[1][3]["eventType"] == "Ended" for c in b.tx_events()), 20, "Ended")
    n = len(b.calls("StatusNotification"))
    r = b.call("TriggerMessage", {"requestedMessage": "StatusNotification", "evse": {"id": 1, "connectorId": 1}})
    assert r[2]["status"] == "Accepted", r
    b.wait_call("StatusNotification", n + 1, timeout=5)
    statuses = [c[1][3]["connectorStatus"] for c in b.calls("StatusNotification", mark)]
    assert "Occupied" in statuses and statuses[-1] == "Available", statuses
    return {"connections": b.srv.connections, "statuses_after": statuses, **check_transactions(b.tx_events())}


def fault_meter(b):
    """Mid-transaction the meter goes silent, comes back, then answers with bad CRCs, comes back: no invented
    values, the transaction carries on and ends with an energy reading."""
    b.set_vars({"SampledDataCtrlr": {"TxUpdatedInterval": 1}})
    b.st.cmd(cmd="charge", evse=1, power_w=7400)
    b.wait(lambda: any(c[1][3]["triggerReason"] == "MeterValuePeriodic" for c in b.tx_events()), 10, "periodic")
    phases = {}
    for name, on, off in (("silent", dict(cmd="meter_fail", evse=1, on=True), dict(cmd="meter_fail", evse=1, on=False)),
                          ("bad crc", dict(cmd="meter_corrupt", on=True), dict(cmd="meter_corrupt", on=False))):
        b.st.cmd(**on)
        b.st.wait_log("unit 1 down", timeout=10)
        time.sleep(6)  # past staleness
        n = len(b.tx_events())
        time.sleep(2.5)
        during = [c[1][3] for c in b.tx_events()[n:]]
        b.st.cmd(**off)
        b.st.wait_log("unit 1 answers again", timeout=10)
        n2 = len(b.tx_events())
        b.wait(lambda n2=n2: any(c[1][3]["triggerReason"] == "MeterValuePeriodic" for c in b.tx_events()[n2:]), 10,
               "periodic again")
        phases[name] = {"events_while_down": len(during), "with_values": sum("meterValue" in e for e in during)}
        assert phases[name]["with_values"] == 0, (name, during)
        b.st.lines[:] = [ln for ln in b.st.lines if "unit 1 down" not in ln and "answers again" not in ln]
    b.st.cmd(cmd="unplug", evse=1)
    b.wait(lambda: any(c[1][3]["eventType"] == "Ended" for c in b.tx_events()), 10, "Ended")
    end = [c[1][3] for c in b.tx_events() if c[1][3]["eventType"] == "Ended"][0]
    assert "meterValue" in end, end
    return {"phases": phases, **check_transactions(b.tx_events())}


def power_cuts(b, cuts, rounds, rng, log=print):
    """`cuts` power cuts at random points, the CSMS offline, in `rounds` rounds (CSMS back after each)."""
    b.set_vars(dict(FAST, SampledDataCtrlr={"TxUpdatedInterval": 1}))
    per = [cuts // rounds + (1 if i < cuts % rounds else 0) for i in range(rounds)]
    done = 0
    for r, k in enumerate(per):
        b.offline()
        time.sleep(0.3)
        for _ in range(k):
            act = rng.choice(["plug", "charge", "pause", "unplug", "none", "charge"])
            if act == "plug":
                b.st.cmd(cmd="plug", evse=1)
            elif act == "charge":
                b.st.cmd(cmd="charge", evse=1, power_w=rng.choice([3700, 7400, 11000]))
            elif act == "pause":
                b.st.cmd(cmd="charge", evse=1, power_w=0)
            elif act == "unplug":
                b.st.cmd(cmd="unplug", evse=1)
            time.sleep(rng.uniform(0.0, 1.6))  # anywhere: booting, recovering, mid-write, charging
            b.st.cmd(cmd="power_cut")
            done += 1
            time.sleep(rng.uniform(0.0, 1.0))
        b.st.cmd(cmd="unplug", evse=1)  # the round's last transaction ends (no periodic events while settling)
        time.sleep(1.0)
        b.online()
        settle(b)
        log("  round %d: %d cuts, %d TransactionEvents so far" % (r + 1, k, len(b.tx_events())))
    b.st.cmd(cmd="unplug", evse=1)
    time.sleep(1.5)
    settle(b)
    summary = check_transactions(b.tx_events())
    return dict(summary, cuts=done, boots=len(b.calls("BootNotification")))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cuts", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else random.randrange(1 << 30)
    rows, data, failed = [], {"seed": seed}, False
    import tempfile

    for name, fn, kw in (("drop after TriggerMessageResponse", fault_drop_after_trigger_response, {}),
                         ("CSMS silent (CALL times out)", fault_csms_silent, {}),
                         ("meter silent, then bad CRC, mid-transaction", fault_meter, {}),
                         ("power cuts, CSMS offline", lambda b: power_cuts(b, a.cuts, a.rounds, random.Random(seed)),
                          {"state": True})):
        print(name + "...", flush=True)
        tmp = tempfile.mkdtemp(prefix="faults-") if kw.get("state") else None
        b = Bench("FAULT-%d" % len(rows), state=os.path.join(tmp, "flash") if tmp else None)
        try:
            res = fn(b)
            bad = b.st.problems()
            if b.srv.violations:
                bad = bad + ["schema: %r" % (b.srv.violations[:3],)]
            ok = not bad
            res["station_problems"] = bad[:5]
        except Exception as e:  # noqa: BLE001 - reported in the table
            ok, res = False, {"error": "%s: %s" % (type(e).__name__, str(e)[:1500])}
        finally:
            b.close()
        failed |= not ok
        data[name] = res
        detail = ", ".join("%s %s" % (k, v) for k, v in res.items() if k not in ("station_problems",))
        rows.append((name, "pass" if ok else "FAIL", detail[:300]))
        print("  %s: %s" % ("pass" if ok else "FAIL", detail[:2000]), flush=True)
    text = kit.table(("fault", "result", "details"), rows)
    text += ("\n\nseed %d. Duplicates are counted only among acknowledged TransactionEvents (answered, and the "
             "station's next CALL on the same connection shows it saw the answer); an unacknowledged one is rightly "
             "sent again (at-least-once)." % seed)
    kit.save("faults", "Fault injection", text, data, "make faults")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
