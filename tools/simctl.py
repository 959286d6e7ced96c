"""Drive tools/sim.py from CPython: start the simulated station as a subprocess, send control-port commands,
read its log. Used by the demo (tools/demo.py) and the end-to-end tests (tests_host/station_bench.py)."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# An error line of firmware/log.py ("<seconds>.<ms> E <tag>: ...") or a traceback: never expected behaviour.
BAD_LINE = re.compile(r"^\d+\.\d{3} E |^Traceback")


class Station:
    """tools/sim.py in a subprocess: the firmware under the Unix port with pymodbus meters."""

    def __init__(self, csms_url, station_id="CS1", evses=1, meter="sdm630", state=None, heap="256K",
                 extra=(), echo=False):
        # echo: also print the station's log lines as they come (the demo does)
        self.id = station_id
        cmd = [sys.executable, os.path.join(ROOT, "tools", "sim.py"), "--csms", csms_url, "--id", station_id,
               "--evses", str(evses), "--meter", meter, "--control", "0", "--heap", heap] + list(extra)
        if state:
            cmd += ["--state", str(state)]
        self.lines = []
        self._echo = echo
        self._cond = threading.Condition()
        # errors="replace": a log line may quote bytes the station received that are not UTF-8 (fuzzing)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     errors="replace", cwd=ROOT, start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()
        line = self.wait_log("sim: control port", timeout=20)
        port = int(line.split("control port ")[1].split(",")[0])
        self._sock = socket.create_connection(("127.0.0.1", port), timeout=15)
        self._f = self._sock.makefile("rw")

    def _read(self):
        for line in self.proc.stdout:
            if self._echo:
                print("    station| " + line.rstrip("\n"), flush=True)
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    def wait_log(self, text, timeout=15):
        end = time.time() + timeout
        with self._cond:
            while True:
                for ln in self.lines:
                    if text in ln:
                        return ln
                if self.proc.poll() is not None or time.time() > end:
                    raise TimeoutError("%r not in station log:\n%s" % (text, "\n".join(self.lines[-40:])))
                self._cond.wait(0.2)

    def cmd(self, **req):
        self._f.write(json.dumps(req) + "\n")
        self._f.flush()
        ans = json.loads(self._f.readline())
        assert ans["ok"], ans
        return ans

    def log(self):
        with self._cond:
            return "\n".join(self.lines)

    def problems(self):
        """Error lines and tracebacks in the station log: bugs, never expected behaviour."""
        out = []
        for i, ln in enumerate(self.lines):
            if BAD_LINE.match(ln):
                out.append("\n".join(self.lines[i:i + 12]) if ln.startswith("Traceback") else ln)
        return out

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._sock.close()


def payloads(csms, action, station=None):
    return [m.payload for m in csms.messages(action, station=station)]


def trigger(csms, station, kind, evse=None):
    """Send TriggerMessage; returns (response payload, log index of that response)."""
    req = {"requestedMessage": kind}
    if evse is not None:
        req["evse"] = evse
    n = len(csms.log)
    res = csms.call(station, "TriggerMessage", req)
    out = [m for m in csms.log[n:] if m.dir == "out" and m.action == "TriggerMessage"][0]
    i = next(i for i, m in enumerate(csms.log) if m.dir == "in" and m.type == 3 and m.id == out.id)
    return res, i


def sent_after(csms, index, action, count=1, timeout=10):
    """The first `count` CALLs of action the station sent after log position index (waits for them)."""
    csms.wait(lambda log: len([m for m in log[index:] if m.dir == "in" and m.action == action]) >= count,
              timeout)
    return [m for m in csms.log[index:] if m.dir == "in" and m.action == action][:count]


def none_after(csms, index, action, wait=1.5):
    time.sleep(wait)
    return not [m for m in csms.log[index:] if m.dir == "in" and m.action == action]


def set_vars(csms, station, **kv):
    """SetVariables through the CSMS; keyword Component__Variable=value. Returns the attributeStatus list."""
    data = []
    for k, v in kv.items():
        comp, var = k.split("__")
        data.append({"component": {"name": comp}, "variable": {"name": var}, "attributeValue": str(v)})
    res = csms.call(station, "SetVariables", {"setVariableData": data})
    return [r["attributeStatus"] for r in res["setVariableResult"]]
