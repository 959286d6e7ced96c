"""The core TriggerMessage cases again, against a second, independent CSMS: npm ocpp-rpc in strict mode
(validates every station CALL and our responses against the schemas, date-times included)."""

import json
import os
import shutil
import subprocess
import threading
import time

import pytest
from boards.host.sim.simctl import Station

from tools import ROOT

NODE = shutil.which("node")
PEER = os.path.join(ROOT, "tests_host", "peers", "ocpp_rpc_remote.js")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")


class RpcCsms:
    def __init__(self):
        self.p = subprocess.Popen([NODE, PEER], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        self.events = []
        self._cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        self.port = self.wait(lambda e: e["ev"] == "listening")["port"]
        self._n = 0

    def _read(self):
        for ln in self.p.stdout:
            with self._cond:
                self.events.append(json.loads(ln))
                self._cond.notify_all()

    def wait(self, pred, timeout=15, start=0):
        end = time.time() + timeout
        with self._cond:
            while True:
                for e in self.events[start:]:
                    if pred(e):
                        return e
                assert time.time() < end, self.events[-20:]
                self._cond.wait(0.2)

    def call(self, method, params):
        """Returns (reply event, index in the event list where the CALL was sent). The node peer's stdout is
        not wire order between a reply and a CALL that arrives right behind it (promise resolution comes
        later), so calls are looked for from the sending on; the ocpp-package tests check the wire order."""
        self._n += 1
        n = self._n
        start = len(self.events)
        self.p.stdin.write(json.dumps({"id": n, "method": method, "params": params}) + "\n")
        self.p.stdin.flush()
        return self.wait(lambda e: e["ev"] == "reply" and e["id"] == n), start

    def calls_after(self, i, method, count=1):
        self.wait(lambda e: len([x for x in self.events[i:] if x["ev"] == "call" and x["method"] == method]) >= count)
        return [x["params"] for x in self.events[i:] if x["ev"] == "call" and x["method"] == method][:count]

    def marker(self):
        """Trigger a Heartbeat; returns the event index of the Heartbeat CALL it makes. The station sends its
        queue in order and queues a triggered message only once it has answered: whatever it queued before
        is on the wire (so in the events, with any strict-mode failure it caused) before the marker."""
        r, i = self.call("TriggerMessage", {"requestedMessage": "Heartbeat"})
        assert r.get("result") == {"status": "Accepted"}, r
        self.calls_after(i, "Heartbeat")
        return next(j for j, e in enumerate(self.events) if j >= i and e["ev"] == "call" and e["method"] == "Heartbeat")

    def calls_between(self, i, j, method):
        return [e["params"] for e in self.events[i:j] if e["ev"] == "call" and e["method"] == method]

    def stop(self):
        self.p.kill()


def test_core_trigger_cases_against_ocpp_rpc_strict():
    assert os.path.isdir(os.path.join(ROOT, "node_modules", "ocpp-rpc")), "run make setup (npm ci)"
    csms = RpcCsms()
    st = Station("ws://127.0.0.1:%d" % csms.port, "CS-RPC2", evses=2)
    try:
        csms.wait(lambda e: e["ev"] == "call" and e["method"] == "StatusNotification")
        st.cmd(cmd="plug", evse=1)
        st.wait_log("connector: evse 1: Occupied")
        st.cmd(cmd="charge", evse=1, power_w=7400)
        csms.wait(lambda e: e["ev"] == "call" and e["method"] == "TransactionEvent"
                  and e["params"]["transactionInfo"].get("chargingState") == "Charging")

        def trig(kind, evse=None):
            params = {"requestedMessage": kind}
            if evse:
                params["evse"] = evse
            r, i = csms.call("TriggerMessage", params)
            return r.get("result"), i

        # also the marker: what the station queued for the plug-in and the charge is on the wire before it
        res, i = trig("Heartbeat")
        assert res == {"status": "Accepted"} and csms.calls_after(i, "Heartbeat") == [{}]
        res, i = trig("StatusNotification", {"id": 1, "connectorId": 1})
        assert res["status"] == "Accepted"
        assert csms.calls_after(i, "StatusNotification")[0]["connectorStatus"] == "Occupied"
        res, i = trig("MeterValues")
        assert res["status"] == "Accepted"
        assert sorted(p["evseId"] for p in csms.calls_after(i, "MeterValues", 2)) == [1, 2]
        res, i = trig("TransactionEvent", {"id": 1})
        p = csms.calls_after(i, "TransactionEvent")[0]
        assert res["status"] == "Accepted" and (p["triggerReason"], p["evse"]["id"]) == ("Trigger", 1)
        for kind in ("LogStatusNotification", "FirmwareStatusNotification"):
            res, i = trig(kind)
            assert res["status"] == "Accepted" and csms.calls_after(i, kind) == [{"status": "Idle"}]
        res, i = trig("SignChargingStationCertificate")
        assert res["status"] == "Accepted"
        assert "BEGIN CERTIFICATE REQUEST" in csms.calls_after(i, "SignCertificate")[0]["csr"]
        res, i = trig("BootNotification")
        assert res["status"] == "Rejected"
        assert trig("StatusNotification", {"id": 5, "connectorId": 1})[0] == {
            "status": "Rejected", "statusInfo": {"reasonCode": "UnknownEvse"}}
        assert trig("PublishFirmwareStatusNotification")[0] == {"status": "NotImplemented"}
        # Order, not a pause: everything the station sent before the marker, with the strict-mode check of each
        # message, is in the events; the refused triggers sent nothing.
        end = csms.marker()
        for kind in ("BootNotification", "StatusNotification", "PublishFirmwareStatusNotification"):
            assert csms.calls_between(i, end, kind) == [], (kind, csms.events[i:end])
        assert not [e for e in csms.events if e["ev"] == "strict"], [e for e in csms.events if e["ev"] == "strict"]
        assert not st.problems(), st.problems()
    finally:
        st.stop()
        csms.stop()
