"""Interoperability with a second, independent CSMS: npm ocpp-rpc (pinned in package.json) in strict mode,
against the real station (tools/sim.py)."""

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
PEER = os.path.join(ROOT, "tests_host", "peers", "ocpp_rpc_csms.js")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")


def test_boot_heartbeat_and_csms_calls_pass_strict_mode():
    assert os.path.isdir(os.path.join(ROOT, "node_modules", "ocpp-rpc")), "run make setup (npm ci)"
    p = subprocess.Popen([NODE, PEER], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    events = []
    lines = threading.Thread(target=lambda: [events.append(json.loads(ln)) for ln in p.stdout], daemon=True)
    lines.start()
    st = None
    try:
        t0 = time.time()
        while not events:
            assert time.time() - t0 < 10 and p.poll() is None, "ocpp-rpc peer did not start"
            time.sleep(0.05)
        assert events[0]["ev"] == "listening", events
        # no clock-aligned MeterValues: the peer answers only what the connection test needs
        st = Station("ws://127.0.0.1:%d" % events[0]["port"], "CS-rpc", dm={"AlignedDataCtrlr.Interval": 0})
        t0 = time.time()
        while not any(e["ev"] == "done" for e in events):
            assert time.time() - t0 < 30, (events, st.log())
            time.sleep(0.05)
        # the triggered StatusNotification follows the TriggerMessage response: wait for it, not for a pause
        while [e["method"] for e in events if e["ev"] == "call"].count("StatusNotification") < 2:
            assert time.time() - t0 < 30, (events, st.log())
            time.sleep(0.05)
        calls = [e["method"] for e in events if e["ev"] == "call"]
        assert calls[:2] == ["BootNotification", "StatusNotification"] and calls.count("Heartbeat") >= 2, events
        results = {e["method"]: e for e in events if e["ev"] in ("result", "error")}
        assert results["GetVariables"]["result"]["getVariableResult"][0]["attributeValue"] == "30", results
        assert results["TriggerMessage"]["result"] == {"status": "Accepted"}, results
        assert calls.count("StatusNotification") == 2  # the triggered one, after the response
        assert not [e for e in events if e["ev"] == "strict"], events
        assert events[1] == {"ev": "connected", "identity": "CS-rpc", "protocol": "ocpp2.0.1"}
        st.assert_clean()
    finally:
        if st:
            st.stop()
        p.kill()
