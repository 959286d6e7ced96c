"""Flash writes of the station's logs (issue 14's budget: at most 1 per second on average under the demo's load),
and TriggerMessage round trips while GetLog uploads the log to a slow server (budget: p99 <= 50 ms).

The real station (tools/sim.py) runs the demo's load for DURATION seconds: two EVSEs charging with
TxUpdatedInterval = 2 s, one TriggerMessage every second (cycling through the kinds). Linux inotify counts
every write-close of a file in the diagnostics and security log directories, i.e. each append the logs made.

    python tools/bench/logs.py [seconds]     (make bench-logs)
"""

import ctypes
import os
import struct
import sys
import tempfile
import threading
import time

from boards.host.sim.simctl import Station
from tools.csms.files import FileServer
from tools.bench import kit
from tools.csms.dev import CSMS

SID = "BENCH-LOGS"
_IN_CLOSE_WRITE = 0x8
_KINDS = ("Heartbeat", "StatusNotification", "MeterValues", "TransactionEvent", "LogStatusNotification",
          "FirmwareStatusNotification")


class Writes:
    """Counts IN_CLOSE_WRITE events per watched directory (created when missing)."""

    def __init__(self, dirs):
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._fd = self._libc.inotify_init()
        self.counts = {}
        self._wd = {}
        for d in dirs:
            os.makedirs(d, exist_ok=True)
            wd = self._libc.inotify_add_watch(self._fd, d.encode(), _IN_CLOSE_WRITE)
            self._wd[wd] = os.path.basename(d)
            self.counts[os.path.basename(d)] = 0
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            data = os.read(self._fd, 65536)
            i = 0
            while i + 16 <= len(data):
                wd, _mask, _cookie, n = struct.unpack_from("iIII", data, i)
                self.counts[self._wd.get(wd, "?")] = self.counts.get(self._wd.get(wd, "?"), 0) + 1
                i += 16 + n


def _size(d):
    return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d)) if os.path.isdir(d) else 0


def _during_upload(csms):
    # GetLog of the diagnostics log to a server that takes 1 KiB every 0.1 s; meanwhile one TriggerMessage
    # after another, each timed from the CSMS's call to its answer.
    rtt = []
    with FileServer() as fs:
        fs.slow[None] = 0.1
        csms.call(SID, "GetLog", {"logType": "DiagnosticsLog", "requestId": 1,
                                  "log": {"remoteLocation": fs.url("/bench")}})
        csms.wait(lambda log: any(m.action == "LogStatusNotification" and m.payload["status"] == "Uploading"
                                  for m in log if m.dir == "in"))
        end = time.monotonic() + 120
        while not fs.received and time.monotonic() < end:  # recorded once the whole body is in
            t = time.perf_counter()
            csms.call(SID, "TriggerMessage", {"requestedMessage": "Heartbeat"})
            rtt.append((time.perf_counter() - t) * 1000)
            time.sleep(0.05)
        fs.wait_received(1)
        return rtt, len(fs.received[0].body)


def main(argv):
    duration = float(argv[0]) if argv else 60.0
    state = tempfile.mkdtemp(prefix="bench-logs-")
    flash = os.path.join(state, "flash")
    w = Writes([os.path.join(flash, "diag"), os.path.join(flash, "seclog")])
    with CSMS(interval=60) as csms:
        st = Station(csms.url + "/ocpp", SID, evses=2, state=state)
        try:
            csms.wait_for("StatusNotification", 2, timeout=30)
            csms.call(SID, "SetVariables", {"setVariableData": [
                {"component": {"name": "SampledDataCtrlr"}, "variable": {"name": "TxUpdatedInterval"},
                 "attributeValue": "2"}]})
            for e in (1, 2):
                st.cmd(cmd="plug", evse=e)
                st.cmd(cmd="charge", evse=e, power_w=7400)
            time.sleep(3)
            w0 = dict(w.counts)
            b0 = _size(os.path.join(flash, "diag"))
            lines0 = len(st.lines)
            t0 = time.monotonic()
            k = 0
            while time.monotonic() - t0 < duration:
                csms.call(SID, "TriggerMessage", {"requestedMessage": _KINDS[k % len(_KINDS)]})
                k += 1
                time.sleep(1)
            el = time.monotonic() - t0
            writes = {d: w.counts[d] - w0.get(d, 0) for d in w.counts}
            grown = _size(os.path.join(flash, "diag")) - b0
            lines = len(st.lines) - lines0
            rtt, up_bytes = _during_upload(csms)
        finally:
            st.stop()
    rows = [
        ("run", "%.0f s, %d triggers, 2 EVSEs charging, meter values every 2 s" % (el, k)),
        ("station log lines", "%d (%.1f per s)" % (lines, lines / el)),
        ("diagnostics log: bytes on flash", "%d (%.0f B/s; ring 4 x 16 KiB, buffer 1 KiB)" % (grown, grown / el)),
        ("diagnostics log: flash writes", "%d (%.2f per s)" % (writes["diag"], writes["diag"] / el)),
        ("security log: flash writes", "%d" % writes["seclog"]),
        ("budget: <= 1 write per s", "MET" if (writes["diag"] + writes["seclog"]) / el <= 1 else "NOT met"),
        ("TriggerMessage round trip during an upload",
         "%d triggers while %d bytes went to a slow server: median %.1f ms, p99 %.1f ms, max %.1f ms"
         % (len(rtt), up_bytes, kit.pct(rtt, 50), kit.pct(rtt, 99), max(rtt))),
        ("budget: p99 <= 50 ms", "MET" if kit.pct(rtt, 99) <= 50 else "NOT met"),
    ]
    text = kit.table(("figure", "value"), rows)
    kit.save("logs", "Log writes to flash, triggers during an upload", text,
             {"seconds": el, "lines": lines, "diag_bytes": grown, "writes": writes,
              "upload_rtt_ms": {"p50": kit.pct(rtt, 50), "p99": kit.pct(rtt, 99), "max": max(rtt), "n": len(rtt)}},
             "make bench-logs")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
